"""LCD diagnosis-procedure pairing: a procedure an LCD governs needs a diagnosis the LCD covers.

Each policy is a file of kind `coding-lcd` (mappings/coding/lcd-benign-lesions.yaml for the
benign skin lesion LCDs and article A57044, lcd-mohs.yaml for the Mohs LCDs). The diagnosis
groups were written from knowledge of the ICD-10-CM families and are marked unverified in the
data: every finding says so. Medicare gets an error, other payers a warning (data); the fix is
always left to the coder (a different diagnosis, documentation, or an ABN).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integration.coding.engine import Family, LoadContext
from integration.coding.icd10cm import normalise, with_dot
from integration.coding.model import Payer, RuleSource, Severity, WorkClaim
from integration.coding.rules.global_period import code_set

POLICY_FILES: tuple[str, ...] = ("lcd-benign-lesions.yaml", "lcd-mohs.yaml")


def payer_matches(selector: Mapping[str, Any], payer: Payer) -> bool:
    """A payer selector of the coding mappings: `default: true`, or the payer's claim filing
    indicator (SBR09) or payer id in the listed ones."""
    if selector.get("default"):
        return True
    if payer.claim_filing and payer.claim_filing in selector.get("claim_filing", ()):
        return True
    return bool(payer.id) and payer.id in selector.get("payer_ids", ())


def dx_in(code: str, prefix: str) -> bool:
    """Whether the ICD-10-CM `code` falls under `prefix` ("L82.1" under "L82"); dots ignored."""
    return normalise(code).startswith(normalise(prefix))


@dataclass(frozen=True, slots=True)
class DxGroup:
    prefix: str
    label: str

    def holds(self, code: str) -> bool:
        return dx_in(code, self.prefix)


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    documents: tuple[str, ...]
    procedures: frozenset[str]
    covered: tuple[DxGroup, ...]
    excluded: tuple[DxGroup, ...]
    not_applicable: tuple[DxGroup, ...]
    unverified: bool
    unverified_note: str
    severity: tuple[tuple[Mapping[str, Any], Severity], ...]
    source: RuleSource

    def severity_for(self, payer: Payer) -> Severity:
        for selector, severity in self.severity:
            if payer_matches(selector, payer):
                return severity
        return "warning"


def _groups(raw: list[dict[str, Any]] | None) -> tuple[DxGroup, ...]:
    return tuple(DxGroup(g["prefix"], g["label"]) for g in raw or ())


def load_policy(ctx: LoadContext, name: str) -> Policy:
    data = ctx.document(name)
    policy = data["policy"]
    return Policy(
        name=policy["name"],
        documents=tuple(d["id"] for d in policy["documents"]),
        procedures=code_set(data["procedures"]),
        covered=_groups(data["covered"]),
        excluded=_groups(data.get("excluded")),
        not_applicable=_groups(data.get("not_applicable")),
        unverified=bool(data.get("unverified")),
        unverified_note=str(data.get("unverified_note", "")),
        severity=tuple((s["match"], s["severity"]) for s in data["severity"]),
        source=RuleSource.from_json(data["source"]),
    )


def load(ctx: LoadContext) -> tuple[Policy, ...]:
    return tuple(load_policy(ctx, name) for name in POLICY_FILES)


def check(work: WorkClaim, policies: tuple[Policy, ...]) -> None:
    for policy in policies:
        for line in work.active():
            if line.code not in policy.procedures:
                continue
            dx = work.diagnoses_of(line)
            if not dx:
                continue  # the icd10 family reports pointers that point nowhere
            if any(g.holds(c) for c in dx for g in policy.not_applicable):
                continue
            if any(g.holds(c) for c in dx for g in policy.covered):
                continue
            excluded = [(c, g) for c in dx for g in policy.excluded if g.holds(c)]
            shown = ", ".join(with_dot(c) for c in dx)
            why = (
                "; ".join(f"{with_dot(c)} ({g.label})" for c, g in excluded)
                if excluded
                else f"none of them is in the policy's covered groups ({len(policy.covered)})"
            )
            caveat = f" Note: {policy.unverified_note}" if policy.unverified else ""
            work.add(
                "lcd.diagnosis-not-covered",
                policy.severity_for(work.payer),
                f"Line {line.origin}: {line.code} falls under the {policy.name} LCD "
                f"({', '.join(policy.documents)}) but its diagnoses {shown} do not support it: "
                f"{why}. Point the line to the diagnosis the documentation supports, or the "
                f"payer will deny it as not medically necessary.{caveat}",
                [line],
                source=policy.source,
            )


FAMILY: Family[tuple[Policy, ...]] = Family("lcd", load, check)
