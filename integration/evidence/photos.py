"""Clinical photos from Media and from DocumentReference image attachments."""

from __future__ import annotations

from typing import Any

from integration.domain.evidence import Photo
from integration.evidence.values import date_str, label_of, source_of

_SKIP = frozenset({"entered-in-error", "superseded", "not-done", "stopped"})


def _media_photo(media: Any) -> Photo | None:
    content = media.content
    content_type = (content.contentType or "").lower() if content else ""
    if media.status in _SKIP or not content_type.startswith("image/"):
        return None
    when = (
        media.createdDateTime
        or (media.createdPeriod.start if media.createdPeriod else None)
        or media.issued
    )
    return Photo(
        source=source_of(media),
        date=date_str(when),
        body_site=label_of(media.bodySite),
        content_type=content_type,
        title=content.title,
    )


def _document_photos(doc: Any) -> list[Photo]:
    if doc.status in _SKIP:
        return []
    out = []
    for item in doc.content or []:
        attachment = item.attachment
        content_type = (attachment.contentType or "").lower()
        if not content_type.startswith("image/"):
            continue
        when = doc.date or (
            doc.context.period.start if doc.context and doc.context.period else None
        )
        out.append(
            Photo(
                source=source_of(doc),
                date=date_str(when or attachment.creation),
                body_site=None,
                content_type=content_type,
                title=doc.description or attachment.title,
            )
        )
        break  # one photo per DocumentReference: its source is the same
    return out


def extract_photos(media: list[Any], documents: list[Any]) -> tuple[Photo, ...]:
    found = [p for m in media if (p := _media_photo(m))]
    for doc in documents:
        found.extend(_document_photos(doc))
    return tuple(sorted(found, key=lambda p: (p.date or "", p.source), reverse=True))
