"""What to do next with a denial, from mappings/denials/next-steps.yaml: the first rule whose
conditions hold (category, CAS group, CARC, RARC, authorization on file) gives the next step,
the queue and the reason shown to staff (with the rule id, so the reason can be traced)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from integration.mapping.loader import load_document
from integration.paths import mappings_dir


@dataclass(frozen=True, slots=True)
class NextStepRule:
    id: str
    categories: tuple[str, ...]
    groups: tuple[str, ...]
    reasons: tuple[str, ...]
    rarcs_any: tuple[str, ...]
    authorization: bool | None
    checks_authorization: bool  # `authorization_on_file` given in `when`
    next_step: str
    queue: str
    reason: str
    verified: bool
    source_title: str

    def matches(
        self,
        category: str,
        group: str,
        reason: str,
        rarcs: Sequence[str],
        authorization_on_file: bool | None,
    ) -> bool:
        if self.categories and category not in self.categories:
            return False
        if self.groups and group not in self.groups:
            return False
        if self.reasons and reason not in self.reasons:
            return False
        if self.rarcs_any and not set(self.rarcs_any) & set(rarcs):
            return False
        return not (self.checks_authorization and authorization_on_file is not self.authorization)


@dataclass(frozen=True, slots=True)
class NextStep:
    next_step: str
    queue: str
    reason: str
    rule_id: str


@dataclass(frozen=True, slots=True)
class NextStepRules:
    rules: tuple[NextStepRule, ...]
    missing_information: dict[str, str]
    version: int

    def missing(self, rarcs: Sequence[str]) -> str:
        """What the RARCs say is missing, in our words; the codes themselves when we have none."""
        known = [self.missing_information[r] for r in rarcs if r in self.missing_information]
        if known:
            return "; ".join(known)
        if rarcs:
            return "what remark code(s) " + ", ".join(rarcs) + " name"
        return "information the payer did not name (no remark code on the remittance)"

    def decide(
        self,
        *,
        category: str,
        group: str,
        reason: str,
        rarcs: Sequence[str] = (),
        procedure: str | None = None,
        modifiers: Sequence[str] = (),
        authorization_on_file: bool | None = None,
        authorization_number: str | None = None,
    ) -> NextStep:
        for rule in self.rules:
            if rule.matches(category, group, reason, rarcs, authorization_on_file):
                values = {
                    "reason": f"{group}-{reason}",
                    "group": group,
                    "rarcs": f" + {', '.join(rarcs)}" if rarcs else "",
                    "missing": self.missing(rarcs),
                    "procedure": procedure or "the service",
                    "modifiers": ",".join(modifiers) or "none",
                    "auth": authorization_number or "number not recorded",
                }
                text = rule.reason.format_map(values)
                return NextStep(rule.next_step, rule.queue, f"{text} [rule {rule.id}]", rule.id)
        raise LookupError(
            f"next-steps: expected a rule for category {category!r} ({group}-{reason}), got none"
        )


def _strings(data: dict[str, Any], key: str) -> tuple[str, ...]:
    return tuple(str(v) for v in data.get(key) or ())


def load_next_steps(path: Path | None = None) -> NextStepRules:
    doc = load_document(path or mappings_dir() / "denials" / "next-steps.yaml")
    rules = []
    for raw in doc.data["rules"]:
        when = raw["when"]
        rules.append(
            NextStepRule(
                id=str(raw["id"]),
                categories=_strings(when, "categories"),
                groups=_strings(when, "groups"),
                reasons=_strings(when, "reasons"),
                rarcs_any=_strings(when, "rarcs_any"),
                authorization=when.get("authorization_on_file"),
                checks_authorization="authorization_on_file" in when,
                next_step=str(raw["next_step"]),
                queue=str(raw["queue"]),
                reason=str(raw["reason"]),
                verified=bool(raw["verified"]),
                source_title=str(raw["source"]["title"]),
            )
        )
    return NextStepRules(
        rules=tuple(rules),
        missing_information={str(k): str(v) for k, v in doc.data["missing_information"].items()},
        version=doc.version,
    )


@cache
def default_next_steps() -> NextStepRules:
    return load_next_steps()
