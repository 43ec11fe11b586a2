"""How the sandbox payer decides a 278 or PAS request: the decision table in
`mappings/sandbox/payer-decisions.yaml`, applied to what the request carries. Pure.

A test double, never a real payer's policy: it exists so the whole loop (submit, pend and ask,
approve with an authorization number, deny with a reason, appeal, cancel) can be run over real
HTTP. A rule names the kind of request it decides (`when.request`: initial, appeal, cancel, or
follow-up: an ePA PARequest answering the follow-up questions of a pend); a rule that names none
decides initial requests only."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from integration.mapping.loader import MappingError, iter_documents, load_document
from integration.paths import mappings_dir

OUTCOMES = ("approved", "denied", "pended", "cancelled")
#: what a request asks the payer to do
REQUEST_KINDS = ("initial", "appeal", "cancel", "follow-up")


@dataclass(frozen=True, slots=True)
class PayerRequest:
    """What a request asks for, whatever channel carried it."""

    channel: str
    codes: tuple[str, ...]
    diagnoses: tuple[str, ...]
    quantity: Decimal | None
    service_date: date
    attachments: int = 0
    member_id: str | None = None
    request: str = "initial"  # one of REQUEST_KINDS
    answered: tuple[str, ...] = ()  # ePA follow-up: the questions answered


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: str
    reason: str
    rule: str
    reason_code: str | None = None
    auth_number: str | None = None
    start: date | None = None
    end: date | None = None
    units: Decimal | None = None
    ask: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class _Rule:
    id: str
    when: Mapping[str, Any]
    outcome: str
    reason: str
    reason_code: str | None
    days: int | None
    max_units: Decimal | None
    ask: tuple[str, ...]


def _normal_code(code: str) -> str:
    return code.replace("-", "").replace(".", "").upper()


def _normal_dx(code: str) -> str:
    return code.replace(".", "").upper()


def _holds(when: Mapping[str, Any], request: PayerRequest) -> bool:
    codes = {_normal_code(c) for c in request.codes}
    dx = [_normal_dx(d) for d in request.diagnoses]
    tests: dict[str, Callable[[Any], bool]] = {
        "codes": lambda v: bool(codes & {_normal_code(c) for c in v}),
        "diagnosis_prefixes": lambda v: any(d.startswith(_normal_dx(p)) for d in dx for p in v),
        "no_diagnosis_prefixes": lambda v: (
            not any(d.startswith(_normal_dx(p)) for d in dx for p in v)
        ),
        "quantity_over": lambda v: (
            request.quantity is not None and request.quantity > Decimal(str(v))
        ),
        "attachments_at_least": lambda v: request.attachments >= v,
        "attachments_fewer_than": lambda v: request.attachments < v,
        "member_id_prefix": lambda v: (request.member_id or "").startswith(v),
        "request": lambda v: request.request == v,
        "channels": lambda v: request.channel in v,
        "answered": lambda v: set(v) <= set(request.answered),
    }
    if when.get("request", "initial") != request.request:
        return False
    return all(tests[key](value) for key, value in when.items())


class PayerDecisions:
    """The decision table, loaded and checked once."""

    def __init__(self, auth_prefix: str, rules: Sequence[_Rule], otherwise: _Rule) -> None:
        self.auth_prefix = auth_prefix
        self.rules = tuple(rules)
        self.otherwise = otherwise

    @classmethod
    def from_file(cls, path: Path, root: Path | None = None) -> PayerDecisions:
        doc = load_document(path, root)
        if doc.kind != "sandbox-payer-decisions":
            raise MappingError(f"{path}: kind: expected sandbox-payer-decisions, got {doc.kind!r}")

        def rule(raw: Mapping[str, Any], rule_id: str) -> _Rule:
            units = raw.get("max_units")
            return _Rule(
                id=rule_id,
                when=raw.get("when", {}),
                outcome=raw["outcome"],
                reason=raw["reason"],
                reason_code=raw.get("reason_code"),
                days=raw.get("days"),
                max_units=None if units is None else Decimal(str(units)),
                ask=tuple(raw.get("ask", ())),
            )

        rules = [rule(r, r["id"]) for r in doc.data["rules"]]
        return cls(doc.data["auth_prefix"], rules, rule(doc.data["otherwise"], "otherwise"))

    def auth_number(self, request: PayerRequest) -> str:
        """Deterministic: the same request gets the same number (a resent request, a test)."""
        seed = "|".join(
            [
                request.member_id or "",
                ",".join(sorted(request.codes)),
                request.service_date.isoformat(),
                str(request.quantity),
            ]
        )
        return self.auth_prefix + hashlib.sha256(seed.encode()).hexdigest()[:10].upper()

    def decide(self, request: PayerRequest) -> Decision:
        chosen = next((r for r in self.rules if _holds(r.when, request)), self.otherwise)
        if chosen.outcome != "approved":
            return Decision(
                chosen.outcome, chosen.reason, chosen.id, chosen.reason_code, ask=chosen.ask
            )
        assert chosen.days is not None  # the schema requires days on an approval
        units = request.quantity
        if chosen.max_units is not None and (units is None or units > chosen.max_units):
            units = chosen.max_units
        return Decision(
            "approved",
            chosen.reason,
            chosen.id,
            chosen.reason_code,
            auth_number=self.auth_number(request),
            start=request.service_date,
            end=request.service_date + timedelta(days=chosen.days - 1),
            units=units,
        )


@cache
def default_decisions(root: Path | None = None) -> PayerDecisions:
    """The one `kind: sandbox-payer-decisions` file under `mappings/`."""
    base = root or mappings_dir()
    docs = list(iter_documents(base, kind="sandbox-payer-decisions"))
    if len(docs) != 1:
        raise MappingError(
            f"kind sandbox-payer-decisions: expected exactly one file, got {len(docs)}"
        )
    return PayerDecisions.from_file(docs[0].path, base)
