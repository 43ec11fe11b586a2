"""The check before signing: a letter may state only what its evidence holds.

Every number, date, amount, code (ICD-10-CM, HCPCS, CARC, claim and member numbers: any token
mixing letters and digits), drug and diagnosis word stated in a sentence must be among the
letter's `evidence` (`Letter.evidence`, the facts found when it was drafted). A drug or
diagnosis word counts when an evidence fact of that kind holds it, or when one of the facts the
sentence itself cites does (a sentence quoting its payer rule). A severity score named with a
value ("PASI 22") must match the chart: the values of that measure the sentence cites, else all
the chart's values of it; a different value is refused as contradicted, naming the sentence and
the value.

`confirmed` is the clinician's word for a problem: (sentence id, span) pairs accepted as their
own statement (span "*" accepts every span of that sentence). A confirmed problem is reported in
`confirmed`, not in `problems`.

Not caught: numbers written as words ("twenty-two"), diagnoses not in the vocabulary
(`mappings/letters/vocabulary.yaml` and therapy-classes' drug names), a true fact put in a
misleading context.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from integration.appeals.letter import EvidenceFact, Letter, Sentence
from integration.mapping.loader import load_document
from integration.paths import mappings_dir

_MONTHS = {
    m: i
    for i, m in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
}
_MONTH_RE = "|".join(m.capitalize() for m in _MONTHS)

_DATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?<![\w/-])(\d{4})-(\d{2})(?:-(\d{2}))?(?![\w/-])"),
    re.compile(r"(?<![\w/])(\d{1,2})/(\d{1,2})/(\d{4})(?![\w/])"),
    re.compile(rf"\b({_MONTH_RE})\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.IGNORECASE),
    re.compile(rf"\b({_MONTH_RE})\s+(\d{{4}})\b", re.IGNORECASE),
)
_AMOUNT = re.compile(r"\$\s?(\d[\d,]*(?:\.\d+)?)")
#: a token that mixes letters and digits: codes, claim and member numbers ("L40.0", "J2327",
#: "CO-50", "UHC904417263"); a number with a unit stuck to it ("150mg") counts too
_CODE = re.compile(
    r"(?<![\w.-])(?=[A-Za-z0-9.-]*\d)(?=[A-Za-z0-9.-]*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
)
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])\d+(?:\.\d+)?")
_UNIT_WORDS = re.compile(r"^(mg|mcg|ml|g|cm|mm|kg|iu|units?)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Problem:
    sentence_id: str
    span: str
    kind: str  # unsupported-number|-date|-amount|-code|-drug|-diagnosis, contradicted
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "sentence_id": self.sentence_id,
            "span": self.span,
            "kind": self.kind,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    problems: tuple[Problem, ...]
    confirmed: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": [p.to_json() for p in self.problems],
            "confirmed": [p.to_json() for p in self.confirmed],
        }

    def message(self) -> str:
        """One line per problem: 'sentence pasi: "22": ...'."""
        return "\n".join(
            f'sentence {p.sentence_id}: "{p.span}": {p.message}' for p in self.problems
        )


@dataclass(frozen=True, slots=True)
class Vocabulary:
    drugs: tuple[str, ...]  # lower case, longest first
    diagnoses: tuple[str, ...]
    #: how a letter names each severity measure (lower case) -> the evidence's measure key
    measures: tuple[tuple[str, str], ...] = ()
    #: instrument names that contain a diagnosis word but state no diagnosis (lower case)
    instruments: tuple[str, ...] = ()
    #: ICD-10-CM prefixes of the skin and its neoplasms (the letter's diagnosis by default)
    skin_prefixes: tuple[str, ...] = ()

    def pattern(self, words: Sequence[str]) -> re.Pattern[str]:
        if not words:
            return re.compile(r"(?!)")  # matches nothing
        return re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)

    def measure_key(self, name: str) -> str:
        return dict(self.measures)[name.lower()]


@cache
def load_vocabulary(root: Path | None = None) -> Vocabulary:
    base = root or mappings_dir()
    drugs: set[str] = set()
    diagnoses: set[str] = set()
    therapy = load_document(base / "evidence" / "therapy-classes.yaml", base)
    for entry in therapy.data.get("drugs", []):
        drugs.update(str(n).lower() for n in entry.get("names", []))
    vocab = load_document(base / "letters" / "vocabulary.yaml", base)
    drugs.update(str(n).lower() for n in vocab.data.get("drugs", []))
    diagnoses.update(str(n).lower() for n in vocab.data["diagnoses"])
    measures = {
        str(name).lower(): str(key)
        for key, names in vocab.data["measures"].items()
        for name in names
    }

    def order(words: set[str]) -> tuple[str, ...]:
        return tuple(sorted(words, key=lambda w: (-len(w), w)))

    return Vocabulary(
        order(drugs),
        order(diagnoses),
        measures=tuple((name, measures[name]) for name in order(set(measures))),
        instruments=order({str(n).lower() for n in vocab.data["instruments"]}),
        skin_prefixes=tuple(str(c) for c in vocab.data["skin_diagnosis_prefixes"]),
    )


@cache
def word_patterns(vocab: Vocabulary) -> tuple[re.Pattern[str], re.Pattern[str]]:
    return vocab.pattern(vocab.drugs), vocab.pattern(vocab.diagnoses)


@cache
def measure_patterns(vocab: Vocabulary) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The measures' names, and the instrument names blanked before diagnosis words are read."""
    return (
        vocab.pattern([name for name, _key in vocab.measures]),
        vocab.pattern(vocab.instruments),
    )


# ---------------------------------------------------------------------------------------------
# Tokens


def _number(text: str) -> str | None:
    """'1,250.00' -> '1250', '15.60' -> '15.6' (no exponent)."""
    try:
        return format(Decimal(text.replace(",", "")).normalize(), "f")
    except InvalidOperation:
        return None


def _date(match: re.Match[str], index: int) -> str | None:
    g = match.groups()
    try:
        if index == 0:
            return f"{g[0]}-{g[1]}" + (f"-{g[2]}" if g[2] else "")
        if index == 1:
            return f"{int(g[2]):04d}-{int(g[0]):02d}-{int(g[1]):02d}"
        if index == 2:
            return f"{int(g[2]):04d}-{_MONTHS[g[0].lower()]:02d}-{int(g[1]):02d}"
        return f"{int(g[1]):04d}-{_MONTHS[g[0].lower()]:02d}"
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # date | amount | code | number
    span: str
    value: str  # normalised
    start: int
    end: int


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def tokens(text: str) -> list[_Token]:
    """Dates, amounts, codes and numbers of a text, in that priority (a date's digits are not
    numbers too)."""
    out: list[_Token] = []
    work = text
    for index, pattern in enumerate(_DATE_PATTERNS):
        for m in pattern.finditer(work):
            value = _date(m, index)
            if value is not None:
                out.append(_Token("date", m.group(0), value, m.start(), m.end()))
                work = _blank(work, m.start(), m.end())
    for m in _AMOUNT.finditer(work):
        amount = _number(m.group(1))
        if amount is not None:
            out.append(_Token("amount", m.group(0), amount, m.start(), m.end()))
            work = _blank(work, m.start(), m.end())
    for m in _CODE.finditer(work):
        span = m.group(0).rstrip(".")
        if re.fullmatch(r"\d+(?:\.\d+)?", span):
            continue
        letters = re.sub(r"^[\d.]+", "", span)
        if _UNIT_WORDS.match(letters) or letters == "%":
            continue  # "150mg": the number is checked below
        out.append(_Token("code", span, span.upper(), m.start(), m.start() + len(span)))
        work = _blank(work, m.start(), m.start() + len(span))
    for m in _NUMBER.finditer(work):
        number = _number(m.group(0))
        if number is not None:
            out.append(_Token("number", m.group(0), number, m.start(), m.end()))
    out.sort(key=lambda t: t.start)
    return out


@dataclass(slots=True)
class _Allowed:
    dates: set[str]
    numbers: set[str]
    amounts: set[str]
    codes: set[str]
    years: set[str]

    @classmethod
    def of(cls, facts: Iterable[EvidenceFact]) -> _Allowed:
        allowed = cls(set(), set(), set(), set(), set())
        for fact in facts:
            allowed.add_text(fact.value)
            if fact.date:
                allowed.add_text(fact.date)
        return allowed

    def add_text(self, text: str) -> None:
        for t in tokens(text):
            if t.kind == "date":
                self.dates.add(t.value)
                self.years.add(t.value[:4])
            elif t.kind == "amount":
                self.amounts.add(t.value)
                self.numbers.add(t.value)
            elif t.kind == "code":
                self.codes.add(t.value)
            else:
                self.numbers.add(t.value)

    def date_ok(self, value: str) -> bool:
        return value in self.dates or any(d.startswith(value) for d in self.dates)


# ---------------------------------------------------------------------------------------------
# The check


def _cited(sentence: Sentence, evidence: Sequence[EvidenceFact]) -> list[EvidenceFact]:
    refs = set(sentence.sources)
    return [f for f in evidence if f.source in refs]


def _measure_problems(
    sentence: Sentence,
    evidence: Sequence[EvidenceFact],
    cited: Sequence[EvidenceFact],
    vocab: Vocabulary,
) -> list[Problem]:
    out: list[Problem] = []
    work = sentence.text
    for t in tokens(work):
        if t.kind in ("date", "code", "amount"):
            work = _blank(work, t.start, t.end)
    for m in measure_patterns(vocab)[0].finditer(work):
        name = m.group(1)
        key = vocab.measure_key(name)
        window = work[m.end() : m.end() + 48]
        window = re.split(r"[;]|\.(?!\d)", window)[0]
        found = re.search(r"(?<![\w.])\d+(?:\.\d+)?", window)
        if found is None:
            continue
        value = _number(found.group(0))
        if any((t.kind, t.value) == ("number", value) for f in cited for t in tokens(f.value)):
            continue  # the sentence quotes a fact it cites (a rule's threshold, a score)
        own = [f for f in cited if f.kind == "number" and f.label == key]
        pool = own or [f for f in evidence if f.kind == "number" and f.label == key]
        if not pool:
            out.append(
                Problem(
                    sentence.id,
                    found.group(0),
                    "contradicted",
                    f"{name} {found.group(0)}: the chart has no {key} score",
                )
            )
            continue
        if any(_number(f.value) == value for f in pool):
            continue
        said = ", ".join(f"{f.value} ({f.date or 'no date'})" for f in pool[:6])
        whose = "its sources say" if own else "the chart says"
        out.append(
            Problem(
                sentence.id,
                found.group(0),
                "contradicted",
                f"{name} {found.group(0)}: {whose} {key} {said}",
            )
        )
    return out


def _word_problems(
    sentence: Sentence,
    pattern: re.Pattern[str],
    kind: str,
    evidence: Sequence[EvidenceFact],
    cited: Sequence[EvidenceFact],
    instruments: re.Pattern[str],
) -> list[Problem]:
    what = "drug" if kind == "drug" else "diagnosis"
    holders = [f.value.lower() for f in evidence if f.kind == kind]
    if kind == "diagnosis":  # pathology text states diagnoses too
        holders += [f.value.lower() for f in evidence if f.label == "pathology"]
    holders += [f.value.lower() for f in cited]
    out = []
    text = instruments.sub(lambda m: " " * len(m.group(0)), sentence.text)
    for m in pattern.finditer(text):
        word = m.group(0).lower()
        if any(re.search(rf"\b{re.escape(word)}\b", h) for h in holders):
            continue
        out.append(
            Problem(
                sentence.id,
                m.group(0),
                f"unsupported-{what}",
                f"{what} {m.group(0)!r} is not in the letter's evidence",
            )
        )
    return out


def check_sentence(
    sentence: Sentence,
    evidence: Sequence[EvidenceFact],
    *,
    allowed: _Allowed | None = None,
    vocabulary: Vocabulary | None = None,
) -> list[Problem]:
    allowed = allowed or _Allowed.of(evidence)
    vocab = vocabulary or load_vocabulary()
    drugs, diagnoses = word_patterns(vocab)
    instruments = measure_patterns(vocab)[1]
    cited = _cited(sentence, evidence)
    problems = _measure_problems(sentence, evidence, cited, vocab)
    flagged = {p.span for p in problems}
    for t in tokens(sentence.text):
        if t.span in flagged:
            continue
        if t.kind == "date":
            ok = allowed.date_ok(t.value)
        elif t.kind == "amount":
            ok = t.value in allowed.amounts
        elif t.kind == "code":
            ok = t.value in allowed.codes
        else:
            ok = t.value in allowed.numbers or (len(t.span) == 4 and t.span in allowed.years)
        if not ok:
            problems.append(
                Problem(
                    sentence.id,
                    t.span,
                    f"unsupported-{t.kind}",
                    f"{t.kind} {t.span!r} is not in the letter's evidence",
                )
            )
    problems += _word_problems(sentence, drugs, "drug", evidence, cited, instruments)
    problems += _word_problems(sentence, diagnoses, "diagnosis", evidence, cited, instruments)
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for p in problems:
        if (p.sentence_id, p.span, p.kind) not in seen:
            seen.add((p.sentence_id, p.span, p.kind))
            unique.append(p)
    return unique


def check_letter(
    letter: Letter,
    confirmed: Iterable[tuple[str, str]] = (),
    *,
    vocabulary: Vocabulary | None = None,
) -> CheckResult:
    """Every sentence of `letter` against its evidence; `confirmed` (sentence id, span) pairs are
    the clinician's own statements (span "*": the whole sentence)."""
    accepted = set(confirmed)
    allowed = _Allowed.of(letter.evidence)
    problems: list[Problem] = []
    ok_by_person: list[Problem] = []
    for sentence in letter.sentences:
        for p in check_sentence(sentence, letter.evidence, allowed=allowed, vocabulary=vocabulary):
            if (p.sentence_id, p.span) in accepted or (p.sentence_id, "*") in accepted:
                ok_by_person.append(p)
            else:
                problems.append(p)
    return CheckResult(tuple(problems), tuple(ok_by_person))
