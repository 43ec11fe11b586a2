"""277 Health Care Claim Status Response (X12 005010X212) and 277CA Claim Acknowledgment
(005010X214): read, and write for the sandbox clearinghouse.

The models and the HL engine are shared with the 276 (`t276_005010x212`, which says what is
checked and how X212 and X214 differ). `StatusResponse.implementation_reference` says which guide
a 277 follows; a written 277 uses it for ST03 and GS08. Written 277s and 277CAs are validated
with pyx12's 277.5010.X212 / 277.5010.X214 maps in the tests (zero errors).

- `read_277(text)`: 277s and 277CAs to models plus located problems.
- `write_277` / `render_277`: a model to an interchange, or into a given envelope.
- `claim_statuses(response)`: (patient account, payer claim number, status) for each STC of each
  claim, the shape the claim follow-up queue needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from integration.x12.envelope import (
    Clock,
    ControlNumberSource,
    EnvelopeParams,
    Transaction,
    TransactionContext,
)
from integration.x12.errors import Problem
from integration.x12.t276_005010x212 import (
    Status,
    StatusResponse,
    read_claim_status,
    render_claim_status,
    write_claim_status,
)
from integration.x12.t276_005010x212 import _Parser as _SharedParser

__all__ = [
    "ClaimStatusLine",
    "claim_statuses",
    "read_277",
    "read_transaction",
    "render_277",
    "write_277",
]


def read_277(text: str | bytes) -> tuple[list[StatusResponse], list[Problem]]:
    """Every 277 / 277CA in `text`, and every problem found (empty when valid)."""
    models, problems = read_claim_status(text, request=False)
    return [m for m in models if isinstance(m, StatusResponse)], problems


def read_transaction(txn: Transaction) -> tuple[StatusResponse | None, list[Problem]]:
    """One 277 or 277CA transaction set already split out by the envelope reader: its model (None
    when it cannot be modelled) and its problems, the transaction's envelope problems first."""
    parser = _SharedParser(txn, request=False)
    model = parser.model()
    problems = [*txn.problems, *parser.problems]
    return (model if isinstance(model, StatusResponse) else None), problems


def render_277(model: StatusResponse, context: TransactionContext, segment_suffix: str = "") -> str:
    """`model` as one 277 inside `context` (e.g. `model.envelope` after a read)."""
    return render_claim_status(model, context, segment_suffix)


def write_277(
    response: StatusResponse,
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    *,
    segment_suffix: str = "",
) -> str:
    """One 277 (or 277CA) in its own interchange; X12Error (located) if it cannot be written."""
    return write_claim_status(response, params, clock, control_numbers, segment_suffix)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimStatusLine:
    level: str  # HL03 of the level holding the claim (22, 23, PT...)
    trace_number: str  # TRN02
    patient_account: str | None
    payer_claim_number: str | None
    status: Status
    service: tuple[str, ...] = ()  # SVC01 when the status is a service line's


def claim_statuses(response: StatusResponse) -> list[ClaimStatusLine]:
    """Every STC of `response`, claim level and service line level, in file order."""
    out: list[ClaimStatusLine] = []
    for path, claim in response.claims():
        common = {
            "level": path[-1].code,
            "trace_number": claim.trace.number,
            "patient_account": claim.patient_account,
            "payer_claim_number": claim.payer_claim_number,
        }
        out.extend(ClaimStatusLine(status=s, **common) for s in claim.statuses)  # type: ignore[arg-type]
        for svc in claim.services:
            out.extend(
                ClaimStatusLine(status=s, service=svc.procedure, **common)  # type: ignore[arg-type]
                for s in svc.statuses
            )
    return out
