"""Topical corticosteroid potency (mappings/evidence/tcs-potency.yaml, from StatPearls NBK532940):
real chart names get the source's class, anything the table can't decide is None."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration.mapping.loader import MappingError, load_document
from integration.mapping.potency import PotencyTable, group_at_least, load_potency_table
from integration.paths import mappings_dir

_TABLE = load_potency_table()


@pytest.fixture(scope="module")
def table() -> PotencyTable:
    return _TABLE


@pytest.mark.parametrize(
    ("name", "classes", "group"),
    [
        # names as they appear in the fixture charts' evidence
        ("clobetasol propionate 0.05% ointment", (1,), "super-high"),
        ("triamcinolone acetonide 0.1% ointment", (4, 5), "medium"),
        ("triamcinolone acetonide 0.1% cream", (4, 5), "medium"),
        ("betamethasone dipropionate 0.05% cream", (3,), "medium"),
        ("hydrocortisone 1% cream", (7,), "low"),
        ("Hydrocortisone 10 MG/ML Topical Cream", (7,), "low"),  # RxNorm's form of 1%
        # other rows of the source
        ("Clobetasol Propionate 0.05% foam", (1,), "super-high"),  # "in any vehicle"
        ("clobetasol propionate 0.05%", (1,), "super-high"),
        ("augmented betamethasone dipropionate 0.05% ointment", (1,), "super-high"),
        ("betamethasone dipropionate, augmented 0.05% cream", (2,), "high"),
        ("betamethasone dipropionate 0.05% ointment", (2,), "high"),
        ("fluocinonide 0.1% cream", (1,), "super-high"),
        ("fluocinonide 0.05% gel", (2,), "high"),
        ("triamcinolone acetonide 0.5% ointment", (3,), "medium"),
        ("mometasone furoate 0.1% ointment", (4, 5), "medium"),
        ("hydrocortisone butyrate 0.1% ointment", (4, 5), "medium"),
        ("hydrocortisone butyrate 0.1% cream", (6,), "low"),
        ("desonide 0.05% lotion", (6,), "low"),
        ("fluocinolone 0.01% cream", (6,), "low"),
        ("hydrocortisone 2.5% ointment", (7,), "low"),
    ],
)
def test_names_get_the_sources_class(
    table: PotencyTable, name: str, classes: tuple[int, ...], group: str
) -> None:
    match = table.classify(name)
    assert match is not None, name
    assert match.classes == classes
    assert match.potency_class == (classes[0] if len(classes) == 1 else None)
    assert match.group == group
    assert table.potency_group(name) == group


@pytest.mark.parametrize(
    "name",
    [
        # combination product: the source doesn't list it
        "calcipotriene 0.005% / betamethasone dipropionate 0.064% ointment",
        "clotrimazole and betamethasone dipropionate 0.05% cream",
        # no strength, or a strength the source doesn't list
        "clobetasol propionate ointment",
        "triamcinolone acetonide 0.2% spray",
        "clobetasol propionate 0.025% cream",
        # the class depends on a vehicle the name doesn't give
        "hydrocortisone butyrate 0.1%",
        "betamethasone dipropionate 0.05%",
        # a vehicle the source doesn't list for that strength
        "triamcinolone acetonide 0.1% spray",
        "halobetasol propionate 0.05% lotion",
        # another salt or ester than the source's, or no salt named
        "hydrocortisone acetate 1% cream",
        "triamcinolone 0.1% cream",
        # brands: the source names none
        "Temovate 0.05% ointment",
        "Diprolene ointment",
        # not a topical corticosteroid, or nothing at all
        "tacrolimus 0.1% ointment",
        "Dupixent (dupilumab) 300 mg/2 mL prefilled pen",
        "methotrexate 2.5 mg tablet",
        "",
    ],
)
def test_unknown_or_ambiguous_names_are_none(table: PotencyTable, name: str) -> None:
    assert table.classify(name) is None
    assert table.potency_group(name) is None
    assert table.meets(name, "low") is None


def test_group_order() -> None:
    assert group_at_least("super-high", "medium")
    assert group_at_least("medium", "medium")
    assert group_at_least("high", "low")
    assert not group_at_least("low", "medium")
    assert not group_at_least("medium", "high")
    with pytest.raises(ValueError, match="potency group"):
        group_at_least("mid", "low")


def test_class_three_is_medium_to_high(table: PotencyTable) -> None:
    """StatPearls calls class III "medium- to high-potency": certainly medium, maybe high."""
    name = "betamethasone dipropionate 0.05% cream"
    match = table.classify(name)
    assert match is not None
    assert match.groups == ("medium", "high")
    assert table.meets(name, "medium") is True
    assert table.meets(name, "high") is None
    assert table.meets(name, "super-high") is False
    assert table.meets("clobetasol propionate 0.05% ointment", "high") is True
    assert table.meets("hydrocortisone 1% cream", "medium") is False


def test_every_class_has_a_group_and_the_file_cites_its_source() -> None:
    doc = load_document(mappings_dir() / "evidence" / "tcs-potency.yaml")
    covered = {c for g in doc.data["groups"] for c in g["classes"]}
    assert covered == set(range(1, 8))
    assert "NBK532940" in doc.data["source"]["url"]
    assert all(len(g["basis"]) > 5 for g in doc.data["groups"])


def test_an_entry_with_an_unknown_molecule_is_refused() -> None:
    doc = load_document(mappings_dir() / "evidence" / "tcs-potency.yaml")
    broken = dict(doc.data)
    extra = {"molecule": "nope", "strengths": ["1"], "vehicles": "any", "classes": [7]}
    broken["entries"] = [*doc.data["entries"], extra]
    with pytest.raises(MappingError, match=r"entries/\d+/molecule"):
        PotencyTable.from_document(replace(doc, data=broken))


@given(st.text(max_size=200))
def test_classify_never_raises(text: str) -> None:
    match = _TABLE.classify(text)
    assert match is None or 1 <= min(match.classes) <= 7


@given(
    st.lists(
        st.sampled_from(
            [
                "clobetasol",
                "propionate",
                "0.05%",
                "10 mg/mL",
                "/",
                "and",
                "cream",
                "ointment",
                "hydrocortisone",
                "1%",
                "augmented",
                "betamethasone",
                "dipropionate",
                "(",
                ")",
                ",",
            ]
        ),
        max_size=12,
    ).map(" ".join)
)
def test_classify_never_raises_on_near_misses(text: str) -> None:
    _TABLE.classify(text)
