"""One registry of the implementation guides we read: (ST01, ST03) -> parser and JSON writer.

Every guide answers in the same shape: `parse(txn) -> (model | None, problems)` (the module's
`read_transaction`, which reuses its parser over one `Transaction` from the envelope reader) and
`to_json(model) -> dict` (837P: `claim_to_json`; the others `model_to_json`: dataclass fields
as JSON, `Decimal` as a string, dates and times ISO 8601, empty and None fields left out, the
envelope context left out). A transaction is looked up by ST01 and ST03, or GS08 when ST03
(situational) is empty; `also_reads` lists the older references a module reads and reports. The 278 request and response share one (ST01, ST03) pair and are told
apart by BHT02 (11 response, else request) in `t278_005010x217.read_transaction`.

`parse_transaction(txn)` looks the transaction up and parses it; a pair we do not support is a
located problem (ST01 when the set itself is unknown, else ST03 listing the guides we read for
that set) with IK502 codes 1 / 19.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from integration.x12 import (
    t270_005010x279a1,
    t271_005010x279a1,
    t275_005010x210,
    t276_005010x212,
    t277_005010x212,
    t278_005010x217,
    t835_005010x221a1,
    t837_005010x222a1,
    t999_005010x231a1,
    x222_codes,
    x279_codes,
)
from integration.x12 import x231_codes as ack_codes
from integration.x12.envelope import Transaction, TransactionContext
from integration.x12.errors import Problem

JsonDict = dict[str, Any]
Parse = Callable[[Transaction], tuple[Any | None, list[Problem]]]


def _json_value(value: object) -> Any:
    if isinstance(value, TransactionContext):
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return model_to_json(value)
    if isinstance(value, enum.Enum):
        return _json_value(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        out = {str(k): _json_value(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not _empty(v)}
    if isinstance(value, (list, tuple, frozenset, set)):
        return [_json_value(v) for v in value]
    return value


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def model_to_json(model: object) -> JsonDict:
    """A frozen dataclass model as JSON-ready data: fields by name, `Decimal` as a string, dates
    and times ISO 8601, None and empty fields left out, the envelope context left out."""
    if not dataclasses.is_dataclass(model) or isinstance(model, type):
        raise TypeError(f"expected a dataclass instance, got {type(model).__name__}")
    out: JsonDict = {}
    for f in dataclasses.fields(model):
        if f.name == "envelope":
            continue
        value = _json_value(getattr(model, f.name))
        if not _empty(value):
            out[f.name] = value
    return out


def _claim_json(model: Any) -> JsonDict:
    assert isinstance(model, t837_005010x222a1.Claim837Transaction)
    return t837_005010x222a1.claim_to_json(model)


def _no_counts(model: Any) -> dict[str, int]:
    return {}


def _claim_counts(model: Any) -> dict[str, int]:
    return {"claims": len(model.claims)}


def _payment_counts(model: Any) -> dict[str, int]:
    return {"payments": 1, "claims": len(model.claims)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Guide:
    """One implementation guide we read."""

    transaction_set_id: str  # ST01
    reference: str  # ST03 (= GS08)
    name: str  # short label: "837P", "277CA", ...
    parse: Parse
    # references the module reads (it reports those that are not `reference` itself)
    also_reads: tuple[str, ...] = ()
    to_json: Callable[[Any], JsonDict] = model_to_json
    counts: Callable[[Any], dict[str, int]] = _no_counts  # claims / payments, for statistics

    @property
    def key(self) -> tuple[str, str]:
        return (self.transaction_set_id, self.reference)


GUIDES: tuple[Guide, ...] = (
    Guide(
        transaction_set_id="837",
        reference="005010X222A1",
        name="837P",
        parse=t837_005010x222a1.read_transaction,
        also_reads=x222_codes.ACCEPTED_REFERENCES,
        to_json=_claim_json,
        counts=_claim_counts,
    ),
    Guide(
        transaction_set_id="835",
        reference="005010X221A1",
        name="835",
        parse=t835_005010x221a1.read_transaction,
        counts=_payment_counts,
    ),
    Guide(
        transaction_set_id="270",
        reference="005010X279A1",
        name="270",
        parse=t270_005010x279a1.read_transaction,
        also_reads=x279_codes.READABLE_REFERENCES,
    ),
    Guide(
        transaction_set_id="271",
        reference="005010X279A1",
        name="271",
        parse=t271_005010x279a1.read_transaction,
        also_reads=x279_codes.READABLE_REFERENCES,
    ),
    Guide(
        transaction_set_id="275",
        reference="005010X210",
        name="275",
        parse=t275_005010x210.read_transaction,
        to_json=t275_005010x210.attachment_to_json,
        counts=t275_005010x210.attachment_counts,
    ),
    Guide(
        transaction_set_id="276",
        reference="005010X212",
        name="276",
        parse=t276_005010x212.read_transaction,
    ),
    Guide(
        transaction_set_id="277",
        reference="005010X212",
        name="277",
        parse=t277_005010x212.read_transaction,
    ),
    Guide(
        transaction_set_id="277",
        reference="005010X214",
        name="277CA",
        parse=t277_005010x212.read_transaction,
    ),
    Guide(
        transaction_set_id="278",
        reference="005010X217",
        name="278",
        parse=t278_005010x217.read_transaction,
    ),
    Guide(
        transaction_set_id="999",
        reference="005010X231A1",
        name="999",
        parse=t999_005010x231a1.read_transaction,
        also_reads=ack_codes.READABLE_REFERENCES,
    ),
)

_BY_KEY: dict[tuple[str, str], Guide] = {}
for _guide in GUIDES:
    for _reference in (_guide.reference, *_guide.also_reads):
        if _BY_KEY.get((_guide.transaction_set_id, _reference), _guide) is not _guide:
            raise ValueError(f"two guides read {_guide.transaction_set_id}/{_reference}")
        _BY_KEY[(_guide.transaction_set_id, _reference)] = _guide


def find_guide(transaction_set_id: str, reference: str) -> Guide | None:
    """The guide for ST01 and ST03 (or GS08 when ST03, which is situational, is empty)."""
    return _BY_KEY.get((transaction_set_id, reference))


def guide_of(context: TransactionContext) -> Guide | None:
    reference = context.implementation_reference or context.group.version
    return find_guide(context.transaction_set_id, reference)


def _unknown(txn: Transaction) -> Problem:
    ctx = txn.context
    st = txn.segments[0]
    sets = sorted({g.transaction_set_id for g in GUIDES})
    if ctx.transaction_set_id not in sets:
        element, code = "ST01", "1"  # IK502 1: transaction set not supported
        message = f"expected one of {', '.join(sets)}, got {ctx.transaction_set_id!r}"
    else:
        references = [g.reference for g in GUIDES if g.transaction_set_id == ctx.transaction_set_id]
        element, code = "ST03", ack_codes.TRANSACTION_BAD_CONVENTION
        got = ctx.implementation_reference or ctx.group.version
        message = f"expected one of {', '.join(references)}, got {got!r}"
    return Problem(
        message=message,
        segment_id="ST",
        segment_index=st.index,
        element=element,
        interchange_control_number=ctx.interchange.control_number,
        group_control_number=ctx.group.control_number,
        transaction_control_number=ctx.control_number,
        level="transaction",
        code=code,
    )


def parse_transaction(txn: Transaction) -> tuple[Guide | None, Any | None, list[Problem]]:
    """The guide of `txn`, its model (None when it cannot be modelled or the guide is unknown)
    and its problems (envelope problems of the transaction set included)."""
    ctx = txn.context
    guide = guide_of(ctx)
    if guide is None:
        return None, None, [*txn.problems, _unknown(txn)]
    model, problems = guide.parse(txn)
    return guide, model, problems


__all__ = [
    "GUIDES",
    "Guide",
    "find_guide",
    "guide_of",
    "model_to_json",
    "parse_transaction",
]
