"""Interpreter for the HL7 v2 -> FHIR maps in `mappings/hl7v2/` (the language: docs/hl7v2-mapping.md).

A message map names the message types it takes and, per FHIR resource, which segment it
comes from, how its id is made, and a body: JSON-shaped data whose strings are templates
(`"{PID-5.1}"`) and whose `$`-keys are directives from a closed list (`$value`, `$type`,
`$table`, `$each`, `$join`, `$when`, `$first`, `$required`, `$transform`). Nothing is
evaluated as code. Maps are checked and compiled once at load: every node of a body becomes
a closure chosen for its directives, constant parts are built then, and a field path becomes
a direct read of its segment. Object, list and `$first` nodes are then turned into Python
source, generated from the map alone (`_Generator`: constants as literals, field reads as
local lookups, other nodes as calls of their closures) and `compile()`d; the closures alone
stay the reference (`load_hl7_maps(generate=False)`), and a test maps every fixture and
thousands of mutated messages both ways. Mapping a message then does no parsing, no
directive lookups and no I/O.

Every error is located in the message (`OBX-5 (segment 7): expected a number, got 'abc'`);
the location is worked out when there is an error, not for every value read.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from itertools import count
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fhir.resources.R4B import get_fhir_model_class

from integration.fhir.resource_check import check_resource
from integration.hl7v2.errors import ErrorCode, Hl7Error, Location
from integration.hl7v2.message import (
    HEADER_SEGMENTS,
    Encoding,
    Message,
    Segment,
    component_of,
)
from integration.mapping.loader import MappingDocument, MappingError, iter_documents

_PATH = re.compile(
    r"^(?:(?P<seg>[A-Z][A-Z0-9]{2})-(?P<field>\d+)(?:\((?P<rep>\d+)\))?|(?P<rel>\.))"
    r"(?:\.?(?P<comp>\d+)(?:\.(?P<sub>\d+))?)?$"
)
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_DTM = re.compile(
    r"^(?P<y>\d{4})(?:(?P<mo>\d{2})(?:(?P<d>\d{2})(?:(?P<h>\d{2})(?:(?P<mi>\d{2})"
    r"(?:(?P<s>\d{2})(?:\.(?P<frac>\d{1,4}))?)?)?)?)?)?(?P<tz>[+-]\d{4})?$"
)
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
DIRECTIVES = frozenset(
    {
        "$value",
        "$type",
        "$table",
        "$each",
        "$join",
        "$blank_when",
        "$when",
        "$first",
        "$required",
        "$transform",
    }
)
TYPES = frozenset(
    {
        "string",
        "date",
        "dateTime",
        "instant",
        "decimal",
        "integer",
        "positiveInt",
        "boolean",
        "base64",
    }
)


# ---------------------------------------------------------------- paths and templates


@dataclass(frozen=True, slots=True)
class FieldPath:
    """`PID-3(2).4.1`, `.1` (relative to the repetition being iterated), `.` or `@name`."""

    text: str
    segment: str | None = None
    field: int = 0
    rep: int = 1
    component: int | None = None
    subcomponent: int | None = None
    relative: bool = False
    id_name: str | None = None

    @classmethod
    def parse(cls, text: str) -> FieldPath:
        if text.startswith("@"):
            if not re.match(r"^@[a-z][a-z0-9_-]*$", text):
                raise MappingError(f"expected an id name like @patient, got {text!r}")
            return cls(text, id_name=text[1:])
        match = _PATH.match(text)
        if not match:
            raise MappingError(
                f"expected a field path like PID-3, PID-3(2).4.1, .1 or @name, got {text!r}"
            )
        comp = int(match["comp"]) if match["comp"] else None
        sub = int(match["sub"]) if match["sub"] else None
        if match["rel"]:
            return cls(text, relative=True, component=comp, subcomponent=sub)
        return cls(
            text,
            segment=match["seg"],
            field=int(match["field"]),
            rep=int(match["rep"] or 1),
            component=comp,
            subcomponent=sub,
        )


@dataclass(frozen=True, slots=True)
class Template:
    """Literal text with `{path}` placeholders; empty if any placeholder is empty."""

    parts: tuple[str | FieldPath, ...]
    constant: str | None = None  # the text, when there are no placeholders

    @classmethod
    def parse(cls, text: str) -> Template:
        parts: list[str | FieldPath] = []
        pos = 0
        for match in _PLACEHOLDER.finditer(text):
            if match.start() > pos:
                parts.append(text[pos : match.start()])
            parts.append(FieldPath.parse(match[1].strip()))
            pos = match.end()
        if pos < len(text):
            parts.append(text[pos:])
        constant = text if all(isinstance(p, str) for p in parts) else None
        return cls(tuple(parts), constant)

    @property
    def single(self) -> FieldPath | None:
        return (
            self.parts[0] if len(self.parts) == 1 and isinstance(self.parts[0], FieldPath) else None
        )

    @property
    def is_constant(self) -> bool:
        return self.constant is not None


# ---------------------------------------------------------------- the compiled map


@dataclass(frozen=True, slots=True)
class Table:
    id: str
    values: Mapping[str, str]
    default: str | None  # "{value}" stands for the value looked up
    case_sensitive: bool


@dataclass(frozen=True, slots=True)
class IdSpec:
    """An id: a template, or a hash of values, each a template or the first non-empty of
    several (`{first: [...]}`: the order number when there is one, else a date)."""

    type: str
    hash: tuple[Template | tuple[Template, ...], ...] | None
    template: Template | None
    location: str

    @property
    def templates(self) -> tuple[Template, ...]:
        """Every template of the id, alternatives included."""
        if self.hash is None:
            return () if self.template is None else (self.template,)
        return tuple(
            t for item in self.hash for t in (item if isinstance(item, tuple) else (item,))
        )


@dataclass(frozen=True, slots=True)
class ResourceMap:
    name: str
    type: str
    for_each: str | None
    within: str | None
    when: _Cond | None
    id: IdSpec
    mode: str
    body: _Run
    make_id: _Read  # `id` compiled, memoised per message
    keep: tuple[tuple[str, Any], ...] = ()  # (element, value when nothing is stored)


@dataclass(frozen=True, slots=True)
class MessageMap:
    id: str
    version: int
    messages: frozenset[str]
    resources: tuple[ResourceMap, ...]
    path: Path


Transform = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class SegmentGroups:
    """Which segments belong to the group a segment heads, and which open it just before its
    head (mappings/hl7v2/segment-groups.yaml): a group never reads another group's."""

    members: Mapping[str, frozenset[str]] = field(default_factory=dict)
    leading: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Hl7Maps:
    """All maps, tables and shared ids, checked against each other at load."""

    by_type: Mapping[str, MessageMap]
    tables: Mapping[str, Table]
    ids: Mapping[str, IdSpec]
    transforms: Mapping[str, Transform] = field(default_factory=dict)
    groups: SegmentGroups = field(default_factory=SegmentGroups)

    def for_message(self, message_type: str) -> MessageMap | None:
        """The map of `ADT^A04` (MSH-9.1^MSH-9.2). Only the events a map lists: the structure
        in MSH-9.3 is shared by events that mean other things (SIU^S16 discontinues what
        SIU_S12 books, MDM^T10 replaces a document), so an event no map lists is refused."""
        return self.by_type.get(message_type)

    @property
    def message_types(self) -> list[str]:
        return sorted(self.by_type)


# ---------------------------------------------------------------- loading and checking


def _parse_body(node: Any, where: str, names: set[str], tables: Mapping[str, Table]) -> Any:
    """Parse templates and check directives: the map as data, ready for `_Compiler`."""
    if isinstance(node, str):
        template = Template.parse(node)
        for part in template.parts:
            if isinstance(part, FieldPath) and part.id_name and part.id_name not in names:
                raise MappingError(f"{where}: expected a known id name, got @{part.id_name}")
        return template
    if isinstance(node, list):
        return [_parse_body(item, f"{where}[{i}]", names, tables) for i, item in enumerate(node)]
    if isinstance(node, dict):
        unknown = [k for k in node if k.startswith("$") and k not in DIRECTIVES]
        if unknown:
            raise MappingError(f"{where}: expected one of {sorted(DIRECTIVES)}, got {unknown[0]}")
        out: dict[str, Any] = {}
        for key, value in node.items():
            sub = f"{where}/{key}"
            if key == "$table":
                if value not in tables:
                    raise MappingError(
                        f"{sub}: expected a table in mappings/hl7v2/tables, got {value!r}"
                    )
                out[key] = value
            elif key in ("$type", "$transform", "$required", "$join"):
                out[key] = value
            elif key == "$each":
                if not (_SEGMENT_ID.match(value) or _PATH.match(value)):
                    raise MappingError(
                        f"{sub}: expected a segment id (OBX) or field path (PID-3), got {value!r}"
                    )
                out[key] = value if _SEGMENT_ID.match(value) else FieldPath.parse(value)
            elif key in ("$when", "$blank_when"):
                out[key] = _parse_when(value, sub, names, tables)
            else:
                out[key] = _parse_body(value, sub, names, tables)
        if "$first" in out and not isinstance(out["$first"], list):
            raise MappingError(f"{where}/$first: expected a list of alternatives")
        data_keys = frozenset(k for k, v in out.items() if not k.startswith("$") and _has_data(v))
        if data_keys:
            out[_DATA_KEYS] = data_keys
        return out
    return node


_DATA_KEYS = "$$data"


def _has_data(node: Any) -> bool:
    """Whether a parsed node reads the message (constants alone don't)."""
    if isinstance(node, Template):
        return not node.is_constant
    if isinstance(node, list):
        return any(_has_data(item) for item in node)
    if isinstance(node, dict):
        if _DATA_KEYS in node or "$each" in node:
            return True
        return any(_has_data(node[k]) for k in ("$value", "$first") if k in node)
    return False


def _parse_when(node: Any, where: str, names: set[str], tables: Mapping[str, Table]) -> Any:
    out = dict(node)
    for key in ("all", "any"):
        if key in out:
            out[key] = [_parse_when(c, f"{where}/{key}", names, tables) for c in out[key]]
    for key in ("value", "present", "absent"):
        if key in out:
            out[key] = _parse_body(out[key], f"{where}/{key}", names, tables)
    return out


def _id_spec(node: Any, type_: str, where: str) -> IdSpec:
    if isinstance(node, str):
        return IdSpec(type_, None, Template.parse(node), where)
    return IdSpec(
        type_,
        tuple(
            Template.parse(t)
            if isinstance(t, str)
            else tuple(Template.parse(a) for a in t["first"])
            for t in node["hash"]
        ),
        None,
        where,
    )


@dataclass(frozen=True, slots=True)
class _ParsedResource:
    name: str
    type: str
    for_each: str | None
    within: str | None
    when: Any
    id: IdSpec
    mode: str
    body: Any
    keep: tuple[tuple[str, Any], ...] = ()


def load_hl7_maps(
    root: Path | None = None,
    transforms: Mapping[str, Transform] | None = None,
    *,
    generate: bool = True,
) -> Hl7Maps:
    """Every `hl7v2-*` mapping file, compiled; MappingError names the file and place.

    With `generate` (the default) object and list nodes are compiled to generated Python source
    (`_Generator`); without, every node is a closure: the reference the generated code is
    tested against (tests/unit/mapping/test_hl7v2_generated.py)."""
    docs = list(iter_documents(root))
    tables: dict[str, Table] = {}
    ids: dict[str, IdSpec] = {}
    groups = SegmentGroups()
    groups_doc: MappingDocument | None = None
    message_docs: list[MappingDocument] = []
    for doc in docs:
        if doc.kind == "hl7v2-table":
            default = doc.data.get("default")
            tables[doc.id] = Table(
                doc.id,
                {
                    (k if doc.data.get("case_sensitive") else str(k).upper()): str(v)
                    for k, v in doc.data["map"].items()
                },
                str(default) if default is not None else None,
                bool(doc.data.get("case_sensitive")),
            )
        elif doc.kind == "hl7v2-ids":
            for name, spec in doc.data["ids"].items():
                if name in ids:
                    raise MappingError(f"{doc.path}: ids/{name}: defined twice")
                ids[name] = _id_spec(spec, spec["type"], f"{doc.path}: ids/{name}")
        elif doc.kind == "hl7v2-groups":
            if groups_doc is not None:
                raise MappingError(
                    f"{doc.path}: segment groups already come from {groups_doc.path}"
                )
            groups_doc = doc
            groups = SegmentGroups(
                {head: frozenset(g["members"]) for head, g in doc.data["groups"].items()},
                {
                    head: frozenset(g["leading"])
                    for head, g in doc.data["groups"].items()
                    if "leading" in g
                },
            )
        elif doc.kind == "hl7v2-message-map":
            message_docs.append(doc)
    registry = dict(transforms or {})
    by_type: dict[str, MessageMap] = {}
    for doc in message_docs:
        parsed: list[_ParsedResource] = []
        names = set(ids) | {r["name"] for r in doc.data["resources"]}
        for i, res in enumerate(doc.data["resources"]):
            where = f"{doc.path}: resources[{i}] ({res['name']})"
            try:
                model = get_fhir_model_class(res["type"])
            except KeyError:
                raise MappingError(
                    f"{where}/type: expected a FHIR R4B resource type, got {res['type']!r}"
                ) from None
            for element in res.get("keep") or {}:
                if element not in model.model_fields or element in ("id", "resourceType"):
                    raise MappingError(
                        f"{where}/keep: expected an element of {res['type']}, got {element!r}"
                    )
            body = _parse_body(res["body"], f"{where}/body", names, tables)
            _check_transforms(body, registry, f"{where}/body")
            parsed.append(
                _ParsedResource(
                    name=res["name"],
                    type=res["type"],
                    for_each=res.get("for_each"),
                    within=res.get("within"),
                    when=_parse_when(res["when"], f"{where}/when", names, tables)
                    if "when" in res
                    else None,
                    id=ids[res["id"][1:]]
                    if isinstance(res["id"], str) and res["id"].startswith("@")
                    else _id_spec(res["id"], res["type"], f"{where}/id"),
                    mode=res.get("mode", "replace"),
                    body=body,
                    keep=tuple((res.get("keep") or {}).items()),
                )
            )
        message_map = MessageMap(
            doc.id,
            doc.version,
            frozenset(doc.data["messages"]),
            _compile(parsed, ids, tables, registry, generate),
            doc.path,
        )
        for message_type in message_map.messages:
            if message_type in by_type:
                raise MappingError(
                    f"{doc.path}: messages: {message_type} is already mapped by {by_type[message_type].path.name}"
                )
            by_type[message_type] = message_map
    return Hl7Maps(by_type, tables, ids, registry, groups)


def _check_transforms(node: Any, registry: Mapping[str, Transform], where: str) -> None:
    if isinstance(node, dict):
        name = node.get("$transform")
        if name is not None and name not in registry:
            raise MappingError(
                f"{where}: $transform: expected one of {sorted(registry)}, got {name!r}"
            )
        for key, value in node.items():
            _check_transforms(value, registry, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _check_transforms(item, registry, f"{where}[{i}]")


# ---------------------------------------------------------------- mapping a message


@dataclass(frozen=True, slots=True)
class MappedResource:
    type: str
    id: str
    mode: str  # replace | merge | create
    body: dict[str, Any]
    map_name: str
    # Elements the message did not give: the store keeps their stored values, and the body
    # holds the map's `keep` value for a resource not stored yet (see `map_message`).
    keep: tuple[str, ...] = ()

    @property
    def reference(self) -> str:
        return f"{self.type}/{self.id}"


@dataclass(frozen=True, slots=True)
class MappingOptions:
    """What the message doesn't say: the timezone of times sent without an offset."""

    timezone: str = "UTC"


_DEFAULT_OPTIONS = MappingOptions()
_NO_GROUPS = SegmentGroups()


class _Context:
    """One message being mapped: its delimiters, the options and the ids made so far."""

    __slots__ = ("encoding", "groups", "ids", "options", "segments")

    def __init__(
        self, encoding: Encoding, options: MappingOptions, groups: SegmentGroups | None = None
    ) -> None:
        self.encoding = encoding
        self.options = options
        self.groups = groups or _NO_GROUPS
        self.ids: dict[tuple[Any, ...], str] = {}  # (id maker, the segments it reads) -> id
        self.segments: dict[Segment, _Found] = {}


class _Scope:
    """Where a node is evaluated: the segment being iterated (none for the message), the
    segments of its group, the field repetition being iterated (if any), the enclosing scope.

    The segments a path names are looked up once per scope; a segment's group (the segments
    after it, up to the next of its kind) is worked out only if something looks in it.
    """

    __slots__ = (
        "_children",
        "_group",
        "_members",
        "_pos",
        "ctx",
        "found",
        "parent",
        "rep",
        "rep_field",
        "rep_number",
        "rep_parts",
        "segment",
    )

    def __init__(
        self,
        ctx: _Context,
        segment: Segment | None,
        parent: _Scope | None,
        members: Sequence[Segment] | None,
        group: Sequence[Segment],
        pos: int,
        rep: str | None,
        rep_field: int,
        rep_number: int,
        found: dict[str, _Found | None] | None,
    ) -> None:
        self.ctx = ctx
        self.segment = segment
        self.parent = parent
        # None: the segments of `group` after `pos`, up to the next of its kind
        self._members = members
        self._group = group
        self._pos = pos
        self.rep = rep
        self.rep_field = rep_field
        self.rep_number = rep_number
        self.rep_parts = None if rep is None else rep.split(ctx.encoding.component)
        # A field repetition finds what its segment's scope finds: it shares its lookups.
        self.found: dict[str, _Found | None] = {} if found is None else found
        self._children: dict[str, list[_Scope]] | None = None

    @property
    def members(self) -> Sequence[Segment]:
        members = self._members
        if members is None:
            group, start = self._group, self._pos + 1
            seg_id = group[self._pos].fields[0]
            end = start
            while end < len(group) and group[end].fields[0] != seg_id:
                end += 1
            leading = self.ctx.groups.leading.get(seg_id)
            if leading and end < len(group) and end > start and group[end - 1].fields[0] in leading:
                end -= 1  # the next OBR's own ORC
            members = self._members = group[start:end]
        return members

    def find(self, seg_id: str) -> Segment | None:
        found = self.found[seg_id] if seg_id in self.found else self.lookup(seg_id)
        return None if found is None else found[0]

    def lookup(self, seg_id: str) -> _Found | None:
        """The segment a path `seg_id-n` reads here (the iterated one if it has that id, the
        nearest; else the first in the nearest group that has one) and the values read from
        it so far; None when there is none."""
        current: _Scope | None = self
        while current is not None:
            segment = current.segment
            if segment is not None and segment.fields[0] == seg_id:
                break
            current = current.parent
        else:
            # None iterated: the first in this scope's group, else where the enclosing scope
            # finds one (its own iterated segments are this one's too: none has that id).
            for segment in self.members:
                if segment.fields[0] == seg_id:
                    break
            else:
                found = self._outside(seg_id)
                self.found[seg_id] = found
                return found
        return self._found(segment, seg_id)

    def _found(self, segment: Segment, seg_id: str) -> _Found:
        found = self.ctx.segments.get(segment)
        if found is None:
            found = self.ctx.segments[segment] = (segment, {})
        self.found[seg_id] = found
        return found

    def _outside(self, seg_id: str) -> _Found | None:
        """A `seg_id` segment outside this scope's group: the one that leads the group (the
        ORC right before its OBR), else where the enclosing scope finds one, unless that one
        is in or leads another group of this scope's kind (the IN2 of the second IN1 is not
        the first IN1's; an OBR without a specimen has none, not the next OBR's SPM)."""
        parent, group, head = self.parent, self._group, self.segment
        if head is None or self.rep is not None or not group:  # not a group of its own
            if parent is None:
                return None
            return parent.found[seg_id] if seg_id in parent.found else parent.lookup(seg_id)
        head_id, groups = head.fields[0], self.ctx.groups
        leads = seg_id in groups.leading.get(head_id, ())
        if leads and self._pos > 0 and group[self._pos - 1].fields[0] == seg_id:
            return self._found(group[self._pos - 1], seg_id)
        if parent is None:
            return None
        found = parent.found[seg_id] if seg_id in parent.found else parent.lookup(seg_id)
        if found is None or not (leads or seg_id in groups.members.get(head_id, ())):
            return found
        # one of this kind's own segments: not if another group of this kind holds it (it
        # lies after the first head) or leads the first one
        first = next(i for i, s in enumerate(group) if s.fields[0] == head_id)
        if leads and first > 0 and group[first - 1] is found[0]:
            return None
        if any(s is found[0] for s in group[first:]):
            return None
        return found

    def children(self, seg_id: str) -> list[_Scope]:
        """One scope per `seg_id` segment of the group: the nearest iterated segment's (a field
        repetition has none of its own), or the message's. An OBX without NTEs lists none, not
        the message's; an OBR without OBX results has none. Made once per scope: every
        resource and `$each` that iterates them shares what they look up."""
        made = self._children
        if made is None:
            made = self._children = {}
        elif seg_id in made:
            return made[seg_id]
        group = self
        while group.parent is not None and (group.segment is None or group.rep is not None):
            group = group.parent
        members = group.members
        children = made[seg_id] = [
            _Scope(self.ctx, segment, self, None, members, pos, None, 0, 0, None)
            for pos, segment in enumerate(members)
            if segment.fields[0] == seg_id
        ]
        return children

    def repetitions(self, seg_id: str, number: int, component: int | None) -> list[_Scope]:
        """One scope per non-empty repetition of field `number` (or of its `component`)."""
        found = self.found[seg_id] if seg_id in self.found else self.lookup(seg_id)
        if found is None:
            return []
        segment = found[0]
        separator = self.ctx.encoding.component
        out = []
        if number > 0 and seg_id not in HEADER_SEGMENTS:  # Segment.repetitions, shorter
            raw = segment.fields[number] if number < len(segment.fields) else ""
            reps = raw.split(segment.encoding.repetition) if raw else []
        else:
            reps = segment.repetitions(number)
        for n, rep in enumerate(reps, start=1):
            raw = rep
            if component is not None:
                parts = rep.split(separator)
                raw = parts[component - 1] if component <= len(parts) else ""
            if raw and raw != '""':
                out.append(_Scope(self.ctx, segment, self, (), (), 0, raw, number, n, self.found))
        return out

    def rep_location(self) -> Location | None:
        if self.rep is None or self.segment is None:
            return None
        return Location(
            segment_id=self.segment.fields[0],
            segment_index=self.segment.index,
            field=self.rep_field,
            repetition=self.rep_number,
        )


# A segment and the values read from it so far (by `_Compiler.value_keys`): each value is
# read once per message.
_Found = tuple[Segment, dict[int, str]]
_Run = Callable[[_Scope], Any]
_Read = Callable[[_Scope], str]
_Where = Callable[[_Scope], Location | None]
_Cond = Callable[[_Scope], object]  # truthy when the condition holds
_Typed = Callable[[Any, _Scope, _Where | None], Any]

# What a list, `$each` or object leaves out. Test `not v and v in _EMPTY`: 0 and False stay.
_EMPTY: tuple[Any, ...] = (None, "", [], {})
_SLOTS = count()


@dataclass(frozen=True, slots=True)
class _Code:
    """A compiled node: `run(scope)` gives its value (something in _EMPTY for nothing)."""

    run: _Run
    constant: bool = False  # run gives `value` (a fresh copy of it) whatever the message
    value: Any = None
    plan: _Plan | None = None  # an object or list node, for the source generator


@dataclass(frozen=True, slots=True)
class _Text:
    """A compiled template: its text ("" if a placeholder is empty), and where it reads."""

    text: _Read
    where: _Where  # only asked when there is an error


def _nowhere(scope: _Scope) -> Location | None:
    return None


def _message_wide(scope: _Scope) -> Location | None:
    return Location()


def _constant(value: Any) -> _Code:
    if isinstance(value, (dict, list)):
        return _Code(_copier(value), True, value)
    return _Code(lambda scope: value, True, value)


def _copier(value: Any) -> _Run:
    """A fresh copy of a constant dict or list each time: mapped resources share nothing."""
    nested = [
        (key, _copier(item) if isinstance(item, (dict, list)) else None, item)
        for key, item in (value.items() if isinstance(value, dict) else enumerate(value))
    ]
    if all(copy is None for _, copy, _ in nested):
        return lambda scope: value.copy()
    if len(nested) == 1:  # {coding: [...]}, [{system: ..., code: ...}]
        ((key, copy, _),) = nested
        assert copy is not None
        if isinstance(value, dict):
            return lambda scope: {key: copy(scope)}
        return lambda scope: [copy(scope)]

    def copy_nested(scope: _Scope) -> Any:
        out: Any = {} if isinstance(value, dict) else [None] * len(value)
        for key, copy, item in nested:
            out[key] = item if copy is None else copy(scope)
        return out

    return copy_nested


def _when(cond: _Cond, run: _Run) -> _Run:
    def guarded(scope: _Scope) -> Any:
        return run(scope) if cond(scope) else None

    return guarded


def _located(where: _Where | None, scope: _Scope) -> Location:
    return (where(scope) if where is not None else None) or Location()


class _Compiler:
    """Turns the parsed nodes of one message map into closures (see `_Code`); with
    `generate`, object and list nodes become generated Python source instead (`_Generator`)."""

    def __init__(
        self,
        names: Mapping[str, IdSpec],
        tables: Mapping[str, Table],
        transforms: Mapping[str, Transform],
        generate: bool = False,
    ) -> None:
        self.generate = generate
        self._plans: dict[int, _Plan] = {}  # id(run) of a generated node -> its plan
        self._keep: list[_Run] = []
        # id(read) of a field path read -> (segment id, its key in the segment's values)
        self._reads: dict[int, tuple[str, int]] = {}
        self.names = names
        self.tables = tables
        self.transforms = transforms
        self._ids: dict[int, _Read] = {}
        self._specs: list[IdSpec] = []  # kept alive, so their id() stay theirs
        # (field slot, repetition, component, subcomponent) -> its key in a segment's values
        self.value_keys: dict[tuple[int, int, int, int], int] = {}
        # Looked up when a message is mapped: an id may name a resource compiled after it.
        self.makers: dict[str, _Read] = {}
        self.makers.update({name: self.id_maker(spec) for name, spec in names.items()})

    # -- paths and templates

    def path(self, path: FieldPath) -> tuple[_Read, _Where]:
        if path.id_name is not None:
            makers, name = self.makers, path.id_name
            if name in makers:
                return makers[name], _message_wide

            def read_id(scope: _Scope) -> str:  # an id made from another one
                return makers[name](scope)

            return read_id, _message_wide
        if path.relative:
            return self._relative(path)
        assert path.segment is not None
        seg_id, number, rep = path.segment, path.field, path.rep
        component, subcomponent = path.component or 1, path.subcomponent or 1
        header = seg_id in HEADER_SEGMENTS
        read: _Read
        if number < 1 or rep < 1 or (header and number < 3):

            def read(scope: _Scope) -> str:  # the rare cases Segment.value knows
                segment = scope.find(seg_id)
                if segment is None:
                    return ""
                return segment.value(number, component, subcomponent, rep)

        else:
            slot = number - 1 if header else number  # MSH-1 is the separator itself
            keys = self.value_keys
            key = keys.setdefault((slot, rep, component, subcomponent), len(keys))

            def read(scope: _Scope) -> str:
                # Segment.value past MSH-2, for numbers known to start at 1, read once per
                # segment and message.
                found = scope.found
                entry = found[seg_id] if seg_id in found else scope.lookup(seg_id)
                if entry is None:
                    return ""
                segment, values = entry
                value = values.get(key)
                if value is not None:
                    return value
                encoding = segment.encoding
                raw = segment.fields[slot] if slot < len(segment.fields) else ""
                if raw:
                    if rep == 1:
                        raw = raw.partition(encoding.repetition)[0]
                    else:
                        reps = raw.split(encoding.repetition)
                        raw = reps[rep - 1] if rep <= len(reps) else ""
                # component_value of that repetition
                if component == 1:
                    part = raw.partition(encoding.component)[0]
                else:
                    parts = raw.split(encoding.component)
                    part = parts[component - 1] if component <= len(parts) else ""
                if part:
                    if encoding.subcomponent in part:
                        subs = part.split(encoding.subcomponent)
                        part = subs[subcomponent - 1] if subcomponent <= len(subs) else ""
                    elif subcomponent > 1:
                        part = ""
                    if part == '""':
                        part = ""
                    elif encoding.escape in part:
                        part = encoding.unescape(part)
                values[key] = part
                return part

            self._reads[id(read)] = (seg_id, key)
            self._keep.append(read)

        def where(scope: _Scope) -> Location | None:
            segment = scope.find(seg_id)
            return Location(
                segment_id=seg_id,
                segment_index=segment.index if segment else None,
                field=number,
                repetition=rep if rep > 1 else None,
                component=path.component,
                subcomponent=path.subcomponent,
            )

        return read, where

    def _relative(self, path: FieldPath) -> tuple[_Read, _Where]:
        component, subcomponent = path.component, path.subcomponent
        text = path.text

        read: _Read
        if component is None:

            def read(scope: _Scope) -> str:
                rep = scope.rep
                if rep is None:
                    raise MappingError(
                        f"{text}: a relative path needs an enclosing $each over a field"
                    )
                return scope.ctx.encoding.unescape(rep)

        else:
            sub = subcomponent or 1

            def read(scope: _Scope) -> str:  # component_value of the repetition
                parts = scope.rep_parts
                if parts is None:
                    raise MappingError(
                        f"{text}: a relative path needs an enclosing $each over a field"
                    )
                return component_of(parts, scope.ctx.encoding, component, sub)

        def where(scope: _Scope) -> Location | None:
            here = scope.rep_location() or Location()
            if component is None:
                return here
            return here.at(component=component, subcomponent=subcomponent)

        return read, where

    def template(self, template: Template) -> _Text:
        if template.constant is not None:
            constant = template.constant
            return _Text(lambda scope: constant, _nowhere)
        single = template.single
        if single is not None:
            return _Text(*self.path(single))
        prefix = ""
        reads: list[tuple[_Read, str]] = []  # each placeholder, and the literal text after it
        located: list[tuple[_Read, _Where]] = []
        for part in template.parts:
            if isinstance(part, str):
                if reads:
                    reads[-1] = (reads[-1][0], reads[-1][1] + part)
                else:
                    prefix += part
            else:
                read, where = self.path(part)
                reads.append((read, ""))
                located.append((read, where))

        text: _Read
        if len(reads) == 1:  # "Patient/{@patient}"
            ((read, after),) = reads

            def text(scope: _Scope) -> str:
                value = read(scope)
                return prefix + value + after if value else ""

        else:

            def text(scope: _Scope) -> str:
                out = prefix
                for read, after in reads:
                    value = read(scope)
                    if not value:
                        return ""
                    out = out + value + after
                return out

        def first_where(scope: _Scope) -> Location | None:
            # The empty placeholder's location, else the first placeholder's.
            first: Location | None = None
            for read, where in located:
                empty = not read(scope)
                here = where(scope)
                first = first or here
                if empty:
                    return here
            return first

        return _Text(text, first_where)

    # -- ids

    def id_maker(self, spec: IdSpec) -> _Read:
        """The id `spec` gives in a scope, memoised per message by the segments it reads (an
        id like @patient is asked for by every resource of a message)."""
        found = self._ids.get(id(spec))
        if found is not None:
            return found
        make = self._make_id(spec)
        segments = self._segments(spec, ())
        slot = next(_SLOTS)
        maker: _Read
        if segments is None:
            maker = make  # relative paths, or an unknown or circular @name: made each time
        elif len(segments) == 1:
            (one,) = segments

            def maker(scope: _Scope) -> str:
                found = scope.found
                entry = found[one] if one in found else scope.lookup(one)
                key = (slot, None if entry is None else entry[0])
                ids = scope.ctx.ids
                value = ids.get(key)
                if value is None:
                    value = ids[key] = make(scope)
                return value

        else:

            def maker(scope: _Scope) -> str:
                key = (slot, *map(scope.find, segments))
                ids = scope.ctx.ids
                value = ids.get(key)
                if value is None:
                    value = ids[key] = make(scope)
                return value

        self._specs.append(spec)
        self._ids[id(spec)] = maker
        return maker

    def _segments(self, spec: IdSpec, seen: tuple[int, ...]) -> tuple[str, ...] | None:
        """The segment ids whose segments decide the id `spec` gives (an id is the same
        wherever they are the same), or None when that can't be told."""
        if id(spec) in seen:
            return None
        out: list[str] = []
        for template in spec.templates:
            for part in template.parts:
                if isinstance(part, str):
                    continue
                if part.relative:
                    return None
                if part.id_name is not None:
                    named = self.names.get(part.id_name)
                    found = None if named is None else self._segments(named, (*seen, id(spec)))
                    if found is None:
                        return None
                    out.extend(found)
                else:
                    assert part.segment is not None
                    out.append(part.segment)
        return tuple(dict.fromkeys(out))

    def _make_id(self, spec: IdSpec) -> _Read:
        type_, purpose = spec.type, f"to identify the {spec.type}"
        if spec.template is not None:
            template = self.template(spec.template)

            def from_template(scope: _Scope) -> str:
                value = template.text(scope)
                if not value:
                    _raise_missing(template.where(scope), purpose)
                if not _FHIR_ID.match(value):
                    value = _hash_id(type_, [value])
                return value

            return from_template
        assert spec.hash is not None
        compiled = {id(t): self.template(t) for t in spec.templates}
        templates = list(compiled.values())
        texts = [
            self._first_text([compiled[id(t)] for t in item])
            if isinstance(item, tuple)
            else compiled[id(item)].text
            for item in spec.hash
        ]

        def from_hash(scope: _Scope) -> str:
            values = []
            for text in texts:
                values.append(text(scope))
            if not any(values):
                wheres = (template.where(scope) for template in templates)
                _raise_missing(next((w for w in wheres if w is not None), None), purpose)
            return _hash_id(type_, values)

        return from_hash

    @staticmethod
    def _first_text(alternatives: list[_Text]) -> _Read:
        texts = [alternative.text for alternative in alternatives]

        def first(scope: _Scope) -> str:
            for text in texts:
                value = text(scope)
                if value:
                    return value
            return ""

        return first

    # -- body

    def node(self, node: Any) -> _Code:
        if isinstance(node, Template):
            if node.constant is not None:
                return _constant(node.constant or None)
            return _Code(self.template(node).text)
        if isinstance(node, list):
            return self._list(node)
        if isinstance(node, dict):
            cond = self.cond(node["$when"]) if "$when" in node else None
            required = bool(node.get("$required"))
            if "$each" in node:
                code = self._each(node, cond)
            elif "$first" in node:
                code = self._first(node, required, cond)
            elif "$value" in node:
                code = self._value(node, required, cond)
            else:
                code = self._object(node, required, cond)
            if cond is not None and code.constant:
                return _Code(_when(cond, code.run))
            return code
        return _constant(node)

    # Each builder below checks `cond` (the node's `$when`) first, unless what it builds is a
    # constant: `node` guards that one.

    def _list(self, node: list[Any]) -> _Code:
        items: list[tuple[_Run | None, Any, bool]] = []  # (run, or the constant; spread)
        constant = True
        for item in node:
            code = self.node(item)
            constant = constant and code.constant
            if code.constant and not isinstance(code.value, (dict, list)):
                if code.value or code.value not in _EMPTY:
                    items.append((None, code.value, False))
            else:
                spread = isinstance(item, dict) and "$each" in item and "$join" not in item
                items.append((code.run, code.value, spread))
        if constant:
            return _constant([value for _, value, _ in items] or None)
        if self.generate:
            plan: _Plan = _ListPlan(
                tuple((self._item_code(run, value), spread) for run, value, spread in items)
            )
            return self._generated(plan)
        if len(items) == 1 and not items[0][2]:
            single = items[0][0]
            assert single is not None

            def one(scope: _Scope) -> Any:
                value = single(scope)
                return [value] if value or value not in _EMPTY else None

            return _Code(one)

        def run_list(scope: _Scope) -> Any:
            out: list[Any] = []
            for run, value, spread in items:
                if run is not None:
                    value = run(scope)
                    if spread and isinstance(value, list):
                        out.extend(value)
                        continue
                    if not value and value in _EMPTY:
                        continue
                out.append(value)
            return out or None

        return _Code(run_list)

    def _object(self, node: Mapping[str, Any], required: bool, cond: _Cond | None) -> _Code:
        entries: list[tuple[str, _Run | None, Any]] = []  # (key, run, or the constant)
        constant = True
        for key, value in node.items():
            if key.startswith("$"):
                continue
            code = self.node(value)
            constant = constant and code.constant
            if code.constant and not isinstance(code.value, (dict, list)):
                if code.value or code.value not in _EMPTY:
                    entries.append((key, None, code.value))
            else:
                entries.append((key, code.run, code.value))
        name = node.get("$transform")
        if constant and name is None and (entries or not required):
            return _constant({key: value for key, _, value in entries} or None)
        # Constants decorate data; they don't stand alone when the data is absent.
        data_keys = tuple(node.get(_DATA_KEYS, ()))
        if all(key in data_keys for key, _, _ in entries):
            data_keys = ()  # what is there is data
        transform = None if name is None else self._transform(name)
        if self.generate:
            single_entry = len(entries) == 1 and entries[0][1] is not None
            plan = _ObjectPlan(
                tuple((key, self._item_code(run, value)) for key, run, value in entries),
                cond,
                required,
                () if single_entry else data_keys,
                transform,
            )
            return self._generated(plan)
        if len(entries) == 1 and entries[0][1] is not None:
            key, single, _ = entries[0]
            assert single is not None

            def run_single(scope: _Scope) -> Any:
                if cond is not None and not cond(scope):
                    return None
                value = single(scope)
                if not value and value in _EMPTY:
                    if required:
                        _raise_missing(None, "")
                    return None
                return {key: value} if transform is None else transform({key: value})

            return _Code(run_single)

        dynamic = [(key, run) for key, run, _ in entries if run is not None]
        if len(dynamic) < len(entries):
            dynamic = []  # constants among them: the general loop

        def run_object(scope: _Scope) -> Any:
            if cond is not None and not cond(scope):
                return None
            obj: dict[str, Any] = {}
            if dynamic:
                for key, run in dynamic:
                    value = run(scope)
                    if value or value not in _EMPTY:
                        obj[key] = value
            else:
                for key, run_or_none, value in entries:
                    if run_or_none is not None:
                        value = run_or_none(scope)
                        if not value and value in _EMPTY:
                            continue
                    obj[key] = value
            if not obj:
                if required:
                    _raise_missing(None, "")
                return None
            if data_keys:
                for key in data_keys:
                    if key in obj:
                        break
                else:
                    if required:
                        _raise_missing(None, "")
                    return None
            return obj if transform is None else transform(obj)

        return _Code(run_object)

    def _generated(self, plan: _Plan) -> _Code:
        run = _Generator.function(plan)
        self._plans[id(run)] = plan
        self._keep.append(run)  # so its id() stays its own
        return _Code(run, plan=plan)

    def _item_code(self, run: _Run | None, value: Any) -> _Code:
        """An entry of an object or list node as `_Generator` takes it."""
        if run is None:
            return _Code(lambda scope: value, True, value)
        plan = self._plans.get(id(run))
        if plan is not None:
            return _Code(run, False, None, plan)
        if id(run) in self._reads:
            seg_id, key = self._reads[id(run)]
            return _Code(run, False, None, _ReadPlan(seg_id, key, run))
        if isinstance(value, (dict, list)):  # a constant dict or list: `run` copies it
            return _Code(run, True, value)
        return _Code(run)

    def _transform(self, name: str) -> Transform:
        registry = self.transforms
        if name in registry:
            return registry[name]
        return lambda obj: registry[name](obj)  # KeyError, as it always was

    def _each(self, node: Mapping[str, Any], cond: _Cond | None) -> _Code:
        each = node["$each"]
        if isinstance(each, FieldPath) and each.relative:
            text = each.text

            def relative(scope: _Scope) -> Any:
                if cond is not None and not cond(scope):
                    return None
                raise MappingError(f"$each: {text}: expected a segment id or field path")

            return _Code(relative)
        inner = self.node(
            {k: v for k, v in node.items() if k not in ("$each", "$when", "$join", "$blank_when")}
        )
        run = inner.run
        join = node.get("$join")
        blank = self.cond(node["$blank_when"]) if "$blank_when" in node else None

        if isinstance(each, str):
            args: tuple[Any, ...] = (each,)
            iterate: Callable[..., list[_Scope]] = _Scope.children
        else:
            args = (each.segment, each.field, each.component)
            iterate = _Scope.repetitions

        def run_each(scope: _Scope) -> Any:
            if cond is not None and not cond(scope):
                return None
            items = []
            for child in iterate(scope, *args):
                value = run(child)
                if value or value not in _EMPTY:
                    items.append(value)
                elif blank is not None and items and blank(child):
                    items.append("")  # a blank line inside the text, kept ($blank_when)
            if join is not None:
                while items and items[-1] == "":
                    items.pop()  # and none after it
                return join.join(str(i) for i in items) or None
            return items or None

        return _Code(run_each)

    def _first(self, node: Mapping[str, Any], required: bool, cond: _Cond | None) -> _Code:
        alternatives: list[_Run] = []
        codes: list[_Code] = []
        for alternative in node["$first"]:
            code = self.node(alternative)
            if code.constant and not code.value and code.value in _EMPTY:
                continue  # never gives a value
            alternatives.append(code.run)
            codes.append(code if code.constant else self._item_code(code.run, code.value))
            if code.constant:
                break  # always gives one: the rest are never asked
        typed = self._typed(node)
        if self.generate:
            return self._generated(_FirstPlan(tuple(codes), typed, required, cond))

        def first(scope: _Scope) -> Any:
            if cond is not None and not cond(scope):
                return None
            for alternative in alternatives:
                value = alternative(scope)
                if value or value not in _EMPTY:
                    return value if typed is None else typed(value, scope, None)
            if required:
                _raise_missing(None, "")
            return None

        return _Code(first)

    def _value(self, node: Mapping[str, Any], required: bool, cond: _Cond | None) -> _Code:
        source = node["$value"]
        typed = self._typed(node)
        if not isinstance(source, Template):
            code = self.node(source).run

            def computed(scope: _Scope) -> Any:
                if cond is not None and not cond(scope):
                    return None
                raw = code(scope)
                if raw in (None, ""):
                    if required:
                        _raise_missing(None, "")
                    return None
                return raw if typed is None else typed(raw, scope, None)

            return _Code(computed)
        if source.constant is not None:
            constant = source.constant
            if constant and typed is None:
                return _constant(constant)

            def fixed(scope: _Scope) -> Any:
                if cond is not None and not cond(scope):
                    return None
                if not constant:
                    if required:
                        _raise_missing(None, "")
                    return None
                return constant if typed is None else typed(constant, scope, None)

            return _Code(fixed)
        template = self.template(source)
        text, where = template.text, template.where
        if typed is None and not required:
            return _Code(text if cond is None else _when(cond, text))
        table = self.tables[node["$table"]] if "$table" in node else None
        type_ = node.get("$type", "string")
        convert = _datetime if type_ in ("date", "dateTime", "instant") else _convert

        def read(scope: _Scope) -> Any:  # `typed`, inlined
            if cond is not None and not cond(scope):
                return None
            raw: str | None = text(scope)
            if not raw:
                if required:
                    _raise_missing(where(scope), "")
                return None
            if table is not None:
                raw = _lookup(table, raw, where, scope)
                if raw is None:
                    return None
            if type_ == "string":
                return raw
            return convert(raw, type_, scope.ctx.options, lambda: _located(where, scope))

        return _Code(read)

    def _typed(self, node: Mapping[str, Any]) -> _Typed | None:
        """`$table`, then `$type`; None when the value stays as it is."""
        table = self.tables[node["$table"]] if "$table" in node else None
        type_ = node.get("$type", "string")
        if table is None and type_ == "string":
            return None

        def typed(value: Any, scope: _Scope, where: _Where | None) -> Any:
            if table is not None:
                value = _lookup(table, str(value), where, scope)
                if value is None:
                    return None
            if type_ == "string":
                return value
            return _convert(str(value), type_, scope.ctx.options, lambda: _located(where, scope))

        return typed

    def cond(self, cond: Mapping[str, Any]) -> _Cond:
        if "all" in cond or "any" in cond:
            conds = [self.cond(c) for c in cond["all" if "all" in cond else "any"]]
            if len(conds) == 2:
                one, two = conds
                if "all" in cond:
                    return lambda scope: one(scope) and two(scope)
                return lambda scope: one(scope) or two(scope)
            if "all" in cond:
                return lambda scope: all(c(scope) for c in conds)
            return lambda scope: any(c(scope) for c in conds)
        if "present" in cond:
            present = self.node(cond["present"]).run
            if isinstance(cond["present"], Template):
                return present  # its text: "" when absent
            return lambda scope: bool(present(scope))
        if "absent" in cond:
            absent = self.node(cond["absent"]).run
            return lambda scope: not absent(scope)
        text = self._text(cond["value"])
        if "in" in cond:
            allowed = frozenset(str(v) for v in cond["in"])
            return lambda scope: text(scope) in allowed
        if "not_in" in cond:
            refused = frozenset(str(v) for v in cond["not_in"])
            return lambda scope: text(scope) not in refused
        if "equals" in cond:
            equals = str(cond["equals"])
            return lambda scope: text(scope) == equals
        return lambda scope: bool(text(scope))

    def _text(self, node: Any) -> _Read:
        """A node's value as text for a condition ("" for none)."""
        if isinstance(node, Template) and node.constant is None:
            return self.template(node).text
        run = self.node(node).run

        def text(scope: _Scope) -> str:
            value = run(scope)
            return "" if value is None else str(value)

        return text


def _compile(
    parsed: Sequence[_ParsedResource],
    ids: Mapping[str, IdSpec],
    tables: Mapping[str, Table],
    transforms: Mapping[str, Transform],
    generate: bool,
) -> tuple[ResourceMap, ...]:
    """The resources of one message map; `@name` means the same in all of them."""
    names = dict(ids)
    names.update({r.name: r.id for r in parsed})
    compiler = _Compiler(names, tables, transforms, generate)
    return tuple(
        ResourceMap(
            name=r.name,
            type=r.type,
            for_each=r.for_each,
            within=r.within,
            when=None if r.when is None else compiler.cond(r.when),
            id=r.id,
            mode=r.mode,
            body=compiler.node(r.body).run,
            make_id=compiler.id_maker(r.id),
            keep=r.keep,
        )
        for r in parsed
    )


# ---------------------------------------------------------------- generated source


@dataclass(frozen=True, slots=True)
class _ObjectPlan:
    """An object node: its entries (key, compiled value) in order, and its directives."""

    entries: tuple[tuple[str, _Code], ...]
    cond: _Cond | None
    required: bool
    data_keys: tuple[str, ...]  # one of them must be there ("" for no such rule)
    transform: Transform | None


@dataclass(frozen=True, slots=True)
class _ListPlan:
    """A list node: its items (compiled value, spread: an `$each` whose items are listed)."""

    items: tuple[tuple[_Code, bool], ...]


@dataclass(frozen=True, slots=True)
class _ReadPlan:
    """A field path read (`"{OBR-4.2}"`): the value read so far, else `read` reads it."""

    segment: str
    key: int
    read: _Run


@dataclass(frozen=True, slots=True)
class _FirstPlan:
    """A `$first` node: the first alternative with a value, `$table`/`$type` applied."""

    alternatives: tuple[_Code, ...]
    typed: _Typed | None
    required: bool
    cond: _Cond | None


_Plan = _ObjectPlan | _ListPlan | _ReadPlan | _FirstPlan

_LITERAL_TYPES = (str, int, bool, type(None))


def _literal(value: Any) -> str | None:
    """Python source that builds a fresh copy of a constant, or None if it has no literal."""
    if type(value) in _LITERAL_TYPES:
        return repr(value)
    if type(value) is float:
        return repr(value) if value == value and abs(value) != float("inf") else None
    if type(value) is dict:
        parts = []
        for key, item in value.items():
            key_text, item_text = _literal(key), _literal(item)
            if key_text is None or item_text is None:
                return None
            parts.append(f"{key_text}: {item_text}")
        return "{" + ", ".join(parts) + "}"
    if type(value) is list:
        items = [_literal(item) for item in value]
        if any(item is None for item in items):
            return None
        return "[" + ", ".join(items) + "]"  # type: ignore[arg-type]
    return None


class _Generator:
    """Python source for an object or list node and every object and list inside it, inlined:
    constant parts are literals, anything else a call of its closure. The statements do what
    `_Compiler._object` and `_list` do, in the same order; `compile()`d once at load."""

    def __init__(self) -> None:
        self.lines = ["def run(scope):"]
        self.names: dict[str, Any] = {"_EMPTY": _EMPTY, "_raise_missing": _raise_missing}
        self._ids: dict[int, str] = {}
        self._vars = count()
        self.segments: dict[str, str] = {}  # segment id -> the variable holding what it found

    @classmethod
    def function(cls, plan: _Plan) -> _Run:
        generator = cls()
        result = generator.emit(plan, 1)
        generator.lines.append(f"    return {result}")
        if generator.segments:  # what each segment read finds, looked up once per call
            hoisted = ["    found = scope.found"]
            for seg_id, var in generator.segments.items():
                hoisted.append(
                    f"    {var} = found[{seg_id!r}] if {seg_id!r} in found "
                    f"else scope.lookup({seg_id!r})"
                )
            generator.lines[1:1] = hoisted
        source = "\n".join(generator.lines)
        exec(compile(source, "<hl7v2 map>", "exec"), generator.names)  # noqa: S102
        run: _Run = generator.names["run"]
        run.source = source  # type: ignore[attr-defined]
        return run

    def name(self, obj: Any) -> str:
        """A global of the generated code bound to `obj`."""
        found = self._ids.get(id(obj))
        if found is None:
            found = self._ids[id(obj)] = f"_g{len(self.names)}"
            self.names[found] = obj
        return found

    def var(self) -> str:
        return f"v{next(self._vars)}"

    def value(self, code: _Code, indent: int) -> str:
        """An expression for the value of `code` (statements before it as needed)."""
        if code.plan is not None:
            return self.emit(code.plan, indent)
        if code.constant:
            literal = _literal(code.value)
            if literal is not None:
                return literal
            if isinstance(code.value, (dict, list)):
                return f"{self.name(code.run)}(scope)"
            return self.name(code.value)
        out = self.var()
        self.lines.append(f"{'    ' * indent}{out} = {self.name(code.run)}(scope)")
        return out

    def emit(self, plan: _Plan, indent: int) -> str:
        """Statements leaving the node's value in a variable (None, or empty, for nothing)."""
        if isinstance(plan, _ListPlan):
            return self._list(plan, indent)
        if isinstance(plan, _ReadPlan):
            return self._read(plan, indent)
        if isinstance(plan, _FirstPlan):
            return self._first(plan, indent)
        return self._object(plan, indent)

    def _first(self, plan: _FirstPlan, indent: int) -> str:
        lines, result = self.lines, self.var()
        if plan.cond is not None:
            lines.append(f"{'    ' * indent}{result} = None")
            lines.append(f"{'    ' * indent}if {self.name(plan.cond)}(scope):")
            indent += 1
        typed = None if plan.typed is None else self.name(plan.typed)
        for code in plan.alternatives:
            pad = "    " * indent
            value = self.value(code, indent)
            found = value if typed is None else f"{typed}({value}, scope, None)"
            if code.constant:  # never empty: the last alternative
                lines.append(f"{pad}{result} = {found}")
                return result
            lines.append(f"{pad}if {value} or {value} not in _EMPTY:")
            lines.append(f"{pad}    {result} = {found}")
            lines.append(f"{pad}else:")
            indent += 1
        pad = "    " * indent
        if plan.required:
            lines.append(f"{pad}_raise_missing(None, '')")
        lines.append(f"{pad}{result} = None")
        return result

    def _read(self, plan: _ReadPlan, indent: int) -> str:
        pad, out = "    " * indent, self.var()
        entry = self.segments.setdefault(plan.segment, f"e_{plan.segment}")
        self.lines.append(f"{pad}{out} = '' if {entry} is None else {entry}[1].get({plan.key})")
        self.lines.append(f"{pad}if {out} is None:")
        self.lines.append(f"{pad}    {out} = {self.name(plan.read)}(scope)")
        return out

    def _kept(self, code: _Code) -> bool:
        """Whether the value needs the emptiness test (constants are never empty here)."""
        return not code.constant

    def _list(self, plan: _ListPlan, indent: int) -> str:
        pad, lines = "    " * indent, self.lines
        out = self.var()
        lines.append(f"{pad}{out} = []")
        for code, spread in plan.items:
            value = self.value(code, indent)
            if not self._kept(code):
                lines.append(f"{pad}{out}.append({value})")
            elif spread:
                lines.append(f"{pad}if isinstance({value}, list):")
                lines.append(f"{pad}    {out}.extend({value})")
                lines.append(f"{pad}elif {value} or {value} not in _EMPTY:")
                lines.append(f"{pad}    {out}.append({value})")
            else:
                lines.append(f"{pad}if {value} or {value} not in _EMPTY:")
                lines.append(f"{pad}    {out}.append({value})")
        lines.append(f"{pad}{out} = {out} or None")
        return out

    def _object(self, plan: _ObjectPlan, indent: int) -> str:
        lines = self.lines
        result = self.var()
        if plan.cond is not None:
            lines.append(f"{'    ' * indent}{result} = None")
            lines.append(f"{'    ' * indent}if {self.name(plan.cond)}(scope):")
            indent += 1
        pad = "    " * indent
        out = self.var()
        lines.append(f"{pad}{out} = {{}}")
        for key, code in plan.entries:
            value = self.value(code, indent)
            if not self._kept(code):
                lines.append(f"{pad}{out}[{key!r}] = {value}")
            else:
                lines.append(f"{pad}if {value} or {value} not in _EMPTY:")
                lines.append(f"{pad}    {out}[{key!r}] = {value}")
        missing = [f"{pad}    _raise_missing(None, '')"] if plan.required else []
        lines.append(f"{pad}if not {out}:")
        lines.extend(missing)
        lines.append(f"{pad}    {result} = None")
        if plan.data_keys:
            present = " or ".join(f"{key!r} in {out}" for key in plan.data_keys)
            lines.append(f"{pad}elif not ({present}):")
            lines.extend(missing)
            lines.append(f"{pad}    {result} = None")
        lines.append(f"{pad}else:")
        if plan.transform is None:
            lines.append(f"{pad}    {result} = {out}")
        else:
            lines.append(f"{pad}    {result} = {self.name(plan.transform)}({out})")
        return result


# ---------------------------------------------------------------- values


def _lookup(table: Table, value: str, where: _Where | None, scope: _Scope) -> str | None:
    key = value if table.case_sensitive else value.upper()
    found = table.values.get(key)
    if found is not None:
        return found
    if table.default is not None:
        return table.default.replace("{value}", value) or None
    raise Hl7Error(
        _located(where, scope),
        f"a value from table {table.id} ({', '.join(sorted(table.values)[:12])})",
        value,
        ErrorCode.TABLE_VALUE_NOT_FOUND,
    )


def _raise_missing(where: Location | None, purpose: str) -> NoReturn:
    """A required value is empty: HL7 101 at its field, or 100 when its whole segment is absent.

    A segment the message does not have has no position to point at, so the error names the
    segment itself (`SCH: expected a SCH segment (to identify the Appointment)`).
    """
    if where is not None and where.segment_id and where.segment_index is None:
        why = f" ({purpose})" if purpose else ""
        raise Hl7Error(
            Location(segment_id=where.segment_id),
            f"a {where.segment_id} segment{why}",
            None,
            ErrorCode.SEGMENT_SEQUENCE,
        )
    raise Hl7Error(
        where or Location(),
        f"a value {purpose}".rstrip(),
        "",
        ErrorCode.REQUIRED_FIELD_MISSING,
    )


def _hash_id(type_: str, values: Iterable[str]) -> str:
    digest = hashlib.sha256("|".join([type_, *values]).encode("utf-8")).hexdigest()
    return digest[:32]


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        raise MappingError(
            f"timezone: expected an IANA name such as America/Chicago, got {name!r}"
        ) from None


def convert(value: str, type_: str, where: Location, options: MappingOptions) -> Any:
    """An HL7 value as a FHIR primitive; a value that doesn't fit raises a located error."""
    return _convert(value, type_, options, lambda: where)


def _convert(value: str, type_: str, options: MappingOptions, where: Callable[[], Location]) -> Any:
    if type_ in ("date", "dateTime", "instant"):
        return _datetime(value, type_, options, where)
    if type_ == "decimal":
        text = value.strip()
        if not _DECIMAL.match(text):
            raise Hl7Error(where(), "expected a number", value)
        return float(text) if "." in text else int(text)
    if type_ in ("integer", "positiveInt"):
        text = value.strip()
        if not text.lstrip("+-").isdigit() or (type_ == "positiveInt" and int(text) < 1):
            raise Hl7Error(
                where(),
                f"expected {'a positive' if type_ == 'positiveInt' else 'an'} integer",
                value,
            )
        return int(text)
    if type_ == "boolean":
        upper = value.strip().upper()
        if upper in ("Y", "YES", "T", "TRUE", "1"):
            return True
        if upper in ("N", "NO", "F", "FALSE", "0"):
            return False
        raise Hl7Error(where(), "expected Y or N", value)
    if type_ == "base64":
        return base64.b64encode(value.encode("utf-8")).decode("ascii")
    raise MappingError(f"$type: expected one of {sorted(TYPES)}, got {type_!r}")


def _datetime(
    value: str, type_: str, options: MappingOptions, where: Callable[[], Location]
) -> str | None:
    """An HL7 DTM/DT as a FHIR date/dateTime/instant (None: an instant from a value with no
    time to the minute). A message repeats its stamps (MSH-7, OBR-7, every OBX-14 ...) and a
    feed its dates: results are kept, per value, type and zone (up to `_DATETIMES_KEPT` of
    them); a value that doesn't fit raises every time."""
    key = (value, type_, options.timezone)
    found = _DATETIMES.get(key)
    if found is not None:
        return found
    out = _read_datetime(value, type_, options, where)
    if out is not None:
        if len(_DATETIMES) >= _DATETIMES_KEPT:
            _DATETIMES.clear()
        _DATETIMES[key] = out
    return out


_DATETIMES: dict[tuple[str, str, str], str] = {}
_DATETIMES_KEPT = 4096


def _read_datetime(
    value: str, type_: str, options: MappingOptions, where: Callable[[], Location]
) -> str | None:
    """A DTM/DT may stop at any precision (HL7 v2.5.1 2A.3.22). A FHIR instant needs a time to
    the second with a zone: a value to the minute gets :00 seconds and the feed's zone when it
    sends none, but a date (or a date and hour) alone gives no instant (None: the element is
    left out, the message is not refused) rather than an invented time."""
    text = value.strip()
    if len(text) == 8 and text.isascii() and text.isdigit():  # YYYYMMDD, the usual date
        try:
            date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        except ValueError:
            raise Hl7Error(where(), "expected a real calendar date and time", value) from None
        if type_ == "instant":
            return None
        return f"{text[:4]}-{text[4:6]}-{text[6:8]}"
    mo: str | None
    if len(text) in (4, 6, 10, 12, 14) and text.isascii() and text.isdigit():
        y, mo, d, h = text[:4], text[4:6] or None, text[6:8] or None, text[8:10] or None
        mi, s, frac, tz = text[10:12] or None, text[12:14] or None, None, None
    else:  # the same, with a fraction or an offset (or not a date/time)
        match = _DTM.match(text)
        if not match:
            raise Hl7Error(
                where(), "expected a date/time YYYY[MM[DD[HHMM[SS[.S]]]]][+/-ZZZZ]", value
            )
        y, mo, d, h, mi, s, frac, tz = match.group("y", "mo", "d", "h", "mi", "s", "frac", "tz")
    try:
        moment = datetime(
            int(y),
            int(mo) if mo else 1,
            int(d) if d else 1,
            int(h) if h else 0,
            int(mi) if mi else 0,
            int(s) if s else 0,
        )
    except ValueError:
        raise Hl7Error(where(), "expected a real calendar date and time", value) from None
    if type_ == "date" or h is None:
        if type_ == "instant":
            return None
        return y if mo is None else f"{y}-{mo}" if d is None else f"{y}-{mo}-{d}"
    if mo is None or d is None:
        raise Hl7Error(where(), "expected a full date before the time", value)
    if type_ == "instant" and mi is None:
        return None
    offset = f"{tz[:3]}:{tz[3:]}" if tz else _offset(_zone(options.timezone).utcoffset(moment))
    return f"{y}-{mo}-{d}T{h}:{mi or '00'}:{s or '00'}{f'.{frac}' if frac else ''}{offset}"


@cache
def _offset(offset: timedelta | None) -> str:
    """A UTC offset as FHIR writes it: what `strftime("%z")` gives (+HHMM[SS[.ffffff]]),
    with a colon after the hours."""
    stamp = ""
    if offset is not None:
        micro = (offset.days * 86400 + offset.seconds) * 1_000_000 + offset.microseconds
        sign = "-" if micro < 0 else "+"
        seconds, micro = divmod(abs(micro), 1_000_000)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        stamp = f"{sign}{hours:02d}{minutes:02d}"
        if micro:
            stamp += f"{seconds:02d}.{micro:06d}"
        elif seconds:
            stamp += f"{seconds:02d}"
    return f"{stamp[:3]}:{stamp[3:]}"


def map_message(
    message: Message, maps: Hl7Maps, options: MappingOptions | None = None
) -> list[MappedResource]:
    """Map one parsed message to FHIR resources (validated as R4B); Hl7Error when it can't be."""
    header = message.header
    message_map = maps.for_message(header.message_type)
    if message_map is None:
        supported = any(t.startswith(f"{header.message_code}^") for t in maps.by_type)
        raise Hl7Error(
            Location(segment_id="MSH", segment_index=1, field=9),
            f"a supported message type ({', '.join(maps.message_types)})",
            header.message_type,
            ErrorCode.UNSUPPORTED_EVENT if supported else ErrorCode.UNSUPPORTED_MESSAGE_TYPE,
        )
    ctx = _Context(message.encoding, options or _DEFAULT_OPTIONS, maps.groups)
    root = _Scope(ctx, None, None, message.segments, (), 0, None, 0, 0, None)
    out: dict[tuple[str, str], MappedResource] = {}
    for res in message_map.resources:
        scopes: Sequence[_Scope]
        if res.within:
            parents = root.children(res.within)
            scopes = (
                [scope for parent in parents for scope in parent.children(res.for_each)]
                if res.for_each
                else parents
            )
            if res.for_each:
                _check_within(message, scopes, res.for_each, res.within)
        else:
            scopes = root.children(res.for_each) if res.for_each else (root,)
        for scope in scopes:
            if res.when is not None and not res.when(scope):
                continue
            resource_id = res.make_id(scope)
            body = res.body(scope) or {}
            content = {"resourceType": res.type, "id": resource_id, **body}
            kept: tuple[str, ...] = ()
            if res.keep:
                kept = tuple(name for name, _ in res.keep if name not in content)
                for name, value in res.keep:
                    if name in kept:
                        content[name] = copy.deepcopy(value)
            _validate(content, res.type, message_map, res.name)
            out[(res.type, resource_id)] = MappedResource(
                res.type, resource_id, res.mode, content, res.name, kept
            )
    return list(out.values())


def _check_within(message: Message, scopes: Sequence[_Scope], seg_id: str, within: str) -> None:
    """Every `seg_id` segment of the message is in a `within` group (an OBX after its OBR):
    one before the first such group, or in a message with none, would be silently left out,
    so it is a segment sequence error (HL7 100) at that segment."""
    placed = {id(scope.segment) for scope in scopes}
    for segment in message.segments:
        if segment.fields[0] == seg_id and id(segment) not in placed:
            raise Hl7Error(
                Location(segment_id=seg_id, segment_index=segment.index),
                f"an {within} before this {seg_id} (each {seg_id} belongs to the {within} it follows)",
                None,
                ErrorCode.SEGMENT_SEQUENCE,
            )


def _validate(content: dict[str, Any], type_: str, message_map: MessageMap, name: str) -> None:
    """Every mapped resource is checked as R4B, with the verdict of fhir.resources (its
    `model_validate`), by `check_resource`: the same rules compiled once, 10x faster."""
    problem = check_resource(content, resource_type=type_)
    if problem is not None:
        raise Hl7Error(
            Location(),
            f"a valid FHIR {type_} from map {message_map.id} ({name}) at {problem.path}: "
            f"{problem.message}",
            None,
            ErrorCode.DATA_TYPE,
        )
