"""Reading FHIR datatypes into plain values: sources, dates, codings, texts."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from integration.mapping.severity import Coding

ICD10_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10"})
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def source_of(resource: Any) -> str:
    """'Type/id', with '/_history/version' when the server gave a version."""
    ref = f"{resource.get_resource_type()}/{resource.id}"
    meta = getattr(resource, "meta", None)
    version = getattr(meta, "versionId", None) if meta is not None else None
    return f"{ref}/_history/{version}" if version else ref


def date_str(value: Any) -> str | None:
    """The chart's own date: YYYY-MM-DD for full dates (no time zone shift), or the partial string."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return text[:10] if len(text) >= 10 else text


def full_date(value: str | None) -> date | None:
    """A `date` for a YYYY-MM-DD string; None for partial dates."""
    if value is None or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def codings_of(concept: Any) -> list[Coding]:
    if concept is None:
        return []
    return [Coding(c.system, c.code, c.display) for c in (concept.coding or [])]


def texts_of(concept: Any) -> list[str]:
    """The concept's text and every coding display, in that order, without blanks."""
    if concept is None:
        return []
    out = [concept.text] if concept.text else []
    out.extend(c.display for c in (concept.coding or []) if c.display)
    return out


def label_of(concept: Any) -> str | None:
    texts = texts_of(concept)
    if texts:
        return texts[0]
    codings = codings_of(concept)
    return codings[0].code if codings else None


def code_in(concept: Any, systems: Iterable[str]) -> str | None:
    wanted = set(systems)
    for coding in codings_of(concept):
        if coding.system in wanted and coding.code:
            return coding.code
    return None


def decimal_of(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def note_texts(resource: Any) -> list[str]:
    return [n.text for n in (getattr(resource, "note", None) or []) if n.text]


def attachment_text(attachment: Any, limit: int = 200_000) -> str | None:
    """Inline text of a text/* attachment, decoded; None if not inline text."""
    content_type = (attachment.contentType or "").lower()
    if not content_type.startswith("text/") or not attachment.data:
        return None
    raw = attachment.data
    if isinstance(raw, str):  # base64 text, if a model left it undecoded
        try:
            raw = base64.b64decode(raw, validate=False)
        except (binascii.Error, ValueError):
            return None
    # fhir.resources decodes base64Binary to bytes
    return bytes(raw[:limit]).decode("utf-8", errors="replace")
