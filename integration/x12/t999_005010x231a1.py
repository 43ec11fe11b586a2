"""999 Implementation Acknowledgment (X12 005010X231A1): build, write and read.

- `build_999(text, problems)`: the 999s (one per functional group, as the TR3 wants one AK1 per
  transaction set) for an inbound interchange, from the located `Problem`s our readers produced
  for it plus the envelope problems `read_transactions` finds on its own. A problem inside a
  transaction set becomes an IK3 (segment id, position counting ST as 1, loop id, IK304) with an
  IK4 (element, component, IK403, a copy of the bad value) when it names an element; SE/ST
  problems become IK502..IK506 codes (and an ST02 repeated within the group IK502 23); GS/GE
  problems AK905..AK909 codes; ISA/IEA problems are left to the TA1 (`integration.x12.ta1`).
- `write_999` / `render_999`: a model to an interchange (injected clock and control numbers) or
  into a given envelope (round trips).
- `read_999(text)`: text to models plus located problems.

`classify` takes a problem's own `code`/`level` when it has one (the envelope and the readers set
them where they know the code) and otherwise maps it to a code by where it is and by the wording of
its message (rules in `x231_codes`). A transaction set whose problems are all warnings
(`Problem.severity`) is acknowledged IK501 E (accepted with errors), not R; its group AK901 E.
IK303 (element 447) is at most 4 characters: a longer loop id ("2010BA") is written as its first
4 characters (the numeric loop, "2010"). A problem with no segment position (a missing loop) adds
IK502 5 without an IK3. Every 999 we write validates under pyx12's 999.5010X231.A1 map (tests).

Checked when reading: envelope (see `envelope`), ST01 999, ST03 and GS08 005010X231 or
005010X231A1 and equal, GS01 FA, AK1 first and AK9 last, the AK2/IK3/CTX/IK4/IK5 order, the
codes of IK304, IK403, IK501, IK502..IK506, AK901 and AK905..AK909, numbers in IK302, IK401,
AK902..AK904. Element lengths and CTX content rules are not checked.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from integration.x12 import x231_codes as codes
from integration.x12.delimiters import read_delimiters
from integration.x12.envelope import (
    Clock,
    ControlNumberSource,
    EnvelopeParams,
    SegmentSpec,
    Transaction,
    TransactionContext,
    decode,
    read_transactions,
    write_new_transaction,
    write_transaction,
)
from integration.x12.errors import Problem, X12Error
from integration.x12.guide_parser import GuideParser
from integration.x12.segments import Segment, iter_segments

# -- models -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ElementPosition:
    """C030: element position in the segment, component position, repetition position."""

    element: int
    component: int | None = None
    repeat: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentContext:
    """CTX: a business unit (CLM01:claim id) or a situational trigger (segment, position...)."""

    name: str  # CTX01-1: "SITUATIONAL TRIGGER", "CLM01", "TRN02", ...
    reference: str = ""  # CTX01-2: the business unit value
    segment_id: str = ""  # CTX02
    segment_position: int | None = None  # CTX03
    loop_id: str = ""  # CTX04
    position: ElementPosition | None = None  # CTX05
    element_reference: tuple[str, ...] = ()  # CTX06 components


@dataclass(frozen=True, slots=True, kw_only=True)
class ElementNote:
    """IK4 (loop 2110): an element in error."""

    position: ElementPosition
    error_code: str  # IK403
    reference_number: str = ""  # IK402: data element reference number
    bad_value: str = ""  # IK404
    contexts: tuple[SegmentContext, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentNote:
    """IK3 (loop 2100): a segment in error."""

    segment_id: str  # IK301
    position: int  # IK302: ST = 1
    loop_id: str = ""  # IK303
    error_code: str = ""  # IK304
    contexts: tuple[SegmentContext, ...] = ()
    elements: tuple[ElementNote, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionResponse:
    """AK2 loop 2000 with its IK5: the answer for one transaction set."""

    transaction_set_id: str  # AK201 = ST01
    control_number: str  # AK202 = ST02
    implementation_reference: str = ""  # AK203 = ST03
    segments: tuple[SegmentNote, ...] = ()
    status: str = codes.ACCEPTED  # IK501
    error_codes: tuple[str, ...] = ()  # IK502..IK506

    @property
    def accepted(self) -> bool:
        return self.status in codes.ACCEPTED_STATUSES


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack999:
    """One 999 transaction set: the answer for one functional group."""

    functional_id: str  # AK101 = GS01
    group_control_number: str  # AK102 = GS06
    version: str = ""  # AK103 = GS08
    transactions: tuple[TransactionResponse, ...] = ()
    status: str = codes.ACCEPTED  # AK901
    included: int = 0  # AK902: GE01 of the group
    received: int = 0  # AK903
    accepted: int = 0  # AK904
    error_codes: tuple[str, ...] = ()  # AK905..AK909
    envelope: TransactionContext | None = field(default=None, compare=False)


# -- classifying problems -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Classification:
    """Where a problem belongs in the acknowledgments and its X12 code there."""

    level: str  # "interchange" (TA105), "group" (AK905), "transaction" (IK502),
    # "segment" (IK304), "element" (IK403)
    code: str


def _match(text: str, rules: Iterable[tuple[str, str]], default: str) -> str:
    for needle, code in rules:
        if needle in text:
            return code
    return default


def classify(problem: Problem) -> Classification:
    """The acknowledgment level and code of one of our problems: its own `code` and `level` when
    set, else by the `x231_codes` rules."""
    if problem.code is not None and problem.level is not None:
        return Classification(problem.level, problem.code)
    seg, element = problem.segment_id or "", problem.element or ""
    for level, rule_seg, rule_element, needle, code in codes.ENVELOPE_CODE_RULES:
        if rule_seg and rule_seg != seg:
            continue
        if rule_element and rule_element != element:
            continue
        if needle and needle not in problem.message:
            continue
        if level == "interchange" and element in codes.ISA_ELEMENT_NOTES:
            code = codes.ISA_ELEMENT_NOTES[element]
        if level == "transaction" and seg == "GS" and problem.transaction_control_number is None:
            return Classification("group", codes.GROUP_VERSION_NOT_SUPPORTED)
        return Classification(level, code)
    if seg in ("GS", "GE"):
        return Classification("group", "")
    if element:
        return Classification(
            "element", _match(problem.message, codes.ELEMENT_CODE_RULES, codes.ELEMENT_INVALID_CODE)
        )
    return Classification(
        "segment", _match(problem.message, codes.SEGMENT_CODE_RULES, codes.SEGMENT_UNEXPECTED)
    )


# -- building a 999 for an inbound interchange --------------------------------------------------


def _element_position(problem: Problem) -> ElementPosition | None:
    element = problem.element or ""
    digits = element[-2:]
    if len(element) < 4 or not digits.isdigit():
        return None
    return ElementPosition(int(digits), problem.component)


def _bad_value(segment: Segment | None, position: ElementPosition) -> str:
    if segment is None:
        return ""
    raw = (
        segment.get(position.element)
        if position.component is None
        else segment.component(position.element, position.component)
    )
    if any(c in raw for c in segment.delimiters.characters()):
        return ""
    return raw[:99]


def _loop_code(loop_id: str | None) -> str:
    return (loop_id or "")[:4]


def _unique(values: Iterable[str], limit: int) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        if value and value not in out:
            out.append(value)
    return tuple(out[:limit])


def _response(
    txn: Transaction, problems: Sequence[Problem], duplicate: bool
) -> TransactionResponse:
    st = txn.segments[0]
    by_index = {seg.index: seg for seg in txn.segments}
    txn_codes: list[str] = [codes.TRANSACTION_NOT_UNIQUE] if duplicate else []
    notes: dict[int, tuple[str, str, list[ElementNote], list[str]]] = {}
    rejected = duplicate or any(p.severity == "error" for p in problems)
    for problem in problems:
        kind = classify(problem)
        index = problem.segment_index
        segment = by_index.get(index) if index is not None else None
        if kind.level in ("transaction", "group", "interchange"):
            txn_codes.append(kind.code or codes.TRANSACTION_SEGMENTS_IN_ERROR)
            continue
        if segment is None or segment.id in ("ST", "SE"):
            txn_codes.append(codes.TRANSACTION_SEGMENTS_IN_ERROR)
            continue
        seg_id, loop, elements, seg_codes = notes.setdefault(
            segment.index, (segment.id, _loop_code(problem.loop_id), [], [])
        )
        if not loop and problem.loop_id:
            notes[segment.index] = (seg_id, _loop_code(problem.loop_id), elements, seg_codes)
        position = _element_position(problem) if kind.level == "element" else None
        if position is None:
            seg_codes.append(
                kind.code if kind.level == "segment" else codes.SEGMENT_HAS_ELEMENT_ERRORS
            )
            continue
        note = ElementNote(
            position=position, error_code=kind.code, bad_value=_bad_value(segment, position)
        )
        if note not in elements:
            elements.append(note)
    segment_notes = tuple(
        SegmentNote(
            segment_id=seg_id,
            position=index - st.index + 1,
            loop_id=loop,
            error_code=seg_codes[0] if seg_codes else codes.SEGMENT_HAS_ELEMENT_ERRORS,
            elements=tuple(elements),
        )
        for index, (seg_id, loop, elements, seg_codes) in sorted(notes.items())
    )
    if segment_notes:
        txn_codes.append(codes.TRANSACTION_SEGMENTS_IN_ERROR)
    error_codes = _unique(txn_codes, 5)
    ctx = txn.context
    return TransactionResponse(
        transaction_set_id=ctx.transaction_set_id,
        control_number=ctx.control_number,
        implementation_reference=ctx.implementation_reference,
        segments=segment_notes,
        status=(
            codes.REJECTED
            if error_codes and rejected
            else codes.ACCEPTED_WITH_ERRORS
            if error_codes
            else codes.ACCEPTED
        ),
        error_codes=error_codes,
    )


def _dedupe(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out: list[Problem] = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            out.append(problem)
    return out


@dataclass(slots=True)
class _Group:
    txns: list[Transaction] = field(default_factory=list)
    problems: list[list[Problem]] = field(default_factory=list)
    group_problems: list[Problem] = field(default_factory=list)
    included: int | None = None


def build_999(text: str | bytes, problems: Sequence[Problem] = ()) -> list[Ack999]:
    """The 999s acknowledging each functional group of `text`, given the problems our readers
    reported for it (the envelope's own problems are found again and de-duplicated). Empty when
    the interchange cannot be read at all (that is for a TA1)."""
    text = decode(text)
    envelope_problems: list[Problem] = []
    try:
        txns = list(read_transactions(text, envelope_problems))
        segments = list(iter_segments(text, read_delimiters(text)))
    except X12Error:
        return []
    for txn in txns:
        envelope_problems.extend(txn.problems)
    every = _dedupe([*envelope_problems, *problems])
    groups: dict[tuple[str, int | None], _Group] = {}
    ranges: list[tuple[int, int, _Group, int]] = []
    for txn in txns:
        ctx = txn.context
        key = (ctx.interchange.control_number, ctx.group.segment_index)
        group = groups.setdefault(key, _Group())
        group.txns.append(txn)
        group.problems.append([])
        ranges.append((txn.segments[0].index, txn.segments[-1].index, group, len(group.txns) - 1))
    for start, group in ((k[1], g) for k, g in groups.items()):
        if start is None:
            continue
        for seg in segments[start + 1 :]:
            if seg.id in ("GS", "IEA", "ISA"):
                break
            if seg.id == "GE":
                group.included = int(seg.get(1)) if seg.get(1).isdigit() else None
                break
    for problem in every:
        level = classify(problem).level
        if level == "interchange":
            continue
        placed = False
        if problem.segment_index is not None:
            for first, last, group, i in ranges:
                if first <= problem.segment_index <= last:
                    group.problems[i].append(problem)
                    placed = True
                    break
        if placed:
            continue
        for (icn, _), group in groups.items():
            if problem.interchange_control_number not in (None, icn):
                continue
            gcn = group.txns[0].context.group.control_number
            if problem.group_control_number not in (None, gcn):
                continue
            tcns = [t.context.control_number for t in group.txns]
            if problem.transaction_control_number in tcns:
                group.problems[tcns.index(problem.transaction_control_number)].append(problem)
                placed = True
                break
            if problem.transaction_control_number is None and (
                problem.group_control_number is not None or problem.segment_id in ("GS", "GE")
            ):
                group.group_problems.append(problem)
                placed = True
                break
    acks: list[Ack999] = []
    for group in groups.values():
        numbers = [t.context.control_number for t in group.txns]
        responses = tuple(
            _response(txn, probs, numbers.count(txn.context.control_number) > 1)
            for txn, probs in zip(group.txns, group.problems, strict=True)
        )
        group_codes = _unique(
            (classify(p).code for p in group.group_problems if classify(p).level == "group"), 5
        )
        received = len(responses)
        accepted = sum(1 for r in responses if r.accepted)
        if accepted == 0:
            status = codes.REJECTED
        elif accepted < received:
            status = codes.PARTIALLY_ACCEPTED
        elif group.group_problems or any(r.status == codes.ACCEPTED_WITH_ERRORS for r in responses):
            status = codes.ACCEPTED_WITH_ERRORS
        else:
            status = codes.ACCEPTED
        gctx = group.txns[0].context.group
        acks.append(
            Ack999(
                functional_id=gctx.functional_id,
                group_control_number=gctx.control_number,
                version=gctx.version,
                transactions=responses,
                status=status,
                included=group.included if group.included is not None else received,
                received=received,
                accepted=accepted,
                error_codes=group_codes,
            )
        )
    return acks


# -- writing ------------------------------------------------------------------------------------


def _n(value: int | None) -> str:
    return "" if value is None else str(value)


def _position(p: ElementPosition) -> tuple[str, ...]:
    return (str(p.element), _n(p.component), _n(p.repeat))


def _ctx(c: SegmentContext) -> SegmentSpec:
    return (
        "CTX",
        [
            (c.name, c.reference),
            c.segment_id,
            _n(c.segment_position),
            c.loop_id,
            _position(c.position) if c.position else "",
            c.element_reference,
        ],
    )


def _body(ack: Ack999) -> list[SegmentSpec]:
    """The 999 body in TR3 order; X12Error (located by loop and element) for bad codes."""
    problems: list[Problem] = []

    def check(ok: bool, loop: str | None, element: str, message: str) -> None:
        if not ok:
            problems.append(Problem(loop_id=loop, element=element, message=message))

    def codes_in(
        values: Sequence[str], allowed: frozenset[str], loop: str | None, name: str
    ) -> None:
        for value in values:
            check(
                value in allowed,
                loop,
                name,
                f"expected one of {', '.join(sorted(allowed))}, got {value!r}",
            )

    out: list[SegmentSpec] = [("AK1", [ack.functional_id, ack.group_control_number, ack.version])]
    for txn in ack.transactions:
        out.append(
            ("AK2", [txn.transaction_set_id, txn.control_number, txn.implementation_reference])
        )
        for note in txn.segments:
            check(
                len(note.loop_id) <= 4,
                "2100",
                "IK303",
                f"expected a loop id of at most 4 characters, got {note.loop_id!r}",
            )
            if note.error_code:
                codes_in([note.error_code], codes.SEGMENT_ERROR_CODES, "2100", "IK304")
            out.append(
                ("IK3", [note.segment_id, str(note.position), note.loop_id, note.error_code])
            )
            out.extend(_ctx(c) for c in note.contexts)
            for element in note.elements:
                codes_in([element.error_code], codes.ELEMENT_ERROR_CODES, "2110", "IK403")
                out.append(
                    (
                        "IK4",
                        [
                            _position(element.position),
                            element.reference_number,
                            element.error_code,
                            element.bad_value,
                        ],
                    )
                )
                out.extend(_ctx(c) for c in element.contexts)
        codes_in([txn.status], codes.TRANSACTION_ACK_CODES, "2000", "IK501")
        codes_in(txn.error_codes, codes.TRANSACTION_ERROR_CODES, "2000", "IK502")
        check(
            len(txn.error_codes) <= 5,
            "2000",
            "IK502",
            f"expected at most 5 error codes, got {len(txn.error_codes)}",
        )
        out.append(("IK5", [txn.status, *txn.error_codes]))
    codes_in([ack.status], codes.GROUP_ACK_CODES, None, "AK901")
    codes_in(ack.error_codes, codes.GROUP_ERROR_CODES, None, "AK905")
    check(
        len(ack.error_codes) <= 5,
        None,
        "AK905",
        f"expected at most 5 error codes, got {len(ack.error_codes)}",
    )
    out.append(
        (
            "AK9",
            [ack.status, str(ack.included), str(ack.received), str(ack.accepted), *ack.error_codes],
        )
    )
    if problems:
        raise X12Error(problems)
    return out


def render_999(ack: Ack999, context: TransactionContext, segment_suffix: str = "") -> str:
    """`ack` as one transaction set inside `context` (e.g. `ack.envelope` after a read)."""
    return write_transaction(context, _body(ack), segment_suffix)


def write_999(
    ack: Ack999,
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    *,
    segment_suffix: str = "",
) -> str:
    """One 999 in its own interchange; X12Error (located) if it cannot be written."""
    body = _body(ack)  # validate before consuming control numbers
    return write_new_transaction(
        body,
        params,
        clock,
        control_numbers,
        segment_suffix,
        transaction_set_id="999",
        implementation_reference=codes.IMPLEMENTATION_REFERENCE,
        functional_id=codes.FUNCTIONAL_ID,
    )


# -- reading ------------------------------------------------------------------------------------


class _Parser(GuideParser):
    def __init__(self, txn: Transaction) -> None:
        self.txn = txn
        self.txn_context = txn.context
        self.problems: list[Problem] = []

    def code(self, loop: str | None, seg: Segment, position: int, allowed: Collection[str]) -> str:
        value = seg.get(position)
        if value not in allowed:
            self.problem(
                loop,
                seg,
                f"expected one of {', '.join(sorted(allowed))}, got {value!r}",
                seg.name(position),
            )
        return value

    def integer(
        self, loop: str | None, seg: Segment, raw: str, position: int, component: int | None = None
    ) -> int | None:
        if not raw:
            return None
        if not raw.isdigit():
            self.problem(
                loop, seg, f"expected a number, got {raw!r}", seg.name(position), component
            )
            return None
        return int(raw)

    def required_int(self, loop: str | None, seg: Segment, position: int) -> int:
        raw = seg.get(position)
        if not raw:
            self.problem(loop, seg, "expected a number, got ''", seg.name(position))
        return self.integer(loop, seg, raw, position) or 0

    def position(self, loop: str, seg: Segment, position: int) -> ElementPosition | None:
        comps = seg.components(position)
        if not comps:
            return None
        values = [self.integer(loop, seg, c, position, i) for i, c in enumerate(comps[:3], 1)]
        values += [None] * (3 - len(values))
        if values[0] is None:
            self.problem(
                loop, seg, f"expected an element position, got {comps[0]!r}", seg.name(position), 1
            )
            return None
        return ElementPosition(values[0], values[1], values[2])

    def context(self, loop: str, seg: Segment) -> SegmentContext:
        return SegmentContext(
            name=seg.component(1, 1),
            reference=seg.component(1, 2),
            segment_id=seg.get(2),
            segment_position=self.integer(loop, seg, seg.get(3), 3),
            loop_id=seg.get(4),
            position=self.position(loop, seg, 5),
            element_reference=seg.components(6),
        )

    def header(self) -> None:
        ctx = self.txn.context
        st = self.txn.segments[0]
        if ctx.implementation_reference not in codes.READABLE_REFERENCES:
            self.problem(
                None,
                st,
                f"expected one of {', '.join(codes.READABLE_REFERENCES)}, "
                f"got {ctx.implementation_reference!r}",
                "ST03",
            )
        group_problems: list[tuple[str, str]] = []
        if ctx.group.version != ctx.implementation_reference:
            group_problems.append(
                (
                    "GS08",
                    f"expected {ctx.implementation_reference!r} (as in ST03), got {ctx.group.version!r}",
                )
            )
        if ctx.group.functional_id != codes.FUNCTIONAL_ID:
            group_problems.append(
                ("GS01", f"expected {codes.FUNCTIONAL_ID!r}, got {ctx.group.functional_id!r}")
            )
        for element, message in group_problems:
            self.problems.append(
                Problem(
                    message=message,
                    segment_id="GS",
                    segment_index=ctx.group.segment_index,
                    element=element,
                    interchange_control_number=ctx.interchange.control_number,
                    group_control_number=ctx.group.control_number,
                    transaction_control_number=ctx.control_number,
                )
            )

    def model(self) -> Ack999 | None:
        ctx = self.txn.context
        st = self.txn.segments[0]
        if ctx.transaction_set_id != "999":
            self.problem(None, st, f"expected '999', got {ctx.transaction_set_id!r}", "ST01")
            return None
        self.header()
        body = list(self.txn.body)
        if not body or body[0].id != "AK1":
            self.problem(
                None,
                body[0] if body else st,
                f"expected AK1, got {body[0].id if body else 'none'!r}",
            )
            return None
        ak1 = body[0]
        transactions: list[TransactionResponse] = []
        ak9: Segment | None = None
        i = 1
        while i < len(body):
            seg = body[i]
            if seg.id == "AK2":
                response, i = self.transaction(body, i)
                transactions.append(response)
                continue
            if seg.id == "AK9" and ak9 is None:
                ak9 = seg
            else:
                self.problem(None, seg, f"expected AK2 or AK9, got {seg.id!r}")
            i += 1
        if ak9 is None:
            self.problem(None, body[-1], "expected AK9, got none")
            return None
        status = self.code(None, ak9, 1, codes.GROUP_ACK_CODES)
        error_codes = tuple(ak9.elements[4:9])
        for n, value in enumerate(error_codes, start=5):
            if value not in codes.GROUP_ERROR_CODES:
                self.problem(
                    None,
                    ak9,
                    f"expected one of {', '.join(sorted(codes.GROUP_ERROR_CODES))}, got {value!r}",
                    ak9.name(n),
                )
        return Ack999(
            functional_id=ak1.get(1),
            group_control_number=ak1.get(2),
            version=ak1.get(3),
            transactions=tuple(transactions),
            status=status,
            included=self.required_int(None, ak9, 2),
            received=self.required_int(None, ak9, 3),
            accepted=self.required_int(None, ak9, 4),
            error_codes=error_codes,
            envelope=ctx,
        )

    def transaction(self, body: list[Segment], i: int) -> tuple[TransactionResponse, int]:
        ak2 = body[i]
        i += 1
        notes: list[SegmentNote] = []
        ik5: Segment | None = None
        while i < len(body) and body[i].id in ("IK3", "CTX", "IK4"):
            seg = body[i]
            if seg.id != "IK3":
                self.problem("2100", seg, f"expected IK3 or IK5, got {seg.id!r}")
                i += 1
                continue
            note, i = self.segment_note(body, i)
            notes.append(note)
        if i < len(body) and body[i].id == "IK5":
            ik5 = body[i]
            i += 1
        else:
            self.problem("2000", ak2, "expected IK5, got none")
        status = ""
        error_codes: tuple[str, ...] = ()
        if ik5 is not None:
            status = self.code("2000", ik5, 1, codes.TRANSACTION_ACK_CODES)
            error_codes = tuple(ik5.elements[1:6])
            for n, value in enumerate(error_codes, start=2):
                if value not in codes.TRANSACTION_ERROR_CODES:
                    self.problem(
                        "2000",
                        ik5,
                        f"expected one of {', '.join(sorted(codes.TRANSACTION_ERROR_CODES))}, "
                        f"got {value!r}",
                        ik5.name(n),
                    )
        return (
            TransactionResponse(
                transaction_set_id=ak2.get(1),
                control_number=ak2.get(2),
                implementation_reference=ak2.get(3),
                segments=tuple(notes),
                status=status,
                error_codes=error_codes,
            ),
            i,
        )

    def segment_note(self, body: list[Segment], i: int) -> tuple[SegmentNote, int]:
        ik3 = body[i]
        i += 1
        contexts: list[SegmentContext] = []
        while i < len(body) and body[i].id == "CTX":
            contexts.append(self.context("2100", body[i]))
            i += 1
        elements: list[ElementNote] = []
        while i < len(body) and body[i].id == "IK4":
            ik4 = body[i]
            i += 1
            element_contexts: list[SegmentContext] = []
            while i < len(body) and body[i].id == "CTX":
                element_contexts.append(self.context("2110", body[i]))
                i += 1
            position = self.position("2110", ik4, 1)
            if position is None:
                if not ik4.get(1):
                    self.problem("2110", ik4, "expected an element position, got ''", "IK401")
                position = ElementPosition(0)
            elements.append(
                ElementNote(
                    position=position,
                    reference_number=ik4.get(2),
                    error_code=self.code("2110", ik4, 3, codes.ELEMENT_ERROR_CODES),
                    bad_value=ik4.get(4),
                    contexts=tuple(element_contexts),
                )
            )
        if ik3.get(4):
            self.code("2100", ik3, 4, codes.SEGMENT_ERROR_CODES)
        return (
            SegmentNote(
                segment_id=ik3.get(1),
                position=self.required_int("2100", ik3, 2),
                loop_id=ik3.get(3),
                error_code=ik3.get(4),
                contexts=tuple(contexts),
                elements=tuple(elements),
            ),
            i,
        )


def read_transaction(txn: Transaction) -> tuple[Ack999 | None, list[Problem]]:
    """One 999 transaction set already split out by the envelope reader: its model (None when
    it cannot be modelled) and its problems, the transaction's envelope problems first."""
    parser = _Parser(txn)
    model = parser.model()
    return model, [*txn.problems, *parser.problems]


def read_999(text: str | bytes) -> tuple[list[Ack999], list[Problem]]:
    """Every 999 in `text`, and every problem found (empty when valid). TA1 segments between
    ISA and GS are accepted by the envelope and read by `integration.x12.ta1.read_ta1`."""
    problems: list[Problem] = []
    acks: list[Ack999] = []
    try:
        for txn in read_transactions(text, problems):
            problems.extend(txn.problems)
            parser = _Parser(txn)
            ack = parser.model()
            problems.extend(parser.problems)
            if ack is not None:
                acks.append(ack)
    except X12Error as exc:
        problems.extend(exc.problems)
    return acks, problems


__all__ = [
    "Ack999",
    "Classification",
    "ElementNote",
    "ElementPosition",
    "SegmentContext",
    "SegmentNote",
    "TransactionResponse",
    "build_999",
    "classify",
    "read_999",
    "read_transaction",
    "render_999",
    "write_999",
]
