"""271 Eligibility, Coverage or Benefit Response (X12 005010X279A1): API and benefit summary.

Models and the HL engine are shared with the 270 (`t270_005010x279a1`, which documents what is
validated; pyx12 4.0 has no 5010 270/271 map, so no pyx12 cross-check is possible).

- `read_271(text)`: text to `Response271` models plus located problems.
- `write_271` / `render_271`: the sandbox clearinghouse's answer, or a read response back into
  its own envelope.
- `summarize_benefits(member, service_type)`: deductible and remaining deductible, coinsurance,
  copay and out-of-pocket for one service type, in network or out, read from the EB loops:
  an EB applies when it names the service type, or, failing any, when it names 30 (health
  benefit plan coverage) or no service type at all; EB12 W (not applicable) and blank apply to
  both networks; EB06 29/33 mark remaining amounts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from integration.x12 import x279_codes as codes
from integration.x12.envelope import (
    Clock,
    ControlNumberSource,
    EnvelopeParams,
    Transaction,
    TransactionContext,
)
from integration.x12.errors import Problem
from integration.x12.t270_005010x279a1 import (
    Benefit,
    Member,
    Response271,
    read_eligibility,
    render_eligibility,
    write_eligibility,
)
from integration.x12.t270_005010x279a1 import _Parser as _SharedParser

__all__ = [
    "BenefitSummary",
    "read_271",
    "read_transaction",
    "render_271",
    "summarize_benefits",
    "write_271",
]


def read_271(text: str | bytes) -> tuple[list[Response271], list[Problem]]:
    """Every 271 in `text`, and every problem found (empty when valid)."""
    models, problems = read_eligibility(text, request=False)
    return [m for m in models if isinstance(m, Response271)], problems


def read_transaction(txn: Transaction) -> tuple[Response271 | None, list[Problem]]:
    """One 271 transaction set already split out by the envelope reader: its model (None
    when it cannot be modelled) and its problems, the transaction's envelope problems first."""
    parser = _SharedParser(txn, request=False)
    model = parser.model()
    problems = [*txn.problems, *parser.problems]
    return (model if isinstance(model, Response271) else None), problems


def render_271(model: Response271, context: TransactionContext, segment_suffix: str = "") -> str:
    """`model` as one 271 inside `context` (e.g. `model.envelope` after a read)."""
    return render_eligibility(model, context, segment_suffix)


def write_271(
    response: Response271,
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    *,
    segment_suffix: str = "",
) -> str:
    """One 271 in its own interchange; X12Error (located) if it cannot be written."""
    return write_eligibility(response, params, clock, control_numbers, segment_suffix)


@dataclass(frozen=True, slots=True, kw_only=True)
class BenefitSummary:
    service_type: str
    in_network: bool
    coverage_level: str
    active: bool | None  # EB01 1..5 active, 6..8 inactive, None when not stated
    deductible: Decimal | None = None
    deductible_remaining: Decimal | None = None
    coinsurance: Decimal | None = None  # fraction: 0.2 is 20 %
    copay: Decimal | None = None
    out_of_pocket: Decimal | None = None
    out_of_pocket_remaining: Decimal | None = None
    authorization_required: bool | None = None
    messages: tuple[str, ...] = ()


def summarize_benefits(
    member: Member, service_type: str, *, in_network: bool = True, coverage_level: str = "IND"
) -> BenefitSummary:
    """The cost share of `member` for `service_type` (see the module docstring for the rules)."""
    network = "Y" if in_network else "N"

    def fits(b: Benefit) -> bool:
        return b.in_network in ("", "W", "U", network) and b.coverage_level in ("", coverage_level)

    specific = [b for b in member.benefits if service_type in b.service_types and fits(b)]
    general = [
        b
        for b in member.benefits
        if (not b.service_types or codes.GENERAL_SERVICE_TYPE in b.service_types) and fits(b)
    ]

    def first(
        info: str, value: Callable[[Benefit], Decimal | None], remaining: bool | None = None
    ) -> Decimal | None:
        for pool in (specific, general):
            for b in pool:
                if b.info_code != info or value(b) is None:
                    continue
                if (
                    remaining is not None
                    and (b.time_period in codes.REMAINING_PERIODS) != remaining
                ):
                    continue
                return value(b)
        return None

    status = [
        b.info_code
        for b in (*specific, *general)
        if b.info_code in codes.ACTIVE_CODES | codes.INACTIVE_CODES
    ]
    auth = [
        b.authorization_required
        for b in (*specific, *general)
        if b.authorization_required in ("Y", "N")
    ]
    return BenefitSummary(
        service_type=service_type,
        in_network=in_network,
        coverage_level=coverage_level,
        active=(status[0] in codes.ACTIVE_CODES) if status else None,
        deductible=first(codes.DEDUCTIBLE, lambda b: b.amount, remaining=False),
        deductible_remaining=first(codes.DEDUCTIBLE, lambda b: b.amount, remaining=True),
        coinsurance=first(codes.COINSURANCE, lambda b: b.percent),
        copay=first(codes.COPAYMENT, lambda b: b.amount),
        out_of_pocket=first(codes.OUT_OF_POCKET, lambda b: b.amount, remaining=False),
        out_of_pocket_remaining=first(codes.OUT_OF_POCKET, lambda b: b.amount, remaining=True),
        authorization_required=(auth[0] == "Y") if auth else None,
        messages=tuple(m for b in specific for m in b.messages),
    )
