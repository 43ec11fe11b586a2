"""Located HL7 v2 errors: where (segment, field, component), what was expected, what came.

Rendered once, at the edge, as an ERR segment in the acknowledgement and as the text an
interface engineer reads: `PID-7 (segment 3): expected a date YYYYMMDD[HHMM[SS]], got '2026-13'`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class ErrorCode(StrEnum):
    """HL7 table 0357, message error condition codes (the ones a receiver sends)."""

    SEGMENT_SEQUENCE = "100"
    REQUIRED_FIELD_MISSING = "101"
    DATA_TYPE = "102"
    TABLE_VALUE_NOT_FOUND = "103"
    VALUE_TOO_LONG = "104"
    UNSUPPORTED_MESSAGE_TYPE = "200"
    UNSUPPORTED_EVENT = "201"
    UNSUPPORTED_PROCESSING_ID = "202"
    UNSUPPORTED_VERSION = "203"
    UNKNOWN_KEY = "204"
    DUPLICATE_KEY = "205"
    RECORD_LOCKED = "206"
    INTERNAL_ERROR = "207"

    @property
    def text(self) -> str:
        return _TEXTS[self]


_TEXTS = {
    ErrorCode.SEGMENT_SEQUENCE: "Segment sequence error",
    ErrorCode.REQUIRED_FIELD_MISSING: "Required field missing",
    ErrorCode.DATA_TYPE: "Data type error",
    ErrorCode.TABLE_VALUE_NOT_FOUND: "Table value not found",
    ErrorCode.VALUE_TOO_LONG: "Value too long",
    ErrorCode.UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    ErrorCode.UNSUPPORTED_EVENT: "Unsupported event code",
    ErrorCode.UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    ErrorCode.UNSUPPORTED_VERSION: "Unsupported version id",
    ErrorCode.UNKNOWN_KEY: "Unknown key identifier",
    ErrorCode.DUPLICATE_KEY: "Duplicate key identifier",
    ErrorCode.RECORD_LOCKED: "Application record locked",
    ErrorCode.INTERNAL_ERROR: "Application internal error",
}


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a message; every part is optional (a message-level error has none)."""

    segment_id: str | None = None
    segment_index: int | None = None
    field: int | None = None
    repetition: int | None = None
    component: int | None = None
    subcomponent: int | None = None

    def at(self, **changes: int | str | None) -> Location:
        return replace(self, **changes)  # type: ignore[arg-type]

    def __str__(self) -> str:
        name = self.segment_id or ("segment" if self.segment_index is not None else "message")
        if self.segment_id and self.field is not None:
            name = f"{self.segment_id}-{self.field}"
            if self.repetition and self.repetition > 1:
                name += f"({self.repetition})"
            if self.component is not None:
                name += f".{self.component}"
                if self.subcomponent is not None:
                    name += f".{self.subcomponent}"
        if self.segment_index is not None:
            return (
                f"{name} {self.segment_index}"
                if name == "segment"
                else f"{name} (segment {self.segment_index})"
            )
        return name

    def err_location(self, component_separator: str = "^") -> str:
        """ERR-2 (ERL): segment id ^ sequence ^ field ^ repetition ^ component ^ subcomponent."""
        parts = [
            self.segment_id or "",
            str(self.segment_index or ""),
            str(self.field or ""),
            str(self.repetition or (1 if self.field else "")),
            str(self.component or ""),
            str(self.subcomponent or ""),
        ]
        while parts and not parts[-1]:
            parts.pop()
        return component_separator.join(parts)


class Hl7Error(Exception):
    """A located error: `where: expected ..., got '...'`."""

    def __init__(
        self,
        where: Location,
        expected: str,
        got: str | None,
        code: ErrorCode = ErrorCode.DATA_TYPE,
    ) -> None:
        self.where = where
        self.expected = expected.removeprefix("expected ")
        self.got = got
        self.code = code
        super().__init__(self.message)

    @property
    def message(self) -> str:
        got = "" if self.got is None else f", got {self.got[:40]!r}"
        return f"{self.where}: expected {self.expected}{got}"
