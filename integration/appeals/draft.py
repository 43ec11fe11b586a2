"""Draft an appeal letter from a denial, the chart's evidence and the payer rule.

Each template sentence is rendered with the fact tree of `integration.appeals.facts` wrapped so
that printing a fact (`{{ f.latest.PASI.value }}`) records the fact's source on the sentence: a
sentence's sources are exactly the facts it states. A sentence that needs a fact the chart lacks
is left out and its `needs` text goes to the letter's `missing`; no value is ever written without
its fact. A sentence using no fact cites the payer rule when it is an argument, else nothing.

A PA denial's letter is drafted from its `pa_case` row (`pa_case_facts`): the case's order (the
drug or procedure the payer denied) is assessed against the chart, so the letter names that
drug and its payer rule rather than whatever order the chart shows last; the case's rule as
decided is used when the chart no longer gives one; its authorization number (if any) and the
payer's stated reason (`decision_reason`) become facts sourced to the PA case (`f.pa.*`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any, Protocol

import jinja2

from integration.appeals.facts import AuthorizationFact, LetterFacts, build_facts
from integration.appeals.letter import EvidenceFact, Letter, Sentence, SourceRef
from integration.appeals.templates import LetterTemplate, TemplateLibrary, default_templates
from integration.denials.items import DenialItem
from integration.domain.evidence import ClinicalEvidence, from_json
from integration.domain.priorauth import Assessment
from integration.mapping.loader import load_document
from integration.paths import mappings_dir

log = logging.getLogger(__name__)


class PaCaseRow(Protocol):
    """The columns of a `pa_case` row a letter uses (`integration.store.models.PaCase`)."""

    id: str
    order_json: str
    rule_id: str | None
    rule_version: int | None
    auth_number: str | None
    approved_from: str | None
    approved_to: str | None
    decision_reason: str | None
    payer_reference: str | None
    assessment_json: str


@dataclass(frozen=True, slots=True)
class PaCaseFacts:
    """What a denied PA case says about the denied service, for its appeal letter."""

    case_id: str
    order: Mapping[str, Any]
    rule_id: str | None
    rule_version: int | None
    auth_number: str | None
    approved_from: str | None
    approved_to: str | None
    decision_reason: str | None
    payer_reference: str | None
    assessment: Assessment | None

    @property
    def source(self) -> SourceRef:
        ref = f"PA case {self.case_id}" + (
            f" · payer reference {self.payer_reference}" if self.payer_reference else ""
        )
        return SourceRef("claim", ref, "prior-authorization case")


def pa_case_facts(row: PaCaseRow) -> PaCaseFacts:
    """The facts of a `pa_case` row (no I/O: the caller read the row)."""
    decided = json.loads(row.assessment_json or "null")
    assessment = from_json(Assessment, decided) if decided else None
    return PaCaseFacts(
        case_id=row.id,
        order=json.loads(row.order_json or "{}"),
        rule_id=row.rule_id,
        rule_version=row.rule_version,
        auth_number=row.auth_number,
        approved_from=row.approved_from,
        approved_to=row.approved_to,
        decision_reason=row.decision_reason,
        payer_reference=row.payer_reference,
        assessment=assessment,
    )


def _pa_tree(facts: LetterFacts, pa: PaCaseFacts) -> None:
    """`f.pa`: the PA case's payer reference, authorization number and the payer's reason."""
    src = pa.source
    facts.tree["pa"] = {
        "case": facts.add("code", pa.case_id, "PA case", src),
        "payer_reference": facts.add("code", pa.payer_reference, "payer's PA case id", src)
        if pa.payer_reference
        else None,
        "auth_number": facts.add("code", pa.auth_number, "authorization number", src)
        if pa.auth_number
        else None,
        "decision_reason": facts.add("text", pa.decision_reason, "payer's reason", src)
        if pa.decision_reason
        else None,
    }


class DraftError(ValueError):
    """No template answers the denial, or a template fails to render."""


class MissingFact(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(slots=True)
class _Recorder:
    used: list[EvidenceFact] = field(default_factory=list)

    def use(self, fact: EvidenceFact) -> None:
        if fact not in self.used:
            self.used.append(fact)


class FactValue:
    """A fact in a template: its text is its value, and printing it records its source."""

    __slots__ = ("_fact", "_recorder")

    def __init__(self, fact: EvidenceFact, recorder: _Recorder) -> None:
        self._fact = fact
        self._recorder = recorder

    def __str__(self) -> str:
        self._recorder.use(self._fact)
        return self._fact.value

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:  # `when: f.latest.BSA.unit == '%'` style tests
        if isinstance(other, FactValue):
            return self._fact.value == other._fact.value
        return self._fact.value == other

    def __hash__(self) -> int:
        return hash(self._fact.value)

    @property
    def lower(self) -> str:
        """The value in lower case (records the fact like printing it)."""
        return str(self).lower()


class MissingValue:
    """A fact the chart lacks: false in a `when`, and printing it drops the sentence."""

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        self._what = what

    def __str__(self) -> str:
        raise MissingFact(self._what)

    def __bool__(self) -> bool:
        return False

    def __getattr__(self, name: str) -> MissingValue:
        if name.startswith("_"):
            raise AttributeError(name)
        return MissingValue(f"{self._what}.{name}")

    def __getitem__(self, name: str) -> MissingValue:
        return MissingValue(f"{self._what}.{name}")

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0


class View:
    """A branch of the fact tree: attributes are facts, views, lists; unknown names are missing."""

    def __init__(self, name: str, tree: Mapping[str, Any], recorder: _Recorder) -> None:
        self._name = name
        self._items = {k: wrap(f"{name}.{k}", v, recorder) for k, v in tree.items()}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._items.get(name, MissingValue(f"{self._name}.{name}"))

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __str__(self) -> str:
        raise MissingFact(f"{self._name} (a group of facts, not one value)")


def wrap(name: str, value: Any, recorder: _Recorder) -> Any:
    if isinstance(value, EvidenceFact):
        return FactValue(value, recorder)
    if isinstance(value, Mapping):
        return View(name, value, recorder)
    if isinstance(value, list):
        return [wrap(f"{name}[{i}]", v, recorder) for i, v in enumerate(value)]
    if value is None:
        return MissingValue(name)
    if isinstance(value, str | int | bool):
        return value  # structure (a therapy's kind), not a statement: not printable as a fact
    raise TypeError(f"{name}: a fact tree holds facts, views and lists, got {type(value).__name__}")


def _constants(template: LetterTemplate, facts: LetterFacts) -> dict[str, EvidenceFact]:
    out = {}
    for name, c in template.constants.items():
        src = SourceRef("rule", f"{template.id} v{template.version} · {name}", c.label, c.citation)
        out[name] = facts.add(c.kind, c.value, c.label, src)
    return out


_SPACES = re.compile(r"\s+")


def _clean(text: str) -> str:
    text = _SPACES.sub(" ", text).strip()
    text = re.sub(r"\s+([,.;:)])", r"\1", text)
    return text[:1].upper() + text[1:]


def service_kind(denial: DenialItem, assessment: Assessment | None) -> str:
    """biologic: a drug line (HCPCS J-code) or a medication order; else procedure."""
    if assessment is not None and assessment.order.kind == "medication":
        return "biologic"
    if denial.procedure and denial.procedure[:1] == "J":
        return "biologic"
    return "procedure"


@cache
def code_labels() -> dict[str, str]:
    """Our short labels by procedure code (mappings/coding/code-labels.yaml): never AMA text."""
    base = mappings_dir()
    for path in sorted((base / "coding").glob("*.yaml")):
        doc = load_document(path, base)
        if doc.kind == "coding-code-labels":
            return {str(k): str(v) for k, v in doc.data["codes"].items()}
    return {}


def draft_letter(
    denial: DenialItem,
    evidence: ClinicalEvidence | None,
    *,
    templates: TemplateLibrary | None = None,
    rule_assessment: Assessment | None = None,
    level: int = 1,
    today: date,
    template_id: str | None = None,
    authorization: AuthorizationFact | None = None,
    note_refs: Mapping[str, str] | None = None,
    pa_case: PaCaseFacts | None = None,
) -> Letter:
    """The letter for `denial` at appeal `level`: the most specific template for its category,
    service (biologic or procedure), level and payer (or `template_id`), filled from the facts.
    Raises DraftError when no template answers the denial's category."""
    library = templates or default_templates()
    kind = service_kind(denial, rule_assessment)
    if template_id is not None:
        try:
            template = library.get(template_id)
        except KeyError as exc:
            raise DraftError(str(exc.args[0])) from None
    else:
        chosen = library.choose(denial.category, kind, level, denial.payer_id)
        if chosen is None:
            raise DraftError(
                f"denial {denial.id}: category: expected one with a letter template, got "
                f"{denial.category!r} ({kind}, level {level}, payer {denial.payer_id})"
            )
        template = chosen
    facts = build_facts(
        denial,
        evidence,
        assessment=rule_assessment,
        authorization=authorization,
        code_labels=code_labels(),
        note_refs=note_refs,
    )
    if pa_case is not None:
        _pa_tree(facts, pa_case)
    constants = _constants(template, facts)
    recorder = _Recorder()
    f = View("f", facts.tree, recorder)
    c = View("c", constants, recorder)
    context = {"f": f, "c": c, "level": level}
    sentences: list[Sentence] = []
    missing = list(dict.fromkeys(facts.missing))
    for expr, needs in template.requires:
        if not expr(**context):
            missing.insert(0, needs)
    for st in template.sentences:
        where = f"{template.id} v{template.version} sentence {st.id}"
        runs: list[tuple[str, dict[str, Any]]] = [(st.id, context)]
        if st.each_name is not None:
            items: Any = f
            for part in st.each_path:
                items = getattr(items, part)
            runs = [
                (f"{st.id}-{i}", {**context, st.each_name: item})
                for i, item in enumerate(items, start=1)
            ]
        for sentence_id, ctx in runs:
            try:
                if st.when is not None and not st.when(**ctx):
                    continue
                recorder.used.clear()
                text = _clean(st.text.render(**ctx))
            except MissingFact as exc:
                missing.append(f"sentence {sentence_id}: {st.needs or 'needs ' + exc.what}")
                continue
            except jinja2.TemplateError as exc:
                raise DraftError(f"{where}: {exc}") from None
            if not text:
                continue
            sources = tuple(dict.fromkeys(fact.source for fact in recorder.used))
            if not sources and st.argument and facts.rule_source is not None:
                sources = (facts.rule_source,)
            sentences.append(
                Sentence(id=sentence_id, paragraph=st.paragraph, text=text, sources=sources)
            )
    log.info(
        "appeal letter drafted denial=%s template=%s v%s level=%s sentences=%d missing=%d",
        denial.id,
        template.id,
        template.version,
        level,
        len(sentences),
        len(missing),
    )
    extra: dict[str, Any] = {"title": template.title, "service": kind, "payer": denial.payer_name}
    if template.addressee:
        extra["addressee"] = template.addressee
    headings = [h for h in template.headings]
    if any(headings):
        extra["headings"] = headings
    if rule_assessment is not None and rule_assessment.rule is not None:
        extra["rule"] = {"id": rule_assessment.rule.id, "version": rule_assessment.rule.version}
    return Letter(
        denial_id=denial.id,
        template_id=template.id,
        template_version=template.version,
        level=level,
        generated=today.isoformat(),
        sentences=tuple(sentences),
        evidence=tuple(facts.evidence),
        attachments=tuple(dict.fromkeys(facts.attachments)),
        missing=tuple(dict.fromkeys(missing)),
        extra=extra,
    )


# ---------------------------------------------------------------------------------------------
# From the chart over FHIR


@dataclass(frozen=True, slots=True)
class DraftResult:
    """The letter and what it was drafted from (the resources: photo bytes and note text for
    the PDF's attachments)."""

    letter: Letter
    evidence: ClinicalEvidence
    assessment: Assessment | None
    resources: Mapping[str, Mapping[str, Any]]


_ORDER_STATUSES = ("draft", "active", "on-hold", "completed")


def _order_codes(resource: Mapping[str, Any]) -> set[str]:
    codes: set[str] = set()
    for key in ("code", "medicationCodeableConcept"):
        concept = resource.get(key) or {}
        codes |= {str(c.get("code")) for c in concept.get("coding") or [] if c.get("code")}
    return codes


def _chart_orders(
    resources: Mapping[str, Mapping[str, Any]], procedure: str | None = None
) -> list[Mapping[str, Any]]:
    """The chart's orders, newest first; those coded with the denied procedure (CPT/HCPCS of the
    835 line) before the others, so a Mohs denial is not argued with a biologic's rule."""
    orders = [
        r
        for ref, r in resources.items()
        if ref.startswith(("MedicationRequest/", "ServiceRequest/"))
        and r.get("intent") in ("order", "original-order", "plan", "proposal")
        and r.get("status") in _ORDER_STATUSES
    ]
    orders.sort(key=lambda r: str(r.get("authoredOn") or ""), reverse=True)
    if procedure:
        orders.sort(key=lambda r: procedure not in _order_codes(r))  # stable: newest first kept
    return orders


def note_attachments(resources: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The chart's clinical notes (DocumentReference with a text attachment) by reference."""
    out: dict[str, str] = {}
    for ref, r in resources.items():
        if not ref.startswith("DocumentReference/"):
            continue
        for content in r.get("content") or []:
            att = content.get("attachment") or {}
            if str(att.get("contentType", "")).startswith("text/"):
                out[ref] = str(att.get("title") or (r.get("type") or {}).get("text") or "Note")
                break
    return out


def draft_for_denial(
    denial: DenialItem,
    client: Any,
    maps: Any,
    as_of: date,
    *,
    templates: TemplateLibrary | None = None,
    refs: Any | None = None,
    level: int = 1,
    today: date | None = None,
    patient_id: str | None = None,
    order: Mapping[str, Any] | None = None,
    authorization: AuthorizationFact | None = None,
    pa_case: PaCaseFacts | None = None,
) -> DraftResult:
    """Read the denial's patient's chart over FHIR (`chart_evidence`), assess the payer rule the
    denied service touches (the `order` given, else a PA denial's case order, else the chart's
    newest order the payer has a rule for), and draft. A PA denial's `pa_case` also gives the
    rule as the case was decided (when the chart's assessment finds none, or another), the
    authorization and the payer's reason. Raises DraftError when the denial names no patient
    and none is given, and FhirError when the chart can't be read."""
    if pa_case is not None and denial.source == "pa":
        order = order if order is not None else (pa_case.order or None)
        if authorization is None and pa_case.auth_number:
            authorization = AuthorizationFact(
                pa_case.auth_number, pa_case.source, pa_case.approved_from, pa_case.approved_to
            )
    else:
        pa_case = None
    from integration.fhir.chart_evidence import chart_evidence
    from integration.fhir.pa_check import check_order
    from integration.priorauth.order import OrderError, order_from_fhir
    from integration.priorauth.references import load_pa_references

    pid = patient_id or (denial.patient_ref or "").removeprefix("Patient/") or None
    if not pid:
        raise DraftError(f"denial {denial.id}: patient: expected a patient reference, got none")
    evidence, fetch = chart_evidence(client, pid, maps, as_of)
    resources = {
        f"{r.get_resource_type()}/{r.id}": r.model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        for r in fetch.chart.resources
    }
    refs = refs or load_pa_references()
    day = denial.service_date or as_of
    assessment: Assessment | None = None
    candidates = [order] if order is not None else _chart_orders(resources, denial.procedure)
    # the payer that denied (the 835's payer name) decides the rule; the chart's coverage only
    # when that name is not in the library
    payer = (
        refs.library.payer_named(denial.payer_name, denial.origin).match
        or refs.library.payer_for(evidence.coverage).match
    )
    for candidate in candidates:
        try:
            fact = order_from_fhir(candidate)
        except OrderError:
            continue
        if order is None and (payer is None or not refs.library.rules_for(payer.id, fact)):
            continue
        check = check_order(
            client, fact, evidence, day, refs, payer_id=payer.id if payer is not None else None
        )
        if check.assessment.rule is not None:
            assessment = check.assessment
            break
    if pa_case is not None and pa_case.rule_id and pa_case.assessment is not None:
        found_rule = assessment.rule.id if assessment is not None and assessment.rule else None
        if found_rule != pa_case.rule_id and pa_case.assessment.rule is not None:
            assessment = pa_case.assessment  # the rule the payer applied to this case
    letter = draft_letter(
        denial,
        evidence,
        templates=templates,
        rule_assessment=assessment,
        level=level,
        today=today or as_of,
        authorization=authorization,
        note_refs=note_attachments(resources),
        pa_case=pa_case,
    )
    return DraftResult(letter, evidence, assessment, resources)
