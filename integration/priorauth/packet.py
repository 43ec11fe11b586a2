"""The prior-authorization packet: a PDF for people and a FHIR Bundle for machines, both built
from an Assessment and the ClinicalEvidence it was decided on. Pure: no HTTP, no SQL, no clock
(the caller passes `created`); the only files read are the packet template in `mappings/`.

The product promise holds here too: every fact printed or sent carries the FHIR reference it
came from, nothing is added that the evidence does not hold, and what the chart lacks is
listed as missing with who should supply it. The packet contains PHI (it is for the payer):
nothing in this module logs any of it.
"""

from __future__ import annotations

import base64
import re
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from integration.domain.evidence import MEASURE_KEYS, ClinicalEvidence, CoverageFact, Measure
from integration.domain.priorauth import Assessment, CriterionResult, Status
from integration.mapping.loader import MappingError, iter_documents, load_document
from integration.paths import mappings_dir

PAS_CLAIM_PROFILE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-claim"
PAS_REQUESTED_SERVICE = (
    "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-requestedService"
)
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
SUPPORTING_INFO = "http://derm-rcm.org/fhir/CodeSystem/pa-supporting-info"
SUPPORTING_INFO_CODES = (
    "severity-score",
    "prior-therapy",
    "diagnosis",
    "screening",
    "photo",
    "pathology",
    "checklist",
    "demographics",
    "prescriber",
    "coverage",
    "chart-note",
)
CRITERION_STATUS = "http://derm-rcm.org/fhir/CodeSystem/pa-criterion-status"
PACKET_IDENTIFIER = "http://derm-rcm.org/fhir/sid/pa-packet"
PACKET_DOCUMENT_TYPE = "http://derm-rcm.org/fhir/CodeSystem/pa-document-type"

_ACTIVE_DIAGNOSIS = frozenset({None, "active", "recurrence", "relapse"})
_IMAGE_TYPE = re.compile(r"image/[a-z0-9][a-z0-9.+-]*")


class PacketError(ValueError):
    """A packet that can't be built as asked, with where and what."""


@dataclass(frozen=True, slots=True)
class PacketPhoto:
    """A clinical photo to embed: one of the evidence's photos (same `source`) with its bytes."""

    source: str
    content_type: str
    data: bytes
    date: str | None
    body_site: str | None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Attestation:
    """The clinician's attestation. `signed` is the signing date; None prints an empty signature
    line saying the packet is not yet signed. `text` overrides the template's sentence."""

    clinician: str
    signed: date | None = None
    practitioner_ref: str | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class ClinicianReview:
    """What the clinician wrote for the packet: the medical necessity statement (free text) and
    a note for each `attestation` criterion they attest ({criterion id: note}). `version` is
    the review version printed (None: not stored)."""

    narrative: str
    attestations: Mapping[str, str] = field(default_factory=dict)
    version: int | None = None


@dataclass(frozen=True, slots=True)
class PacketTemplate:
    """`mappings/packets/packet-template.yaml`: the template, its stylesheet and its wording."""

    id: str
    version: int
    source: Mapping[str, Any]
    folder: Path
    template: str
    stylesheet: str
    title: str
    attestation_text: str
    unsigned_text: str
    severity_trend_limit: int

    @classmethod
    def from_file(cls, path: Path, root: Path | None = None) -> PacketTemplate:
        doc = load_document(path, root)
        if doc.kind != "packet-template":
            raise MappingError(f"{path}: kind: expected packet-template, got {doc.kind!r}")
        data = doc.data
        for key in ("template", "stylesheet"):
            if not (path.parent / data[key]).is_file():
                raise MappingError(f"{path}: {key}: expected a file beside it, got {data[key]!r}")
        return cls(
            id=doc.id,
            version=doc.version,
            source=data["source"],
            folder=path.parent,
            template=data["template"],
            stylesheet=data["stylesheet"],
            title=data["title"],
            attestation_text=" ".join(str(data["attestation_text"]).split()),
            unsigned_text=data["unsigned_text"],
            severity_trend_limit=data["severity_trend_limit"],
        )


@cache
def default_template(root: Path | None = None) -> PacketTemplate:
    """The one `kind: packet-template` file under `mappings/` (loaded once)."""
    base = root or mappings_dir()
    docs = list(iter_documents(base, kind="packet-template"))
    if len(docs) != 1:
        raise MappingError(f"kind packet-template: expected exactly one file, got {len(docs)}")
    return PacketTemplate.from_file(docs[0].path, base)


@cache
def _environment(folder: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


# ---------------------------------------------------------------------------------------------
# Facts by source


def plain_reference(source: str) -> str:
    """'Type/id' without '/_history/n'."""
    return source.split("/_history/")[0]


@dataclass(frozen=True, slots=True)
class _Fact:
    category: str
    label: str
    date: str | None


class _Facts:
    """Every fact of the evidence by its source reference (versioned and plain)."""

    def __init__(self, evidence: ClinicalEvidence) -> None:
        self._exact: dict[str, _Fact] = {}
        self._plain: dict[str, _Fact] = {}
        if evidence.patient is not None:
            p = evidence.patient
            self._add(p.source, _Fact("demographics", f"Patient, born {p.birth_date or '?'}", None))
        for key in MEASURE_KEYS:
            for m in evidence.measures.get(key, ()):
                self._add(m.source, _Fact("severity-score", _measure_label(m), m.date))
                for c in m.components:
                    self._add(c.source, _Fact("severity-score", _measure_label(m), m.date))
        for d in evidence.diagnoses:
            code = d.icd10 or (f"SNOMED CT {d.snomed}" if d.snomed else "no code")
            self._add(d.source, _Fact("diagnosis", f"{d.text} ({code})", d.onset))
        for t in evidence.therapies:
            label = f"{t.name}: {t.outcome.value}"
            span = _span(t.start, t.end)
            for ref in (t.source, *t.sources):
                self._add(ref, _Fact("prior-therapy", f"{label}, {span}", t.start))
        for sc in evidence.screenings:
            self._add(sc.source, _Fact("screening", f"{sc.name}: {sc.result or '?'}", sc.date))
        for path in evidence.pathology:
            self._add(path.source, _Fact("pathology", _shorten(path.text, 90), path.date))
        for ph in evidence.photos:
            label = ph.title or ph.body_site or "Clinical photo"
            self._add(ph.source, _Fact("photo", label, ph.date))
        for cov in evidence.coverage:
            label = f"{cov.payer or '?'} {cov.plan or ''}".strip()
            self._add(cov.source, _Fact("coverage", label, cov.start))
            if cov.payer_source:
                self._add(cov.payer_source, _Fact("coverage", cov.payer or "payer", None))
        for item in evidence.missing:
            for ref in item.see:
                self._add(ref, _Fact("chart-note", f"cited for: {item.what}", None))

    def _add(self, source: str, fact: _Fact) -> None:
        self._exact.setdefault(source, fact)
        self._plain.setdefault(plain_reference(source), fact)

    def get(self, source: str) -> _Fact | None:
        return self._exact.get(source) or self._plain.get(plain_reference(source))


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _value(m: Measure) -> str:
    """'26.8', '30%', '12 mg'."""
    unit = "" if not m.unit else (m.unit if m.unit == "%" else f" {m.unit}")
    return f"{_number(m.value)}{unit}"


def _measure_label(m: Measure) -> str:
    text = f" ({m.text})" if m.text and m.text != _number(m.value) else ""
    return f"{m.instrument} {_value(m)}{text}"


def _span(start: str | None, end: str | None) -> str:
    return f"{start or 'start not recorded'} to {end or 'ongoing / no end recorded'}"


def _shorten(text: str, size: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1].rstrip() + "…"


# ---------------------------------------------------------------------------------------------
# The view the template reads


def current_coverage(assessment: Assessment, evidence: ClinicalEvidence) -> CoverageFact | None:
    """The coverage the assessment's payer was matched to (the rule library matches a payer
    chosen by hand to the chart's current coverage naming it). Never another payer's coverage:
    its member id would be wrong."""
    payer = assessment.payer
    if payer is None or not payer.coverage:
        return None
    for cov in evidence.coverage:
        if plain_reference(cov.source) == plain_reference(payer.coverage):
            return cov
    return None


def _is_order(source: str, assessment: Assessment) -> bool:
    return plain_reference(source) == plain_reference(assessment.order.source)


def _criterion_view(c: CriterionResult, facts: _Facts) -> dict[str, Any]:
    evidence = []
    for ref in c.evidence:
        fact = facts.get(ref)
        evidence.append(
            {
                "label": fact.label if fact else f"{ref.split('/')[0]} record",
                "date": fact.date if fact else None,
                "source": ref,
            }
        )
    return {
        "id": c.id,
        "text": c.text,
        "status": c.status.value,
        "status_label": _STATUS_LABEL[c.status],
        "detail": c.detail,
        "evidence": evidence,
        "missing": list(c.missing),
        "owner": c.owner.value if c.owner else None,
    }


_STATUS_LABEL = {Status.MET: "Met", Status.UNMET: "Not met", Status.MISSING: "Missing"}


def _severity_view(evidence: ClinicalEvidence, limit: int) -> list[dict[str, Any]]:
    out = []
    for key in MEASURE_KEYS:
        items = sorted(
            evidence.measures.get(key, ()), key=lambda m: (m.date, m.source), reverse=True
        )
        if not items:
            continue
        shown, older = items[:limit], items[limit:]
        rows = [
            {
                "value": _value(m),
                "text": m.text,
                "instrument": m.instrument,
                "date": m.date,
                "source": m.source,
                "region": m.region,
                "derived": m.derived,
                "components": [
                    {"region": c.region, "value": _number(c.value), "source": c.source}
                    for c in m.components
                ],
            }
            for m in shown
        ]
        trend = None
        if len(items) > 1:
            first, last = items[-1], items[0]
            trend = f"{_number(first.value)} ({first.date}) to {_number(last.value)} ({last.date})"
        out.append(
            {
                "key": key,
                "instrument": items[0].instrument,
                "latest": rows[0],
                "rows": rows,
                "trend": trend,
                "count": len(items),
                "older": len(older),
                "older_range": _span(older[-1].date, older[0].date) if older else None,
            }
        )
    return out


def _attestation_view(attestation: Attestation | None, template: PacketTemplate) -> dict[str, Any]:
    if attestation is None:
        return {
            "clinician": None,
            "practitioner_ref": None,
            "text": template.attestation_text,
            "signed": None,
        }
    return {
        "clinician": attestation.clinician,
        "practitioner_ref": attestation.practitioner_ref,
        "text": " ".join((attestation.text or template.attestation_text).split()),
        "signed": attestation.signed.isoformat() if attestation.signed else None,
    }


def _photo_views(
    evidence: ClinicalEvidence, photos: Sequence[PacketPhoto]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Embedded photos, and the evidence's photos that were not supplied with their bytes."""
    known = {plain_reference(p.source): p for p in evidence.photos}
    embedded = []
    given = set()
    for photo in photos:
        key = plain_reference(photo.source)
        if key not in known:
            raise PacketError(
                f"photos: {photo.source}: expected a photo the evidence holds, got one it doesn't"
            )
        content_type = photo.content_type.lower()
        if not _IMAGE_TYPE.fullmatch(content_type):
            raise PacketError(
                f"photos: {photo.source}: content_type: expected image/..., got {content_type!r}"
            )
        given.add(key)
        data = base64.b64encode(photo.data).decode("ascii")
        embedded.append(
            {
                "uri": f"data:{content_type};base64,{data}",
                "title": photo.title or known[key].title,
                "date": photo.date,
                "body_site": photo.body_site,
                "source": photo.source,
            }
        )
    absent = [
        {"title": p.title, "date": p.date, "body_site": p.body_site, "source": p.source}
        for p in evidence.photos
        if plain_reference(p.source) not in given
    ]
    return embedded, absent


def _review_view(
    review: ClinicianReview | None, criteria: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    if review is None:
        return None
    texts = {c["id"]: c["text"] for c in criteria}
    unknown = [cid for cid in review.attestations if cid not in texts]
    if unknown:
        raise PacketError(
            f"review: attestations: expected criteria of the checklist, got {', '.join(unknown)}"
        )
    return {
        "narrative": review.narrative,
        "paragraphs": [p.strip() for p in re.split(r"\n\s*\n", review.narrative) if p.strip()],
        "version": review.version,
        "attestations": [
            {"id": cid, "criterion": texts[cid], "note": review.attestations[cid]}
            for cid in texts
            if cid in review.attestations
        ],
    }


def packet_view(
    assessment: Assessment,
    evidence: ClinicalEvidence,
    *,
    photos: Sequence[PacketPhoto],
    attestation: Attestation | None,
    created: datetime,
    packet_id: str | None = None,
    template: PacketTemplate | None = None,
    review: ClinicianReview | None = None,
) -> dict[str, Any]:
    """Everything the template prints, as plain values (each fact with its source)."""
    tpl = template or default_template()
    facts = _Facts(evidence)
    coverage = current_coverage(assessment, evidence)
    rule = assessment.rule
    order = assessment.order
    embedded, absent = _photo_views(evidence, photos)
    criteria = [_criterion_view(c, facts) for c in assessment.criteria]
    missing_for_criteria = [
        {
            "criterion": c["text"],
            "status": c["status"],
            "what": "; ".join(c["missing"]) or c["detail"],
            "detail": c["detail"],
            "owner": c["owner"],
        }
        for c in criteria
        if c["status"] == Status.MISSING.value
    ]
    chart_missing = [
        {
            "what": m.what,
            "detail": m.detail,
            "owner": m.owner.value,
            "see": list(m.see),
        }
        for m in evidence.missing
    ]
    diagnoses = [
        {
            "icd10": d.icd10,
            "snomed": d.snomed,
            "text": d.text,
            "onset": d.onset,
            "status": d.clinical_status,
            "body_sites": list(d.body_sites),
            "source": d.source,
        }
        for d in evidence.diagnoses
    ]
    therapies = [
        {
            "name": t.name,
            "drug_class": t.drug_class or t.kind.value,
            "start": t.start,
            "end": t.end,
            "weeks": t.weeks,
            "sessions": t.sessions,
            "status": t.status,
            "outcome": t.outcome.value,
            "outcome_text": t.outcome_text,
            "recorded_as": t.recorded_as,
            "source": t.source,
            "more_sources": max(0, len(t.sources) - 1),
        }
        for t in evidence.therapies
        if not _is_order(t.source, assessment)
    ]
    patient = evidence.patient
    return {
        "title": tpl.title,
        "template": {"id": tpl.id, "version": tpl.version},
        "packet_id": packet_id,
        "created": created.isoformat(timespec="minutes"),
        "created_date": created.date().isoformat(),
        "date_of_service": assessment.date,
        "payer": {
            "name": assessment.payer.name
            if assessment.payer
            else (coverage.payer if coverage else None),
            "id": assessment.payer.id if assessment.payer else None,
        },
        "rule": None
        if rule is None
        else {
            "id": rule.id,
            "version": rule.version,
            "title": rule.title,
            "source_title": rule.source.get("title"),
            "source_url": rule.source.get("url"),
            "source_date": rule.source.get("date"),
            "source_document": rule.source.get("document_id"),
            "secondary": bool(rule.source.get("secondary")),
            "verified": rule.verified,
            "effective_from": rule.effective_from,
            "effective_to": rule.effective_to,
        },
        "patient": None
        if patient is None
        else {
            "name": patient.name,
            "birth_date": patient.birth_date,
            "gender": patient.gender,
            "source": patient.source,
        },
        "coverage": None
        if coverage is None
        else {
            "payer": coverage.payer,
            "plan": coverage.plan,
            "member_id": coverage.member_id,
            "status": coverage.status,
            "start": coverage.start,
            "end": coverage.end,
            "source": coverage.source,
        },
        "order": {
            "kind": order.kind,
            "text": order.text,
            "codes": [
                {"system": c.system, "code": c.code, "display": c.display} for c in order.codes
            ],
            "status": order.status,
            "authored": order.authored,
            "occurrence": order.occurrence,
            "quantity": None if order.quantity is None else f"{order.quantity:g}",
            "requester": order.requester,
            "source": order.source,
        },
        "pa": {
            "required": {True: "Yes", False: "No", None: "Unknown"}[assessment.pa_required],
            "reason": assessment.reason,
            "channel": assessment.channel.value if assessment.channel else None,
            "benefit": assessment.benefit,
            "overall": assessment.overall.value if assessment.overall else None,
            "overall_label": _STATUS_LABEL[assessment.overall] if assessment.overall else None,
            "criteria_known": assessment.criteria_known,
        },
        "criteria": criteria,
        "severity": _severity_view(evidence, tpl.severity_trend_limit),
        "therapies": therapies,
        "screenings": [
            {"test": s.test, "name": s.name, "date": s.date, "result": s.result, "source": s.source}
            for s in evidence.screenings
        ],
        "diagnoses": diagnoses,
        "pathology": [
            {"date": p.date, "text": p.text, "codes": list(p.codes), "source": p.source}
            for p in evidence.pathology
        ],
        "documentation": list(assessment.documentation),
        "photos": embedded,
        "photos_not_attached": absent,
        "missing_for_criteria": missing_for_criteria,
        "chart_missing": chart_missing,
        "problems": [{"source": p.source, "message": p.message} for p in evidence.problems],
        "notes": list(assessment.notes),
        "attestation": _attestation_view(attestation, tpl),
        "review": _review_view(review, criteria),
        "unsigned_text": tpl.unsigned_text,
        "stylesheet": tpl.stylesheet,  # a file beside the template, included by it
    }


def render_packet_html(
    assessment: Assessment,
    evidence: ClinicalEvidence,
    *,
    photos: Sequence[PacketPhoto] = (),
    attestation: Attestation | None = None,
    created: datetime,
    packet_id: str | None = None,
    template: PacketTemplate | None = None,
    review: ClinicianReview | None = None,
) -> str:
    """The packet as one self-contained HTML document (styles inlined, photos as data: URIs).
    `review` adds the clinician's medical necessity statement and attestation notes."""
    tpl = template or default_template()
    view = packet_view(
        assessment,
        evidence,
        photos=photos,
        attestation=attestation,
        created=created,
        packet_id=packet_id,
        template=tpl,
        review=review,
    )
    return _environment(tpl.folder).get_template(tpl.template).render(view)


def render_packet_pdf(
    assessment: Assessment,
    evidence: ClinicalEvidence,
    *,
    photos: Sequence[PacketPhoto] = (),
    attestation: Attestation | None = None,
    created: datetime,
    packet_id: str | None = None,
    template: PacketTemplate | None = None,
    review: ClinicianReview | None = None,
) -> bytes:
    """The packet as a letter-size PDF (WeasyPrint). Nothing outside the HTML is fetched."""
    weasyprint = _weasyprint()
    html = render_packet_html(
        assessment,
        evidence,
        photos=photos,
        attestation=attestation,
        created=created,
        packet_id=packet_id,
        template=template,
        review=review,
    )
    fetcher = weasyprint.urls.URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    pdf = weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
    assert pdf is not None
    return bytes(pdf)


@cache
def _weasyprint() -> Any:
    """WeasyPrint, imported on first use (it loads Pango). Its notice that a future version will
    need libharfbuzz-subset is silenced: this version subsets fonts without it."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="HarfBuzz-Subset will be required", category=DeprecationWarning
        )
        import weasyprint
        import weasyprint.urls
    return weasyprint


def packet_photos(
    evidence: ClinicalEvidence, resources: Mapping[str, Mapping[str, Any]]
) -> tuple[PacketPhoto, ...]:
    """The evidence's photos with their bytes, from the Media / DocumentReference JSON the chart
    was read from (`resources` by "Type/id"). A photo whose resource has no inline data (only a
    URL) is left out: the packet lists it as not attached."""
    out = []
    for photo in evidence.photos:
        resource = resources.get(plain_reference(photo.source))
        if resource is None:
            continue
        if resource.get("resourceType") == "Media":
            attachment = resource.get("content") or {}
        else:
            attachment = next(
                (
                    c.get("attachment") or {}
                    for c in resource.get("content") or []
                    if str((c.get("attachment") or {}).get("contentType", "")).startswith("image/")
                ),
                {},
            )
        data = attachment.get("data")
        if not data:
            continue
        out.append(
            PacketPhoto(
                source=photo.source,
                content_type=photo.content_type,
                data=base64.b64decode(data),
                date=photo.date,
                body_site=photo.body_site,
                title=photo.title,
            )
        )
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# The FHIR Bundle


def _uuid(packet_id: str, what: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{PACKET_IDENTIFIER}/{packet_id}/{what}"))


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _reference(ref: str, display: str | None = None) -> dict[str, Any]:
    out = {"reference": ref}
    if display:
        out["display"] = display
    return out


def _fhir_date(value: str | None) -> str | None:
    """A chart date usable as a FHIR `date` (YYYY, YYYY-MM or YYYY-MM-DD), else None."""
    if value and re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value[:10]):
        return value[:10]
    return None


class _SupportingInfo:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self._seen: dict[tuple[str, str], int] = {}

    def reference(self, category: str, source: str, display: str, when: str | None) -> int:
        key = (category, plain_reference(source))
        if key in self._seen:
            return self._seen[key]
        entry: dict[str, Any] = {
            "sequence": len(self.entries) + 1,
            "category": {"coding": [_coding(SUPPORTING_INFO, category)]},
        }
        timing = _fhir_date(when)
        if timing:
            entry["timingDate"] = timing
        entry["valueReference"] = _reference(source, display)
        self.entries.append(entry)
        self._seen[key] = entry["sequence"]
        return int(entry["sequence"])

    def criterion(self, c: CriterionResult) -> int:
        text = c.detail
        if c.missing:
            text = f"{text} Missing: {'; '.join(c.missing)}".strip()
        entry: dict[str, Any] = {
            "sequence": len(self.entries) + 1,
            "category": {"coding": [_coding(SUPPORTING_INFO, "checklist")]},
            "code": {
                "coding": [_coding(CRITERION_STATUS, c.status.value)],
                "text": c.text,
            },
        }
        if text:
            entry["valueString"] = text
        self.entries.append(entry)
        return int(entry["sequence"])


def _category_for(ref: str, facts: _Facts) -> tuple[str, str, str | None] | None:
    """(category, display, date) of a criterion's evidence reference."""
    fact = facts.get(ref)
    if fact is not None:
        return fact.category, fact.label, fact.date
    kind = ref.split("/")[0]
    if kind in ("Practitioner", "PractitionerRole"):
        return "prescriber", f"{kind} (ordering practitioner)", None
    return None


def build_packet_bundle(
    assessment: Assessment,
    evidence: ClinicalEvidence,
    *,
    packet_id: str,
    created: datetime,
    patient_ref: str,
    practitioner_ref: str | None = None,
    pdf: bytes | None = None,
) -> dict[str, Any]:
    """A FHIR R4 `collection` Bundle: a Da Vinci PAS-style Claim (use preauthorization) whose
    supportingInfo references every fact the checklist used and every severity score, and,
    when `pdf` is given, a DocumentReference carrying the PDF."""
    if created.tzinfo is None:
        raise PacketError("created: expected a time zone-aware datetime, got a naive one")
    facts = _Facts(evidence)
    order = assessment.order
    coverage = current_coverage(assessment, evidence)
    claim_id = _uuid(packet_id, "Claim")
    stamp = created.isoformat(timespec="seconds")
    info = _SupportingInfo()

    for c in assessment.criteria:
        info.criterion(c)
        if c.status is Status.MISSING:
            continue
        for ref in c.evidence:
            if _is_order(ref, assessment):
                continue
            found = _category_for(ref, facts)
            if found is not None:
                info.reference(found[0], ref, found[1], found[2])
    for key in MEASURE_KEYS:
        for m in evidence.measures.get(key, ()):
            info.reference("severity-score", m.source, _measure_label(m), m.date)
    for d in evidence.diagnoses:
        if d.clinical_status in _ACTIVE_DIAGNOSIS:
            info.reference("diagnosis", d.source, d.text, d.onset)
    for s in evidence.screenings:
        info.reference("screening", s.source, f"{s.name}: {s.result or '?'}", s.date)
    for p in evidence.pathology:
        info.reference("pathology", p.source, _shorten(p.text, 90), p.date)
    for ph in evidence.photos:
        info.reference("photo", ph.source, ph.title or ph.body_site or "Clinical photo", ph.date)

    diagnoses = [
        {
            "sequence": i,
            "diagnosisCodeableConcept": {
                "coding": [_coding(ICD10_CM, str(d.icd10), d.text)],
                "text": d.text,
            },
        }
        for i, d in enumerate(
            (d for d in evidence.diagnoses if d.icd10 and d.clinical_status in _ACTIVE_DIAGNOSIS),
            start=1,
        )
    ]
    product: dict[str, Any] = {
        "coding": [_coding(c.system, c.code, c.display) for c in order.codes if c.system],
    }
    if order.text:
        product["text"] = order.text
    if not product["coding"]:
        del product["coding"]
    item: dict[str, Any] = {
        "extension": [{"url": PAS_REQUESTED_SERVICE, "valueReference": _reference(order.source)}],
        "sequence": 1,
        "productOrService": product,
    }
    if diagnoses:
        item["diagnosisSequence"] = [d["sequence"] for d in diagnoses]
    if info.entries:
        item["informationSequence"] = [e["sequence"] for e in info.entries]
    serviced = _fhir_date(order.occurrence) or _fhir_date(assessment.date)
    if serviced:
        item["servicedDate"] = serviced
    if order.quantity is not None:
        item["quantity"] = {"value": order.quantity}

    payer_name = (
        assessment.payer.name if assessment.payer else (coverage.payer if coverage else None)
    )
    insurer: dict[str, Any] = {"display": payer_name or "payer not identified"}
    if coverage and coverage.payer_source:
        insurer["reference"] = coverage.payer_source
    if practitioner_ref:
        provider = _reference(practitioner_ref)
    elif order.requester:
        provider = _reference(order.requester)
    else:
        provider = {"display": "ordering clinician not recorded on the order"}
    claim: dict[str, Any] = {
        "resourceType": "Claim",
        "id": claim_id,
        "meta": {"profile": [PAS_CLAIM_PROFILE]},
        "identifier": [{"system": PACKET_IDENTIFIER, "value": packet_id}],
        "status": "active",
        "type": {
            "coding": [
                _coding(CLAIM_TYPE, "pharmacy" if order.kind == "medication" else "professional")
            ]
        },
        "use": "preauthorization",
        "patient": _reference(patient_ref),
        "created": stamp,
        "insurer": insurer,
        "provider": provider,
        "priority": {"coding": [_coding(PROCESS_PRIORITY, "normal")]},
        "supportingInfo": info.entries,
        "diagnosis": diagnoses,
        "insurance": [
            {
                "sequence": 1,
                "focal": True,
                "coverage": _reference(coverage.source)
                if coverage
                else {"display": "no current coverage for this payer in the chart (missing)"},
            }
        ],
        "item": [item],
    }
    if not claim["supportingInfo"]:
        del claim["supportingInfo"]
    if not claim["diagnosis"]:
        del claim["diagnosis"]
    entries: list[dict[str, Any]] = [{"fullUrl": f"urn:uuid:{claim_id}", "resource": claim}]
    if pdf is not None:
        doc_id = _uuid(packet_id, "DocumentReference")
        entries.append(
            {
                "fullUrl": f"urn:uuid:{doc_id}",
                "resource": {
                    "resourceType": "DocumentReference",
                    "id": doc_id,
                    "status": "current",
                    "type": {
                        "coding": [_coding(PACKET_DOCUMENT_TYPE, "pa-packet")],
                        "text": "Prior authorization packet",
                    },
                    "subject": _reference(patient_ref),
                    "date": stamp,
                    "content": [
                        {
                            "attachment": {
                                "contentType": "application/pdf",
                                "data": base64.b64encode(pdf).decode("ascii"),
                                "title": f"Prior authorization packet {packet_id}",
                                "creation": stamp,
                            }
                        }
                    ],
                    "context": {"related": [{"reference": f"urn:uuid:{claim_id}"}]},
                },
            }
        )
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": _uuid(packet_id, "Bundle"),
        "identifier": {"system": PACKET_IDENTIFIER, "value": packet_id},
        "type": "collection",
        "timestamp": stamp,
        "entry": entries,
    }
    return bundle


def cited_references(bundle: Mapping[str, Any]) -> Iterable[str]:
    """Every `reference` in the bundle that points outside it (not urn:uuid:)."""
    stack: list[Any] = [bundle]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            ref = node.get("reference")
            if isinstance(ref, str) and not ref.startswith("urn:"):
                yield ref
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
