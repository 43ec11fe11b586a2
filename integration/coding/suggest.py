"""Suggest CPT lines and ICD-10-CM codes from a procedure note, each with the note's own words.

`suggest(text)` reads the note (`integration.coding.notes.read_note`), hands its procedure
mentions to the code chooser (`integration.coding.procedures.choose_codes`) and prints:

    {"procedures": [{"cpt", "units", "modifiers", "evidence"}],
     "diagnoses": [{"icd10", "evidence"}],
     "gaps": [{"needs", "message", "evidence"}]}

Every evidence is a list of exact substrings of the note. A gap is something a code needs that
the note does not document (for the provider to add); no value is ever guessed for it.

`note_text(raw)` takes what `--note FILE` may hold: plain text, an HL7 v2 MDM^T02 message (the
note is its OBX-5 TX/FT/ST values, one line per OBX) or a FHIR DocumentReference (its text/plain
attachment, base64 `data`).
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from integration.coding.notes import NoteReading, read_note
from integration.coding.procedures import Mention, choose_codes
from integration.hl7v2.errors import Hl7Error
from integration.hl7v2.message import parse_message

JsonDict = dict[str, Any]
TEXT_TYPES = ("TX", "FT", "ST")


class NoteError(ValueError):
    """A note file that can't be read, with where and what."""


def note_text(raw: str) -> str:
    """The note text of a plain-text note, an MDM^T02 message or a DocumentReference."""
    stripped = raw.lstrip("\ufeff \t\r\n\x0b")
    if stripped.startswith("MSH"):
        return _hl7_note(stripped)
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise NoteError(f"line {exc.lineno}: expected JSON, got {exc.msg}") from exc
        return _document_reference_note(data)
    return raw


def _hl7_note(raw: str) -> str:
    try:
        message = parse_message(raw.replace("\n", "\r").replace("\r\r", "\r"))
    except Hl7Error as exc:
        raise NoteError(str(exc)) from exc
    header = message.header
    if header.message_code != "MDM":
        raise NoteError(f"MSH-9: expected an MDM message, got {header.message_type!r}")
    lines: list[str] = []
    for obx in message.all("OBX"):
        if obx.value(2) not in TEXT_TYPES:
            continue
        for rep in range(1, len(obx.repetitions(5)) + 1):
            lines.append(obx.value(5, rep=rep))
    if not lines:
        raise NoteError("OBX-5: expected the note text in OBX segments of type TX, FT or ST")
    return "\n".join(lines)


def _document_reference_note(data: Any) -> str:
    if not isinstance(data, dict) or data.get("resourceType") != "DocumentReference":
        got = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise NoteError(f"resourceType: expected DocumentReference, got {got!r}")
    for i, content in enumerate(data.get("content") or []):
        attachment = content.get("attachment") if isinstance(content, dict) else None
        if not isinstance(attachment, dict):
            continue
        kind = str(attachment.get("contentType", "")).split(";")[0].strip().lower()
        if kind != "text/plain" or "data" not in attachment:
            continue
        try:
            decoded = base64.b64decode(str(attachment["data"]), validate=True)
            return decoded.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise NoteError(
                f"DocumentReference.content[{i}].attachment.data: expected base64 UTF-8 text, got {exc}"
            ) from exc
    raise NoteError(
        "DocumentReference.content: expected an attachment with contentType text/plain and data"
    )


def suggestion(reading: NoteReading) -> JsonDict:
    """The codes and gaps for a note already read."""
    mentions = [m for m in reading.mentions]
    lines, gaps = choose_codes([Mention(m.kind, m.facts) for m in mentions])
    procedures = [
        {
            "cpt": line.code,
            "units": line.units,
            "modifiers": list(line.modifiers),
            "evidence": reading.quotes(s for i in line.mentions for s in mentions[i].evidence),
        }
        for line in lines
    ]
    out_gaps = [
        {
            "needs": g.needs,
            "message": g.message,
            "evidence": reading.quotes(mentions[g.mention].evidence),
        }
        for g in gaps
    ]
    out_gaps += [
        {"needs": g.needs, "message": g.message, "evidence": reading.quotes(g.evidence)}
        for g in reading.gaps
    ]
    evaluation = reading.evaluation
    if evaluation is not None:
        said = reading.quotes(evaluation.separate)
        stated = reading.quotes([evaluation.code_span] if evaluation.code_span else [])
        if evaluation.code is not None and evaluation.separate and procedures:
            procedures.insert(
                0,
                {
                    "cpt": evaluation.code,
                    "units": 1,
                    "modifiers": ["25"],
                    "evidence": [*said, *stated],
                },
            )
        elif evaluation.code is not None and procedures:
            out_gaps.append(
                {
                    "needs": "separate_evaluation",
                    "message": f"E/M {evaluation.code} on a procedure day is billable (with "
                    "modifier 25) only for a significant, separately identifiable service "
                    "beyond the procedure's own pre- and post-procedure work; the note does "
                    "not document one, so the E/M is not suggested",
                    "evidence": stated,
                }
            )
        elif evaluation.code is not None:
            procedures.insert(
                0, {"cpt": evaluation.code, "units": 1, "modifiers": [], "evidence": stated}
            )
        elif evaluation.separate and procedures:
            out_gaps.append(
                {
                    "needs": "em_level",
                    "message": "The note documents a separately identifiable evaluation and "
                    "management service (modifier 25) but states no E/M code: the provider "
                    "selects the level (medical decision making or time)",
                    "evidence": said,
                }
            )
    return {
        "procedures": procedures,
        "diagnoses": [
            {"icd10": d.icd10, "evidence": reading.quotes(d.evidence)} for d in reading.diagnoses
        ],
        "gaps": out_gaps,
    }


def suggest(text: str, root: Path | None = None) -> JsonDict:
    """Suggested codes for the note text."""
    return suggestion(read_note(text, root))


def suggest_file(path: Path, root: Path | None = None) -> JsonDict:
    """Suggested codes for a note file (plain text, MDM^T02 or DocumentReference JSON)."""
    raw = path.read_text(encoding="utf-8")
    return suggest(note_text(raw), root)
