"""Appeal deadlines from mappings/denials/appeal-deadlines.yaml.

A rule matches a denial by the 835 claim filing indicator (CLP06, e.g. MB Medicare Part B), the
payer id, or a plan type the practice recorded; the deadline is `days` after the notice is
presumed received (`presumed_receipt_days` after the notice's date): the remittance (or PA
decision) date for level 1, the previous level's decision date for level 2. No rule, or no date
to count from: the deadline is None and the basis says "unknown: ..." with why. The basis of a
known deadline starts with the rule id ("medicare-part-b-redetermination: ...") so the next
level can find its program (`next_level_deadline`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from integration.mapping.loader import load_document
from integration.paths import mappings_dir


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    id: str
    program: str
    level: int
    name: str
    filing_indicators: tuple[str, ...]
    payer_ids: tuple[str, ...]
    plan_types: tuple[str, ...]
    days: int
    counted_from: str  # notice | previous-decision
    presumed_receipt_days: int
    federal_minimum: bool
    citation: str
    url: str | None

    def matches(
        self, filing_indicator: str | None, payer_id: str | None, plan_type: str | None
    ) -> bool:
        return bool(
            (filing_indicator and filing_indicator in self.filing_indicators)
            or (payer_id and payer_id in self.payer_ids)
            or (plan_type and plan_type in self.plan_types)
        )


@dataclass(frozen=True, slots=True)
class Deadline:
    due: date | None
    basis: str
    rule_id: str | None = None

    @property
    def known(self) -> bool:
        return self.due is not None


@dataclass(frozen=True, slots=True)
class DeadlineRules:
    rules: tuple[DeadlineRule, ...]
    unknown: str
    version: int

    def rule(self, rule_id: str) -> DeadlineRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def deadline(
        self,
        *,
        level: int = 1,
        notice_date: date | None,
        filing_indicator: str | None = None,
        payer_id: str | None = None,
        plan_type: str | None = None,
        program: str | None = None,
    ) -> Deadline:
        """The appeal deadline at `level` counted from `notice_date` (see the module doc)."""
        candidates: Sequence[DeadlineRule] = [
            r
            for r in self.rules
            if r.level == level
            and (
                (program is not None and r.program == program)
                or (program is None and r.matches(filing_indicator, payer_id, plan_type))
            )
        ]
        if not candidates:
            return Deadline(None, f"unknown: level {level}: {self.unknown}")
        rule = candidates[0]
        if notice_date is None:
            return Deadline(
                None,
                f"unknown: {rule.id}: no notice date to count {rule.days} days from "
                f"({rule.citation})",
                rule.id,
            )
        due = notice_date + timedelta(days=rule.presumed_receipt_days + rule.days)
        received = (
            f"presumed received {rule.presumed_receipt_days} days after the notice of "
            f"{notice_date.isoformat()}"
            if rule.presumed_receipt_days
            else f"from the notice of {notice_date.isoformat()}"
        )
        floor = " (federal minimum: the plan may allow more)" if rule.federal_minimum else ""
        basis = f"{rule.id}: {rule.days} days, {received}{floor}; {rule.citation}"
        return Deadline(due, basis, rule.id)

    def next_level(self, basis: str, decided_on: date, level: int = 2) -> Deadline:
        """The deadline of appeal `level` after the previous level was decided on `decided_on`,
        for the program of the rule named at the start of the earlier `basis`."""
        rule_id = basis.split(":", 1)[0].strip()
        rule = self.rule(rule_id)
        if rule is None:
            return Deadline(None, f"unknown: level {level}: {self.unknown}")
        return self.deadline(level=level, notice_date=decided_on, program=rule.program)


def load_deadlines(path: Path | None = None) -> DeadlineRules:
    doc = load_document(path or mappings_dir() / "denials" / "appeal-deadlines.yaml")
    rules = []
    for raw in doc.data["rules"]:
        match = raw["match"]
        rules.append(
            DeadlineRule(
                id=str(raw["id"]),
                program=str(raw["program"]),
                level=int(raw["level"]),
                name=str(raw["name"]),
                filing_indicators=tuple(str(v) for v in match.get("filing_indicators") or ()),
                payer_ids=tuple(str(v) for v in match.get("payer_ids") or ()),
                plan_types=tuple(str(v) for v in match.get("plan_types") or ()),
                days=int(raw["days"]),
                counted_from=str(raw["from"]),
                presumed_receipt_days=int(raw["presumed_receipt_days"]),
                federal_minimum=bool(raw["federal_minimum"]),
                citation=str(raw["citation"]),
                url=raw["source"].get("url"),
            )
        )
    return DeadlineRules(tuple(rules), str(doc.data["unknown"]), doc.version)


@cache
def default_deadlines() -> DeadlineRules:
    return load_deadlines()


def next_level_deadline(basis: str, decided_on: date, level: int = 2) -> Deadline:
    """For the appeals store: the deadline of a second-level appeal (see `DeadlineRules`)."""
    return default_deadlines().next_level(basis, decided_on, level)
