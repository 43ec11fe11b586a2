"""A fast check that a FHIR R4B resource (a JSON dict) is valid, with fhir.resources' verdict.

`check_resource(content)` returns None when
`get_fhir_model_class(content["resourceType"]).model_validate(content)` would succeed, else the
first `Problem` found: a FHIRPath-like `path` (`Patient.name[0].given[1]`) and a `message`
saying what was expected and what was found (`check_resource(content, resource_type=t)` checks
against the type `t`, as `get_fhir_model_class(t).model_validate(content)` does). No model
object is built: a check is a walk over the dict with dict lookups and precompiled regexes,
about 12x faster than `model_validate` on the repository's fixture resources (one core).

How: the first time a type is checked, its pydantic model (and every model reachable from it)
is compiled into a `_Table`: JSON name -> the check of its value (a primitive check, a child
table's walk, a list of either; null allowed or not), plus the model's own rules: required
elements (pydantic's `is_required()`), required primitives (`get_required_fields`: a value, or
a `_x` sibling holding an extension), `[x]` choice groups (`get_one_of_many_fields`: at most
one, exactly one if `one_of_many_required`), the `resourceType` every model's `__init__`
compares, the id/extension/fhir_comments rule of a `_x` primitive extension. All of it is read
from the models fhir.resources carries (`model_fields`: annotations, aliases, `json_schema_extra`;
`model_config`) and fhir_core's primitive types (their patterns and bounds), nothing is written
per resource. Printable strings for string-like and code elements, the bulk of any resource,
are checked inline in the walk.
Tables live as long as the process; a type's table is published only once complete (a lock
guards compilation), so checks may run in several threads.

What fhir.resources accepts, so this check does too (not always FHIR, but the verdicts agree):

- pydantic's lax coercions: `"12"`, `12.0` and `true` for an integer, `"yes"`, `1` or `0.0` for
  a boolean, a Unix timestamp for a date/dateTime/instant. Such values, and non-JSON Python
  values (bytes, Decimal, datetime, UUID, str subclasses, ...), go to a cached pydantic
  `TypeAdapter` of the element's own fhir_core type, so pydantic decides; only plain
  str/int/float/bool values of the element's JSON type take the compiled fast path.
- `null` for any element but a required list, and in lists except lists of complex elements
  (`_x` lists excepted); a required complex element present but null (`"code": null`).
- empty lists and objects, empty `uri`/`url`/`canonical`/`markdown`/`xhtml`; a `string` is
  refused only if empty, made only of Unicode whitespace other than space/tab/CR/LF, or holding
  a lone surrogate; ids up to 255 characters (fhir_core's limit, not FHIR's 64); any `url`
  string; base64Binary decoded as `base64.b64decode` does (non-alphabet characters skipped).
- a complex element given as JSON text of an object (`"code": '{"text": "x"}'`), which
  fhir.resources reads with `model_validate_json`: checked here after `json.loads`.
- a Python field name as key (`class_fhir` for `class`, `status__ext` for `_status`) unless the
  JSON name is there too; `resourceType`/`resource_type` in any object naming its own type.
- codes are not checked against value sets, references not against their target types, no
  FHIRPath invariant (ele-1, dom-2, obs-6, ...) is evaluated: fhir.resources does none of this.

Known differences from fhir.resources (none for JSON-decoded content, with `resource_type` given
or a `resourceType` naming a resource):

- without `resource_type`, the type is `content["resourceType"]` and must name an R4B resource
  (`Resource`, `DomainResource` included); model_validate on a class the caller picked also
  takes content with no or a null `resourceType`.
- lists must be `list` or `tuple`: pydantic's lax mode also takes a set, frozenset, deque, dict
  view or generator; nested objects must be `dict`s, where fhir.resources also takes an
  instance of the model.
- JSON text for a complex element is parsed by `json.loads`, not pydantic's parser, and its
  object checked like any other; fhir.resources validates that one level in pydantic's JSON
  mode (corner cases such as `NaN` literals or duplicate keys may differ).
- nesting deeper than Python's recursion limit is reported as a Problem; fhir.resources fails
  at a depth of its own.
- when content is invalid in several ways, the problem reported is the first in the dict's key
  order (then required elements, then choice groups), not the first of pydantic's errors.
- tables follow the models' `extra` setting (`FHIRAbstractModel.set_global_model_config`), but
  assume fhir_core's other defaults (`populate_by_name`, lax mode).
- fhir.resources sometimes raises something other than a ValidationError (KeyError for an
  unknown resourceType in `contained`, AttributeError for a number as `url` or for a required
  list of primitives given only as `_x`): these are Problems here.
"""

from __future__ import annotations

import base64
import decimal
import json
import re
import threading
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from fhir.resources.R4B import fhirtypes
from fhir_core import constraints as fhir_constraints
from fhir_core import types as fhir_core_types
from fhir_core.constraints import FHIR_PRIMITIVES_MAPS
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from fhir_core.types import FhirBase, FhirElementOrResourceBase
from pydantic import TypeAdapter
from pydantic.fields import FieldInfo

__all__ = ["Problem", "check_resource"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a resource is not valid: where (`Observation.code`) and what was expected/found."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# --------------------------------------------------------------------------- primitive checks

#: A primitive check: None when the value is valid, else the message.
PrimitiveCheck = Callable[[Any], str | None]

# Unicode White_Space, which is what `\s` means to the Rust regex engine pydantic uses for
# `pattern=` constraints (Python's `\s` also matches U+001C..U+001F, Rust's does not).
_WS: Final = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# fhir_core's string pattern is `[ \r\n\t\S]+`, searched: one character that is not White_Space,
# or is space/tab/CR/LF, is enough.
_STRING_CHAR: Final = re.compile(
    "[^\x0b\x0c\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
# `^[^\s]+(\s[^\s]+)*$`, the code pattern, with Rust's `\s` and `$` (end of text only).
_CODE: Final = re.compile(f"[^{_WS}]+(?:[{_WS}][^{_WS}]+)*")
_DEFAULT_ID_PATTERN: Final = r"^[A-Za-z0-9\-.]+$"
_ID: Final = re.compile(r"[A-Za-z0-9\-.]+")
_OID: Final = re.compile(r"urn:oid:[0-2](?:\.(?:0|[1-9][0-9]*))+")
# Strings pydantic-core cannot hand to its regex engine (lone surrogates) fail any pattern.
_SURROGATE: Final = re.compile(f"[{chr(0xD800)}-{chr(0xDFFF)}]")  # mypyc: no surrogate literals
# fhir_core's own patterns, used with `fullmatch` there too.
_DATE: Final = fhir_core_types.Date.pattern
_DATETIME: Final = fhir_core_types.DateTime.pattern
_INSTANT: Final = fhir_core_types.Instant.pattern
_TIME: Final = fhir_core_types.Time.pattern
_DECIMAL: Final = fhir_core_types.Decimal.pattern
# Faster equivalents of the full-precision forms of those (the year alternation there is
# "4 digits but 0000"); anything they refuse is tried against fhir_core's own pattern.
_YMD: Final = r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_HMS_TZ: Final = (
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?"
    r"(?:Z|[+\-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
)
_FULL_DATE: Final = re.compile(_YMD)
_FULL_DATETIME: Final = re.compile(f"{_YMD}(?:{_HMS_TZ})?")
_FULL_INSTANT: Final = re.compile(f"{_YMD}{_HMS_TZ}")
# str() of an int refuses more than sys.get_int_max_str_digits() (default 4300) digits
_INT_STR_BITS: Final = 14_000
_DAYS_IN_MONTH: Final = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_INTEGER_KINDS: Final = frozenset({"integer", "unsignedInt", "positiveInt", "integer64"})

#: What each primitive should look like, for messages.
_EXPECTED: Final[dict[str, str]] = {
    "string": "a string (not empty, not only whitespace)",
    "code": "a code (no leading/trailing whitespace)",
    "id": "an id ([A-Za-z0-9-.], 1-255 characters)",
    "uri": "a uri (a string)",
    "url": "a url (a string)",
    "canonical": "a canonical (a string)",
    "markdown": "a markdown string",
    "xhtml": "an xhtml string",
    "oid": "an oid (urn:oid:<digits and dots>)",
    "uuid": "a uuid (urn:uuid:<version 4 UUID>)",
    "base64Binary": "base64Binary (base64 with correct padding)",
    "date": "a date YYYY[-MM[-DD]]",
    "dateTime": "a dateTime YYYY[-MM[-DD[Thh:mm:ss[.fff](Z|+hh:mm)]]]",
    "instant": "an instant YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm)",
    "time": "a time hh:mm:ss[.fff]",
    "decimal": "a decimal",
    "integer": "an integer (-2147483648..2147483647)",
    "integer64": "an integer64",
    "unsignedInt": "an unsignedInt (0..2147483647)",
    "positiveInt": "a positiveInt (1..2147483647)",
    "boolean": "a boolean",
    "fhir_comments": "a string or a list of strings",
}


def _show(value: Any) -> str:
    """The found value for a message: JSON-ish, short."""
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 60 else text[:56] + "...'"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        try:
            text = repr(value)
        except ValueError:  # an int too long to print
            return "a very large number"
        return text if len(text) <= 40 else text[:37] + "..."
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _expected(kind: str, value: Any, why: str = "") -> str:
    return f"expected {_EXPECTED[kind]}, got {_show(value)}{why}"


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _day_exists(text: str) -> bool:
    """`text` starts with YYYY-MM-DD (already matched by a pattern): is that a calendar day?"""
    if text[8:10] <= "28":
        return True
    day = int(text[8:10])
    month = int(text[5:7])
    if day <= _DAYS_IN_MONTH[month]:
        return True
    return month == 2 and day == 29 and _is_leap(int(text[0:4]))


_B64_DATA: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_NOT_DATA: Final = bytes(sorted(set(range(256)) - set(_B64_DATA)))


def _base64_decodes(text: str) -> bool:
    """Would `base64.b64decode(text.encode())` (pydantic's Base64Bytes) succeed?

    Without decoding it all: b64decode (not strict) skips what is not base64 data and, before
    the first "=", only counts data characters modulo 4. So if no "=" comes before the last
    data character, `text` decodes iff (n % 4) data characters followed by what comes after
    the last one do.
    """
    try:
        raw = text.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return False
    not_data = raw.translate(None, _B64_DATA)
    probe = b"A" * ((len(raw) - len(not_data)) % 4) + not_data
    if b"=" in not_data:
        tail = raw[len(raw.rstrip(_B64_NOT_DATA)) :]
        if tail.count(b"=") == not_data.count(b"="):
            probe = probe[: len(probe) - len(not_data)] + tail
        else:
            probe = raw  # "=" between data characters: decode it all
    try:
        base64.b64decode(probe)
    except ValueError:  # binascii.Error
        return False
    return True


@cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _pydantic_accepts(annotation: Any, value: Any) -> bool:
    """The slow path for values that are not the element's plain JSON type: ask pydantic."""
    try:
        _adapter(annotation).validate_python(value)
    except Exception:  # ValidationError, and the AttributeError fhir_core's url raises
        return False
    return True


def _int_range(annotation: Any) -> tuple[int, int]:
    """The bounds fhir_core's Integer/UnsignedInt/PositiveInt metadata puts on the int."""
    for meta in getattr(annotation, "__metadata__", ()):
        low, high = getattr(meta, "min_length", None), getattr(meta, "max_length", None)
        if isinstance(low, int) and isinstance(high, int):
            return low, high
    raise TypeError(f"no integer bounds in {annotation!r}")


def _primitive_check(kind: str, annotation: Any) -> PrimitiveCheck:
    """Compile the check of one primitive type; `annotation` is its fhir_core type (slow path)."""

    def other(value: Any) -> str | None:
        if value is None:  # every primitive element is optional (`| None`)
            return None
        return None if _pydantic_accepts(annotation, value) else _expected(kind, value)

    if kind == "string":

        def check(value: Any) -> str | None:
            if type(value) is str:
                # printable: no separator but space, no control character, no surrogate
                if value.isprintable() and value:
                    return None
                if _STRING_CHAR.search(value) is None or (
                    not value.isascii() and _SURROGATE.search(value) is not None
                ):
                    return _expected(kind, value)
                return None
            return other(value)

    elif kind == "code":

        def check(value: Any) -> str | None:
            if type(value) is str:
                if value.isprintable() and value and " " not in value:
                    return None  # no whitespace at all
                if _CODE.fullmatch(value) is None or (
                    not value.isascii() and _SURROGATE.search(value) is not None
                ):
                    return _expected(kind, value)
                return None
            return other(value)

    elif kind == "id":
        max_length = getattr(fhir_constraints, "TYPES_ID_MAX_LENGTH", 255)
        if getattr(fhir_constraints, "TYPES_ID_PATTERN", None) != _DEFAULT_ID_PATTERN:
            return other  # a patched id pattern: pydantic's regex engine decides
        limit = max_length if max_length is not None else float("inf")

        def check(value: Any) -> str | None:
            if type(value) is str:
                if len(value) > limit or _ID.fullmatch(value) is None:
                    return _expected(kind, value)
                return None
            return other(value)

    elif kind in ("uri", "canonical", "markdown"):  # patterns that match any string

        def check(value: Any) -> str | None:
            if type(value) is str:
                if not value.isascii() and _SURROGATE.search(value) is not None:
                    return _expected(kind, value, " (not valid Unicode)")
                return None
            return other(value)

    elif kind in ("url", "xhtml"):  # a str schema without a pattern: any str

        def check(value: Any) -> str | None:
            return None if type(value) is str else other(value)

    elif kind == "oid":

        def check(value: Any) -> str | None:
            if type(value) is str:
                return None if _OID.fullmatch(value) is not None else _expected(kind, value)
            return other(value)

    elif kind == "base64Binary":

        def check(value: Any) -> str | None:
            if type(value) is str:
                return None if _base64_decodes(value) else _expected(kind, value)
            return other(value)

    elif kind == "date":

        def check(value: Any) -> str | None:
            if type(value) is str:
                if _FULL_DATE.fullmatch(value) is None and _DATE.fullmatch(value) is None:
                    return _expected(kind, value)
                if len(value) == 10 and not _day_exists(value):
                    return _expected(kind, value, " (no such day)")
                return None
            return other(value)

    elif kind in ("dateTime", "instant"):
        pattern = _DATETIME if kind == "dateTime" else _INSTANT
        fast = _FULL_DATETIME if kind == "dateTime" else _FULL_INSTANT

        def check(value: Any) -> str | None:
            if type(value) is str:
                if fast.fullmatch(value) is None and pattern.fullmatch(value) is None:
                    return _expected(kind, value)
                if len(value) >= 10 and not _day_exists(value):
                    return _expected(kind, value, " (no such day)")
                return None
            return other(value)

    elif kind == "time":

        def check(value: Any) -> str | None:
            if type(value) is str:
                return None if _TIME.fullmatch(value) is not None else _expected(kind, value)
            return other(value)

    elif kind == "decimal":

        def check(value: Any) -> str | None:
            # fhir_core matches str(value) against its pattern, then makes a Decimal of it
            kind_of = type(value)
            if kind_of is float:  # repr() of a finite float always matches the pattern
                return None if value - value == 0 else _expected(kind, value)
            if kind_of is int and value.bit_length() < _INT_STR_BITS:
                return None  # so does str() of an int, if it is short enough to have one
            if kind_of is str or kind_of is int:
                try:
                    text = value if kind_of is str else str(value)
                    if _DECIMAL.fullmatch(text) is None:
                        return _expected(kind, value)
                    if "e" in text or "E" in text:
                        decimal.Decimal(text)  # an exponent beyond decimal.MAX_EMAX raises
                except (ValueError, ArithmeticError):  # int too long for str(); InvalidOperation
                    return _expected(kind, value)
                return None
            return other(value)

    elif kind in _INTEGER_KINDS:
        low, high = _int_range(annotation)

        def check(value: Any) -> str | None:
            if type(value) is int:
                return None if low <= value <= high else _expected(kind, value)
            return other(value)

    elif kind == "boolean":

        def check(value: Any) -> str | None:
            return None if type(value) is bool else other(value)

    elif kind == "fhir_comments":

        def check(value: Any) -> str | None:
            return None if type(value) is str else other(value)

    else:  # uuid (rare): pydantic decides every value
        check = other
    return check


# --------------------------------------------------------------------------- compiled tables


class _Fail:
    """A problem on its way up: path segments collected innermost first."""

    __slots__ = ("message", "parts")

    def __init__(self, part: str, message: str) -> None:
        self.parts = [part]
        self.message = message

    def at(self, part: str) -> _Fail:
        self.parts.append(part)
        return self


#: The check of one element's value: None (valid), a message about the value itself, or a
#: _Fail from inside it (a list item, a child element).
Handler = Callable[[Any], "str | _Fail | None"]


class _Table:
    """One pydantic model compiled: what a JSON object of that type may and must hold."""

    __slots__ = (
        "by_field_name",
        "extra_ok",
        "handlers",
        "is_resource",
        "name",
        "plain",
        "post",
        "walk",
    )

    def __init__(self, name: str, is_resource: bool) -> None:
        self.name = name  # __resource_type__, compared with a `resourceType` key
        self.is_resource = is_resource  # derived from Resource: may be contained, in a Bundle
        self.extra_ok = False  # model_config extra="ignore"/"allow": unknown keys are fine
        #: JSON name (alias) -> check of its value
        self.handlers: dict[str, Handler] = {}
        #: Python field name, where it differs from the alias -> (alias, check)
        self.by_field_name: dict[str, tuple[str, Handler]] = {}
        #: the model-level rules (required elements, choice groups), if the model has any
        self.post: Callable[[Mapping[Any, Any]], _Fail | None] | None = None
        #: single string elements a printable non-empty str is valid for -> whether it may hold
        #: spaces (string, uri, ...: True; code: False)
        self.plain: dict[str, bool] = {}
        #: the check of a value of this type (an object, or JSON text of one)
        self.walk: Handler = _make_walk(self)


_lock = threading.RLock()
_tables: dict[type[FHIRAbstractModel], _Table] = {}  # being built or built; under _lock
_by_name: dict[str, _Table | None] = {}  # type name -> complete table; read without the lock


def _fhir_model_types() -> dict[str, type[FhirBase]]:
    """R4B type name -> its fhirtypes class (what FHIR_TYPES_MAPS resolves `resourceType` with)."""
    found: dict[str, type[FhirBase]] = {}
    for attr, value in vars(fhirtypes).items():
        if attr.endswith("Type") and isinstance(value, type) and issubclass(value, FhirBase):
            found[attr[: -len("Type")]] = value
    return found


_MODEL_TYPES: Final = _fhir_model_types()


def _without_none(annotation: Any) -> tuple[Any, bool]:
    """(annotation without `| None`, whether None was allowed)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) != len(typing.get_args(annotation))
        raise TypeError(f"unexpected union in a FHIR model: {annotation!r}")
    return annotation, False


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _primitive_kind(annotation: Any) -> str:
    kind = FHIR_PRIMITIVES_MAPS.get(annotation) if _hashable(annotation) else None
    if kind is None:
        for meta in getattr(annotation, "__metadata__", ()):
            kind = FHIR_PRIMITIVES_MAPS.get(type(meta))
            if kind is not None:
                break
    if kind is None:
        raise TypeError(f"not a FHIR primitive type: {annotation!r}")
    return kind


def _null_rejected(check: Handler) -> Handler:
    def handler(value: Any) -> str | _Fail | None:
        return "expected a list, got null" if value is None else check(value)

    return handler


def _primitive_list(check: PrimitiveCheck, nulls: bool, spaces: bool | None) -> Handler:
    """A list of primitives; `spaces` as in `_Table.plain` (None: no inline fast path)."""

    def handler(value: Any) -> str | _Fail | None:
        if type(value) is list or type(value) is tuple:
            for index, item in enumerate(value):
                if (
                    type(item) is str
                    and spaces is not None
                    and item.isprintable()
                    and item
                    and (spaces or " " not in item)
                ):
                    continue
                if item is not None:
                    message = check(item)
                    if message is not None:
                        return _Fail(f"[{index}]", message)
                elif not nulls:
                    return _Fail(f"[{index}]", "expected a value, got null")
            return None
        if value is None:
            return None
        return f"expected a list, got {_show(value)}"

    return handler


def _not_an_object(table: _Table, value: Any) -> str | _Fail | None:
    """A complex element's value that is not a dict: fhir.resources tries it as JSON text."""
    if value is None:  # even for a required element: fhir_core's validator lets None through
        return None
    if isinstance(value, str | bytes | bytearray):  # model_validate_json(value)
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return table.walk(parsed)
    elif isinstance(value, dict):
        return table.walk(dict(value))
    return f"expected an object, got {_show(value)}"


def _any_resource(table: _Table, value: Any) -> str | _Fail | None:
    """A Resource-typed element: checked as the type its resourceType names, else as Resource."""
    if isinstance(value, dict):
        if "resourceType" in value:
            resource_type = value["resourceType"]
            found = _resource_table(resource_type) if isinstance(resource_type, str) else None
            if found is None:
                wanted = "a FHIR R4B resource type"
                return _Fail(".resourceType", f"expected {wanted}, got {_show(resource_type)}")
            return found.walk(value)
        return table.walk(value)
    if value is None:
        return None
    return _not_an_object(table, value)  # JSON text is checked as a plain Resource


def _resource(table: _Table) -> Handler:
    def handler(value: Any) -> str | _Fail | None:
        return _any_resource(table, value)

    return handler


def _object_list(table: _Table, resources: bool, nulls: bool) -> Handler:
    walk = table.walk

    def handler(value: Any) -> str | _Fail | None:
        list_type = type(value)
        if list_type is list or list_type is tuple:
            for index, item in enumerate(value):
                if item is None:
                    # reject_null_complex_elements looks at lists only, and not at `_x` lists
                    if nulls or list_type is tuple:
                        continue
                    return _Fail(f"[{index}]", "expected an object, got null")
                fail = _any_resource(table, item) if resources else walk(item)
                if fail is not None:
                    if type(fail) is str:
                        return _Fail(f"[{index}]", fail)
                    assert isinstance(fail, _Fail)
                    return fail.at(f"[{index}]")
            return None
        if value is None:
            return None
        return f"expected a list, got {_show(value)}"

    return handler


#: primitives any printable non-empty str is valid for (no surrogate, no control character, no
#: whitespace but space: see their checks in _primitive_check) -> whether spaces are allowed
_PLAIN_SPACES: Final = {
    "string": True,
    "markdown": True,
    "uri": True,
    "url": True,
    "canonical": True,
    "xhtml": True,
    "code": False,
}


def _compile_handler(field_name: str, info: FieldInfo) -> Handler:
    if field_name == "fhir_comments":  # str | list[str] | None, on every model
        return _primitive_check("fhir_comments", info.annotation)
    annotation, optional = _without_none(info.annotation)
    is_list = typing.get_origin(annotation) is list
    items_may_be_null = False
    if is_list:
        annotation, items_may_be_null = _without_none(typing.get_args(annotation)[0])
    handler: Handler
    if isinstance(annotation, type) and issubclass(annotation, FhirBase):
        model = annotation.get_model_klass()
        resources = issubclass(annotation, FhirElementOrResourceBase)
        if resources and model.__name__ != "Resource":
            raise TypeError(f"{field_name}: only Resource-typed open elements are supported")
        table = _compile(model)
        if is_list:
            handler = _object_list(table, resources, field_name.endswith("__ext"))
        else:
            handler = _resource(table) if resources else table.walk
            optional = True  # a required single complex element may still be null
    else:
        kind = _primitive_kind(annotation)
        check = _primitive_check(kind, annotation)
        if is_list:
            handler = _primitive_list(check, items_may_be_null, _PLAIN_SPACES.get(kind))
        else:
            handler = check
    return handler if optional else _null_rejected(handler)


def _compile_post(
    model: type[FHIRAbstractModel],
) -> Callable[[Mapping[Any, Any]], _Fail | None] | None:
    """The model's own rules, checked once its elements are: fhir_core's model validators."""
    instance = model.model_construct()  # no validation; only for the two methods below
    fields = model.model_fields
    # pydantic: a required field must be present (by alias or, populate_by_name, field name)
    required = tuple(
        (info.alias or name, name) for name, info in fields.items() if info.is_required()
    )
    # _validate_required_primitive_elements: a value, or an extension in `_x` saying why not
    aliases = model.get_alias_mapping()
    primitives: list[tuple[str, str, str | None, str | None, bool]] = []
    for element, ext_field in instance.get_required_fields():
        name = aliases[element]
        info = fields[name]
        ext_alias = None if ext_field is None else fields[ext_field].alias or ext_field
        is_list = typing.get_origin(_without_none(info.annotation)[0]) is list
        primitives.append((info.alias or name, name, ext_alias, ext_field, is_list))
    # _validate_one_of_many: at most one of each [x] group, exactly one if required
    groups = instance.get_one_of_many_fields()
    choice_keys = frozenset(
        key
        for names in groups.values()
        for name in names
        for key in (name, fields[name].alias or name)
    )
    required_groups = tuple(
        prefix
        for prefix, names in groups.items()
        if _schema_extra(fields[names[0]]).get("one_of_many_required") is True
    )
    groups_by_key = {
        key: prefix
        for prefix, names in groups.items()
        for name in names
        for key in {name, fields[name].alias or name}
    }
    # FHIRPrimitiveExtension.validate_extension_or_fhir_comment_required
    need_one_of = (
        ("id", "extension", "fhir_comments")
        if model.get_resource_type() == "FHIRPrimitiveExtension"
        else ()
    )
    if not (required or primitives or choice_keys or need_one_of):
        return None

    def post(obj: Mapping[Any, Any]) -> _Fail | None:
        for alias, name in required:
            if alias not in obj and name not in obj:
                return _Fail(f".{alias}", "required element missing")
        for alias, name, ext_alias, ext_name, is_list in primitives:
            value = obj[alias] if alias in obj else obj.get(name)
            if value is not None:
                continue
            if ext_alias is not None and ext_name is not None and not is_list:
                ext = obj[ext_alias] if ext_alias in obj else obj.get(ext_name)
                if isinstance(ext, str | bytes | bytearray):
                    ext = json.loads(ext)  # already checked: JSON text of an object
                if isinstance(ext, dict) and ext.get("extension"):
                    continue  # no value, but an extension saying why (extensibility.html)
            return _Fail(f".{alias}", "required element missing")
        if choice_keys:
            present = choice_keys.intersection(obj)
            if required_groups or (
                len(present) > 1 and len({groups_by_key[key] for key in present}) < len(present)
            ):
                chosen: dict[str, str] = {}
                for key, value in obj.items():  # key order, for a deterministic message
                    prefix = groups_by_key.get(key)
                    if prefix is None or value is None:
                        continue
                    if prefix in chosen:
                        message = f"expected one of {prefix}[x], got {chosen[prefix]!r} and {key!r}"
                        return _Fail(f".{prefix}[x]", message)
                    chosen[prefix] = key
                for prefix in required_groups:
                    if prefix not in chosen:
                        return _Fail(f".{prefix}[x]", "required element missing")
        if need_one_of and all(obj.get(key) is None for key in need_one_of):
            return _Fail("", "expected one of id, extension (empty primitive extension)")
        return None

    return post


def _schema_extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _single_primitive_kind(field_name: str, info: FieldInfo) -> str | None:
    if field_name == "fhir_comments":
        return None
    annotation, optional = _without_none(info.annotation)
    if not optional or typing.get_origin(annotation) is list:
        return None
    if isinstance(annotation, type) and issubclass(annotation, FhirBase):
        return None
    return _primitive_kind(annotation)


def _compile(model: type[FHIRAbstractModel]) -> _Table:
    """The table of one model, compiling what it refers to (call with _lock held)."""
    table = _tables.get(model)
    if table is not None:
        return table
    table = _Table(model.get_resource_type(), model.has_resource_base())
    _tables[model] = table  # before its elements: models refer to each other
    for name, info in model.model_fields.items():
        alias = info.alias or name
        handler = _compile_handler(name, info)
        table.handlers[alias] = handler
        kind = _single_primitive_kind(name, info)
        if kind in _PLAIN_SPACES:
            table.plain[alias] = _PLAIN_SPACES[kind]
        if name != alias:
            table.by_field_name[name] = (alias, handler)
    table.post = _compile_post(model)
    table.extra_ok = model.model_config.get("extra") in ("ignore", "allow")
    return table


def _named_table(name: str) -> _Table | None:
    """The complete table of the R4B type `name` (what get_fhir_model_class knows); None if none."""
    try:
        return _by_name[name]
    except KeyError:
        pass
    with _lock:
        if name not in _by_name:
            fhir_type = _MODEL_TYPES.get(name)
            _by_name[name] = None if fhir_type is None else _compile(fhir_type.get_model_klass())
        return _by_name[name]


def _resource_table(name: str) -> _Table | None:
    """The table of the R4B resource type `name`, as a `resourceType` may name it; else None."""
    table = _named_table(name)
    return table if table is not None and table.is_resource else None


# --------------------------------------------------------------------------- the walk


def _make_walk(table: _Table) -> Handler:
    """The check of a value of `table`'s type; its elements may be filled in later."""
    handlers = table.handlers
    plain = table.plain

    def walk(obj: Any) -> str | _Fail | None:
        if type(obj) is not dict:
            return _not_an_object(table, obj)
        for key, value in obj.items():
            if type(value) is str:  # the common case inline: printable text, a code
                spaces = plain.get(key)
                if (
                    spaces is not None
                    and value.isprintable()
                    and value
                    and (spaces or " " not in value)
                ):
                    continue
            try:
                handler = handlers[key]
            except KeyError:
                other = _other_key(table, obj, key, value)
                if other is None:
                    continue
                if type(other) is _Fail:
                    return other
                assert not isinstance(other, _Fail)
                handler = other
            outcome = handler(value)
            if outcome is not None:
                if type(outcome) is str:
                    return _Fail(f".{key}", outcome)
                assert isinstance(outcome, _Fail)
                return outcome.at(f".{key}")
        post = table.post
        return None if post is None else post(obj)

    return walk


def _other_key(
    table: _Table, obj: Mapping[Any, Any], key: Any, value: Any
) -> Handler | _Fail | None:
    """A key that is not an element's JSON name: a field name, resourceType, or unknown."""
    if key in table.by_field_name:  # populate_by_name, unless the alias is there too
        alias, handler = table.by_field_name[key]
        if alias in obj:
            return _Fail(f".{key}", f"unknown element {key!r} ({alias!r} is given)")
        return handler
    # FHIRAbstractModel.__init__ pops both and compares the one that wins with its own type
    if key == "resourceType" or (key == "resource_type" and "resourceType" not in obj):
        if value is not None and value != table.name:
            return _Fail(f".{key}", f"expected {table.name!r}, got {_show(value)}")
        return None
    if key == "resource_type" or table.extra_ok:
        return None
    return _Fail(f".{key}", f"unknown element {key!r}")


def check_resource(
    content: Mapping[str, Any], *, resource_type: str | None = None
) -> Problem | None:
    """None if fhir.resources (R4B) would accept `content`, else the first problem found.

    The type checked against is `resource_type` if given (as in
    `get_fhir_model_class(resource_type).model_validate(content)`; a `resourceType` in content
    must then name it, if present and not null), else `content["resourceType"]`, which must
    name an R4B resource. Paths are FHIRPath-like and start with that type:
    `Observation.code`, `Patient.name[0].given[1]`, `Bundle.entry[2].resource.status`.

    Raises ValueError if `resource_type` names no R4B type (as get_fhir_model_class does).
    """
    if resource_type is not None:
        table = _named_table(resource_type)
        if table is None:
            raise ValueError(f"{resource_type} is not a valid FHIR Model")
        root = resource_type
    else:
        named = content.get("resourceType") if isinstance(content, Mapping) else None
        if named is None:
            return Problem("resourceType", "required element missing")
        table = _resource_table(named) if isinstance(named, str) else None
        if table is None:
            wanted = "a FHIR R4B resource type"
            return Problem("resourceType", f"expected {wanted}, got {_show(named)}")
        root = named
    if not isinstance(content, Mapping):
        return Problem(root, f"expected a JSON object, got {_show(content)}")
    try:
        outcome = table.walk(content if type(content) is dict else dict(content))
    except RecursionError:
        return Problem(root, "nested too deeply to check")
    if outcome is None:
        return None
    assert isinstance(outcome, _Fail)  # a dict never gives a bare message
    return Problem(root + "".join(reversed(outcome.parts)), outcome.message)
