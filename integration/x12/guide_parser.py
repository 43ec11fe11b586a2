"""What every implementation guide's reader shares: its problems, each located in the
interchange, group and transaction being read (`Problem`, rendered later as a 999 or message)."""

from __future__ import annotations

from collections.abc import Collection

from integration.x12 import x231_codes as ack_codes
from integration.x12.envelope import TransactionContext
from integration.x12.errors import CodeLevel, Problem, Severity
from integration.x12.segments import Segment


class GuideParser:
    """Base of a guide module's `_Parser`: set `txn_context` and `problems` in `__init__`."""

    txn_context: TransactionContext
    problems: list[Problem]

    def problem(
        self,
        loop: str | None,
        seg: Segment | None,
        message: str,
        element: str | None = None,
        component: int | None = None,
        *,
        level: CodeLevel | None = None,
        code: str | None = None,
        severity: Severity = "error",
    ) -> None:
        """Record `message` at `seg` (None: the transaction as a whole) in `loop`."""
        ctx = self.txn_context
        self.problems.append(
            Problem(
                message=message,
                loop_id=loop,
                segment_id=seg.id if seg else None,
                segment_index=seg.index if seg else None,
                element=element,
                component=component,
                interchange_control_number=ctx.interchange.control_number,
                group_control_number=ctx.group.control_number,
                transaction_control_number=ctx.control_number,
                level=level,
                code=code,
                severity=severity,
            )
        )

    def code(self, loop: str | None, seg: Segment, position: int, allowed: Collection[str]) -> str:
        """Element `position` of `seg`, with a problem (999 IK4 code 1 or 7) when it is not one
        of `allowed` (listed in `allowed`'s order in the message)."""
        value = seg.get(position)
        if value not in allowed:
            self.problem(
                loop,
                seg,
                f"expected one of {', '.join(allowed)}, got {value!r}",
                seg.name(position),
                level="element",
                code=ack_codes.ELEMENT_REQUIRED_MISSING
                if not value
                else ack_codes.ELEMENT_INVALID_CODE,
            )
        return value
