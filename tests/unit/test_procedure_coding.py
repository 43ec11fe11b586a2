"""choose_codes: procedure mentions with their documented facts in, claim lines and documentation
gaps out (integration/coding/procedures.py), with the site and label tables it rests on."""

from __future__ import annotations

from decimal import Decimal

import pytest

from integration.coding.labels import code_label, code_labels, describe
from integration.coding.model import LineFacts
from integration.coding.procedures import (
    CodedLine,
    Gap,
    Mention,
    choose_codes,
    code_tables,
)
from integration.coding.sites import site_for_term, site_of, site_table


def D(value: str) -> Decimal:
    return Decimal(value)


def codes(lines: list[CodedLine]) -> list[str]:
    return [f"{ln.code} x{ln.units}" for ln in lines]


def bx(technique: str | None, **kw: object) -> Mention:
    return Mention("biopsy", LineFacts(technique=technique, **kw))  # type: ignore[arg-type]


# -- biopsies ------------------------------------------------------------------------------------


def test_punch_and_two_tangential_biopsies_are_one_punch_primary_and_two_tangential_addons() -> (
    None
):
    lines, gaps = choose_codes([bx("punch"), bx("tangential"), bx("tangential")])
    assert lines == [
        CodedLine("11104", 1, (), (0,)),
        CodedLine("11103", 2, (), (1, 2)),
    ]
    assert gaps == []


def test_the_primary_follows_the_hierarchy_not_the_order_of_mention() -> None:
    lines, _ = choose_codes([bx("tangential"), bx("punch"), bx("incisional"), bx("punch")])
    assert codes(lines) == ["11106 x1", "11105 x2", "11103 x1"]
    assert lines[0].mentions == (2,)
    assert lines[1].mentions == (1, 3)


def test_several_lesions_of_one_technique_split_into_primary_and_addons() -> None:
    lines, _ = choose_codes([bx("punch", lesion_count=3)])
    assert codes(lines) == ["11104 x1", "11105 x2"]


def test_biopsy_without_technique_is_a_gap_and_is_not_coded() -> None:
    lines, gaps = choose_codes([bx(None), bx("tangential")])
    assert codes(lines) == ["11102 x1"]
    assert [(g.mention, g.needs) for g in gaps] == [(0, "technique")]


# -- excisions -----------------------------------------------------------------------------------


def excision(**kw: object) -> Mention:
    return Mention("excision", LineFacts(**kw))  # type: ignore[arg-type]


def test_excised_diameter_is_lesion_plus_two_margins() -> None:
    # 1.2 cm BCC of the nose with 0.4 cm margins: excised 2.0 cm -> 11642 (not 11641 for 1.2)
    lines, gaps = choose_codes(
        [
            excision(
                site="nose", lesion_diameter_cm=D("1.2"), margin_cm=D("0.4"), pathology="malignant"
            )
        ]
    )
    assert lines == [CodedLine("11642", 1, (), (0,))]
    assert gaps == []


@pytest.mark.parametrize(
    ("site", "excised", "pathology", "code"),
    [
        ("back", "0.5", "benign", "11400"),
        ("back", "0.6", "benign", "11401"),
        ("back", "4.0", "malignant", "11604"),
        ("back", "4.1", "malignant", "11606"),
        ("scalp", "1.5", "malignant", "11622"),
        ("hand", "2.5", "benign", "11423"),
        ("ear", "3.0", "premalignant", "11443"),
    ],
)
def test_excision_code_by_site_group_band_and_pathology(
    site: str, excised: str, pathology: str, code: str
) -> None:
    lines, _ = choose_codes(
        [excision(site=site, excised_diameter_cm=D(excised), pathology=pathology)]
    )
    assert codes(lines) == [f"{code} x1"]


def test_missing_margin_is_a_gap_never_a_guess() -> None:
    lines, gaps = choose_codes(
        [excision(site="nose", lesion_diameter_cm=D("1.2"), pathology="malignant")]
    )
    assert lines == []
    assert [(g.mention, g.needs) for g in gaps] == [(0, "margin_cm")]
    assert "margin" in gaps[0].message


def test_pending_pathology_is_a_gap_benign_vs_malignant_waits() -> None:
    lines, gaps = choose_codes(
        [excision(site="back", lesion_diameter_cm=D("1.0"), margin_cm=D("0.2"))]
    )
    assert lines == []
    assert [g.needs for g in gaps] == ["pathology"]


def test_unknown_site_is_a_gap() -> None:
    lines, gaps = choose_codes(
        [excision(site="elbow-pit", excised_diameter_cm=D("1.0"), pathology="benign")]
    )
    assert lines == []
    assert [g.needs for g in gaps] == ["site"]


# -- repairs and adjacent tissue transfer --------------------------------------------------------


def repair(kind: str, site: str, length: str | None) -> Mention:
    return Mention(
        "repair",
        LineFacts(
            repair_type=kind, site=site, repair_length_cm=None if length is None else D(length)
        ),
    )


def test_repairs_of_one_complexity_and_group_are_summed() -> None:
    # two simple repairs on the trunk, 2.0 and 3.0 cm -> one 12002 for 5.0 cm
    lines, gaps = choose_codes([repair("simple", "back", "2.0"), repair("simple", "chest", "3.0")])
    assert lines == [CodedLine("12002", 1, (), (0, 1))]
    assert gaps == []


def test_repairs_of_different_groups_or_complexity_stay_apart() -> None:
    lines, _ = choose_codes(
        [
            repair("intermediate", "back", "2.0"),
            repair("intermediate", "hand", "2.0"),  # neck/hands/feet group
            repair("intermediate", "arm", "1.0"),  # same group as back: 3.0 cm
            repair("intermediate", "nose", "2.6"),
        ]
    )
    assert codes(lines) == ["12032 x1", "12041 x1", "12052 x1"]


def test_simple_repair_of_an_excision_is_included_intermediate_is_not() -> None:
    exc = excision(site="nose", excised_diameter_cm=D("1.0"), pathology="malignant")
    lines, _ = choose_codes([exc, repair("simple", "nose", "2.0")])
    assert codes(lines) == ["11641 x1"]
    lines, _ = choose_codes([exc, repair("intermediate", "nose", "2.0")])
    assert codes(lines) == ["11641 x1", "12051 x1"]


def test_complex_repair_add_on_counts_each_further_5_cm() -> None:
    lines, _ = choose_codes([repair("complex", "nose", "9.0")])
    assert codes(lines) == ["13152 x1", "13153 x1"]
    lines, _ = choose_codes([repair("complex", "back", "13.0")])
    assert codes(lines) == ["13101 x1", "13102 x2"]


def test_complex_repair_under_1_1_cm_and_vague_face_site_are_gaps() -> None:
    lines, gaps = choose_codes([repair("complex", "cheek", "1.0"), repair("complex", "face", "3")])
    assert lines == []
    assert [(g.mention, g.needs) for g in gaps] == [(0, "repair_type"), (1, "site")]


def test_repair_without_length_is_a_gap() -> None:
    lines, gaps = choose_codes([repair("intermediate", "arm", None)])
    assert lines == []
    assert [g.needs for g in gaps] == ["repair_length_cm"]


def test_adjacent_tissue_transfer_includes_the_excision_and_repair_at_its_site() -> None:
    mentions = [
        excision(site="nose", excised_diameter_cm=D("1.5"), pathology="malignant"),
        Mention("adjacent-tissue-transfer", LineFacts(site="nose", defect_area_sq_cm=D("8"))),
        repair("intermediate", "nose", "3.0"),
        excision(site="back", excised_diameter_cm=D("1.5"), pathology="malignant"),
    ]
    lines, gaps = choose_codes(mentions)
    assert codes(lines) == ["14060 x1", "11602 x1"]  # in the order mentioned
    assert gaps == []


@pytest.mark.parametrize(
    ("area", "want"),
    [
        ("10", ["14040 x1"]),
        ("10.1", ["14041 x1"]),
        ("45", ["14301 x1"]),
        ("100", ["14301 x1", "14302 x2"]),
    ],
)
def test_adjacent_tissue_transfer_by_defect_area(area: str, want: list[str]) -> None:
    lines, _ = choose_codes(
        [Mention("adjacent-tissue-transfer", LineFacts(site="cheek", defect_area_sq_cm=D(area)))]
    )
    assert codes(lines) == want


# -- destruction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "want"),
    [
        (1, ["17000 x1"]),
        (2, ["17000 x1", "17003 x1"]),
        (14, ["17000 x1", "17003 x13"]),
        (15, ["17004 x1"]),
        (40, ["17004 x1"]),
    ],
)
def test_premalignant_destruction_counts(count: int, want: list[str]) -> None:
    lines, _ = choose_codes(
        [Mention("destruction-premalignant", LineFacts(lesion_count=count, site="face"))]
    )
    assert codes(lines) == want


def test_premalignant_counts_add_up_across_mentions() -> None:
    mentions = [
        Mention("destruction-premalignant", LineFacts(lesion_count=8, site="face")),
        Mention("destruction-premalignant", LineFacts(lesion_count=9, site="scalp")),
    ]
    lines, _ = choose_codes(mentions)
    assert lines == [CodedLine("17004", 1, (), (0, 1))]


def test_destruction_without_a_count_is_a_gap() -> None:
    lines, gaps = choose_codes([Mention("destruction-premalignant", LineFacts(site="face"))])
    assert lines == []
    assert [g.needs for g in gaps] == ["lesion_count"]


def test_benign_destruction_and_skin_tags() -> None:
    warts = Mention("destruction-benign", LineFacts(lesion_type="wart", lesion_count=14))
    many = Mention("destruction-benign", LineFacts(lesion_type="wart", lesion_count=15))
    tags = Mention("destruction-benign", LineFacts(lesion_type="skin-tag", lesion_count=20))
    assert codes(choose_codes([warts])[0]) == ["17110 x1"]
    assert codes(choose_codes([many])[0]) == ["17111 x1"]
    assert codes(choose_codes([tags])[0]) == ["11200 x1", "11201 x1"]


def test_malignant_destruction_by_site_group_and_lesion_diameter() -> None:
    mentions = [
        Mention("destruction-malignant", LineFacts(site="back", lesion_diameter_cm=D("1.5"))),
        Mention("destruction-malignant", LineFacts(site="lip", lesion_diameter_cm=D("0.4"))),
        Mention("destruction-malignant", LineFacts(site="lip")),
    ]
    lines, gaps = choose_codes(mentions)
    assert codes(lines) == ["17262 x1", "17280 x1"]
    assert [(g.mention, g.needs) for g in gaps] == [(2, "lesion_diameter_cm")]


def test_shave_removal_by_site_and_diameter() -> None:
    lines, _ = choose_codes(
        [Mention("shave-removal", LineFacts(site="neck", lesion_diameter_cm=D("0.7")))]
    )
    assert codes(lines) == ["11306 x1"]


# -- Mohs ----------------------------------------------------------------------------------------


def mohs(site: str, stage: int | None, blocks: int | None) -> Mention:
    return Mention("mohs", LineFacts(site=site, mohs_stage=stage, mohs_blocks=blocks))


def test_mohs_stages_and_blocks_beyond_five() -> None:
    lines, gaps = choose_codes([mohs("nose", 1, 6), mohs("nose", 2, 3), mohs("nose", 3, 7)])
    assert codes(lines) == ["17311 x1", "17312 x2", "17315 x3"]
    assert lines[2].mentions == (0, 2)
    assert gaps == []


def test_mohs_family_follows_the_site() -> None:
    lines, _ = choose_codes([mohs("back", 1, 2), mohs("back", 2, 1)])
    assert codes(lines) == ["17313 x1", "17314 x1"]


def test_mohs_later_stage_without_a_first_is_a_gap() -> None:
    lines, gaps = choose_codes([mohs("ear", 2, 2)])
    assert lines == []
    assert [g.needs for g in gaps] == ["mohs_stage"]


def test_mohs_unknown_blocks_codes_the_stage_and_reports_the_gap() -> None:
    lines, gaps = choose_codes([mohs("scalp", 1, None)])
    assert codes(lines) == ["17311 x1"]
    assert [g.needs for g in gaps] == ["mohs_blocks"]


def test_mohs_with_repair_on_top() -> None:
    lines, _ = choose_codes([mohs("nose", 1, 3), repair("complex", "nose", "4.0")])
    assert codes(lines) == ["17311 x1", "13152 x1"]


def test_unknown_mention_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="expected a kind"):
        choose_codes([Mention("laser", LineFacts())])


def test_gap_names_a_line_facts_field() -> None:
    fields = set(LineFacts.__dataclass_fields__)
    _, gaps = choose_codes(
        [bx(None), excision(site="nose"), mohs("face", None, None), repair(None, "x", None)]  # type: ignore[arg-type]
    )
    assert gaps and all(isinstance(g, Gap) and g.needs in fields for g in gaps)


# -- sites and labels ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("left nasal ala", "nose"),
        ("nasal tip", "nose"),
        ("dorsum of the hand", "hand"),
        ("right upper back", "back"),
        ("left shin", "pretibial"),
        ("helical rim of the right ear", "ear"),
        ("lower lip vermilion", "lip"),
    ],
)
def test_site_for_term(text: str, key: str) -> None:
    site = site_for_term(text)
    assert site is not None and site.key == key


def test_every_site_maps_into_the_code_tables() -> None:
    t = code_tables()
    for site in site_table().sites.values():
        assert site.excision_group in t.excision_benign.codes
        assert site.excision_group in t.shave.codes
        assert site.repair_simple_group in t.repair["simple"]
        assert site.repair_intermediate_group in t.repair["intermediate"]
        if site.repair_complex_group is not None:
            assert site.repair_complex_group in t.complex_groups
            assert site.repair_complex_group in t.att_groups
        assert site.mohs_group in t.mohs_families
    nose = site_of("nose")
    assert nose is not None and nose.mohs_auc_area == "H"
    assert site_of("no-such-site") is None


def test_every_code_the_tables_can_choose_has_our_own_label() -> None:
    t = code_tables()
    chosen = {c for _tech, p, a in t.biopsy for c in (p, a)}
    for banded in (t.excision_benign, t.excision_malignant, t.shave, t.malignant_destruction):
        chosen |= {c for cs in banded.codes.values() for c in cs}
    chosen |= {c for groups in t.repair.values() for _b, cs in groups.values() for c in cs}
    chosen |= {c for cs in t.complex_groups.values() for c in cs}
    chosen |= t.att_codes_all()
    chosen |= {c for cs in t.mohs_families.values() for c in cs} | {t.mohs_block_addon}
    chosen |= {*t.premalignant[:2], t.premalignant[3], *t.benign[:2]}
    missing = sorted(c for c in chosen if not code_label(c))
    assert missing == []
    assert describe("17004") == f"17004 ({code_labels()['17004']})"
    assert code_label("99999") == ""
