"""The payer-rule library: payers and every version of every rule, loaded from `mappings/payers/`
and compiled once. Picks the payer for a Coverage, the rules for an order and the version in
force on a date."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from integration.domain.evidence import CoverageFact, Diagnosis, Owner, Therapy
from integration.domain.priorauth import Approval, Channel, OrderFact, PayerMatch, RuleRef
from integration.mapping.loader import MappingDocument, MappingError, iter_documents
from integration.mapping.text import PhraseMatcher
from integration.rules.language import Compiler, ConditionSpec, Node, RuleLanguageError

CPT_SYSTEMS = frozenset({"http://www.ama-assn.org/go/cpt", "urn:oid:2.16.840.1.113883.6.12"})
HCPCS_SYSTEMS = frozenset(
    {"https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "urn:oid:2.16.840.1.113883.6.285"}
)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


@dataclass(frozen=True, slots=True)
class Payer:
    id: str
    name: str
    aliases: tuple[str, ...]
    channels: Mapping[str, Channel]
    source: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    text: str
    owner: Owner | None
    node: Node


@dataclass(frozen=True, slots=True)
class PayerRule:
    id: str
    version: int
    payer: str
    title: str
    source: Mapping[str, Any]
    verified: bool
    effective_from: date
    effective_to: date | None
    service_label: str
    drugs: PhraseMatcher | None
    rxnorm: frozenset[str]
    procedure_codes: frozenset[str]
    condition: ConditionSpec | None
    benefit: str
    pa_required: bool | None
    pa_when: Node | None
    pa_text: str | None
    criteria: tuple[Criterion, ...] | None
    documentation: tuple[str, ...]
    approval: Approval
    reauth_criteria: tuple[Criterion, ...] | None
    channel: Channel | None
    note: str | None
    path: Path

    def ref(self) -> RuleRef:
        return RuleRef(
            id=self.id,
            version=self.version,
            title=self.title,
            source=dict(self.source),
            effective_from=self.effective_from.isoformat(),
            effective_to=self.effective_to.isoformat() if self.effective_to else None,
            verified=self.verified,
        )

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )

    def covers(self, order: OrderFact) -> bool:
        """Does this rule's service include the order?"""
        if order.kind == "medication":
            if any(c.code in self.rxnorm for c in order.codes if c.system == RXNORM):
                return True
            texts = [order.text, *(c.display for c in order.codes if c.display)]
            return bool(self.drugs and any(self.drugs.find(t) for t in texts if t))
        return any(
            c.code in self.procedure_codes
            for c in order.codes
            if c.system in CPT_SYSTEMS or c.system in HCPCS_SYSTEMS
        )

    def is_ordered(self, therapy: Therapy) -> bool:
        """Is this therapy the drug the rule is about (so never a prior trial of itself)?"""
        if therapy.rxnorm and therapy.rxnorm in self.rxnorm:
            return True
        return bool(self.drugs and self.drugs.find(therapy.name))

    def fits_condition(self, diagnoses: Iterable[Diagnosis], order: OrderFact) -> bool:
        if self.condition is None:
            return True
        condition = self.condition
        return any(condition.matches(d) for d in diagnoses) or any(
            condition.code_matches(r.system, r.code) for r in order.reasons
        )


@dataclass(frozen=True, slots=True)
class PayerChoice:
    match: PayerMatch | None
    reason: str


class RuleLibrary:
    """Payers by id, and every version of every rule by rule id (lowest version first)."""

    def __init__(
        self, payers: Mapping[str, Payer], rules: Iterable[PayerRule], compiler: Compiler
    ) -> None:
        self.payers = dict(payers)
        self.compiler = compiler
        by_id: dict[str, list[PayerRule]] = {}
        for rule in rules:
            by_id.setdefault(rule.id, []).append(rule)
        for rule_id, versions in by_id.items():
            versions.sort(key=lambda r: r.version)
            payers_named = {r.payer for r in versions}
            if len(payers_named) > 1:
                raise MappingError(
                    f"{versions[-1].path}: payer: rule {rule_id!r} names {sorted(payers_named)}"
                )
            if versions[-1].payer not in self.payers:
                raise MappingError(
                    f"{versions[-1].path}: payer: expected one of {sorted(self.payers)}, got {versions[-1].payer!r}"
                )
        self.rules = by_id
        self._aliases = {
            payer.id: PhraseMatcher([payer.name, *payer.aliases]) for payer in self.payers.values()
        }

    # -- payer ---------------------------------------------------------------------------

    def payer_for(self, coverages: Iterable[CoverageFact]) -> PayerChoice:
        """The first current Coverage whose payer (or plan) name matches exactly one payer's
        aliases; the longest alias wins when several match."""
        current = [c for c in coverages if c.current]
        if not current:
            return PayerChoice(None, "no current coverage in the chart")
        tried: list[str] = []
        for coverage in current:
            names = [n for n in (coverage.payer, coverage.plan) if n]
            tried.extend(names)
            hits: list[tuple[int, str, str]] = []
            for payer_id, matcher in self._aliases.items():
                for name in names:
                    found = matcher.find(name)
                    if found:
                        hits.append((len(found), payer_id, name))
                        break
            if not hits:
                continue
            hits.sort(reverse=True)
            best = [h for h in hits if h[0] == hits[0][0]]
            if len({h[1] for h in best}) > 1:
                return PayerChoice(
                    None,
                    f"payer {names[0]!r} matches several payers in the library: "
                    + ", ".join(sorted({h[1] for h in best})),
                )
            _size, payer_id, name = best[0]
            payer = self.payers[payer_id]
            return PayerChoice(PayerMatch(payer.id, payer.name, coverage.source, name), "")
        shown = ", ".join(repr(n) for n in dict.fromkeys(tried)) or "no payer name"
        return PayerChoice(None, f"payer {shown} is not in the payer library")

    def payer_named(self, name: str, source: str | None = None) -> PayerChoice:
        """The one payer whose aliases match `name` (e.g. the payer name of an 835, N1*PR);
        the longest alias wins when several match."""
        hits = sorted(
            (
                (len(found), payer_id)
                for payer_id, matcher in self._aliases.items()
                if (found := matcher.find(name))
            ),
            reverse=True,
        )
        if not hits:
            return PayerChoice(None, f"payer {name!r} is not in the payer library")
        best = {payer_id for size, payer_id in hits if size == hits[0][0]}
        if len(best) > 1:
            return PayerChoice(
                None,
                f"payer {name!r} matches several payers in the library: {', '.join(sorted(best))}",
            )
        payer = self.payers[hits[0][1]]
        return PayerChoice(PayerMatch(payer.id, payer.name, source, name), "")

    def channel_for(self, rule: PayerRule) -> Channel | None:
        """The rule's own channel, else the payer's default for the rule's benefit type."""
        return rule.channel or self.payers[rule.payer].channels.get(rule.benefit)

    def payer(self, payer_id: str, coverages: Iterable[CoverageFact] = ()) -> PayerMatch:
        """A payer chosen by id, with the chart's current Coverage naming it, if there is one
        (never another payer's coverage)."""
        if payer_id not in self.payers:
            raise KeyError(f"payer: expected one of {sorted(self.payers)}, got {payer_id!r}")
        payer = self.payers[payer_id]
        matcher = self._aliases[payer_id]
        for coverage in coverages:
            if not coverage.current:
                continue
            for name in (coverage.payer, coverage.plan):
                if name and matcher.find(name):
                    return PayerMatch(payer.id, payer.name, coverage.source, name)
        return PayerMatch(payer.id, payer.name, None, "chosen")

    # -- rules ---------------------------------------------------------------------------

    def rules_for(self, payer_id: str, order: OrderFact) -> list[str]:
        """Ids of the payer's rules whose service (in any version) includes the order."""
        return sorted(
            rule_id
            for rule_id, versions in self.rules.items()
            if versions[0].payer == payer_id and any(v.covers(order) for v in versions)
        )

    def in_force(self, rule_id: str, day: date) -> PayerRule | None:
        """The highest version in force on the day."""
        found = [r for r in self.rules.get(rule_id, []) if r.in_force_on(day)]
        return found[-1] if found else None

    def all_rules(self) -> list[PayerRule]:
        return [r for versions in self.rules.values() for r in versions]

    def with_rule(self, rule: PayerRule) -> RuleLibrary:
        """A library with one more rule version (refused if that version exists)."""
        existing = self.rules.get(rule.id, [])
        if any(r.version == rule.version for r in existing):
            raise MappingError(
                f"{rule.path}: version: {rule.id} v{rule.version} is already in the library"
            )
        if existing and rule.version <= existing[-1].version:
            raise MappingError(
                f"{rule.path}: version: expected more than {existing[-1].version}, got {rule.version}"
            )
        return RuleLibrary(self.payers, [*self.all_rules(), rule], self.compiler)

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def from_documents(cls, docs: Iterable[MappingDocument]) -> RuleLibrary:
        docs = list(docs)
        classes: dict[str, str] = {}
        for doc in docs:
            if doc.kind == "therapy-classes":
                classes.update({c["id"]: c["label"] for c in doc.data["classes"]})
            elif doc.kind == "phototherapy-procedures":
                classes.update({m["id"]: m["label"] for m in doc.data["modalities"]})
        areas: set[str] = set()
        for doc in docs:
            if doc.kind == "body-areas":
                areas.update(str(area["id"]) for area in doc.data["areas"])
        compiler = Compiler(frozenset(classes), classes, frozenset(areas))
        payers = {d.id: _payer(d) for d in docs if d.kind == "payer"}
        rules = [compile_rule(d, compiler) for d in docs if d.kind == "payer-rule"]
        return cls(payers, rules, compiler)

    @classmethod
    def load(cls, root: Path | None = None) -> RuleLibrary:
        return cls.from_documents(iter_documents(root))

    def compile(self, doc: MappingDocument) -> PayerRule:
        return compile_rule(doc, self.compiler)


def _payer(doc: MappingDocument) -> Payer:
    data = doc.data
    return Payer(
        id=doc.id,
        name=str(data["name"]),
        aliases=tuple(data["aliases"]),
        channels={k: Channel(v) for k, v in data["channels"].items()},
        source=data["source"],
    )


def _criteria(items: Any, compiler: Compiler, where: str) -> tuple[Criterion, ...] | None:
    if items == "unknown":
        return None
    seen: set[str] = set()
    out = []
    for i, item in enumerate(items):
        if item["id"] in seen:
            raise RuleLanguageError(f"{where}/{i}/id: {item['id']!r} is used twice")
        seen.add(item["id"])
        node = compiler.compile_criterion(item["rule"], item["id"], f"{where}/{i}/rule")
        owner = Owner(item["owner"]) if "owner" in item else None
        out.append(Criterion(item["id"], str(item["text"]), owner, node))
    return tuple(out)


def compile_rule(doc: MappingDocument, compiler: Compiler) -> PayerRule:
    """A schema-checked `payer-rule` document -> a compiled PayerRule (MappingError with the
    file and path when an expression is refused)."""
    data = doc.data
    try:
        service = data["applies_to"]["service"]
        condition = data["applies_to"].get("condition")
        pa = data["pa_required"]
        pa_when = None
        pa_text = None
        if isinstance(pa, Mapping):
            pa_when = compiler.compile(pa["when"], "pa_required/when")
            pa_text = pa.get("text")
            pa_required: bool | None = None
        else:
            pa_required = None if pa == "unknown" else bool(pa)
        approval = data.get("approval", {})
        effective_to = data.get("effective_to")
        rule = PayerRule(
            id=doc.id,
            version=doc.version,
            payer=str(data["payer"]),
            title=str(data["title"]),
            source=data["source"],
            verified=bool(data.get("verified", False)),
            effective_from=date.fromisoformat(data["effective_from"]),
            effective_to=date.fromisoformat(effective_to) if effective_to else None,
            service_label=str(service["label"]),
            drugs=PhraseMatcher(service["drugs"]) if service.get("drugs") else None,
            rxnorm=frozenset(service.get("rxnorm", [])),
            procedure_codes=frozenset([*service.get("cpt", []), *service.get("hcpcs", [])]),
            condition=ConditionSpec.from_data(condition) if condition else None,
            benefit=str(data["benefit"]),
            pa_required=pa_required,
            pa_when=pa_when,
            pa_text=pa_text,
            criteria=_criteria(data["criteria"], compiler, "criteria"),
            documentation=tuple(data.get("documentation", [])),
            approval=Approval(approval.get("initial_months"), approval.get("reauth_months")),
            reauth_criteria=_criteria(
                approval.get("reauth_criteria", "unknown"), compiler, "approval/reauth_criteria"
            ),
            channel=Channel(data["channel"]) if "channel" in data else None,
            note=data.get("note"),
            path=doc.path,
        )
    except RuleLanguageError as exc:
        raise MappingError(f"{doc.path}: {exc}") from None
    if rule.effective_to and rule.effective_to < rule.effective_from:
        raise MappingError(f"{doc.path}: effective_to: expected on or after {rule.effective_from}")
    return rule
