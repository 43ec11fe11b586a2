"""Message structure validation on demand, with hl7apy's HL7 v2 definitions.

Not on the hot path (`message.py` is; see docs/hl7apy-speed.md for why hl7apy is not): call
`validate_structure` when a feed is being onboarded, when a message was rejected and someone
asks why, or in a conformance test. It answers with located issues and never raises. Its own
messages quote no field values, only segment ids, structure names and the version, so they
can be logged and sent back in an ACK's ERR; a message that cannot be tokenized gives our
tokenizer's `Hl7Error` text, which quotes up to 40 characters found where a delimiter or a
segment id should be. Nothing here logs.

What is checked, for the version in MSH-12 and the structure in MSH-9.3 (or the default
structure of MSH-9's code and event, HL7 table 0354):

1. Segment order and cardinality against the message structure: missing required segments and
   groups, segments the structure does not allow there, too many repetitions. The structure is
   hl7apy's; the matching is done here, because hl7apy's group finder (`find_groups=True`)
   drops segments it cannot place without an error, accepts them in any order, and mis-groups
   valid OML^O33 messages (its own test suite says so).
2. Field cardinality per segment (required fields, repetitions allowed), from hl7apy's segment
   definitions, and fields beyond the segment's definition.
3. Every field repetition parsed by hl7apy at STRICT level and checked with hl7apy's
   `Validator` (components defined for the data type, required components, data types,
   lengths, subcomponents in primitive values). hl7apy's `Validator.validate` stops at the
   first error of what it is given, so it is given one field repetition at a time, which also
   tells where each error is.

Z-segments are local agreements and are skipped. hl7apy's warnings (table values) are not
reported: its `Validator` only writes them to a report file, and they quote values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from hl7apy import exceptions as hl7apy_errors
from hl7apy import load_library
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Segment as Hl7apySegment
from hl7apy.parser import parse_field
from hl7apy.validation import Validator

from integration.hl7v2.errors import ErrorCode, Hl7Error, Location
from integration.hl7v2.message import Encoding, Message, Segment, parse_message

MAX_ISSUES = 50
"""Validation stops after this many issues (a wrong structure gives one per segment)."""

# HL7 table 0354 (message structure) for trigger events that share a structure; any other
# code^event is looked up as CODE_EVENT (ORU^R01 -> ORU_R01).
DEFAULT_STRUCTURES: dict[str, str] = {
    **dict.fromkeys(("ADT^A01", "ADT^A04", "ADT^A08", "ADT^A13"), "ADT_A01"),
    **dict.fromkeys(("ADT^A05", "ADT^A14", "ADT^A28", "ADT^A31"), "ADT_A05"),
    **dict.fromkeys(("ADT^A06", "ADT^A07"), "ADT_A06"),
    **dict.fromkeys(("ADT^A09", "ADT^A10", "ADT^A11"), "ADT_A09"),
    **dict.fromkeys(
        ("ADT^A21", "ADT^A22", "ADT^A23", "ADT^A25", "ADT^A26", "ADT^A27", "ADT^A29", "ADT^A32"),
        "ADT_A21",
    ),
    **dict.fromkeys(("ADT^A39", "ADT^A40", "ADT^A41", "ADT^A42"), "ADT_A39"),
    **dict.fromkeys(("SIU^S12", "SIU^S13", "SIU^S14", "SIU^S15", "SIU^S17", "SIU^S26"), "SIU_S12"),
    **dict.fromkeys(("MDM^T01", "MDM^T03", "MDM^T05", "MDM^T07", "MDM^T09", "MDM^T11"), "MDM_T01"),
    **dict.fromkeys(("MDM^T02", "MDM^T04", "MDM^T06", "MDM^T08", "MDM^T10"), "MDM_T02"),
}

_STRICT = VALIDATION_LEVEL.STRICT
_NUMBERED = re.compile(r"^[A-Z0-9_]+?_(\d+)$")
_MISSING_CHILD = re.compile(r"^Missing required child (\S+)\.(\S+)$")
_EXCEEDED_CHILD = re.compile(r"^Child limit exceeded (\S+)\.(\S+)$")
_WRONG_DATATYPE = re.compile(r"^Datatype (\S+) is not correct for (\S+)\.(\S+) ")
_INVALID_NAME = re.compile(r"^Invalid name for (\w+): (\S+)$")
_LIMIT_REACHED = re.compile(r"^Cannot add <(\w+) .*: max limit \((\d+)\) reached for <\w+ (\w+)")
# hl7apy exceptions whose text names elements only (never values): quoted in issue messages.
_NAMES_ONLY = (
    hl7apy_errors.InvalidName,
    hl7apy_errors.ChildNotFound,
    hl7apy_errors.MaxChildLimitReached,
    hl7apy_errors.OperationNotAllowed,
    hl7apy_errors.InvalidDataType,
)


@dataclass(frozen=True, slots=True)
class StructureIssue:
    """One problem, located: `message` reads `where: expected ..., got ...`."""

    location: Location
    message: str
    code: ErrorCode = ErrorCode.DATA_TYPE

    def __str__(self) -> str:
        return self.message


def validate_structure(text: str) -> list[StructureIssue]:
    """Check a message against HL7's definition of its version and structure ([] when valid).

    Never raises: a message that cannot be tokenized, an unsupported version or message type,
    and an internal error in hl7apy each give one issue.
    """
    try:
        message = parse_message(text)
        header = message.header
    except Hl7Error as error:
        return [StructureIssue(error.where, error.message, error.code)]
    except Exception as error:  # never raise for bad input
        return [_internal(error)]
    try:
        return _validate(
            message,
            header.version,
            _structure_name(header.message_code, header.trigger_event, header.structure),
        )
    except Exception as error:  # an hl7apy surprise is an issue, not a traceback
        return [_internal(error)]


def _internal(error: Exception) -> StructureIssue:
    return StructureIssue(
        Location(),
        f"message: expected hl7apy to validate the message, got {type(error).__name__}",
        ErrorCode.INTERNAL_ERROR,
    )


def _structure_name(code: str, event: str, structure: str) -> str:
    if structure:
        return structure
    if f"{code}^{event}" in DEFAULT_STRUCTURES:
        return DEFAULT_STRUCTURES[f"{code}^{event}"]
    return f"{code}_{event}" if event and code != "ACK" else code


@dataclass(slots=True)
class _Context:
    message: Message
    version: str
    structure: str
    library: Any
    issues: list[StructureIssue] = field(default_factory=list)
    misplaced: set[int] = field(default_factory=set)  # segments the structure has no place for

    def add(
        self, where: Location, expected: str, got: str, code: ErrorCode = ErrorCode.DATA_TYPE
    ) -> None:
        self.issues.append(StructureIssue(where, f"{where}: expected {expected}, got {got}", code))


def _validate(message: Message, version: str, structure: str) -> list[StructureIssue]:
    msh9 = Location(segment_id="MSH", segment_index=1, field=9)
    try:
        library = load_library(version)
    except hl7apy_errors.UnsupportedVersion:
        where = Location(segment_id="MSH", segment_index=1, field=12)
        return [
            StructureIssue(
                where,
                f"{where}: expected a version hl7apy defines (2.1 to 2.8.2), got {version[:20]!r}",
                ErrorCode.UNSUPPORTED_VERSION,
            )
        ]
    reference = library.MESSAGES.get(structure)
    if reference is None:
        return [
            StructureIssue(
                msh9,
                f"{msh9}: expected a message structure HL7 v{version} defines (MSH-9.3, or a "
                f"code^event with a default structure), got {structure[:40]!r}",
                ErrorCode.UNSUPPORTED_MESSAGE_TYPE,
            )
        ]
    context = _Context(message, version, structure, library)
    _check_sequence(context, reference)
    for segment in message.segments:
        if len(context.issues) >= MAX_ISSUES:
            break
        known = segment.id in library.SEGMENTS and segment.index not in context.misplaced
        if known and not segment.id.startswith("Z"):
            _check_segment(context, segment)
    context.issues.sort(key=lambda issue: issue.location.segment_index or 0)
    return context.issues[:MAX_ISSUES]


# --- segment order and cardinality -------------------------------------------------------
#
# The structure (a tree of sequences and choices of segments and groups, each 0..1, 1..1,
# 0..* or 1..*) is compiled to a small program and run as a Thompson NFA (a Pike VM), which
# follows every way of grouping the segments at once: no backtracking, and where it fails it
# knows which segments it could have accepted.


@dataclass(slots=True)
class _Op:
    kind: str  # "seg" (consume segment `segment`), "split" (to x and y), "jmp" (to x), "match"
    segment: str = ""
    x: int = 0
    y: int = 0


def _compile(reference: Sequence[Any]) -> list[_Op]:
    program: list[_Op] = []
    _emit_children(program, reference)
    program.append(_Op("match"))
    return program


def _emit_children(program: list[_Op], reference: Sequence[Any]) -> None:
    children = reference[1]
    if reference[0] != "choice":
        for child in children:
            _emit_child(program, child)
        return
    jumps: list[int] = []
    for number, child in enumerate(children):
        if number < len(children) - 1:
            split = len(program)
            program.append(_Op("split", x=split + 1))
            _emit_child(program, child)
            jumps.append(len(program))
            program.append(_Op("jmp"))
            program[split].y = len(program)
        else:
            _emit_child(program, child)
    for jump in jumps:
        program[jump].x = len(program)


def _emit_child(program: list[_Op], child: Sequence[Any]) -> None:
    name, reference, (low, high), kind = child[0], child[1], child[2], child[3]

    def body() -> None:
        if kind == "SEG":
            program.append(_Op("seg", name))
        else:
            _emit_children(program, reference)

    for _ in range(low):
        body()
    if high == -1:
        split = len(program)
        program.append(_Op("split", x=split + 1))
        body()
        program.append(_Op("jmp", x=split))
        program[split].y = len(program)
    else:
        for _ in range(high - low):
            split = len(program)
            program.append(_Op("split", x=split + 1))
            body()
            program[split].y = len(program)


def _closure(program: list[_Op], starts: Iterable[int]) -> frozenset[int]:
    seen: set[int] = set()
    stack = list(starts)
    while stack:
        pc = stack.pop()
        if pc in seen:
            continue
        seen.add(pc)
        op = program[pc]
        if op.kind == "split":
            stack += (op.x, op.y)
        elif op.kind == "jmp":
            stack.append(op.x)
    return frozenset(seen)


def _step(program: list[_Op], states: frozenset[int], segment_id: str) -> frozenset[int]:
    return _closure(
        program,
        (
            pc + 1
            for pc in states
            if program[pc].kind == "seg" and program[pc].segment == segment_id
        ),
    )


def _expected(program: list[_Op], states: frozenset[int]) -> list[str]:
    return sorted({program[pc].segment for pc in states if program[pc].kind == "seg"})


def _fill(
    program: list[_Op], states: frozenset[int], done: Callable[[frozenset[int]], bool], depth: int
) -> list[str] | None:
    """The fewest segments (at most `depth`) that lead from `states` to states where `done`."""
    frontier: list[tuple[frozenset[int], list[str]]] = [(states, [])]
    seen = {states}
    for _ in range(depth):
        following: list[tuple[frozenset[int], list[str]]] = []
        for current, path in frontier:
            for segment_id in _expected(program, current):
                after = _step(program, current, segment_id)
                if done(after):
                    return [*path, segment_id]
                if after not in seen:
                    seen.add(after)
                    following.append((after, [*path, segment_id]))
        frontier = following
    return None


def _names(ids: Sequence[str], limit: int = 8) -> str:
    shown = list(ids[:limit]) + (["..."] if len(ids) > limit else [])
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _check_sequence(context: _Context, reference: Sequence[Any]) -> None:
    """Run the segments through the structure; where one does not fit, say what was expected.

    A segment that does not fit is either preceded by missing segments (when up to three
    would make it fit) or is itself out of place; the first is reported only when it leaves
    fewer problems in the rest of the message. Matching goes on from there.
    """
    program = _compile(reference)
    end = len(program) - 1
    what = f"in {context.structure} (HL7 v{context.version})"
    segments = [s for s in context.message.segments if not s.id.startswith("Z")]
    states = _closure(program, [0])
    for position, segment in enumerate(segments):
        after = _step(program, states, segment.id)
        if after:
            states = after
            continue
        rest = [s.id for s in segments[position + 1 :]]
        where = Location(segment_id=segment.id, segment_index=segment.index)
        missing = _fill(program, states, partial(_accepts, program, segment.id), 3)
        if missing is not None:
            filled = states
            for segment_id in [*missing, segment.id]:
                filled = _step(program, filled, segment_id)
            if _cost(program, filled, rest) < _cost(program, states, rest):
                states = filled
                context.add(
                    where,
                    f"{' and '.join(missing)} before {segment.id} {what}",
                    repr(segment.id),
                    ErrorCode.SEGMENT_SEQUENCE,
                )
                continue
        context.misplaced.add(segment.index)
        expected = _expected(program, states)
        known = any(op.segment == segment.id for op in program)
        context.add(
            where,
            f"{_names(expected)} {what}" if expected else f"the end of the message {what}",
            f"{segment.id!r} out of order or repeated too often"
            if known
            else f"{segment.id!r}, which {context.structure} does not contain",
            ErrorCode.SEGMENT_SEQUENCE,
        )
    if end not in states:
        missing = _fill(program, states, lambda s: end in s, 12)
        last = context.message.segments[-1].index
        context.add(
            Location(segment_index=last + 1),
            f"{' and '.join(missing or _expected(program, states))} {what}",
            "the end of the message",
            ErrorCode.SEGMENT_SEQUENCE,
        )


def _accepts(program: list[_Op], segment_id: str, states: frozenset[int]) -> bool:
    return bool(_step(program, states, segment_id))


def _cost(program: list[_Op], states: frozenset[int], rest: Sequence[str]) -> int:
    """How many problems the rest of the message has from `states`, skipping misfits."""
    problems = 0
    for segment_id in rest:
        after = _step(program, states, segment_id)
        if after:
            states = after
        else:
            problems += 1
    return problems + (len(program) - 1 not in states)


# --- fields ------------------------------------------------------------------------------


def _check_segment(context: _Context, segment: Segment) -> None:
    definition = context.library.SEGMENTS[segment.id][1]
    defined = len(definition)
    header = segment.id == "MSH"
    for number, (name, _ref, (low, high), _kind) in enumerate(definition, start=1):
        where = Location(segment_id=segment.id, segment_index=segment.index, field=number)
        count = 1 if header and number <= 2 else _repetition_count(segment, number)
        if count < low:
            context.add(
                where, f"a value in required field {name}", "none", ErrorCode.REQUIRED_FIELD_MISSING
            )
        elif high != -1 and count > high:
            context.add(
                where, f"at most {high} repetition of {name}", f"{count}", ErrorCode.DATA_TYPE
            )
    for number in range(3 if header else 1, segment.field_count() + 1):
        if not segment.raw_field(number).strip():
            continue
        where = Location(segment_id=segment.id, segment_index=segment.index, field=number)
        if number > defined:
            context.add(
                where,
                f"at most {defined} fields in {segment.id} (HL7 v{context.version})",
                f"field {number}",
                ErrorCode.SEGMENT_SEQUENCE,
            )
            continue
        for rep, raw in enumerate(segment.repetitions(number), start=1):
            value = _without_nulls(raw, segment.encoding)
            if value.strip():
                _check_field(
                    context,
                    where.at(repetition=rep),
                    f"{segment.id}_{number}",
                    value,
                    segment.encoding,
                )


def _repetition_count(segment: Segment, number: int) -> int:
    # hl7apy counts a field that is blank as absent, and each repetition of one that is not.
    return len(segment.repetitions(number)) if segment.raw_field(number).strip() else 0


def _without_nulls(raw: str, encoding: Encoding) -> str:
    """HL7's explicit null `""` is a valid value of any type; hl7apy would check it as text."""
    if '""' not in raw:
        return raw
    return encoding.component.join(
        encoding.subcomponent.join(
            "" if sub == '""' else sub for sub in part.split(encoding.subcomponent)
        )
        for part in raw.split(encoding.component)
    )


def _encoding_chars(encoding: Encoding) -> dict[str, str]:
    chars = {
        "FIELD": encoding.field,
        "COMPONENT": encoding.component,
        "SUBCOMPONENT": encoding.subcomponent,
        "REPETITION": encoding.repetition,
        "ESCAPE": encoding.escape,
        "SEGMENT": "\r",
        "GROUP": "\r",
    }
    if encoding.truncation:
        chars["TRUNCATION"] = encoding.truncation
    return chars


def _check_field(
    context: _Context, where: Location, name: str, raw: str, encoding: Encoding
) -> None:
    datatype = _datatype(context, name)
    try:
        parsed = parse_field(raw, name, context.version, _encoding_chars(encoding), _STRICT)
        parent = Hl7apySegment(
            name.split("_")[0], version=context.version, validation_level=_STRICT
        )
        parent.add(parsed)
        Validator.validate(parsed)
    except hl7apy_errors.ValidationError as error:
        _validation_issue(context, where, name, datatype, str(error))
    except hl7apy_errors.MaxLengthReached as error:
        context.add(
            where,
            f"a {datatype} value of at most {error.limit} characters",
            f"{len(str(error.value))} characters",
            ErrorCode.VALUE_TOO_LONG,
        )
    except Exception as error:  # hl7apy raises ValueError and its own errors for bad values
        _parse_issue(context, where, name, datatype, error)


def _datatype(context: _Context, name: str) -> str:
    reference = context.library.FIELDS.get(name)
    return str(reference[2]) if reference and reference[2] else "valid"


def _parse_issue(
    context: _Context, where: Location, name: str, datatype: str, error: Exception
) -> None:
    text = str(error)
    invalid = _INVALID_NAME.match(text)
    if isinstance(error, hl7apy_errors.InvalidName) and invalid:
        component = _position(invalid.group(2))
        context.add(
            where.at(component=component) if component else where,
            f"only the components {datatype} defines",
            f"{invalid.group(1).lower()} {invalid.group(2)}",
        )
    elif isinstance(error, hl7apy_errors.MaxChildLimitReached) and (
        limit := _LIMIT_REACHED.match(text)
    ):
        kind, count, parent = limit.groups()
        plural = "" if count == "1" else "s"
        context.add(where, f"at most {count} {kind.lower()}{plural} in {parent}", "more")
    elif isinstance(error, _NAMES_ONLY):
        context.add(
            where,
            f"a {datatype} value hl7apy accepts for {name}",
            f"{type(error).__name__}: {text[:120]}",
        )
    else:  # the text of a ValueError and the like quotes the value (PHI): name the class only
        context.add(
            where,
            f"a {datatype} value for {name}",
            f"a value hl7apy rejects ({type(error).__name__})",
        )


def _validation_issue(
    context: _Context, where: Location, name: str, datatype: str, text: str
) -> None:
    if match := _MISSING_CHILD.match(text):
        parent, child = match.groups()
        context.add(
            _place(where, name, parent, child),
            f"a value in required {child} of {parent}",
            "none",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    elif match := _EXCEEDED_CHILD.match(text):
        parent, child = match.groups()
        context.add(_place(where, name, parent, child), f"one {child} in {parent}", "more")
    elif match := _WRONG_DATATYPE.match(text):
        got, parent, child = match.groups()
        context.add(
            _place(where, name, parent, child), f"the data type HL7 defines for {child}", f"{got}"
        )
    else:  # "Invalid children detected ..." / "Unknown element found ...": element names only
        context.add(where, f"a {datatype} value as HL7 v{context.version} defines it", text[:160])


def _place(where: Location, field_name: str, parent: str, child: str) -> Location:
    """Where an hl7apy `parent.child` path points, as far as its names tell."""
    position = _position(child)
    if position is None:
        return where
    if parent == field_name:
        return where.at(component=position)
    component = _position(parent)
    if component is not None:
        return where.at(component=component, subcomponent=position)
    return where


def _position(name: str) -> int | None:
    match = _NUMBERED.match(name)
    return int(match.group(1)) if match else None
