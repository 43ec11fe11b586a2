"""The sandbox payer's ePA question sets (`mappings/sandbox/epa-question-sets/*.yaml`) and how it
decides a PARequest that answers one. Pure: loading files and deciding; no HTTP.

Each file lists the drugs it is for (RxNorm ingredient codes, NDCs, names), the question set the
sandbox returns in a PAInitiationResponse, and a `decision` block: deny when a listed answer
picks a listed choice (with a reason code and text), approve when every `approve_when`
condition holds, else pend asking the listed follow-up questions. The conditions are a closed
set: `choice`, `at_least`, `answered`, `any`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from integration.mapping.loader import MappingDocument, MappingError, iter_documents
from integration.mapping.text import normalize
from integration.priorauth.ncpdp import (
    Choice,
    CodedReference,
    Question,
    QuestionAnswer,
    QuestionSet,
    QuestionType,
)

_TYPES = {
    "free-text": QuestionType.FREE_TEXT,
    "numeric": QuestionType.NUMERIC,
    "date": QuestionType.DATE,
    "select": QuestionType.SELECT,
}


class Outcome(StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    PEND = "pend"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reason: str
    reason_code: str | None = None
    follow_up_questions: tuple[Question, ...] = ()


@dataclass(frozen=True, slots=True)
class Denial:
    question: str
    choice: str
    reason_code: str
    reason_text: str


@dataclass(frozen=True, slots=True)
class QuestionSetDef:
    """One sandbox file: the drugs, the question set, the follow-up questions and the rules."""

    id: str
    version: int
    path: Path
    rxnorm: frozenset[str]
    ndc: frozenset[str]
    names: frozenset[str]
    question_set: QuestionSet
    follow_up: tuple[Question, ...]
    approve_when: tuple[Mapping[str, Any], ...]
    deny_when: tuple[Denial, ...]
    pend_reason: str
    pend_follow_up: tuple[str, ...]


def _question(raw: Mapping[str, Any], sequence: int) -> Question:
    coded = raw.get("coded")
    return Question(
        id=raw["id"],
        sequence=sequence,
        text=raw["text"],
        type=_TYPES[raw["type"]],
        choices=tuple(
            Choice(id=str(c["id"]), text=str(c["text"]), next_question_id=c.get("next"))
            for c in raw.get("choices", ())
        ),
        select_multiple=bool(raw.get("select_multiple", False)),
        default_next_question_id=raw.get("default_next"),
        coded_reference=None
        if coded is None
        else CodedReference(coded["code"], coded["qualifier"], coded.get("description")),
    )


def _condition_questions(condition: Mapping[str, Any]) -> Iterable[str]:
    if "any" in condition:
        for inner in condition["any"]:
            yield from _condition_questions(inner)
    else:
        yield str(condition["question"])


def definition_from_document(doc: MappingDocument) -> QuestionSetDef:
    data = doc.data
    qs = data["question_set"]
    questions = tuple(_question(q, i + 1) for i, q in enumerate(qs["questions"]))
    follow_up = tuple(
        _question(q, i + 1) for i, q in enumerate(data.get("follow_up_questions", ()))
    )
    known = {q.id: q for q in questions}
    follow_ids = {q.id for q in follow_up}
    if len(known) != len(questions) or follow_ids & set(known):
        raise MappingError(f"{doc.path}: question_set/questions: duplicate question ids")
    for q in questions:
        for target in [c.next_question_id for c in q.choices] + [q.default_next_question_id]:
            if target not in (None, "END") and target not in known:
                raise MappingError(
                    f"{doc.path}: question {q.id}: next {target!r} is not a question"
                )
    decision = data["decision"]
    for i, condition in enumerate(decision["approve_when"]):
        for qid in _condition_questions(condition):
            if qid not in known:
                raise MappingError(
                    f"{doc.path}: decision/approve_when/{i}: unknown question {qid!r}"
                )
    denials = []
    for i, raw in enumerate(decision["deny_when"]):
        question = known.get(raw["question"])
        if question is None or raw["choice"] not in {c.id for c in question.choices}:
            raise MappingError(
                f"{doc.path}: decision/deny_when/{i}: expected a select question and one of its "
                f"choices, got {raw['question']!r} {raw['choice']!r}"
            )
        denials.append(
            Denial(raw["question"], raw["choice"], raw["reason_code"], raw["reason_text"])
        )
    pend = decision["pend"]
    for qid in pend["follow_up"]:
        if qid not in follow_ids:
            raise MappingError(
                f"{doc.path}: decision/pend/follow_up: {qid!r} is not a follow-up question"
            )
    drugs = data["drugs"]
    return QuestionSetDef(
        id=doc.id,
        version=doc.version,
        path=doc.path,
        rxnorm=frozenset(drugs.get("rxnorm", ())),
        ndc=frozenset(drugs.get("ndc", ())),
        names=frozenset(normalize(n) for n in drugs["names"]),
        question_set=QuestionSet(
            id=qs["id"], title=qs["title"], questions=questions, description=qs.get("description")
        ),
        follow_up=follow_up,
        approve_when=tuple(decision["approve_when"]),
        deny_when=tuple(denials),
        pend_reason=pend["reason"],
        pend_follow_up=tuple(pend["follow_up"]),
    )


class QuestionSetLibrary:
    """Every sandbox question set, looked up by drug."""

    def __init__(self, definitions: Sequence[QuestionSetDef]) -> None:
        self.definitions = tuple(definitions)
        owners: dict[str, str] = {}
        for d in self.definitions:
            for key in [*d.rxnorm, *d.ndc, *d.names]:
                if key in owners and owners[key] != d.id:
                    raise MappingError(
                        f"{d.path}: drugs: {key!r} is already listed by {owners[key]}"
                    )
                owners[key] = d.id

    @classmethod
    def load(cls, root: Path | None = None) -> QuestionSetLibrary:
        docs = iter_documents(root, kind="epa-question-set")
        return cls([definition_from_document(doc) for doc in docs])

    def for_drug(self, codes: Iterable[str], names: Iterable[str] = ()) -> QuestionSetDef | None:
        """The question set for a drug given by RxNorm codes or NDCs (digits only), else by a
        name found as whole words in the drug's text. None when no set lists it."""
        wanted = {c.replace("-", "") for c in codes}
        for d in self.definitions:
            if wanted & (d.rxnorm | d.ndc):
                return d
        texts = [f" {normalize(n)} " for n in names]
        for d in self.definitions:
            if any(f" {name} " in text for name in d.names for text in texts):
                return d
        return None


def _holds(condition: Mapping[str, Any], answers: Mapping[str, QuestionAnswer]) -> bool:
    if "any" in condition:
        return any(_holds(c, answers) for c in condition["any"])
    answer = answers.get(str(condition["question"]))
    if answer is None:
        return False
    if "choice" in condition:
        return str(condition["choice"]) in answer.choice_ids
    if "at_least" in condition:
        return answer.numeric is not None and answer.numeric >= Decimal(str(condition["at_least"]))
    return True  # answered


def decide(definition: QuestionSetDef, answers: Sequence[QuestionAnswer]) -> Decision:
    """Deny on a listed "no"; approve when every approve_when condition holds; else pend with
    the follow-up questions."""
    by_id = {a.question_id: a for a in answers}
    for denial in definition.deny_when:
        answer = by_id.get(denial.question)
        if answer is not None and denial.choice in answer.choice_ids:
            return Decision(Outcome.DENY, denial.reason_text, denial.reason_code)
    if all(_holds(c, by_id) for c in definition.approve_when):
        return Decision(Outcome.APPROVE, "Every condition of the question set is met.")
    wanted = set(definition.pend_follow_up)
    follow_up = tuple(q for q in definition.follow_up if q.id in wanted)
    return Decision(Outcome.PEND, definition.pend_reason, follow_up_questions=follow_up)
