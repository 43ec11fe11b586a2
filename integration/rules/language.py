"""The payer-rule language: a closed registry of predicates, compiled once from data, evaluated
against ClinicalEvidence with three values (met / unmet / missing). No eval, no attribute
access by name: an expression key that isn't registered here is refused at load.

docs/payer-rules.md is the reference; each predicate's docstring says how it decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from integration.domain.evidence import (
    ClinicalEvidence,
    Diagnosis,
    Measure,
    Outcome,
    Owner,
    ScreeningFact,
    Therapy,
)
from integration.domain.priorauth import OrderFact, Prescriber, Status
from integration.evidence.diagnoses import is_active
from integration.mapping.text import PhraseMatcher
from integration.rules.dates import DateRange, date_range


class RuleLanguageError(ValueError):
    """An expression the interpreter refuses, with its path in the rule file."""


@dataclass(frozen=True, slots=True)
class Need:
    """Something the chart lacks for a criterion, and who should supply it."""

    what: str
    owner: Owner


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    evidence: tuple[str, ...] = ()
    needs: tuple[Need, ...] = ()
    detail: str = ""


class PotencyLookup(Protocol):
    def potency_group(self, name: str) -> str | None:
        """The weakest potency group (low / medium / high / super-high) the topical
        corticosteroid named as in the chart certainly belongs to, or None."""

    def meets(self, name: str, minimum: str) -> bool | None:
        """Is it `minimum` potency or stronger? None when that can't be told."""


class AreaLookup(Protocol):
    def areas_in(self, text: str) -> tuple[str, ...]:
        """The named body areas (hands, face, ...) a body-site text mentions."""


@dataclass(frozen=True, slots=True)
class Context:
    """Everything an expression may look at. `ordered` tells whether a therapy is the drug
    being requested (never counted as a prior trial). `attested` maps criterion id to the
    FHIR reference of the clinician who attested it on the case."""

    evidence: ClinicalEvidence
    order: OrderFact
    service_date: date
    potency: PotencyLookup
    areas: AreaLookup
    prescriber: Prescriber | None = None
    ordered: Callable[[Therapy], bool] = lambda _t: False
    condition: ConditionSpec | None = None
    attested: Mapping[str, str] = field(default_factory=dict)


class Node(Protocol):
    def evaluate(self, ctx: Context) -> Verdict: ...


# --- helpers -------------------------------------------------------------------------------


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _sources(therapy: Therapy) -> tuple[str, ...]:
    return _unique((*therapy.sources, therapy.source))


def _number(value: Decimal | float | int) -> str:
    text = f"{Decimal(str(value)).normalize():f}"
    return text


def _join(parts: Iterable[str]) -> str:
    return "; ".join(dict.fromkeys(p for p in parts if p))


Dated = TypeVar("Dated", Measure, ScreeningFact)


def _latest_within(
    items: Iterable[Dated], service_date: date, days: int
) -> tuple[Dated | None, Dated | None]:
    """The newest item dated within `days` before the date of service, and, when there is
    none, the newest older one (to name it). Partial dates count if they may fall inside."""
    earliest = service_date - timedelta(days=days)
    dated = [
        (span, item)
        for item in items
        if (span := date_range(item.date)) is not None and span.first <= service_date
    ]
    recent = [(span, item) for span, item in dated if span.last >= earliest]
    if recent:
        return max(recent, key=lambda pair: (pair[0].first, pair[1].source))[1], None
    older = max(dated, key=lambda pair: (pair[0].first, pair[1].source), default=None)
    return None, None if older is None else older[1]


@dataclass(frozen=True, slots=True)
class ConditionSpec:
    """An indication: ICD-10-CM prefixes, SNOMED codes, or words in the diagnosis text."""

    label: str
    icd10_prefixes: tuple[str, ...]
    snomed: frozenset[str]
    words: PhraseMatcher | None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConditionSpec:
        words = data.get("words")
        return cls(
            label=str(data["label"]),
            icd10_prefixes=tuple(p.replace(".", "") for p in data.get("icd10_prefixes", [])),
            snomed=frozenset(data.get("snomed", [])),
            words=PhraseMatcher(words) if words else None,
        )

    def matches(self, diagnosis: Diagnosis) -> bool:
        if diagnosis.icd10 and diagnosis.icd10.replace(".", "").startswith(self.icd10_prefixes):
            return True
        if diagnosis.snomed and diagnosis.snomed in self.snomed:
            return True
        return bool(self.words and self.words.find(diagnosis.text, skip_negated=True))

    def code_matches(self, system: str, code: str) -> bool:
        if "icd-10" in system.lower():
            return code.replace(".", "").startswith(self.icd10_prefixes)
        return "snomed" in system.lower() and code in self.snomed


# --- combinators ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class All:
    parts: tuple[Node, ...]

    def evaluate(self, ctx: Context) -> Verdict:
        """Unmet if any part is unmet; met if every part is met; otherwise missing."""
        verdicts = [p.evaluate(ctx) for p in self.parts]
        statuses = {v.status for v in verdicts}
        if Status.UNMET in statuses:
            unmet = [v for v in verdicts if v.status is Status.UNMET]
            return Verdict(
                Status.UNMET,
                _unique(s for v in unmet for s in v.evidence),
                (),
                _join(v.detail for v in unmet),
            )
        status = Status.MET if statuses == {Status.MET} else Status.MISSING
        return Verdict(
            status,
            _unique(s for v in verdicts for s in v.evidence),
            tuple(n for v in verdicts for n in v.needs),
            _join(v.detail for v in verdicts),
        )


@dataclass(frozen=True, slots=True)
class AtLeast:
    count: int
    parts: tuple[Node, ...]

    def evaluate(self, ctx: Context) -> Verdict:
        """Met when `count` parts are met; unmet when too few could still be; else missing.
        `any` is at_least 1."""
        verdicts = [p.evaluate(ctx) for p in self.parts]
        met = [v for v in verdicts if v.status is Status.MET]
        missing = [v for v in verdicts if v.status is Status.MISSING]
        if len(met) >= self.count:
            return Verdict(
                Status.MET,
                _unique(s for v in met for s in v.evidence),
                (),
                _join(v.detail for v in met),
            )
        if len(met) + len(missing) < self.count:
            return Verdict(
                Status.UNMET,
                _unique(s for v in verdicts for s in v.evidence),
                (),
                _join(v.detail for v in verdicts),
            )
        return Verdict(
            Status.MISSING,
            _unique(s for v in [*met, *missing] for s in v.evidence),
            tuple(n for v in missing for n in v.needs),
            _join(v.detail for v in verdicts),
        )


# --- predicates ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Age:
    min_months: int | None
    max_years: int | None

    def evaluate(self, ctx: Context) -> Verdict:
        """Age in whole months on the date of service against the bounds."""
        patient = ctx.evidence.patient
        if patient is None or not patient.birth_date:
            return Verdict(
                Status.MISSING,
                (),
                (Need("patient's date of birth", Owner.FRONT_DESK),),
                "no birth date",
            )
        born = date_range(patient.birth_date)
        if born is None:
            return Verdict(
                Status.MISSING,
                (),
                (Need("patient's date of birth", Owner.FRONT_DESK),),
                "birth date unreadable",
            )
        oldest = _months_between(born.first, ctx.service_date)
        youngest = _months_between(born.last, ctx.service_date)
        source = (patient.source,)
        checks: list[bool | None] = []
        if self.min_months is not None:
            checks.append(
                True if youngest >= self.min_months else False if oldest < self.min_months else None
            )
        if self.max_years is not None:
            limit = (self.max_years + 1) * 12
            checks.append(True if oldest < limit else False if youngest >= limit else None)
        detail = f"age {youngest // 12} on {ctx.service_date.isoformat()}"
        if False in checks:
            return Verdict(Status.UNMET, source, (), detail)
        if None in checks:
            return Verdict(
                Status.MISSING, source, (Need("exact date of birth", Owner.FRONT_DESK),), detail
            )
        return Verdict(Status.MET, source, (), detail)


def _months_between(start: date, end: date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return months


@dataclass(frozen=True, slots=True)
class HasDiagnosis:
    spec: ConditionSpec

    def evaluate(self, ctx: Context) -> Verdict:
        """An active (or recurring) Condition, or a reason on the order, that matches."""
        found = [d for d in ctx.evidence.diagnoses if is_active(d) and self.spec.matches(d)]
        if found:
            coded = [d for d in found if d.icd10]
            texts = ", ".join(f"{d.icd10 or 'no ICD-10'} {d.text}" for d in found)
            needs = (
                () if coded else (Need(f"ICD-10-CM code for {self.spec.label}", Owner.CLINICIAN),)
            )
            return Verdict(Status.MET, tuple(d.source for d in found), needs, texts)
        reasons = [r for r in ctx.order.reasons if self.spec.code_matches(r.system, r.code)]
        if reasons:
            return Verdict(
                Status.MET,
                (ctx.order.source,),
                (),
                f"order reason {', '.join(r.code for r in reasons)}",
            )
        return Verdict(
            Status.MISSING,
            (),
            (Need(f"diagnosis of {self.spec.label}", Owner.CLINICIAN),),
            f"no active {self.spec.label} diagnosis in the chart",
        )


@dataclass(frozen=True, slots=True)
class MeasureCheck:
    key: str
    at_least: Decimal | None
    at_most: Decimal | None
    within_days: int

    def evaluate(self, ctx: Context) -> Verdict:
        """The latest countable score dated within the window, against the threshold."""
        latest, older = _latest_within(
            ctx.evidence.measures.get(self.key, ()), ctx.service_date, self.within_days
        )
        label = _measure_label(self.key)
        if latest is None:
            detail = f"no {label} within {self.within_days} days" + (
                f"; the latest is {_number(older.value)} on {older.date}" if older else ""
            )
            return Verdict(
                Status.MISSING,
                (),
                (Need(f"{label} within {self.within_days} days", Owner.CLINICIAN),),
                detail,
            )
        shown = _shown(latest)
        passes = True
        if self.at_least is not None and latest.value < self.at_least:
            passes = False
        if self.at_most is not None and latest.value > self.at_most:
            passes = False
        status = Status.MET if passes else Status.UNMET
        return Verdict(status, (latest.source,), (), f"{label} {shown} on {latest.date}")


def _measure_label(key: str) -> str:
    return {"BSA": "BSA %", "IGA": "IGA"}.get(key, key)


def _shown(measure: Measure) -> str:
    unit = measure.unit if measure.unit and measure.unit != "score" else ""
    return f"{_number(measure.value)}{unit}"


@dataclass(frozen=True, slots=True)
class BodyArea:
    areas: frozenset[str]

    def evaluate(self, ctx: Context) -> Verdict:
        """Body sites of the indication's Conditions (all active ones if the rule names no
        indication) naming one of the areas."""
        diagnoses = [
            d
            for d in ctx.evidence.diagnoses
            if is_active(d) and (ctx.condition is None or ctx.condition.matches(d))
        ]
        with_sites = [d for d in diagnoses if d.body_sites]
        hits: list[tuple[Diagnosis, str, tuple[str, ...]]] = []
        for d in with_sites:
            for site in d.body_sites:
                named = tuple(a for a in ctx.areas.areas_in(site) if a in self.areas)
                if named:
                    hits.append((d, site, named))
        wanted = ", ".join(sorted(self.areas))
        if hits:
            detail = _join(f"{site}: {', '.join(named)}" for _d, site, named in hits)
            return Verdict(Status.MET, _unique(d.source for d, _s, _n in hits), (), detail)
        if with_sites:
            sites = ", ".join(s for d in with_sites for s in d.body_sites)
            return Verdict(
                Status.UNMET,
                _unique(d.source for d in with_sites),
                (),
                f"body sites recorded ({sites}) name none of: {wanted}",
            )
        return Verdict(
            Status.MISSING,
            (),
            (Need("body sites affected", Owner.CLINICIAN),),
            f"no body site recorded on the diagnosis (areas that count: {wanted})",
        )


_DEFAULT_OUTCOMES = frozenset({Outcome.INADEQUATE_RESPONSE, Outcome.INTOLERANCE})


@dataclass(frozen=True, slots=True)
class TherapyTrial:
    classes: frozenset[str]
    kinds: frozenset[str]
    drugs: PhraseMatcher | None
    min_potency: str | None
    min_days: int | None
    outcomes: frozenset[Outcome]
    within_days: int | None
    label: str

    def evaluate(self, ctx: Context) -> Verdict:
        """A prior course of the class (and drug) with an outcome that counts, long enough,
        potent enough and recent enough. See docs/payer-rules.md for unmet vs missing."""
        candidates = [t for t in ctx.evidence.therapies if self._kind_of(t) and not ctx.ordered(t)]
        if not candidates:
            return Verdict(
                Status.MISSING,
                (),
                (Need(f"{self.label}: dates and outcome", Owner.CLINICIAN),),
                f"no {self.label} in the chart",
            )
        checked = [(t, self._check(t, ctx)) for t in candidates]
        passing = [t for t, (ok, _why) in checked if all(v is True for v in ok)]
        if passing:
            return Verdict(
                Status.MET,
                _unique(s for t in passing for s in _sources(t)),
                (),
                _join(_course(t) for t in passing),
            )
        open_ = [(t, why) for t, (ok, why) in checked if False not in ok]
        if open_:
            return Verdict(
                Status.MISSING,
                _unique(s for t, _w in open_ for s in _sources(t)),
                tuple(Need(f"{t.name}: {w}", Owner.CLINICIAN) for t, w in open_),
                _join(f"{_course(t)}: {w}" for t, w in open_),
            )
        return Verdict(
            Status.UNMET,
            _unique(s for t, _c in checked for s in _sources(t)),
            (),
            _join(f"{_course(t)}: {why}" for t, (_ok, why) in checked),
        )

    def _kind_of(self, therapy: Therapy) -> bool:
        if self.classes and therapy.drug_class not in self.classes:
            return False
        if self.kinds and therapy.kind.value not in self.kinds:
            return False
        return not (self.drugs and not self.drugs.find(therapy.name))

    def _check(self, therapy: Therapy, ctx: Context) -> tuple[list[bool | None], str]:
        """One verdict per condition (True / False / None = can't tell), and why not met."""
        results: list[bool | None] = []
        reasons: list[str] = []
        outcome = therapy.outcome
        if outcome in self.outcomes:
            results.append(True)
        elif outcome in (Outcome.UNKNOWN, Outcome.ONGOING):
            results.append(None)
            reasons.append(
                "still ongoing; response not documented"
                if outcome is Outcome.ONGOING
                else "outcome not documented"
            )
        else:
            results.append(False)
            reasons.append(f"outcome {outcome.value} does not count")
        taken = outcome is not Outcome.CONTRAINDICATION
        if self.min_days is not None and taken and outcome is not Outcome.INTOLERANCE:
            length = _course_days(therapy, ctx.service_date)
            if length is None:
                results.append(None)
                reasons.append(f"course length not known (needs {self.min_days} days)")
            else:
                shortest, longest = length
                if shortest >= self.min_days:
                    results.append(True)
                elif longest < self.min_days:
                    results.append(False)
                    reasons.append(f"{longest} days, needs {self.min_days}")
                else:
                    results.append(None)
                    reasons.append(f"course length not exact (needs {self.min_days} days)")
        if self.within_days is not None:
            recent = _ended_within(therapy, ctx.service_date, self.within_days)
            results.append(recent)
            if recent is None:
                reasons.append("end date not known")
            elif recent is False:
                reasons.append(f"ended more than {self.within_days} days before")
        if self.min_potency is not None and taken:
            meets = ctx.potency.meets(therapy.name, self.min_potency)
            results.append(meets)
            group = ctx.potency.potency_group(therapy.name)
            if meets is None:
                reasons.append(
                    "potency not known from the name and strength"
                    if group is None
                    else f"potency {group} or stronger; can't tell if {self.min_potency} or higher"
                )
            elif meets is False:
                reasons.append(f"{group} potency, needs {self.min_potency} or higher")
        return results, _join(reasons)


def _course(therapy: Therapy) -> str:
    span = f"{therapy.start or '?'} to {therapy.end or ('ongoing' if therapy.outcome is Outcome.ONGOING else '?')}"
    if therapy.outcome is Outcome.CONTRAINDICATION:
        return f"{therapy.name}: contraindicated"
    return f"{therapy.name} {span} ({therapy.outcome.value})"


def _is_ongoing(therapy: Therapy) -> bool:
    return therapy.outcome is Outcome.ONGOING or (
        therapy.end is None and therapy.status in ("active", "intended", "on-hold")
    )


def _course_days(therapy: Therapy, service_date: date) -> tuple[int, int] | None:
    """Shortest and longest possible length in days (partial dates widen the range)."""
    start = date_range(therapy.start) if therapy.start else None
    if start is None:
        return None
    if therapy.end:
        end: DateRange | None = date_range(therapy.end)
    elif _is_ongoing(therapy):
        end = DateRange(service_date, service_date)
    else:
        end = None
    if end is None:
        return None
    return max(0, (end.first - start.last).days), max(0, (end.last - start.first).days)


def _ended_within(therapy: Therapy, service_date: date, days: int) -> bool | None:
    if therapy.outcome is Outcome.CONTRAINDICATION:
        return True
    if therapy.end:
        end = date_range(therapy.end)
        if end is None:
            return None
        earliest = service_date - timedelta(days=days)
        if end.first >= earliest:
            return True
        return False if end.last < earliest else None
    return True if _is_ongoing(therapy) else None


@dataclass(frozen=True, slots=True)
class Screening:
    test: str
    within_days: int

    def evaluate(self, ctx: Context) -> Verdict:
        """A screening result of the test dated within the window."""
        latest, older = _latest_within(
            (s for s in ctx.evidence.screenings if s.test == self.test),
            ctx.service_date,
            self.within_days,
        )
        if latest is not None:
            return Verdict(
                Status.MET,
                (latest.source,),
                (),
                f"{latest.name} {latest.result or 'result not given'} on {latest.date}",
            )
        detail = f"no {self.test} screening within {self.within_days} days" + (
            f"; the latest is from {older.date}" if older else ""
        )
        return Verdict(
            Status.MISSING,
            (),
            (Need(f"{self.test} screening within {self.within_days} days", Owner.CLINICIAN),),
            detail,
        )


@dataclass(frozen=True, slots=True)
class PrescriberSpecialty:
    specialties: frozenset[str]

    def evaluate(self, ctx: Context) -> Verdict:
        """The ordering practitioner's specialty, from the chart."""
        wanted = ", ".join(sorted(self.specialties))
        prescriber = ctx.prescriber
        if prescriber is None or not prescriber.specialties:
            return Verdict(
                Status.MISSING,
                (prescriber.source,) if prescriber else (),
                (Need(f"prescriber's specialty ({wanted})", Owner.COORDINATOR),),
                "the chart doesn't give the prescriber's specialty",
            )
        found = sorted(set(prescriber.specialties) & self.specialties)
        status = Status.MET if found else Status.UNMET
        shown = ", ".join(found or prescriber.specialties)
        return Verdict(status, (prescriber.source,), (), f"prescriber specialty: {shown}")


@dataclass(frozen=True, slots=True)
class NoConcurrent:
    classes: frozenset[str]

    def evaluate(self, ctx: Context) -> Verdict:
        """No other ongoing therapy of the classes (the ordered drug itself doesn't count)."""
        ongoing = [
            t
            for t in ctx.evidence.therapies
            if t.drug_class in self.classes and _is_ongoing(t) and not ctx.ordered(t)
        ]
        if ongoing:
            return Verdict(
                Status.UNMET,
                _unique(t.source for t in ongoing),
                (),
                _join(
                    f"{t.name} ongoing since {t.start or '?'}: confirm it stops" for t in ongoing
                ),
            )
        return Verdict(Status.MET, (), (), "no other ongoing therapy of these classes in the chart")


@dataclass(frozen=True, slots=True)
class Attestation:
    text: str
    criterion: str

    def evaluate(self, ctx: Context) -> Verdict:
        """Met once the clinician has attested it on the case; never read from the chart."""
        who = ctx.attested.get(self.criterion)
        if who:
            return Verdict(Status.MET, (who,), (), f"attested: {self.text}")
        return Verdict(
            Status.MISSING,
            (),
            (Need(f"clinician attestation: {self.text}", Owner.CLINICIAN),),
            "needs the clinician's attestation",
        )


@dataclass(frozen=True, slots=True)
class OrderQuantity:
    more_than: Decimal | None
    at_least: Decimal | None

    def evaluate(self, ctx: Context) -> Verdict:
        """The order's quantity (ServiceRequest.quantityQuantity) against the bound."""
        quantity = ctx.order.quantity
        if quantity is None:
            return Verdict(
                Status.MISSING,
                (),
                (Need("quantity on the order", Owner.CLINICIAN),),
                "the order gives no quantity",
            )
        value = Decimal(str(quantity))
        ok = (self.more_than is None or value > self.more_than) and (
            self.at_least is None or value >= self.at_least
        )
        return Verdict(
            Status.MET if ok else Status.UNMET,
            (ctx.order.source,),
            (),
            f"order quantity {_number(value)}",
        )


# --- compiler ------------------------------------------------------------------------------

Builder = Callable[[Any, "Compiler", str], Node]


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _build_all(value: Any, c: Compiler, path: str) -> Node:
    return All(tuple(c.compile(v, f"{path}/all/{i}") for i, v in enumerate(value)))


def _build_any(value: Any, c: Compiler, path: str) -> Node:
    return AtLeast(1, tuple(c.compile(v, f"{path}/any/{i}") for i, v in enumerate(value)))


def _build_at_least(value: Any, c: Compiler, path: str) -> Node:
    parts = tuple(c.compile(v, f"{path}/at_least/of/{i}") for i, v in enumerate(value["of"]))
    if value["count"] > len(parts):
        raise RuleLanguageError(
            f"{path}/at_least/count: expected at most {len(parts)}, got {value['count']}"
        )
    return AtLeast(int(value["count"]), parts)


def _build_age(value: Any, _c: Compiler, _path: str) -> Node:
    months = value.get("min_years", 0) * 12 + value.get("min_months", 0)
    has_min = "min_years" in value or "min_months" in value
    return Age(months if has_min else None, value.get("max_years"))


def _build_diagnosis(value: Any, _c: Compiler, _path: str) -> Node:
    return HasDiagnosis(ConditionSpec.from_data(value))


def _build_measure(value: Any, _c: Compiler, path: str) -> Node:
    if "at_least" not in value and "at_most" not in value and not value.get("documented"):
        raise RuleLanguageError(f"{path}/measure: expected at_least, at_most or documented")
    return MeasureCheck(
        str(value["key"]),
        _decimal(value.get("at_least")),
        _decimal(value.get("at_most")),
        int(value["within_days"]),
    )


def _build_body_area(value: Any, c: Compiler, path: str) -> Node:
    unknown = sorted(set(value["areas"]) - c.known_areas)
    if unknown:
        raise RuleLanguageError(f"{path}/body_area/areas: unknown area {unknown[0]!r}")
    return BodyArea(frozenset(value["areas"]))


def _build_therapy(value: Any, c: Compiler, path: str) -> Node:
    unknown = sorted(set(value.get("classes", [])) - c.known_classes)
    if unknown:
        raise RuleLanguageError(f"{path}/therapy/classes: unknown class {unknown[0]!r}")
    if "min_potency" in value and set(value.get("classes", [])) != {"topical-corticosteroid"}:
        raise RuleLanguageError(
            f"{path}/therapy/min_potency: only for classes [topical-corticosteroid]"
        )
    outcomes = frozenset(Outcome(o) for o in value.get("outcomes", [])) or _DEFAULT_OUTCOMES
    drugs = value.get("drugs")
    label = value.get("label") or _therapy_label(value, c)
    return TherapyTrial(
        classes=frozenset(value.get("classes", [])),
        kinds=frozenset(value.get("kinds", [])),
        drugs=PhraseMatcher(drugs) if drugs else None,
        min_potency=value.get("min_potency"),
        min_days=value.get("min_days"),
        outcomes=outcomes,
        within_days=value.get("within_days"),
        label=label,
    )


def _therapy_label(value: Mapping[str, Any], c: Compiler) -> str:
    if value.get("drugs"):
        return " or ".join(value["drugs"]) + " course"
    names = [c.class_labels.get(k, k) for k in value.get("classes", [])] or list(
        value.get("kinds", [])
    )
    return " or ".join(names) + " course"


def _build_screening(value: Any, _c: Compiler, _path: str) -> Node:
    return Screening(str(value["test"]), int(value["within_days"]))


def _build_specialty(value: Any, _c: Compiler, _path: str) -> Node:
    return PrescriberSpecialty(frozenset(value["specialties"]))


def _build_no_concurrent(value: Any, c: Compiler, path: str) -> Node:
    unknown = sorted(set(value["classes"]) - c.known_classes)
    if unknown:
        raise RuleLanguageError(f"{path}/no_concurrent/classes: unknown class {unknown[0]!r}")
    return NoConcurrent(frozenset(value["classes"]))


def _build_attestation(value: Any, c: Compiler, _path: str) -> Node:
    return Attestation(str(value["text"]), c.criterion)


def _build_order_quantity(value: Any, _c: Compiler, _path: str) -> Node:
    return OrderQuantity(_decimal(value.get("more_than")), _decimal(value.get("at_least")))


#: the closed registry: an expression key not listed here is refused
PREDICATES: dict[str, Builder] = {
    "all": _build_all,
    "any": _build_any,
    "at_least": _build_at_least,
    "age": _build_age,
    "diagnosis": _build_diagnosis,
    "measure": _build_measure,
    "body_area": _build_body_area,
    "therapy": _build_therapy,
    "screening": _build_screening,
    "prescriber_specialty": _build_specialty,
    "no_concurrent": _build_no_concurrent,
    "attestation": _build_attestation,
    "order_quantity": _build_order_quantity,
}


@dataclass(slots=True)
class Compiler:
    """Turns rule-file expressions into nodes; checks names against the class and area lists."""

    known_classes: frozenset[str]
    class_labels: Mapping[str, str]
    known_areas: frozenset[str]
    criterion: str = ""

    def compile(self, expr: Any, path: str) -> Node:
        if not isinstance(expr, Mapping) or len(expr) != 1:
            raise RuleLanguageError(
                f"{path}: expected a mapping with exactly one key, got {expr!r}"
            )
        ((key, value),) = expr.items()
        builder = PREDICATES.get(key)
        if builder is None:
            known = ", ".join(sorted(PREDICATES))
            raise RuleLanguageError(f"{path}: unknown predicate {key!r} (known: {known})")
        return builder(value, self, path)

    def compile_criterion(self, expr: Any, criterion: str, path: str) -> Node:
        self.criterion = criterion
        try:
            return self.compile(expr, path)
        finally:
            self.criterion = ""


def combine(statuses: Sequence[Status]) -> Status:
    """Kleene conjunction: the checklist's overall status."""
    if Status.UNMET in statuses:
        return Status.UNMET
    if Status.MISSING in statuses:
        return Status.MISSING
    return Status.MET
