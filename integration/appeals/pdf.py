"""The appeal letter as one PDF (WeasyPrint): the letter, each sentence's sources as numbered
footnotes, the signature block, then the attachments the letter lists: the prior-therapy table,
pathology reports, the chart's clinical notes and the photographs.

Pure apart from the template files (`mappings/letters/appeal-letter.html.j2` and `.css`): the
caller passes the evidence and the chart's resources (photo bytes, note text). Nothing outside
the HTML is fetched (data: URIs only). The PDF holds PHI: nothing here logs any of it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from integration.appeals.letter import Letter, SourceRef
from integration.domain.evidence import ClinicalEvidence
from integration.paths import mappings_dir
from integration.priorauth.packet import _weasyprint, packet_photos, plain_reference

TEMPLATE = "appeal-letter.html.j2"
STYLESHEET = "appeal-letter.css"


@cache
def _environment(folder: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _note_text(resource: Mapping[str, Any]) -> str | None:
    for content in resource.get("content") or []:
        att = content.get("attachment") or {}
        if str(att.get("contentType", "")).startswith("text/") and att.get("data"):
            try:
                return base64.b64decode(att["data"]).decode("utf-8", errors="replace")
            except (binascii.Error, ValueError):
                return None
    return None


def letter_view(
    letter: Letter,
    evidence: ClinicalEvidence | None,
    resources: Mapping[str, Mapping[str, Any]],
    *,
    signed_by: str | None = None,
    signed_at: date | None = None,
) -> dict[str, Any]:
    """What the HTML template reads."""
    footnotes: list[SourceRef] = []
    numbers: dict[SourceRef, int] = {}
    headings = list(letter.extra.get("headings") or [])
    paragraphs = []
    for para in letter.paragraphs():
        items = []
        for s in para:
            marks: list[int] = []
            for src in s.sources:
                if src not in numbers:
                    footnotes.append(src)
                    numbers[src] = len(footnotes)
                marks.append(numbers[src])
            items.append({"id": s.id, "text": s.text, "notes": marks})
        index = para[0].paragraph
        heading = headings[index] if index < len(headings) else None
        paragraphs.append({"heading": heading, "sentences": items})
    kinds = {a.kind for a in letter.attachments}
    wanted = {plain_reference(a.ref) for a in letter.attachments}
    therapies: list[dict[str, Any]] = []
    pathology: list[dict[str, Any]] = []
    photos: list[dict[str, Any]] = []
    not_attached: list[str] = []
    notes: list[dict[str, str]] = []
    if evidence is not None:
        if "therapy-table" in kinds:
            therapies = [
                {
                    "name": t.name,
                    "start": t.start,
                    "end": t.end,
                    "weeks": t.weeks,
                    "sessions": t.sessions,
                    "outcome": t.outcome.value,
                    "outcome_text": t.outcome_text,
                    "source": t.source,
                }
                for t in sorted(evidence.therapies, key=lambda t: t.start or "")
            ]
        pathology = [
            {"date": p.date, "text": p.text, "codes": list(p.codes), "source": p.source}
            for p in evidence.pathology
            if plain_reference(p.source) in wanted
        ]
        attached = packet_photos(evidence, resources)
        got = {plain_reference(p.source) for p in attached}
        for ph in attached:
            if plain_reference(ph.source) not in wanted:
                continue
            caption = " · ".join(x for x in ("Clinical photo", ph.date, ph.body_site) if x)
            photos.append(
                {
                    "content_type": ph.content_type,
                    "data": base64.b64encode(ph.data).decode("ascii"),
                    "caption": caption,
                    "source": ph.source,
                }
            )
        not_attached = [
            ph.source
            for ph in evidence.photos
            if plain_reference(ph.source) in wanted and plain_reference(ph.source) not in got
        ]
    for a in letter.attachments:
        if a.kind != "note":
            continue
        resource = resources.get(plain_reference(a.ref))
        text = _note_text(resource) if resource is not None else None
        if text is None:
            not_attached.append(a.ref)
            continue
        notes.append({"title": a.title, "text": text, "ref": a.ref})
    return {
        "title": str(letter.extra.get("title") or "Appeal"),
        "generated": letter.generated,
        "addressee": letter.extra.get("addressee"),
        "payer": letter.extra.get("payer"),
        "paragraphs": paragraphs,
        "footnotes": [s.to_json() for s in footnotes],
        "signed_by": signed_by,
        "signed_at": signed_at.isoformat() if signed_at else None,
        "unsigned_text": "not yet signed",
        "therapies": therapies,
        "pathology": pathology,
        "notes": notes,
        "photos": photos,
        "not_attached": not_attached,
    }


def render_letter_html(
    letter: Letter,
    evidence: ClinicalEvidence | None = None,
    resources: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    signed_by: str | None = None,
    signed_at: date | None = None,
    folder: Path | None = None,
) -> str:
    where = folder or (mappings_dir() / "letters")
    view = letter_view(letter, evidence, resources or {}, signed_by=signed_by, signed_at=signed_at)
    view["css"] = (where / STYLESHEET).read_text(encoding="utf-8")
    return _environment(where).get_template(TEMPLATE).render(view)


def render_letter_pdf(
    letter: Letter,
    evidence: ClinicalEvidence | None = None,
    resources: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    signed_by: str | None = None,
    signed_at: date | None = None,
    folder: Path | None = None,
) -> bytes:
    """The letter and its attachments as a letter-size PDF."""
    weasyprint = _weasyprint()
    html = render_letter_html(
        letter, evidence, resources, signed_by=signed_by, signed_at=signed_at, folder=folder
    )
    fetcher = weasyprint.urls.URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    pdf = weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
    assert pdf is not None
    return bytes(pdf)
