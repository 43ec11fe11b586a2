"""HL7 v2 acknowledgements: AA / AE / AR (original mode), CA / CE / CR (enhanced accept), with ERR.

The builder takes the clock and the control id from the caller, so the ACK for a given
message and outcome is always the same text (golden-testable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from integration.hl7v2.errors import Hl7Error
from integration.hl7v2.message import DEFAULT_ENCODING, Encoding, Header, Segment


class AckCode(StrEnum):
    AA = "AA"  # application accept
    AE = "AE"  # application error (kept for replay)
    AR = "AR"  # application reject (can't be parsed / not supported)
    CA = "CA"  # commit accept (stored)
    CE = "CE"  # commit error
    CR = "CR"  # commit reject


# Enhanced mode (MSH-15 / MSH-16): AL always, NE never, ER only on error, SU only on success.
def wanted(condition: str, ok: bool) -> bool:
    condition = condition.upper()
    if condition in ("", "AL"):
        return True
    if condition == "NE":
        return False
    if condition == "ER":
        return not ok
    if condition == "SU":
        return ok
    return True


@dataclass(frozen=True, slots=True)
class AckRequest:
    """What an acknowledgement answers: the original header (if it could be read)."""

    header: Header | None
    encoding: Encoding = DEFAULT_ENCODING
    msh: Segment | None = None


def _hl7_time(now: datetime) -> str:
    global _last_time
    last = _last_time  # the ACKs of a group share their `now`
    if last[0] == now and last[0].tzinfo is now.tzinfo:
        return last[1]
    stamp = now.strftime("%Y%m%d%H%M%S") + now.strftime("%z")
    _last_time = (now, stamp)
    return stamp


_last_time: tuple[datetime, str] = (datetime.min, "")


def build_ack(
    request: AckRequest,
    code: AckCode,
    *,
    control_id: str,
    now: datetime,
    error: Hl7Error | None = None,
    text: str = "",
    application: str = "DERM-RCM",
    facility: str = "",
    occurrence: int | None = None,
) -> str:
    """One ACK message (CR-terminated segments) in the sender's own delimiters and version.
    `occurrence`: which of its kind the error's segment is (ERR-2.2 / ELD-2 count a
    segment's occurrences, not its place in the message); the place when not given."""
    enc = request.encoding
    header = request.header
    f = enc.field
    c = enc.component
    version = header.version if header and header.version else "2.5.1"
    event = header.trigger_event if header else ""
    msh = [
        "MSH",
        enc.characters,
        enc.escape_text(
            header.receiving_application if header and header.receiving_application else application
        ),
        enc.escape_text(
            header.receiving_facility if header and header.receiving_facility else facility
        ),
        enc.escape_text(header.sending_application if header else ""),
        enc.escape_text(header.sending_facility if header else ""),
        _hl7_time(now),
        "",
        f"ACK{c}{event}{c}ACK" if event else "ACK",
        control_id,
        (header.processing_id if header and header.processing_id else "P"),
        version,
    ]
    if header and header.enhanced_mode and code in (AckCode.AA, AckCode.AE, AckCode.AR):
        msh += ["", "", "NE", "NE"]  # an application ACK asks for no ACK of its own
    msa_text = text or (error.message if error else "")
    segments = [
        f.join(msh),
        f.join(
            [
                "MSA",
                code.value,
                enc.escape_text(header.control_id if header else ""),
                enc.escape_text(msa_text[:80]),
            ]
        ),
    ]
    if error is not None:
        segments.append(_err(error, enc, version, occurrence))
    return "\r".join(segments) + "\r"


def _err(error: Hl7Error, enc: Encoding, version: str, occurrence: int | None) -> str:
    f, c, s = enc.field, enc.component, enc.subcomponent
    code = f"{error.code.value}{c}{enc.escape_text(error.code.text)}{c}HL70357"
    where = error.where
    if occurrence is not None and where.segment_index is not None:
        where = where.at(segment_index=occurrence)
    if _older_than_25(version):
        # v2.3 / 2.4: ERR-1 (ELD) segment ^ sequence ^ field ^ code & text & table
        eld = c.join(
            [
                where.segment_id or "",
                str(where.segment_index or ""),
                str(where.field or ""),
                f"{error.code.value}{s}{enc.escape_text(error.code.text)}{s}HL70357",
            ]
        )
        return f.join(["ERR", eld])
    return f.join(
        [
            "ERR",
            "",  # ERR-1 is for versions before 2.5
            where.err_location(c),
            code,
            "E",
            "",
            "",
            "",
            enc.escape_text(error.message),
        ]
    )


def _older_than_25(version: str) -> bool:
    parts = version.split(".")
    try:
        major, minor = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return False
    return (major, minor) < (2, 5)


def batch_ack(
    acks: Sequence[str], batch_header: Segment | None, *, control_id: str, now: datetime
) -> str:
    """ACKs for a batch file, wrapped in FHS / BHS ... BTS / FTS as the batch came."""
    enc = batch_header.encoding if batch_header else DEFAULT_ENCODING
    f = enc.field
    sender_app = batch_header.value(3) if batch_header else ""
    sender_fac = batch_header.value(4) if batch_header else ""
    head = f.join(
        [
            "BHS",
            enc.characters,
            "DERM-RCM",
            "",
            enc.escape_text(sender_app),
            enc.escape_text(sender_fac),
            _hl7_time(now),
            "",
            "",
            "",
            control_id,
        ]
    )
    body = "".join(acks)
    tail = f.join(["BTS", str(len(acks))])
    if batch_header is not None and batch_header.id == "FHS":
        fhs = "F" + head[1:]
        return f"{fhs}\r{head}\r{body}{tail}\r{f.join(['FTS', '1'])}\r"
    return f"{head}\r{body}{tail}\r"
