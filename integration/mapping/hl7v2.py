"""Interpreter for the HL7 v2 -> FHIR maps in `mappings/hl7v2/` (the language: docs/hl7v2-mapping.md).

A message map names the message types it takes and, per FHIR resource, which segment it
comes from, how its id is made, and a body: JSON-shaped data whose strings are templates
(`"{PID-5.1}"`) and whose `$`-keys are directives from a closed list (`$value`, `$type`,
`$table`, `$each`, `$join`, `$when`, `$first`, `$required`, `$transform`). Nothing is
evaluated as code. Maps are compiled once at load; a message is then mapped with no I/O.

Every error is located in the message (`OBX-5 (segment 7): expected a number, got 'abc'`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from integration.hl7v2.errors import ErrorCode, Hl7Error, Location
from integration.hl7v2.message import Message, Segment, component_value
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
    {"$value", "$type", "$table", "$each", "$join", "$when", "$first", "$required", "$transform"}
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
    type: str
    hash: tuple[Template, ...] | None
    template: Template | None
    location: str


@dataclass(frozen=True, slots=True)
class ResourceMap:
    name: str
    type: str
    for_each: str | None
    within: str | None
    when: Any
    id: IdSpec
    mode: str
    body: Any


@dataclass(frozen=True, slots=True)
class MessageMap:
    id: str
    version: int
    messages: frozenset[str]
    resources: tuple[ResourceMap, ...]
    path: Path


Transform = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Hl7Maps:
    """All maps, tables and shared ids, checked against each other at load."""

    by_type: Mapping[str, MessageMap]
    tables: Mapping[str, Table]
    ids: Mapping[str, IdSpec]
    transforms: Mapping[str, Transform] = field(default_factory=dict)

    def for_message(self, message_type: str, structure: str = "") -> MessageMap | None:
        return self.by_type.get(message_type) or (
            self.by_type.get(structure.replace("_", "^")) if structure else None
        )

    @property
    def message_types(self) -> list[str]:
        return sorted(self.by_type)


def _compile_body(node: Any, where: str, names: set[str], tables: Mapping[str, Table]) -> Any:
    """Parse templates and check directives once, so mapping a message does no parsing."""
    if isinstance(node, str):
        template = Template.parse(node)
        for part in template.parts:
            if isinstance(part, FieldPath) and part.id_name and part.id_name not in names:
                raise MappingError(f"{where}: expected a known id name, got @{part.id_name}")
        return template
    if isinstance(node, list):
        return [_compile_body(item, f"{where}[{i}]", names, tables) for i, item in enumerate(node)]
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
            elif key == "$when":
                out[key] = _compile_when(value, sub, names, tables)
            else:
                out[key] = _compile_body(value, sub, names, tables)
        if "$first" in out and not isinstance(out["$first"], list):
            raise MappingError(f"{where}/$first: expected a list of alternatives")
        data_keys = frozenset(k for k, v in out.items() if not k.startswith("$") and _has_data(v))
        if data_keys:
            out[_DATA_KEYS] = data_keys
        return out
    return node


_DATA_KEYS = "$$data"


def _has_data(node: Any) -> bool:
    """Whether a compiled node reads the message (constants alone don't)."""
    if isinstance(node, Template):
        return not node.is_constant
    if isinstance(node, list):
        return any(_has_data(item) for item in node)
    if isinstance(node, dict):
        if _DATA_KEYS in node or "$each" in node:
            return True
        return any(_has_data(node[k]) for k in ("$value", "$first") if k in node)
    return False


def _compile_when(node: Any, where: str, names: set[str], tables: Mapping[str, Table]) -> Any:
    out = dict(node)
    for key in ("all", "any"):
        if key in out:
            out[key] = [_compile_when(c, f"{where}/{key}", names, tables) for c in out[key]]
    for key in ("value", "present", "absent"):
        if key in out:
            out[key] = _compile_body(out[key], f"{where}/{key}", names, tables)
    return out


def _id_spec(node: Any, type_: str, where: str) -> IdSpec:
    if isinstance(node, str):
        return IdSpec(type_, None, Template.parse(node), where)
    return IdSpec(type_, tuple(Template.parse(t) for t in node["hash"]), None, where)


def load_hl7_maps(
    root: Path | None = None, transforms: Mapping[str, Transform] | None = None
) -> Hl7Maps:
    """Every `hl7v2-*` mapping file, compiled; MappingError names the file and place."""
    docs = list(iter_documents(root))
    tables: dict[str, Table] = {}
    ids: dict[str, IdSpec] = {}
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
        elif doc.kind == "hl7v2-message-map":
            message_docs.append(doc)
    registry = dict(transforms or {})
    by_type: dict[str, MessageMap] = {}
    for doc in message_docs:
        resources = []
        names = set(ids) | {r["name"] for r in doc.data["resources"]}
        for i, res in enumerate(doc.data["resources"]):
            where = f"{doc.path}: resources[{i}] ({res['name']})"
            try:
                get_fhir_model_class(res["type"])
            except KeyError:
                raise MappingError(
                    f"{where}/type: expected a FHIR R4B resource type, got {res['type']!r}"
                ) from None
            for_each = res.get("for_each")
            body = _compile_body(res["body"], f"{where}/body", names, tables)
            _check_transforms(body, registry, f"{where}/body")
            resources.append(
                ResourceMap(
                    name=res["name"],
                    type=res["type"],
                    for_each=for_each,
                    within=res.get("within"),
                    when=_compile_when(res["when"], f"{where}/when", names, tables)
                    if "when" in res
                    else None,
                    id=ids[res["id"][1:]]
                    if isinstance(res["id"], str) and res["id"].startswith("@")
                    else _id_spec(res["id"], res["type"], f"{where}/id"),
                    mode=res.get("mode", "replace"),
                    body=body,
                )
            )
        message_map = MessageMap(
            doc.id, doc.version, frozenset(doc.data["messages"]), tuple(resources), doc.path
        )
        for message_type in message_map.messages:
            if message_type in by_type:
                raise MappingError(
                    f"{doc.path}: messages: {message_type} is already mapped by {by_type[message_type].path.name}"
                )
            by_type[message_type] = message_map
    return Hl7Maps(by_type, tables, ids, registry)


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


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class MappedResource:
    type: str
    id: str
    mode: str  # replace | merge | create
    body: dict[str, Any]
    map_name: str

    @property
    def reference(self) -> str:
        return f"{self.type}/{self.id}"


@dataclass(frozen=True, slots=True)
class MappingOptions:
    """What the message doesn't say: the timezone of times sent without an offset."""

    timezone: str = "UTC"


@dataclass(slots=True)
class _Scope:
    segment: Segment | None
    members: Sequence[Segment]
    rep: str | None = None
    rep_location: Location | None = None
    parent: _Scope | None = None


class _Evaluator:
    def __init__(
        self, message: Message, maps: Hl7Maps, options: MappingOptions, names: Mapping[str, IdSpec]
    ) -> None:
        self.message = message
        self.maps = maps
        self.options = options
        self.names = names
        self._ids: dict[tuple[int, tuple[int, ...]], str] = {}
        self.encoding = message.encoding

    # -- paths

    def _segment_for(self, seg_id: str, scope: _Scope) -> Segment | None:
        current: _Scope | None = scope
        while current is not None:
            if current.segment is not None and current.segment.fields[0] == seg_id:
                return current.segment
            current = current.parent
        current = scope
        while current is not None:
            for segment in current.members:
                if segment.fields[0] == seg_id:
                    return segment
            current = current.parent
        return None

    def resolve(self, path: FieldPath, scope: _Scope) -> tuple[str, Location]:
        if path.id_name is not None:
            return self.make_id(self.names[path.id_name], scope), Location()
        if path.relative:
            if scope.rep is None:
                raise MappingError(
                    f"{path.text}: a relative path needs an enclosing $each over a field"
                )
            where = scope.rep_location or Location()
            if path.component is None:
                return self.encoding.unescape(scope.rep), where
            return (
                component_value(scope.rep, self.encoding, path.component, path.subcomponent or 1),
                where.at(component=path.component, subcomponent=path.subcomponent),
            )
        assert path.segment is not None
        segment = self._segment_for(path.segment, scope)
        where = Location(
            segment_id=path.segment,
            segment_index=segment.index if segment else None,
            field=path.field,
            repetition=path.rep if path.rep > 1 else None,
            component=path.component,
            subcomponent=path.subcomponent,
        )
        if segment is None:
            return "", where
        return segment.value(
            path.field, path.component or 1, path.subcomponent or 1, path.rep
        ), where

    def template(self, template: Template, scope: _Scope) -> tuple[str, Location | None]:
        if template.constant is not None:
            return template.constant, None
        out: list[str] = []
        first: Location | None = None
        for part in template.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value, where = self.resolve(part, scope)
            first = first or where
            if not value:
                return "", where
            out.append(value)
        return "".join(out), first

    # -- ids

    def make_id(self, spec: IdSpec, scope: _Scope) -> str:
        """The id `spec` gives here; memoised per message by the segments in scope (an id
        like @patient is asked for by every resource of a message)."""
        chain: list[int] = []
        current: _Scope | None = scope
        while current is not None:
            chain.append(id(current.segment))
            if current.rep is not None:
                return self._make_id(spec, scope)  # relative paths: not memoised
            current = current.parent
        key = (id(spec), tuple(chain))
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = self._make_id(spec, scope)
        return found

    def _make_id(self, spec: IdSpec, scope: _Scope) -> str:
        if spec.template is not None:
            value, where = self.template(spec.template, scope)
            if not value:
                _raise_missing(where, f"to identify the {spec.type}")
            if not _FHIR_ID.match(value):
                value = _hash_id(spec.type, [value])
            return value
        assert spec.hash is not None
        values = []
        first_where: Location | None = None
        for template in spec.hash:
            value, where = self.template(template, scope)
            first_where = first_where or where
            values.append(value)
        if not any(values):
            _raise_missing(first_where, f"to identify the {spec.type}")
        return _hash_id(spec.type, values)

    # -- body

    def iterate(self, each: str | FieldPath, scope: _Scope) -> Iterable[_Scope]:
        if isinstance(each, str):
            # The segments of the group: the nearest iterated segment's (a field repetition has
            # none of its own), or the message's. An OBX without NTEs lists none, not the
            # message's; an OBR without OBX results has none.
            group = scope
            while group.parent is not None and (group.segment is None or group.rep is not None):
                group = group.parent
            for seg in group.members:
                if seg.fields[0] == each:
                    yield _Scope(seg, _members_after(seg, group.members), parent=scope)
            return
        if each.relative:
            raise MappingError(f"$each: {each.text}: expected a segment id or field path")
        assert each.segment is not None
        segment = self._segment_for(each.segment, scope)
        if segment is None:
            return
        for n, rep in enumerate(segment.repetitions(each.field), start=1):
            raw = rep
            if each.component is not None:
                parts = rep.split(self.encoding.component)
                raw = parts[each.component - 1] if each.component <= len(parts) else ""
            if raw and raw != '""':
                where = Location(
                    segment_id=segment.fields[0],
                    segment_index=segment.index,
                    field=each.field,
                    repetition=n,
                )
                yield _Scope(segment, (), raw, where, parent=scope)

    def when(self, cond: Mapping[str, Any], scope: _Scope) -> bool:
        if "all" in cond:
            return all(self.when(c, scope) for c in cond["all"])
        if "any" in cond:
            return any(self.when(c, scope) for c in cond["any"])
        if "present" in cond:
            return bool(self.evaluate(cond["present"], scope))
        if "absent" in cond:
            return not self.evaluate(cond["absent"], scope)
        value = self.evaluate(cond["value"], scope)
        text = "" if value is None else str(value)
        if "in" in cond:
            return text in [str(v) for v in cond["in"]]
        if "not_in" in cond:
            return text not in [str(v) for v in cond["not_in"]]
        if "equals" in cond:
            return text == str(cond["equals"])
        return bool(text)

    def evaluate(self, node: Any, scope: _Scope) -> Any:
        if isinstance(node, Template):
            return self.template(node, scope)[0] or None
        if isinstance(node, list):
            out: list[Any] = []
            for item in node:
                value = self.evaluate(item, scope)
                if (
                    isinstance(item, dict)
                    and "$each" in item
                    and isinstance(value, list)
                    and "$join" not in item
                ):
                    out.extend(value)
                elif value not in (None, "", [], {}):
                    out.append(value)
            return out or None
        if isinstance(node, dict):
            return self._directive(node, scope)
        return node

    def _directive(self, node: Mapping[str, Any], scope: _Scope) -> Any:
        if "$when" in node and not self.when(node["$when"], scope):
            return None
        if "$each" in node:
            inner = {k: v for k, v in node.items() if k not in ("$each", "$when", "$join")}
            items = [self.evaluate(inner, s) for s in self.iterate(node["$each"], scope)]
            items = [i for i in items if i not in (None, "", [], {})]
            if "$join" in node:
                return node["$join"].join(str(i) for i in items) or None
            return items or None
        if "$first" in node:
            rest = {k: v for k, v in node.items() if k != "$first"}
            for alternative in node["$first"]:
                value = self.evaluate(alternative, scope)
                if value not in (None, "", [], {}):
                    return self._typed(value, rest, None, scope) if rest else value
            return self._missing(node, None)
        if "$value" in node:
            source = node["$value"]
            raw, where = (
                self.template(source, scope)
                if isinstance(source, Template)
                else (self.evaluate(source, scope), None)
            )
            if raw in (None, ""):
                return self._missing(node, where)
            return self._typed(raw, node, where, scope)
        obj: dict[str, Any] = {}
        for key, value in node.items():
            if key.startswith("$"):
                continue
            result = self.evaluate(value, scope)
            if result not in (None, "", [], {}):
                obj[key] = result
        data_keys = node.get(_DATA_KEYS)
        if not obj or (data_keys and not any(k in obj for k in data_keys)):
            # Constants decorate data; they don't stand alone when the data is absent.
            return self._missing(node, None)
        if "$transform" in node:
            return self.maps.transforms[node["$transform"]](obj)
        return obj

    def _missing(self, node: Mapping[str, Any], where: Location | None) -> None:
        if node.get("$required"):
            _raise_missing(where, "")
        return None

    def _typed(
        self, raw: Any, node: Mapping[str, Any], where: Location | None, scope: _Scope
    ) -> Any:
        value = raw
        if "$table" in node:
            value = self.lookup(self.maps.tables[node["$table"]], str(value), where, scope)
            if value is None:
                return None
        type_ = node.get("$type", "string")
        if type_ == "string":
            return value
        return convert(str(value), type_, where or Location(), self.options)

    def lookup(self, table: Table, value: str, where: Location | None, scope: _Scope) -> str | None:
        key = value if table.case_sensitive else value.upper()
        if key in table.values:
            return table.values[key]
        if table.default is not None:
            return table.default.replace("{value}", value) or None
        raise Hl7Error(
            where or Location(),
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


def _members_after(segment: Segment, members: Sequence[Segment]) -> Sequence[Segment]:
    """The segments that belong to `segment`: those after it, up to the next of its kind."""
    out: list[Segment] = []
    started = False
    for member in members:
        if member is segment:
            started = True
            continue
        if started:
            if member.fields[0] == segment.fields[0]:
                break
            out.append(member)
    return out


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
    if type_ in ("date", "dateTime", "instant"):
        return _datetime(value, type_, where, options)
    if type_ == "decimal":
        text = value.strip()
        if not _DECIMAL.match(text):
            raise Hl7Error(where, "expected a number", value)
        return float(text) if "." in text else int(text)
    if type_ in ("integer", "positiveInt"):
        text = value.strip()
        if not text.lstrip("+-").isdigit() or (type_ == "positiveInt" and int(text) < 1):
            raise Hl7Error(
                where, f"expected {'a positive' if type_ == 'positiveInt' else 'an'} integer", value
            )
        return int(text)
    if type_ == "boolean":
        upper = value.strip().upper()
        if upper in ("Y", "YES", "T", "TRUE", "1"):
            return True
        if upper in ("N", "NO", "F", "FALSE", "0"):
            return False
        raise Hl7Error(where, "expected Y or N", value)
    if type_ == "base64":
        return base64.b64encode(value.encode("utf-8")).decode("ascii")
    raise MappingError(f"$type: expected one of {sorted(TYPES)}, got {type_!r}")


def _datetime(value: str, type_: str, where: Location, options: MappingOptions) -> str:
    match = _DTM.match(value.strip())
    if not match:
        raise Hl7Error(where, "expected a date/time YYYY[MM[DD[HHMM[SS[.S]]]]][+/-ZZZZ]", value)
    y, mo, d, h = match["y"], match["mo"], match["d"], match["h"]
    try:
        datetime(
            int(y),
            int(mo or 1),
            int(d or 1),
            int(h or 0),
            int(match["mi"] or 0),
            int(match["s"] or 0),
        )
    except ValueError:
        raise Hl7Error(where, "expected a real calendar date and time", value) from None
    if type_ == "date" or h is None:
        if type_ == "instant":
            raise Hl7Error(where, "expected a date with a time to the second", value)
        return "-".join(p for p in (y, mo, d) if p)
    if mo is None or d is None:
        raise Hl7Error(where, "expected a full date before the time", value)
    seconds = match["s"] or "00"
    frac = f".{match['frac']}" if match["frac"] else ""
    tz = match["tz"]
    if tz:
        offset = f"{tz[:3]}:{tz[3:]}"
    else:
        naive = datetime(int(y), int(mo), int(d), int(h), int(match["mi"] or 0), int(seconds))
        stamp = naive.replace(tzinfo=_zone(options.timezone)).strftime("%z")
        offset = f"{stamp[:3]}:{stamp[3:]}"
    return f"{y}-{mo}-{d}T{h}:{match['mi'] or '00'}:{seconds}{frac}{offset}"


def map_message(
    message: Message, maps: Hl7Maps, options: MappingOptions | None = None
) -> list[MappedResource]:
    """Map one parsed message to FHIR resources (validated as R4B); Hl7Error when it can't be."""
    header = message.header
    message_map = maps.for_message(header.message_type, header.structure)
    if message_map is None:
        supported = any(t.startswith(f"{header.message_code}^") for t in maps.by_type)
        raise Hl7Error(
            Location(segment_id="MSH", segment_index=1, field=9),
            f"a supported message type ({', '.join(maps.message_types)})",
            header.message_type,
            ErrorCode.UNSUPPORTED_EVENT if supported else ErrorCode.UNSUPPORTED_MESSAGE_TYPE,
        )
    names: dict[str, IdSpec] = dict(maps.ids)
    names.update({r.name: r.id for r in message_map.resources})
    evaluator = _Evaluator(message, maps, options or MappingOptions(), names)
    root = _Scope(None, message.segments)
    out: dict[tuple[str, str], MappedResource] = {}
    for res in message_map.resources:
        parents = list(evaluator.iterate(res.within, root)) if res.within else [root]
        scopes = (
            [scope for parent in parents for scope in evaluator.iterate(res.for_each, parent)]
            if res.for_each
            else parents
        )
        for scope in scopes:
            if res.when is not None and not evaluator.when(res.when, scope):
                continue
            resource_id = evaluator.make_id(res.id, scope)
            body = evaluator.evaluate(res.body, scope) or {}
            content = {"resourceType": res.type, "id": resource_id, **body}
            _validate(content, res.type, message_map, res.name)
            out[(res.type, resource_id)] = MappedResource(
                res.type, resource_id, res.mode, content, res.name
            )
    return list(out.values())


def _validate(content: dict[str, Any], type_: str, message_map: MessageMap, name: str) -> None:
    try:
        get_fhir_model_class(type_).model_validate(content)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if p != "__root__")
        raise Hl7Error(
            Location(),
            f"a valid FHIR {type_} from map {message_map.id} ({name}) at {type_}.{where}: {first['msg']}",
            None,
            ErrorCode.DATA_TYPE,
        ) from None
