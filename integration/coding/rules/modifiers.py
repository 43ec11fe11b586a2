"""Modifier checks: how many, which contradict, 59 vs XE/XS/XP/XU by payer, LT/RT from facts.

- more than four modifiers on a line: error (the 837P has room for four);
- contradictory modifiers on one line (LT with RT, 59 with an X modifier): error; when one is
  simply the specific form of the other (59 + XS) the general one is dropped;
- 59 on an E/M is never right (25 marks a separately identifiable E/M): dropped;
- 59 for a payer that prefers the X modifiers (CMS): info naming the X modifiers; an X modifier
  for a payer that does not accept them: replaced by 59;
- LT/RT where the payer requires laterality (or for a code listed as taking it), from the
  documented laterality; a line without documented laterality is a gap, never guessed.
Sources: mappings/coding/modifiers.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integration.coding.engine import Family, LoadContext
from integration.coding.model import RuleSource, WorkClaim, WorkLine
from integration.coding.rules.global_period import GlobalDays, load_global_days
from integration.coding.rules.lcd import payer_matches


@dataclass(frozen=True, slots=True)
class PayerPolicy:
    name: str
    match: Mapping[str, Any]
    x_modifiers: str  # preferred, accepted, not-accepted
    requires_laterality: bool
    source: RuleSource | None


@dataclass(frozen=True, slots=True)
class Contradiction:
    modifiers: tuple[str, ...]
    why: str
    keep: str | None


@dataclass(frozen=True, slots=True)
class ModifierRules:
    max_modifiers: int
    general: str
    specific: Mapping[str, str]
    contradictions: tuple[Contradiction, ...]
    payers: tuple[PayerPolicy, ...]
    laterality_codes: frozenset[str]
    left: str
    right: str
    bilateral: str
    table: GlobalDays
    source: RuleSource
    rules: Mapping[str, RuleSource]

    def cite(self, rule: str) -> RuleSource:
        return self.rules.get(rule, self.source)

    def policy_for(self, work: WorkClaim) -> PayerPolicy | None:
        return next((p for p in self.payers if payer_matches(p.match, work.payer)), None)


def load(ctx: LoadContext) -> ModifierRules:
    data = ctx.document("modifiers.yaml")
    lat = data["laterality"]
    return ModifierRules(
        max_modifiers=int(data["max_modifiers"]),
        general=data["distinct_procedural"]["general"],
        specific=dict(data["distinct_procedural"]["specific"]),
        contradictions=tuple(
            Contradiction(tuple(c["modifiers"]), c["why"], c.get("keep"))
            for c in data["contradictory"]
        ),
        payers=tuple(
            PayerPolicy(
                p["name"],
                p["match"],
                p["x_modifiers"],
                bool(p["requires_laterality"]),
                RuleSource.from_json(p["source"]) if "source" in p else None,
            )
            for p in data["payers"]
        ),
        laterality_codes=frozenset(lat["codes"]),
        left=lat["modifiers"]["left"],
        right=lat["modifiers"]["right"],
        bilateral=lat["modifiers"]["bilateral"],
        table=load_global_days(ctx),
        source=RuleSource.from_json(data["source"]),
        rules={k: RuleSource.from_json(v) for k, v in data["rules"].items()},
    )


def _label(line: WorkLine) -> str:
    return "-".join([line.code, *line.modifiers])


def check(work: WorkClaim, rules: ModifierRules) -> None:
    policy = rules.policy_for(work)
    for line in list(work.active()):
        where = f"Line {line.origin}: {_label(line)}"
        if len(line.modifiers) > rules.max_modifiers:
            work.add(
                "modifiers.too-many",
                "error",
                f"{where} carries {len(line.modifiers)} modifiers; a claim line has room for "
                f"{rules.max_modifiers}. Keep the ones that affect payment first.",
                [line],
                source=rules.cite("too-many"),
            )
        for c in rules.contradictions:
            if all(line.has_modifier(m) for m in c.modifiers):
                _contradiction(work, rules, line, c, where)
        is_em = rules.table.is_em(line.code)
        if is_em and line.has_modifier(rules.general):
            line.drop_modifier(rules.general)
            work.add(
                "modifiers.59-on-em",
                "error",
                f"{where}: modifier {rules.general} never applies to an E/M service; a "
                "significant, separately identifiable E/M on a procedure day takes modifier 25.",
                [line],
                source=rules.cite("59-on-em"),
                fix=f"Removed modifier {rules.general} from {line.code} (line {line.origin}).",
            )
            continue
        if is_em or policy is None:
            continue
        _distinct(work, rules, policy, line)
        if policy.requires_laterality or line.code in rules.laterality_codes:
            _laterality(work, rules, policy, line)


def _contradiction(
    work: WorkClaim, rules: ModifierRules, line: WorkLine, c: Contradiction, where: str
) -> None:
    mods = " and ".join(c.modifiers)
    if c.keep is not None:
        dropped = [m for m in c.modifiers if m != c.keep]
        for m in dropped:
            line.drop_modifier(m)
        work.add(
            "modifiers.contradictory",
            "error",
            f"{where} carries {mods} together: {c.why}.",
            [line],
            source=rules.cite("contradictory"),
            fix=f"Removed {', '.join(dropped)} from {line.code} (line {line.origin}), kept {c.keep}.",
        )
        return
    work.add(
        "modifiers.contradictory",
        "error",
        f"{where} carries {mods} together: {c.why}. The documentation decides which is right.",
        [line],
        source=rules.cite("contradictory"),
    )


def _distinct(work: WorkClaim, rules: ModifierRules, policy: PayerPolicy, line: WorkLine) -> None:
    where = f"Line {line.origin}: {_label(line)}"
    xs = [m for m in rules.specific if line.has_modifier(m)]
    if policy.x_modifiers == "preferred" and line.has_modifier(rules.general) and not xs:
        options = "; ".join(f"{m} {why}" for m, why in rules.specific.items())
        hint = ""
        others = [
            o.facts.site
            for o in work.active()
            if o is not line and not rules.table.is_em(o.code) and o.facts.site
        ]
        if line.facts.site and others and line.facts.site not in others:
            hint = (
                f" The documented site of this line ({line.facts.site}) differs from the other "
                f"procedures' ({', '.join(sorted(set(others)))}): XS may fit."
            )
        work.add(
            "modifiers.x-preferred",
            "info",
            f"{where}: {policy.name} prefers the specific X modifiers to {rules.general} "
            f"({options}). Use the one the documentation supports.{hint}",
            [line],
            source=policy.source or rules.cite("x-preferred"),
        )
    elif policy.x_modifiers == "not-accepted" and xs:
        for m in xs:
            line.drop_modifier(m)
        added = line.add_modifier(rules.general)
        work.add(
            "modifiers.x-not-accepted",
            "error",
            f"{where}: {policy.name} does not accept {', '.join(xs)}; it takes {rules.general} "
            "for a distinct procedural service.",
            [line],
            source=policy.source or rules.cite("x-not-accepted"),
            fix=f"Replaced {', '.join(xs)} with {rules.general} on {line.code} (line {line.origin})."
            if added or line.has_modifier(rules.general)
            else f"Removed {', '.join(xs)} from {line.code} (line {line.origin}).",
        )


def _laterality(work: WorkClaim, rules: ModifierRules, policy: PayerPolicy, line: WorkLine) -> None:
    where = f"Line {line.origin}: {_label(line)}"
    side = (line.facts.laterality or "").strip().lower()
    want = {"left": rules.left, "right": rules.right}.get(side)
    source = policy.source or rules.cite("laterality")
    sides = (rules.left, rules.right, rules.bilateral)
    if not side:
        if not any(line.has_modifier(m) for m in sides):
            work.add(
                "modifiers.laterality",
                "warning",
                f"{where}: {policy.name} requires {rules.left}/{rules.right} on a paired site, "
                "and the request does not document the side. Document it and add the modifier.",
                [line],
                source=source,
            )
        return
    if want is None:
        return  # bilateral or midline: left to the payer's own bilateral rules
    wrong = rules.right if want == rules.left else rules.left
    if line.has_modifier(want) and not line.has_modifier(wrong):
        return
    if line.has_modifier(want) and line.has_modifier(wrong):
        return  # reported as contradictory above
    if line.has_modifier(wrong):
        line.drop_modifier(wrong)
        line.add_modifier(want)
        work.add(
            "modifiers.laterality",
            "error",
            f"{where}: the documentation says the {side} side but the line carries {wrong}.",
            [line],
            source=source,
            fix=f"Replaced {wrong} with {want} on {line.code} (line {line.origin}).",
        )
        return
    if line.add_modifier(want):
        work.add(
            "modifiers.laterality",
            "warning",
            f"{where}: {policy.name} requires {rules.left}/{rules.right} on a paired site; the "
            f"documentation says {side}.",
            [line],
            source=source,
            fix=f"Appended {want} to {line.code} (line {line.origin}).",
        )


FAMILY: Family[ModifierRules] = Family("modifiers", load, check)
