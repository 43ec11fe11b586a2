"""The seed payer-rule library (mappings/payers/): every file valid, every name it uses defined,
no invented PASI threshold, secondary sources unverified, the seeded payers and services present,
versions that don't overlap, and a body-area vocabulary that reads the fixture charts' sites."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from itertools import pairwise
from typing import Any

import pytest

from integration.mapping.loader import MappingDocument, iter_documents
from integration.mapping.text import PhraseMatcher
from integration.paths import mappings_dir

PAYERS_DIR = mappings_dir() / "payers"
ALL_DOCS = list(iter_documents())
LIBRARY = [d for d in ALL_DOCS if PAYERS_DIR in d.path.parents]
PAYERS = {d.id: d for d in LIBRARY if d.kind == "payer"}
RULES = [d for d in LIBRARY if d.kind == "payer-rule"]
(BODY_AREAS,) = [d for d in LIBRARY if d.kind == "body-areas"]
(THERAPY_CLASSES,) = [d for d in ALL_DOCS if d.kind == "therapy-classes"]
CLASS_IDS = {c["id"] for c in THERAPY_CLASSES.data["classes"]} | {"nb-uvb"}
AREA_IDS = {a["id"] for a in BODY_AREAS.data["areas"]}

#: service -> how a rule's applies_to.service shows it covers that service
SERVICES: dict[str, tuple[str, str]] = {
    "dupixent": ("drugs", "dupixent"),
    "skyrizi": ("drugs", "skyrizi"),
    "adalimumab": ("drugs", "adalimumab"),
    "tremfya": ("drugs", "tremfya"),
    "cosentyx": ("drugs", "cosentyx"),
    "nb-uvb": ("cpt", "96900"),
    "mohs": ("cpt", "17311"),
}


def covers(rule: MappingDocument, service: str) -> bool:
    field, value = SERVICES[service]
    listed = rule.data["applies_to"]["service"].get(field, [])
    return value in {str(v).lower() for v in listed}


def expressions(rule: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every (predicate, value) in a rule's criteria, reauth criteria and pa_required.when."""

    def walk(expr: Any) -> Iterator[tuple[str, Any]]:
        ((key, value),) = expr.items()
        yield key, value
        if key in ("all", "any"):
            for part in value:
                yield from walk(part)
        elif key == "at_least":
            for part in value["of"]:
                yield from walk(part)

    pa = rule["pa_required"]
    if isinstance(pa, Mapping):
        yield from walk(pa["when"])
    lists = [rule["criteria"], rule.get("approval", {}).get("reauth_criteria", "unknown")]
    for criteria in lists:
        if criteria != "unknown":
            for criterion in criteria:
                yield from walk(criterion["rule"])


def test_every_file_under_payers_loads_against_its_schema() -> None:
    on_disk = sorted(PAYERS_DIR.rglob("*.yaml"))
    assert on_disk
    assert sorted(d.path for d in LIBRARY) == on_disk
    assert {d.kind for d in LIBRARY} == {"payer", "payer-rule", "body-areas"}


def test_every_rule_names_an_existing_payer_and_lives_in_its_folder() -> None:
    for rule in RULES:
        payer = rule.data["payer"]
        assert payer in PAYERS, rule.path
        assert rule.path.parent.name == payer, rule.path
        assert PAYERS[payer].path.parent == rule.path.parent
        assert rule.id.startswith(f"{payer}-"), rule.path


def test_payer_ids_match_their_folders() -> None:
    for payer in PAYERS.values():
        assert payer.path.name == "payer.yaml"
        assert payer.path.parent.name == payer.id


def test_therapy_classes_are_known() -> None:
    for rule in RULES:
        for key, value in expressions(rule.data):
            if key == "therapy":
                assert set(value.get("classes", [])) <= CLASS_IDS, rule.path
            if key == "no_concurrent":
                assert set(value["classes"]) <= CLASS_IDS, rule.path


def test_body_areas_are_defined_in_the_vocabulary() -> None:
    for rule in RULES:
        for key, value in expressions(rule.data):
            if key == "body_area":
                assert set(value["areas"]) <= AREA_IDS, rule.path


def test_no_pasi_threshold_anywhere() -> None:
    """None of the researched policies states a PASI threshold; never encode one."""
    for rule in RULES:
        for key, value in expressions(rule.data):
            if key == "measure" and value["key"] == "PASI":
                assert "at_least" not in value and "at_most" not in value, rule.path


def test_secondary_sources_are_unverified() -> None:
    for rule in RULES:
        if rule.data["source"].get("secondary"):
            assert rule.data.get("verified") is False, rule.path


def test_every_rule_says_where_it_came_from() -> None:
    for rule in RULES:
        source = rule.data["source"]
        assert "research" in source.get("note", ""), rule.path  # which research row
        assert "verified" in rule.data, rule.path


def test_placeholder_effective_dates_say_so() -> None:
    for rule in RULES:
        if rule.data["effective_from"] == "2025-01-01":
            assert "placeholder" in rule.data.get("note", ""), rule.path


def test_at_least_five_payers_have_rules() -> None:
    assert len({r.data["payer"] for r in RULES}) >= 5


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_seeded_service_has_a_rule(service: str) -> None:
    assert any(covers(r, service) for r in RULES), service


@pytest.mark.parametrize(
    ("payer", "service"),
    [
        # every fixture order has a rule for its chart's payer
        ("cigna", "dupixent"),
        ("unitedhealthcare", "skyrizi"),
        ("unitedhealthcare", "tremfya"),
        ("medicare-part-b", "mohs"),
        ("aetna", "mohs"),
        ("anthem", "mohs"),
        # Dupixent for atopic dermatitis at each payer the research covers
        ("unitedhealthcare", "dupixent"),
        ("carefirst", "dupixent"),
        ("bcbs-kansas", "dupixent"),
        ("highmark", "dupixent"),
        ("medica", "dupixent"),
    ],
)
def test_required_payer_service_pairs_exist(payer: str, service: str) -> None:
    assert any(r.data["payer"] == payer and covers(r, service) for r in RULES)


def overlapping_versions(rules: list[Mapping[str, Any]]) -> list[str]:
    """Rule ids with two versions in force on a common day (or a repeated version number)."""
    by_id: dict[str, list[Mapping[str, Any]]] = {}
    for rule in rules:
        by_id.setdefault(rule["id"], []).append(rule)
    bad: list[str] = []
    for rule_id, versions in by_id.items():
        if len({v["version"] for v in versions}) != len(versions):
            bad.append(rule_id)
            continue
        spans = sorted(
            (
                date.fromisoformat(v["effective_from"]),
                date.fromisoformat(v["effective_to"]) if v.get("effective_to") else date.max,
            )
            for v in versions
        )
        if any(later[0] <= earlier[1] for earlier, later in pairwise(spans)):
            bad.append(rule_id)
    return bad


def test_no_two_versions_of_a_rule_overlap() -> None:
    assert overlapping_versions([r.data for r in RULES]) == []


def test_the_overlap_check_catches_an_open_ended_first_version() -> None:
    v1 = {"id": "x", "version": 1, "effective_from": "2025-01-01"}
    v2 = {"id": "x", "version": 2, "effective_from": "2026-01-01"}
    assert overlapping_versions([v1, v2]) == ["x"]
    closed = {**v1, "effective_to": "2025-12-31"}
    assert overlapping_versions([closed, v2]) == []
    assert overlapping_versions([closed, {**v2, "version": 1}]) == ["x"]


# --- payers --------------------------------------------------------------------------------


def payer_matchers() -> dict[str, PhraseMatcher]:
    return {p.id: PhraseMatcher([p.data["name"], *p.data["aliases"]]) for p in PAYERS.values()}


@pytest.mark.parametrize(
    ("names", "payer"),
    [
        # the fixture charts' Coverage payor and plan names
        (("Cigna", "Cigna Open Access Plus"), "cigna"),
        (("UnitedHealthcare", "UHC Choice Plus"), "unitedhealthcare"),
        (("Aetna", "Aetna Choice POS II"), "aetna"),
        (("Aetna", "Aetna Open Access"), "aetna"),
        (("Medicare Part B", "Medicare Part B"), "medicare-part-b"),
        (("BlueCross BlueShield", "Blue Choice PPO"), None),  # generic: no specific Blue plan
    ],
)
def test_fixture_coverages_match_the_right_payer(names: tuple[str, str], payer: str | None) -> None:
    hits = {pid for pid, m in payer_matchers().items() if any(m.find(n) for n in names)}
    assert hits == ({payer} if payer else set())


def test_no_alias_is_a_generic_blue_or_medicare_name() -> None:
    generic = {
        "blue cross",
        "blue shield",
        "bluecross blueshield",
        "blue cross blue shield",
        "bcbs",
        "medicare",
        "blue",
    }
    for payer in PAYERS.values():
        for alias in payer.data["aliases"]:
            assert alias.lower() not in generic, (payer.path, alias)


def test_commercial_payers_send_pharmacy_requests_by_ncpdp_epa() -> None:
    for payer in PAYERS.values():
        channels = payer.data["channels"]
        if "pharmacy" in channels:
            assert channels["pharmacy"] == "ncpdp-epa", payer.path


# --- body areas ----------------------------------------------------------------------------


def areas_in(text: str) -> set[str]:
    return {
        a["id"]
        for a in BODY_AREAS.data["areas"]
        if PhraseMatcher(a["words"]).find(text, skip_negated=True)
    }


@pytest.mark.parametrize(
    ("site", "areas"),
    [
        # fixture Condition.bodySite texts
        ("Flexures, neck, trunk, hands", {"neck", "hands"}),
        ("Left nasal ala", {"face"}),
        ("Right malar cheek", {"face"}),
        ("Scalp and face", {"scalp", "face"}),
        ("Elbows, knees, lower back, shins", set()),
        ("Left upper back", set()),
        # palms and soles fold into hands and feet
        ("Palmoplantar", {"hands", "feet"}),
        ("bilateral soles", {"feet"}),
        ("Axillae and inguinal folds", {"intertriginous"}),
        ("gluteal cleft", {"intertriginous"}),
        ("Antecubital and popliteal flexures", set()),  # flexures are not intertriginous
        ("Handle of mandible", set()),  # whole words only
    ],
)
def test_body_area_vocabulary_reads_sites(site: str, areas: set[str]) -> None:
    assert areas_in(site) == areas


def test_body_area_vocabulary_has_the_payer_named_areas() -> None:
    expected = {"hands", "feet", "face", "neck", "scalp", "genitals", "intertriginous"}
    assert expected == AREA_IDS
    for area in BODY_AREAS.data["areas"]:
        assert "flexure" not in " ".join(area["words"]), area["id"]
