"""Answering a payer's ePA question set (NCPDP SCRIPT QuestionSet) from the chart evidence.

`mappings/priorauth/epa-questions.yaml` says which question is which (by the question's coded
reference, else by its normalised text) and which selector answers it. Selectors are a closed
set, looked up in `SELECTORS`: `measure`, `diagnosis`, `therapy`, `screening`, `coverage`,
`prescriber_specialty`. Nothing is evaluated or imported by name.

Never guessed: a question no entry matches (or two entries match), a selector with no fact, or
a select question whose choices don't clearly take the value, stays unanswered with what is
missing and who should supply it. A yes/no question is only ever answered "yes" with the facts
behind it: the chart lacking a fact is not evidence of "no".
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from integration.domain.evidence import ClinicalEvidence, Owner, Therapy
from integration.domain.priorauth import Assessment
from integration.domain.priorauth import Prescriber as ChartPrescriber
from integration.mapping.loader import MappingDocument, MappingError, iter_documents
from integration.mapping.text import PhraseMatcher, normalize
from integration.priorauth.ncpdp import (
    Header,
    InitiationStatus,
    PAInitiationRequest,
    PAInitiationResponse,
    PARequest,
    Question,
    QuestionAnswer,
    QuestionSet,
    QuestionType,
)
from integration.rules.dates import date_range

END = "END"
_NOT_TAKEN = frozenset({"not-taken", "entered-in-error", "cancelled", "unknown"})
_ONGOING = frozenset({"active", "intended", "on-hold"})


@dataclass(frozen=True, slots=True)
class Answer:
    """Our answer to one question: the value, the FHIR references it came from, or (when
    `answered` is False) what the chart lacks and who should supply it."""

    question_id: str
    answered: bool
    choice_ids: tuple[str, ...] = ()
    text: str | None = None
    number: Decimal | None = None
    on: date | None = None
    sources: tuple[str, ...] = ()
    detail: str = ""
    missing: str | None = None
    owner: Owner | None = None
    mapping: str | None = None


@dataclass(frozen=True, slots=True)
class Value:
    """What a selector found: one kind of value and the facts behind it."""

    sources: tuple[str, ...]
    detail: str
    yes: bool = False
    text: str | None = None
    number: Decimal | None = None
    on: date | None = None


@dataclass(frozen=True, slots=True)
class Context:
    evidence: ClinicalEvidence
    day: date
    prescriber: ChartPrescriber | None


Selector = Callable[[Mapping[str, Any], Context], Value | None]


# --- selectors ---------------------------------------------------------------------------------


def _months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _on_or_after(text: str | None, since: date) -> bool:
    """True only when every day the chart's date may mean is on or after `since`."""
    span = date_range(text)
    return span is not None and span.first >= since


def _measure(args: Mapping[str, Any], ctx: Context) -> Value | None:
    since = ctx.day - timedelta(days=int(args["within_days"]))
    for m in ctx.evidence.measures.get(str(args["key"]), ()):  # latest first
        if m.region is None and _on_or_after(m.date, since) and m.date <= ctx.day.isoformat():
            unit = f" {m.unit}" if m.unit else ""
            return Value((m.source,), f"{args['key']} {m.value}{unit} on {m.date}", number=m.value)
    return None


def _diagnosis(args: Mapping[str, Any], ctx: Context) -> Value | None:
    prefixes = tuple(str(p).replace(".", "") for p in args["icd10_prefixes"])
    hits = [
        d
        for d in ctx.evidence.diagnoses
        if d.icd10
        and d.icd10.replace(".", "").startswith(prefixes)
        and d.clinical_status in (None, "active", "recurrence", "relapse")
    ]
    if not hits:
        return None
    codes = ", ".join(sorted({d.icd10 for d in hits if d.icd10}))
    sources = tuple(d.source for d in hits)
    detail = "; ".join(f"{d.text} ({d.icd10})" for d in hits)
    if args["answer"] == "code":
        return Value(sources, detail, text=codes)
    return Value(sources, detail, yes=True)


def _course_days(therapy: Therapy, day: date) -> int | None:
    """The shortest length the chart's dates allow, in days; None when they can't tell."""
    start = date_range(therapy.start)
    if start is None:
        return None
    if therapy.end:
        end = date_range(therapy.end)
        if end is None:
            return None
        last_day = end.first
    elif therapy.status in _ONGOING:
        last_day = day
    else:
        return None
    return max(0, (last_day - start.last).days)


def _therapy(args: Mapping[str, Any], ctx: Context) -> Value | None:
    classes = set(args.get("classes", ()))
    kinds = set(args.get("kinds", ()))
    min_days = int(args["min_days"])
    hits: list[tuple[Therapy, int]] = []
    for t in ctx.evidence.therapies:
        if t.status in _NOT_TAKEN or not (t.drug_class in classes or t.kind.value in kinds):
            continue
        days = _course_days(t, ctx.day)
        if days is not None and days >= min_days:
            hits.append((t, days))
    if not hits:
        return None
    hits.sort(key=lambda h: h[0].start or "")
    detail = "; ".join(f"{t.name} {t.start} to {t.end or 'ongoing'} ({d} days)" for t, d in hits)
    sources = tuple(s for t, _d in hits for s in (t.source, *t.sources) if s)
    sources = tuple(dict.fromkeys(sources))
    if args["answer"] == "start_date":
        first = hits[0][0]
        span = date_range(first.start)
        if span is None or span.first != span.last:  # a partial date is not a date to send
            return None
        return Value((first.source,), detail, on=span.first)
    return Value(sources, detail, yes=True)


def _screening(args: Mapping[str, Any], ctx: Context) -> Value | None:
    since = _months_before(ctx.day, int(args["within_months"]))
    hits = [
        s for s in ctx.evidence.screenings if s.test == args["test"] and _on_or_after(s.date, since)
    ]
    hits.sort(key=lambda s: s.date or "", reverse=True)
    if not hits:
        return None
    latest = hits[0]
    detail = f"{latest.name} on {latest.date}: {latest.result or 'no result recorded'}"
    if args["answer"] == "result":
        if not latest.result:
            return None
        return Value((latest.source,), detail, text=latest.result)
    if args["answer"] == "date":
        span = date_range(latest.date)
        if span is None or span.first != span.last:
            return None
        return Value((latest.source,), detail, on=span.first)
    return Value((latest.source,), detail, yes=True)


def _coverage(args: Mapping[str, Any], ctx: Context) -> Value | None:
    current = [c for c in ctx.evidence.coverage if c.current and c.member_id]
    if len(current) != 1:  # none, or two current coverages: which one the payer means is unknown
        return None
    cov = current[0]
    return Value(
        (cov.source,), f"member id of {cov.payer or 'the current coverage'}", text=cov.member_id
    )


def _prescriber_specialty(args: Mapping[str, Any], ctx: Context) -> Value | None:
    p = ctx.prescriber
    if p is None:
        return None
    wanted = [s for s in p.specialties if s in set(args["specialties"])]
    if not wanted:
        return None
    detail = f"prescriber specialty: {', '.join(wanted)}"
    if args["answer"] == "name":
        return Value((p.source,), detail, text=", ".join(wanted))
    return Value((p.source,), detail, yes=True)


SELECTORS: dict[str, Selector] = {
    "measure": _measure,
    "diagnosis": _diagnosis,
    "therapy": _therapy,
    "screening": _screening,
    "coverage": _coverage,
    "prescriber_specialty": _prescriber_specialty,
}


# --- the mapping -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuestionMap:
    id: str
    coded: frozenset[tuple[str, str]]
    text: PhraseMatcher | None
    not_text: PhraseMatcher | None
    selector: str
    args: Mapping[str, Any]
    missing: str
    owner: Owner

    def matches_text(self, text: str) -> bool:
        if self.text is None or self.text.find(text) is None:
            return False
        return self.not_text is None or self.not_text.find(text) is None


@dataclass(frozen=True, slots=True)
class EpaQuestionMaps:
    entries: tuple[QuestionMap, ...]
    source: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_document(cls, doc: MappingDocument) -> EpaQuestionMaps:
        entries = []
        seen: set[str] = set()
        for i, raw in enumerate(doc.data["questions"]):
            if raw["id"] in seen:
                raise MappingError(f"{doc.path}: questions/{i}/id: duplicate id {raw['id']!r}")
            seen.add(raw["id"])
            ((name, args),) = raw["select"].items()
            if name not in SELECTORS:
                raise MappingError(f"{doc.path}: questions/{i}/select: unknown selector {name!r}")
            match = raw["match"]
            entries.append(
                QuestionMap(
                    id=raw["id"],
                    coded=frozenset((c["qualifier"], c["code"]) for c in match.get("coded", ())),
                    text=PhraseMatcher(match["text"]) if "text" in match else None,
                    not_text=PhraseMatcher(match["not_text"]) if "not_text" in match else None,
                    selector=name,
                    args=args,
                    missing=raw["missing"],
                    owner=Owner(raw["owner"]),
                )
            )
        return cls(tuple(entries), doc.data["source"])

    def find(self, question: Question) -> tuple[QuestionMap | None, str]:
        """The entry for a question, or None with why."""
        ref = question.coded_reference
        if ref is not None:
            coded = [e for e in self.entries if (ref.qualifier, ref.code) in e.coded]
            if len(coded) == 1:
                return coded[0], f"coded reference {ref.qualifier} {ref.code}"
        hits = [e for e in self.entries if e.matches_text(question.text)]
        if len(hits) == 1:
            return hits[0], "question text"
        if hits:
            names = ", ".join(e.id for e in hits)
            return None, f"the question text matches several mappings ({names})"
        return None, "no mapping knows this question"


def load_epa_question_maps(root: Path | None = None) -> EpaQuestionMaps:
    docs = list(iter_documents(root, kind="epa-questions"))
    if len(docs) != 1:
        raise MappingError(f"kind epa-questions: expected exactly one file, got {len(docs)}")
    return EpaQuestionMaps.from_document(docs[0])


# --- answering ---------------------------------------------------------------------------------

_YES = frozenset({"yes", "y", "true"})


def _unanswered(
    question: Question, what: str, owner: Owner, detail: str, mapping: str | None
) -> Answer:
    return Answer(
        question_id=question.id,
        answered=False,
        missing=what,
        owner=owner,
        detail=detail,
        mapping=mapping,
    )


def _fit(question: Question, value: Value, entry: QuestionMap) -> Answer:
    """The value in the question's own type, or unanswered when it doesn't clearly fit."""
    base = Answer(question.id, True, sources=value.sources, detail=value.detail, mapping=entry.id)
    kind = question.type
    if kind is QuestionType.SELECT:
        if value.yes:
            yes = [c for c in question.choices if normalize(c.text) in _YES]
            if len(yes) == 1:
                return replace(base, choice_ids=(yes[0].id,))
        elif value.text is not None:
            same = [c for c in question.choices if normalize(c.text) == normalize(value.text)]
            if len(same) == 1:
                return replace(base, choice_ids=(same[0].id,))
        return _unanswered(
            question,
            entry.missing,
            Owner.COORDINATOR,
            f"the chart has {value.detail}, but no single choice clearly says so",
            entry.id,
        )
    if kind is QuestionType.NUMERIC and value.number is not None:
        return replace(base, number=value.number)
    if kind is QuestionType.DATE and value.on is not None:
        return replace(base, on=value.on)
    if kind is QuestionType.FREE_TEXT:
        if value.text is not None:
            return replace(base, text=value.text)
        if value.number is not None:
            return replace(base, text=format(value.number, "f"))
        if value.on is not None:
            return replace(base, text=value.on.isoformat())
        if value.yes:
            return replace(base, text="Yes")
    return _unanswered(
        question,
        entry.missing,
        Owner.COORDINATOR,
        f"the chart has {value.detail}, which doesn't fit a {kind.value} answer",
        entry.id,
    )


def answer_questions(
    question_set: QuestionSet,
    evidence: ClinicalEvidence,
    assessment: Assessment,
    *,
    maps: EpaQuestionMaps | None = None,
    prescriber: ChartPrescriber | None = None,
) -> list[Answer]:
    """One Answer per question, in the question set's order. Windows ("within 365 days") end on
    the assessment's date of service."""
    table = maps or load_epa_question_maps()
    ctx = Context(evidence, date.fromisoformat(assessment.date[:10]), prescriber)
    out: list[Answer] = []
    for question in sorted(question_set.questions, key=lambda q: q.sequence):
        entry, why = table.find(question)
        if entry is None:
            out.append(
                _unanswered(
                    question, f"An answer to: {question.text}", Owner.COORDINATOR, why, None
                )
            )
            continue
        value = SELECTORS[entry.selector](entry.args, ctx)
        if value is None:
            out.append(
                _unanswered(
                    question, entry.missing, entry.owner, f"matched by {why}: no fact", entry.id
                )
            )
            continue
        out.append(_fit(question, value, entry))
    return out


def route(question_set: QuestionSet, answers: Iterable[Answer]) -> tuple[str, ...]:
    """The question ids a prescriber walks through: from the first question (by sequence), a
    chosen choice's NextQuestionID, else the question's DefaultNextQuestionID, else the next by
    sequence; "END" stops. An unanswered select question goes on by default or sequence."""
    by_id = {a.question_id: a for a in answers}
    ordered = sorted(question_set.questions, key=lambda q: q.sequence)
    index = {q.id: i for i, q in enumerate(ordered)}
    walked: list[str] = []
    current: Question | None = ordered[0] if ordered else None
    while current is not None and current.id not in walked:
        walked.append(current.id)
        answer = by_id.get(current.id)
        nxt: str | None = None
        if answer is not None and answer.answered and len(answer.choice_ids) == 1:
            chosen = next((c for c in current.choices if c.id == answer.choice_ids[0]), None)
            nxt = chosen.next_question_id if chosen else None
        nxt = nxt or current.default_next_question_id
        if nxt == END:
            break
        if nxt is None:
            i = index[current.id] + 1
            current = ordered[i] if i < len(ordered) else None
        else:
            current = question_set.question(nxt)
    return tuple(walked)


def to_question_answer(answer: Answer) -> QuestionAnswer:
    if not answer.answered:
        raise ValueError(f"question {answer.question_id}: expected an answer, got unanswered")
    return QuestionAnswer(
        question_id=answer.question_id,
        choice_ids=answer.choice_ids,
        free_text=answer.text,
        numeric=answer.number,
        date=answer.on,
    )


def build_pa_request(
    initiation_response: PAInitiationResponse,
    answers: Sequence[Answer],
    *,
    request: PAInitiationRequest,
    header: Header,
    comment: str | None = None,
) -> PARequest:
    """The PARequest for an open case: only the answered questions on the route, in order.
    Sources stay on our Answer objects (the XML has no place for them)."""
    qs = initiation_response.question_set
    if initiation_response.status is not InitiationStatus.OPEN or qs is None:
        raise ValueError(
            f"PAInitiationResponse {initiation_response.header.message_id}: expected an open "
            f"case with a question set, got {initiation_response.status.value}"
        )
    if initiation_response.pa_case_id is None:
        raise ValueError(
            f"PAInitiationResponse {initiation_response.header.message_id}: expected a PACaseID"
        )
    by_id = {a.question_id: a for a in answers}
    for a in answers:
        question = qs.question(a.question_id)
        if question is None:
            raise ValueError(f"answer {a.question_id}: not a question of {qs.id}")
        bad = [c for c in a.choice_ids if c not in {ch.id for ch in question.choices}]
        if bad:
            raise ValueError(f"answer {a.question_id}: choice {bad[0]!r} is not offered")
    sent = tuple(
        to_question_answer(by_id[qid])
        for qid in route(qs, answers)
        if qid in by_id and by_id[qid].answered
    )
    return PARequest(
        header=header,
        pa_reference_id=initiation_response.pa_reference_id,
        pa_case_id=initiation_response.pa_case_id,
        patient=request.patient,
        prescriber=request.prescriber,
        medication=request.medication,
        benefits=request.benefits,
        question_set_id=qs.id,
        answers=sent,
        comment=comment,
    )
