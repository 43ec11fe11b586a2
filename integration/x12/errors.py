"""Located X12 problems: where (interchange, group, transaction, segment, loop, element) and what.

Readers collect problems and keep reading while the rest can still be read; writers raise
`X12Error` carrying the problems. A problem renders once, as *where: expected, got*::

    2000E UM01 (segment 14): expected one of AR, HS, SC, got 'XX'

A problem may carry the X12 syntax error `code` the acknowledgment should use for it, with the
`level` saying which element that code belongs to: "interchange" (TA105 note code), "group"
(AK905), "transaction" (IK502), "segment" (IK304) or "element" (IK403). Without a code the 999
builder classifies the problem by where it is and by its wording (`t999_005010x231a1.classify`).

`severity` is "error" (the file or transaction should be rejected) or "warning" (a situational
rule a receiver should not reject for, such as the 835's missing PER*BL payer contact): warnings
are reported, acknowledged as "accepted with errors" (IK501/AK901 E), and never block posting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

Severity = Literal["error", "warning"]
CodeLevel = Literal["interchange", "group", "transaction", "segment", "element"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One located problem. `segment_index` is the 0-based position in the interchange (ISA = 0)."""

    message: str
    segment_id: str | None = None
    segment_index: int | None = None
    element: str | None = None  # "UM03", "SE01"
    component: int | None = None  # 1-based component of a composite element
    loop_id: str | None = None  # "2000E"
    interchange_control_number: str | None = None
    group_control_number: str | None = None
    transaction_control_number: str | None = None
    code: str | None = None  # the X12 syntax error code for the acknowledgment (see `level`)
    level: CodeLevel | None = None  # which acknowledgment element `code` is for
    severity: Severity = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def where(self) -> str:
        parts: list[str] = []
        if self.loop_id:
            parts.append(self.loop_id)
        if self.element:
            parts.append(
                self.element if self.component is None else f"{self.element}-{self.component}"
            )
        elif self.segment_id:
            parts.append(self.segment_id)
        if self.segment_index is not None:
            parts.append(f"(segment {self.segment_index})")
        return " ".join(parts)

    def render(self) -> str:
        where = self.where
        return f"{where}: {self.message}" if where else self.message

    def __str__(self) -> str:
        return self.render()

    def coded(self, level: CodeLevel, code: str) -> Problem:
        """The same problem carrying the acknowledgment `code` at `level`."""
        return replace(self, level=level, code=code)

    def as_warning(self) -> Problem:
        return replace(self, severity="warning")

    def in_envelope(
        self,
        *,
        interchange: str | None = None,
        group: str | None = None,
        transaction: str | None = None,
    ) -> Problem:
        """The same problem with the envelope control numbers filled in (kept when already set)."""
        return replace(
            self,
            interchange_control_number=self.interchange_control_number or interchange,
            group_control_number=self.group_control_number or group,
            transaction_control_number=self.transaction_control_number or transaction,
        )


def errors(problems: Iterable[Problem]) -> list[Problem]:
    """The problems of severity "error" (those a receiver rejects for)."""
    return [p for p in problems if p.severity == "error"]


def warnings(problems: Iterable[Problem]) -> list[Problem]:
    """The problems of severity "warning"."""
    return [p for p in problems if p.severity == "warning"]


class X12Error(ValueError):
    """Raised by writers (and by readers that cannot start at all) with every problem found."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("; ".join(p.render() for p in self.problems))
