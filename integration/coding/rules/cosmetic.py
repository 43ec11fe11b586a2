"""Cosmetic vs medical: a benign lesion removal without a covered indication leaves the claim.

Each benign-lesion removal line (the codes of mappings/coding/cosmetic.yaml) is classified from
its diagnoses and the documented indications, per the benign skin lesion LCD (L35498 family,
article A57044): a covered indication (bleeding, intense itching, pain, inflammation,
obstruction, suspected malignancy, prior biopsy, recurrent trauma; for warts the listed
situations) makes it medical; actinic keratosis and malignant or uncertain diagnoses are always
medical; a patient's request for appearance, or only non-covered reasons (asymptomatic, emotional
distress...), make it cosmetic: the line moves to the self-pay statement. When the request gives
no indication at all the line stays and the gap is reported: the scrubber never guesses.
Payer-specific thresholds (e.g. a number of skin tags) are data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integration.coding.engine import Family, LoadContext
from integration.coding.icd10cm import with_dot
from integration.coding.model import RuleSource, WorkClaim, WorkLine
from integration.coding.rules.global_period import code_set
from integration.coding.rules.lcd import dx_in, payer_matches


@dataclass(frozen=True, slots=True)
class Lesion:
    prefix: str
    lesion: str
    label: str
    implies: str | None


@dataclass(frozen=True, slots=True)
class Indication:
    key: str
    label: str
    only_for: frozenset[str]  # lesion kinds; empty: all


@dataclass(frozen=True, slots=True)
class PayerRule:
    name: str
    match: Mapping[str, Any]
    lesion: str
    min_lesion_count: int
    source: RuleSource


@dataclass(frozen=True, slots=True)
class CosmeticRules:
    procedures: frozenset[str]
    lesions: tuple[Lesion, ...]
    always_medical: tuple[tuple[str, str], ...]
    covered: Mapping[str, Indication]  # canonical key and every alias -> indication
    not_covered: frozenset[str]
    payer_rules: tuple[PayerRule, ...]
    source: RuleSource
    rules: Mapping[str, RuleSource]

    def cite(self, rule: str) -> RuleSource:
        return self.rules.get(rule, self.source)


def load(ctx: LoadContext) -> CosmeticRules:
    data = ctx.document("cosmetic.yaml")
    covered: dict[str, Indication] = {}
    for key, spec in data["indications"]["covered"].items():
        ind = Indication(key, spec["label"], frozenset(spec.get("only_for", ())))
        for word in (key, *spec.get("aliases", ())):
            if word in covered:
                raise ValueError(f"cosmetic.yaml: indication word {word!r} listed twice")
            covered[word] = ind
    not_covered = frozenset(data["indications"]["not_covered"])
    if not_covered & set(covered):
        raise ValueError("cosmetic.yaml: a word is both covered and not covered")
    return CosmeticRules(
        procedures=code_set(data["procedures"]),
        lesions=tuple(
            Lesion(d["prefix"], d["lesion"], d["label"], d.get("implies"))
            for d in data["lesion_diagnoses"]
        ),
        always_medical=tuple((d["prefix"], d["why"]) for d in data["always_medical"]),
        covered=covered,
        not_covered=not_covered,
        payer_rules=tuple(
            PayerRule(
                r["name"],
                r["match"],
                r["lesion"],
                r["min_lesion_count"],
                RuleSource.from_json(r["source"]),
            )
            for r in data["payer_rules"]
        ),
        source=RuleSource.from_json(data["source"]),
        rules={k: RuleSource.from_json(v) for k, v in data["rules"].items()},
    )


def word(text: str) -> str:
    """An indication as the vocabulary spells it ("Intense itching" -> "intense-itching")."""
    return "-".join(text.strip().lower().replace("_", " ").split())


@dataclass(frozen=True, slots=True)
class Classification:
    """What the documentation makes of one benign-lesion removal line."""

    verdict: str  # medical, cosmetic, gap, unrecognised, out-of-scope
    lesions: tuple[Lesion, ...] = ()
    covered: tuple[str, ...] = ()  # labels of the covered indications found
    not_covered: tuple[str, ...] = ()  # documented reasons that do not count
    unknown: tuple[str, ...] = ()
    payer_rule: PayerRule | None = None


def classify(
    line: WorkLine, dx: list[str], rules: CosmeticRules, work: WorkClaim
) -> Classification:
    if not dx or any(dx_in(c, p) for c in dx for p, _ in rules.always_medical):
        return Classification("out-of-scope")
    lesions = tuple(les for les in rules.lesions for c in dx if dx_in(c, les.prefix))
    if not lesions:
        return Classification("out-of-scope")
    kinds = {les.lesion for les in lesions}
    facts = line.facts
    documented = [word(i) for i in facts.indications]
    implied = [les.implies for les in lesions if les.implies]
    covered: list[str] = []
    not_covered: list[str] = []
    unknown: list[str] = []
    for w in [*implied, *documented]:
        ind = rules.covered.get(w)
        if ind is not None and (not ind.only_for or ind.only_for & kinds):
            if ind.label not in covered:
                covered.append(ind.label)
        elif ind is not None or w in rules.not_covered:
            not_covered.append(w)
        else:
            unknown.append(w)
    threshold = next(
        (r for r in rules.payer_rules if r.lesion in kinds and payer_matches(r.match, work.payer)),
        None,
    )
    if facts.cosmetic_request:
        return Classification("cosmetic", lesions, tuple(covered), tuple(not_covered))
    if covered:
        return Classification("medical", lesions, tuple(covered))
    if (
        threshold is not None
        and facts.lesion_count is not None
        and facts.lesion_count >= threshold.min_lesion_count
    ):
        return Classification("medical", lesions, payer_rule=threshold)
    if unknown:
        return Classification("unrecognised", lesions, (), tuple(not_covered), tuple(unknown))
    if not documented:
        return Classification("gap", lesions, payer_rule=threshold)
    return Classification("cosmetic", lesions, (), tuple(not_covered), payer_rule=threshold)


def _abn_note(work: WorkClaim) -> str:
    if not work.payer.is_medicare:
        return ""
    if work.encounter.abn_signed:
        return (
            " Medicare excludes cosmetic surgery; an ABN is on file, so if the patient asks for "
            "the service to be submitted to Medicare anyway, bill it with GA."
        )
    return (
        " Medicare excludes cosmetic surgery; no signed ABN is on file (if the service is ever "
        "submitted to Medicare it must carry GZ)."
    )


def check(work: WorkClaim, rules: CosmeticRules) -> None:
    for line in list(work.active()):
        if line.code not in rules.procedures:
            continue
        dx = work.diagnoses_of(line)
        result = classify(line, dx, rules, work)
        shown = ", ".join(with_dot(c) for c in dx)
        where = f"Line {line.origin}: {line.code} ({shown})"
        lesion = result.lesions[0].label.lower() if result.lesions else ""
        if result.verdict == "cosmetic":
            why = (
                "the patient asked for removal for appearance"
                if line.facts.cosmetic_request
                else "the documented reasons ("
                + ", ".join(result.not_covered)
                + ") are not covered indications"
            )
            rule = result.payer_rule
            if rule is not None and not line.facts.cosmetic_request:
                count = line.facts.lesion_count
                why += (
                    f"; {rule.name.split(':')[0]} also covers {rule.lesion} removal with "
                    f"{rule.min_lesion_count} or more documented lesions, and "
                    + ("no count is documented" if count is None else f"{count} are documented")
                )
            line.self_pay = True
            line.self_pay_reason = f"Cosmetic removal of {lesion}: {why}; not covered by insurance."
            work.add(
                "cosmetic.self-pay",
                "error",
                f"{where} removes a benign lesion ({lesion}) and {why}; no covered indication "
                "(bleeding, intense itching, pain, inflammation, obstruction, suspected "
                "malignancy, prior biopsy, recurrent trauma) is documented, so the removal is "
                f"cosmetic and the patient pays.{_abn_note(work)}",
                [line],
                source=rules.cite("self-pay"),
                fix=f"Moved {line.code} (line {line.origin}) to the patient's self-pay statement.",
            )
        elif result.verdict == "gap":
            extra = ""
            if result.payer_rule is not None:
                extra = (
                    f" For this payer {result.payer_rule.lesion} removal is also covered with "
                    f"{result.payer_rule.min_lesion_count} or more documented lesions; the lesion "
                    "count is "
                    + (
                        "not given."
                        if line.facts.lesion_count is None
                        else f"{line.facts.lesion_count}."
                    )
                )
            work.add(
                "cosmetic.indication-gap",
                "warning",
                f"{where} removes a benign lesion ({lesion}) but the request documents no "
                "indication: insurance covers it only for bleeding, intense itching, pain, "
                "inflammation, obstruction, suspected malignancy, a prior biopsy or recurrent "
                "trauma. Ask the provider to document the reason, or move it to self-pay if "
                f"there is none.{extra}",
                [line],
                source=rules.cite("indication-gap"),
            )
        elif result.verdict == "unrecognised":
            work.add(
                "cosmetic.unrecognised-indication",
                "warning",
                f"{where} removes a benign lesion ({lesion}) for "
                + ", ".join(repr(u) for u in result.unknown)
                + ", which is not one of the LCD's covered indications as the scrubber knows "
                "them; a coder must decide whether the documentation shows a covered reason.",
                [line],
                source=rules.cite("unrecognised-indication"),
            )


FAMILY: Family[CosmeticRules] = Family("cosmetic", load, check)
