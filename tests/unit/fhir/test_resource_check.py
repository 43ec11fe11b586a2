"""integration/fhir/resource_check.py gives fhir.resources' verdict (R4B model_validate), faster.

Agreement is checked on every resource of the fixtures (fixtures/hl7/*.fhir.json, the charts in
fixtures/patients/ entry by entry and as whole Bundles), all valid; on mutations of them
(hypothesis, with fixed examples so runs repeat): elements deleted or added, values replaced by
the wrong type, whitespace, bad dates, bad ids, out-of-range integers, a second choice of an
`[x]` group, `_x` primitive extensions, nested resourceType keys, contained resources; and on
single primitive values of every FHIR primitive type put in an Extension. The oracle is
`get_fhir_model_class(type).model_validate(x)` for the resource's original type, counting any
exception as a refusal (fhir.resources raises KeyError or AttributeError for a few inputs).
A few problems are asserted word for word, so messages stay useful.
"""

from __future__ import annotations

import copy
import json
import re
import string
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import fhirtypes, get_fhir_model_class
from fhir_core import types as fhir_core_types
from fhir_core.types import FhirBase
from hypothesis import example, given, settings
from hypothesis import strategies as st

from integration.fhir.resource_check import Problem, check_resource

ROOT = Path(__file__).resolve().parents[3]
HL7 = sorted((ROOT / "fixtures" / "hl7").glob("*.fhir.json"))
COMPANIONS = (".facts.json", ".evidence.json")
CHARTS = sorted(
    p for p in (ROOT / "fixtures" / "patients").rglob("*.json") if not p.name.endswith(COMPANIONS)
)
REPEATABLE = settings(derandomize=True, deadline=None, max_examples=300)

Json = dict[str, Any]


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def hl7_resources() -> tuple[Json, ...]:
    return tuple(
        item["resource"]
        for path in HL7
        for message in load(path)["messages"]
        for item in message.get("resources", [])
    )


@cache
def chart_bundles() -> tuple[Json, ...]:
    return tuple(load(path) for path in CHARTS)


@cache
def all_resources() -> tuple[Json, ...]:
    charts = tuple(entry["resource"] for bundle in chart_bundles() for entry in bundle["entry"])
    return hl7_resources() + charts


def fhir_resources_accepts(content: Any, resource_type: str) -> bool:
    try:
        get_fhir_model_class(resource_type).model_validate(content)
    except Exception:  # ValidationError; KeyError, AttributeError for some inputs
        return False
    return True


def assert_agrees(content: Any, resource_type: str) -> None:
    problem = check_resource(content, resource_type=resource_type)
    accepted = fhir_resources_accepts(content, resource_type)
    if accepted:
        assert problem is None, f"fhir.resources accepts what check_resource refuses: {problem}"
    else:
        assert problem is not None, "fhir.resources refuses what check_resource accepts"


# --------------------------------------------------------------------------- the fixtures


def test_fixtures_are_there() -> None:
    assert len(hl7_resources()) >= 50
    assert len(all_resources()) >= 4000


@pytest.mark.parametrize("path", HL7, ids=[p.name for p in HL7])
def test_hl7_fixture_resources_are_valid(path: Path) -> None:
    for message in load(path)["messages"]:
        for item in message.get("resources", []):
            resource = item["resource"]
            assert check_resource(resource) is None
            assert fhir_resources_accepts(resource, resource["resourceType"])


@pytest.mark.parametrize("path", CHARTS, ids=[p.name for p in CHARTS])
def test_chart_resources_are_valid(path: Path) -> None:
    bundle = load(path)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert check_resource(resource) is None, resource["id"]
        assert fhir_resources_accepts(resource, resource["resourceType"]), resource["id"]
    assert check_resource(bundle) is None  # the whole Bundle: entries by their resourceType
    assert fhir_resources_accepts(bundle, "Bundle")


def r4b_resource_types() -> list[str]:
    names = []
    for attr, value in vars(fhirtypes).items():
        if attr.endswith("Type") and isinstance(value, type) and issubclass(value, FhirBase):
            model = value.get_model_klass()
            if model.has_resource_base():
                names.append(attr[: -len("Type")])
    return sorted(names)


def test_every_r4b_resource_type_compiles_and_agrees_when_empty() -> None:
    """An empty resource of every type: the required elements and choices of all of R4B."""
    names = r4b_resource_types()
    assert len(names) > 140
    for name in names:
        assert_agrees({"resourceType": name}, name)
        assert_agrees({"resourceType": name, "id": "x", "meta": {}, "text": None}, name)


# --------------------------------------------------------------------------- mutations


def sample() -> list[Json]:
    """A few resources of each type (the first, the largest), a small Bundle, a contained one."""
    by_type: dict[str, list[Json]] = {}
    for resource in all_resources():
        by_type.setdefault(resource["resourceType"], []).append(resource)
    picked: list[Json] = []
    for resources in by_type.values():
        picked.append(resources[0])
        largest = max(resources, key=lambda r: len(json.dumps(r)))
        if largest is not resources[0] and len(json.dumps(largest)) < 20_000:
            picked.append(largest)
    small_bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": f"urn:uuid:{i}", "resource": r, "request": {"method": "PUT", "url": "x"}}
            for i, r in enumerate(hl7_resources()[:4])
        ],
    }
    with_contained = copy.deepcopy(by_type["Observation"][0])
    with_contained["contained"] = [copy.deepcopy(by_type["Organization"][0])]
    return [*picked, small_bundle, with_contained]


SAMPLE = sample()

Path_ = tuple[str | int, ...]


def locations(node: Any, at: Path_ = ()) -> Iterator[Path_]:
    """Every value's path below the resource (not the top-level resourceType)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if at or key != "resourceType":
                yield (*at, key)
                yield from locations(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*at, index)
            yield from locations(value, (*at, index))


def objects(node: Any, at: Path_ = ()) -> Iterator[Path_]:
    """Every object's path (the resource is `()`)."""
    if isinstance(node, dict):
        yield at
        for key, value in node.items():
            yield from objects(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from objects(value, (*at, index))


def get(root: Any, at: Path_) -> Any:
    for step in at:
        root = root[step]
    return root


BAD_DATES = [
    "2024-13-40",
    "2024-02-30",
    "2023-02-29",
    "2024-02-29",
    "2000-02-29",
    "1900-02-29",
    "2024-04-31",
    "2024-1-01",
    "24-01-01",
    "2024-00",
    "0000",
    "2024",
    "2024-06",
    "20240601",
    "2024-06-01T10:00",
    "2024-06-01T10:00:00",
    "2024-06-01T10:00:00Z",
    "2024-06-01T24:00:00Z",
    "2024-06-01T23:59:60Z",
    "2024-02-30T10:00:00Z",
    "2024-06-01T10:00:00.123456789+14:00",
    "2024-06-01T10:00:00+14:30",
    "2024-06-01T10:00:00-13:59",
    "2024-06-01 10:00:00Z",
    "10:00:00",
    "10:00",
    "25:00:00",
    "23:59:60.5",
]
ODD_STRINGS = [
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\x0b",
    "\u00a0",
    "\u2028",
    "\x1c",
    "a  b",
    "a\u00a0b",
    "\ud800",
    "a_b",
    "a b",
    "x" * 65,
    "x" * 256,
    "urn:oid:1.2.3",
    "urn:oid:1.02",
    "urn:uuid:c757873d-ec9a-4326-a141-556f43239520",
    "c757873d-ec9a-1326-a141-556f43239520",
    "aGVsbG8=",
    "aGVsbG8",
    "a",
    "12",
    " 12 ",
    "-1",
    "0",
    "1.50",
    "01",
    "1e3",
    "abc",
    "true",
    "yes",
    "final",
    "Patient/x",
    '{"text": "x"}',
    '{"foo": 1}',
    "{}",
    "[]",
    "null",
]
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    5,
    2**31,
    -(2**31) - 1,
    1.0,
    1.5,
    -0.0,
    1e16,
    float("inf"),
    [],
    [None],
    ["x"],
    [5],
    [{}],
    {},
    {"id": "x"},
    {"extension": []},
    {"text": "x"},
    {"foo": 1},
    {"resourceType": "Patient"},
    {"resourceType": "Foo"},
]
CHOICE_TYPES: list[tuple[str, Any]] = [
    ("String", "x"),
    ("Boolean", True),
    ("DateTime", "2024-06-01"),
    ("Integer", 3),
    ("CodeableConcept", {"text": "x"}),
    ("Quantity", {"value": 1}),
    ("Period", {"start": "2024"}),
    ("Reference", {"reference": "Patient/x"}),
]


def split_choice(key: str) -> str:
    """`valueQuantity` -> `value`: the part before the first capital."""
    for index, char in enumerate(key):
        if char.isupper():
            return key[:index]
    return key


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Json]:
    original = draw(st.sampled_from(SAMPLE))
    resource = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, 2))):
        mutate(draw, resource)
    return original["resourceType"], resource


def mutate(draw: st.DrawFn, resource: Json) -> None:
    kind = draw(
        st.sampled_from(
            [
                "delete",
                "replace",
                "unknown",
                "choice",
                "primitive-extension",
                "field-name",
                "resource-type",
            ]
        )
    )
    if kind in ("delete", "replace"):
        at = draw(st.sampled_from(list(locations(resource))))
        parent, key = get(resource, at[:-1]), at[-1]
        if kind == "delete":
            del parent[key]
            return
        value = parent[key]
        parent[key] = draw(replacement(value))
        return
    at = draw(st.sampled_from(list(objects(resource))))
    obj = get(resource, at)
    keys = [k for k in obj if k != "resourceType"]
    if kind == "unknown":
        name = draw(st.sampled_from(["foo", "Value", "_foo", "fhir_comments", "resource_type"]))
        obj[name] = draw(st.sampled_from(["x", 1, ["x"], None]))
    elif kind == "choice" and keys:
        prefix = split_choice(draw(st.sampled_from(keys)))
        suffix, value = draw(st.sampled_from(CHOICE_TYPES))
        obj[prefix + suffix] = copy.deepcopy(value)
    elif kind == "primitive-extension" and keys:
        key = draw(st.sampled_from(keys))
        ext = draw(
            st.sampled_from(
                [
                    {"extension": [{"url": "http://x", "valueString": "why"}]},
                    {"extension": []},
                    {"id": "a"},
                    {"fhir_comments": "why"},
                    {"id": None, "extension": None},
                    {},
                    [None, {"id": "a"}],
                    [{}],
                    "x",
                ]
            )
        )
        obj["_" + key] = copy.deepcopy(ext)
        if draw(st.booleans()):
            del obj[key]  # a required primitive may be replaced by an extension saying why
    elif kind == "field-name" and keys:
        # pydantic's populate_by_name: `class_fhir` for `class`, `status__ext` for `_status`
        key = draw(st.sampled_from(keys))
        value = obj[key] if draw(st.booleans()) else obj.pop(key)
        name = draw(st.sampled_from([f"{key}_fhir", f"{key.lstrip('_')}__ext", key.lstrip("_")]))
        obj[name] = copy.deepcopy(value)
    elif kind == "resource-type" and at:
        obj["resourceType"] = draw(
            st.sampled_from(
                [
                    "CodeableConcept",
                    "Reference",
                    "HumanName",
                    "Coding",
                    "Patient",
                    "Resource",
                    "DomainResource",
                    "Foo",
                    None,
                ]
            )
        )


def replacement(value: Any) -> st.SearchStrategy[Any]:
    options: list[st.SearchStrategy[Any]] = [
        st.sampled_from(ODD_VALUES).map(copy.deepcopy),
        st.sampled_from(ODD_STRINGS),
        st.sampled_from(BAD_DATES),
        st.just([copy.deepcopy(value)]),  # a list where a single value is expected
    ]
    if isinstance(value, str):
        options.append(
            st.sampled_from(
                [f" {value}", f"{value} ", f"{value}\n", f"\t{value}", value.replace(" ", "  ")]
            )
        )
        options.append(st.text(max_size=6))
    if isinstance(value, list) and value:
        options.append(st.just(copy.deepcopy(value[0])))  # a single value where a list is
        options.append(st.just([*copy.deepcopy(value), None]))
    if isinstance(value, dict):
        options.append(st.just(json.dumps(value)))  # JSON text of the object
    if isinstance(value, int | float) and not isinstance(value, bool):
        options.append(st.sampled_from([str(value), -value, value - 1, value + 0.5, 0]))
    return st.one_of(options)


@settings(REPEATABLE, max_examples=1000)
@given(mutated())
@example(("Observation", {"resourceType": "Observation", "status": "final"}))
@example(("Observation", {"resourceType": "Observation", "code": {}, "_status": {"extension": []}}))
@example(
    (
        "Observation",
        {
            "resourceType": "Observation",
            "code": {},
            "_status": {"extension": [{"url": "x", "valueCode": "asked-unknown"}]},
        },
    )
)
@example(("Patient", {"resourceType": "Patient", "contained": [{"resourceType": "Foo"}]}))
@example(("Patient", {"resourceType": "Patient", "photo": [{"url": 5}]}))
@example(("Patient", {"resourceType": None, "name": [{"given": ["a"]}]}))
@example(("Encounter", {"resourceType": "Encounter", "status": "planned", "class_fhir": {}}))
@example(("Encounter", {"status": "planned", "class": {}, "class_fhir": {}}))
def test_mutated_fixture_resources_agree(case: tuple[str, Json]) -> None:
    resource_type, resource = case
    assert_agrees(resource, resource_type)


# --------------------------------------------------------------------------- primitives

PRIMITIVES = {
    "Base64Binary": fhir_core_types.Base64BinaryType,
    "Boolean": fhir_core_types.BooleanType,
    "Canonical": fhir_core_types.CanonicalType,
    "Code": fhir_core_types.CodeType,
    "Date": fhir_core_types.DateType,
    "DateTime": fhir_core_types.DateTimeType,
    "Decimal": fhir_core_types.DecimalType,
    "Id": fhir_core_types.IdType,
    "Instant": fhir_core_types.InstantType,
    "Integer": fhir_core_types.IntegerType,
    "Markdown": fhir_core_types.MarkdownType,
    "Oid": fhir_core_types.OidType,
    "PositiveInt": fhir_core_types.PositiveIntType,
    "String": fhir_core_types.StringType,
    "Time": fhir_core_types.TimeType,
    "UnsignedInt": fhir_core_types.UnsignedIntType,
    "Uri": fhir_core_types.UriType,
    "Url": fhir_core_types.UrlType,
    "Uuid": fhir_core_types.UuidType,
}
PATTERNS: dict[str, str | re.Pattern[str]] = {
    "Date": fhir_core_types.Date.pattern,
    "DateTime": fhir_core_types.DateTime.pattern,
    "Instant": fhir_core_types.Instant.pattern,
    "Time": fhir_core_types.Time.pattern,
    "Decimal": fhir_core_types.Decimal.pattern,
    "Oid": r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+",
    "Id": r"[A-Za-z0-9\-.]{1,70}",
    "Base64Binary": r"([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?",
}
# whitespace of every kind, controls, separators, surrogates, letters, digits, punctuation
ALPHABET = st.one_of(
    st.sampled_from(list(" \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2028\u2029\u3000\ud800")),
    st.sampled_from(list(string.ascii_letters + string.digits + "-.:+/=_ TZ")),
    st.characters(),
)


def primitive_values(name: str) -> st.SearchStrategy[Any]:
    options: list[st.SearchStrategy[Any]] = [
        st.text(ALPHABET, max_size=12),
        st.integers(-(2**33), 2**33),
        st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
        st.sampled_from(ODD_STRINGS + BAD_DATES),
        st.sampled_from(ODD_VALUES),
    ]
    if name in PATTERNS:
        valid = st.from_regex(PATTERNS[name], fullmatch=True)
        options.append(valid)
        options.append(
            st.tuples(valid, st.sampled_from(["", " ", "\n", "0", "Z", "x"])).map("".join)
        )
    return st.one_of(options)


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_each_primitive_agrees_with_pydantic(name: str) -> None:
    @REPEATABLE
    @given(primitive_values(name))
    def agree(value: Any) -> None:
        patient = {"resourceType": "Patient", "extension": [{"url": "u", f"value{name}": value}]}
        assert_agrees(patient, "Patient")

    agree()


@REPEATABLE
@given(st.one_of(st.text(ALPHABET, max_size=8), st.sampled_from(ODD_VALUES)))
def test_xhtml_and_lists_of_primitives_agree(value: Any) -> None:
    assert_agrees(
        {"resourceType": "Patient", "text": {"status": "generated", "div": value}}, "Patient"
    )
    assert_agrees({"resourceType": "Patient", "name": [{"given": [value, "x"]}]}, "Patient")
    assert_agrees({"resourceType": "Patient", "name": [{"given": value}]}, "Patient")
    assert_agrees(
        {"resourceType": "Patient", "name": [{"family": "x", "fhir_comments": value}]}, "Patient"
    )


# --------------------------------------------------------------------------- messages


def problem(content: Json) -> Problem | None:
    return check_resource(content)


def test_messages_say_where_and_what() -> None:
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "PASI"}}
    assert problem(observation) is None
    assert problem({"resourceType": "Observation", "status": "final"}) == Problem(
        "Observation.code", "required element missing"
    )
    assert problem({"resourceType": "Observation", "code": {}}) == Problem(
        "Observation.status", "required element missing"
    )
    assert problem({**observation, "valueString": "x", "valueInteger": 3}) == Problem(
        "Observation.value[x]", "expected one of value[x], got 'valueString' and 'valueInteger'"
    )
    assert problem({**observation, "effectiveDateTime": "2024-13-40"}) == Problem(
        "Observation.effectiveDateTime",
        "expected a dateTime YYYY[-MM[-DD[Thh:mm:ss[.fff](Z|+hh:mm)]]], got '2024-13-40'",
    )
    patient = {"resourceType": "Patient", "name": [{"family": "X", "given": ["A", 5]}]}
    assert problem(patient) == Problem(
        "Patient.name[0].given[1]", "expected a string (not empty, not only whitespace), got 5"
    )
    assert problem({"resourceType": "Patient", "gender": " F"}) == Problem(
        "Patient.gender", "expected a code (no leading/trailing whitespace), got ' F'"
    )
    assert problem({"resourceType": "Patient", "birthDate": "2023-02-29"}) == Problem(
        "Patient.birthDate", "expected a date YYYY[-MM[-DD]], got '2023-02-29' (no such day)"
    )
    assert problem({"resourceType": "Patient", "foo": 1}) == Problem(
        "Patient.foo", "unknown element 'foo'"
    )
    assert problem({"resourceType": "Patient", "name": {"family": "X"}}) == Problem(
        "Patient.name", "expected a list, got an object"
    )
    assert problem({"resourceType": "Patient", "id": "a_b"}) == Problem(
        "Patient.id", "expected an id ([A-Za-z0-9-.], 1-255 characters), got 'a_b'"
    )
    coverage = {
        "resourceType": "Coverage",
        "status": "active",
        "beneficiary": {"reference": "Patient/p"},
        "payor": [{"reference": "Organization/o"}],
        "period": {"start": "2024-02-30"},
    }
    assert problem(coverage) == Problem(
        "Coverage.period.start",
        "expected a dateTime YYYY[-MM[-DD[Thh:mm:ss[.fff](Z|+hh:mm)]]], got '2024-02-30' (no such day)",
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": observation}, {"resource": {**observation, "status": None}}],
    }
    assert problem(bundle) == Problem("Bundle.entry[1].resource.status", "required element missing")
    assert problem({"resourceType": "Patient", "contained": [{"resourceType": "Foo"}]}) == Problem(
        "Patient.contained[0].resourceType", "expected a FHIR R4B resource type, got 'Foo'"
    )
    assert problem({"resourceType": "Patient", "multipleBirthInteger": "two"}) == Problem(
        "Patient.multipleBirthInteger", "expected an integer (-2147483648..2147483647), got 'two'"
    )
    assert problem({"resourceType": "Patient", "photo": [{"size": -1}]}) == Problem(
        "Patient.photo[0].size", "expected an unsignedInt (0..2147483647), got -1"
    )


def test_resource_type() -> None:
    assert problem({"name": []}) == Problem("resourceType", "required element missing")
    assert problem({"resourceType": "HumanName"}) == Problem(
        "resourceType", "expected a FHIR R4B resource type, got 'HumanName'"
    )
    # with the type given, as get_fhir_model_class(type).model_validate(content) is used
    assert check_resource({"name": []}, resource_type="Patient") is None
    assert check_resource({"family": "X"}, resource_type="HumanName") is None
    assert check_resource({"resourceType": "Patient"}, resource_type="Observation") == Problem(
        "Observation.resourceType", "expected 'Observation', got 'Patient'"
    )
    with pytest.raises(ValueError, match="not a valid FHIR Model"):
        check_resource({}, resource_type="Foo")


def test_lax_values_fhir_resources_accepts_are_accepted() -> None:
    """Not FHIR, but fhir.resources (pydantic lax mode) takes them: so does the check."""
    lax: list[tuple[str, Callable[[], Json]]] = [
        ("integer as text", lambda: {"resourceType": "Patient", "multipleBirthInteger": "2"}),
        ("boolean as text", lambda: {"resourceType": "Patient", "active": "yes"}),
        ("date as timestamp", lambda: {"resourceType": "Patient", "birthDate": 0}),
        (
            "null complex element",
            lambda: {"resourceType": "Observation", "status": "x", "code": None},
        ),
        (
            "element as JSON text",
            lambda: {"resourceType": "Patient", "maritalStatus": '{"text": "M"}'},
        ),
        ("empty list", lambda: {"resourceType": "Patient", "name": []}),
        ("field name", lambda: {"resourceType": "Encounter", "status": "x", "class_fhir": {}}),
    ]
    for why, content in lax:
        assert check_resource(content()) is None, why
        assert fhir_resources_accepts(content(), content()["resourceType"]), why
