from __future__ import annotations

from datetime import date
from decimal import Decimal

from integration.evidence.assemble import assemble_evidence
from integration.mapping.evidence_maps import EvidenceMaps
from tests.unit.evidence.builders import EPIC, OURS, chart, coded, obs

AS_OF = date(2026, 11, 15)


def test_scores_come_from_local_codes_and_newest_first(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(
            obs("a", coded(EPIC, "3040104370"), "2025-01-10", valueQuantity={"value": 14.2}),
            obs(
                "b",
                coded(EPIC, "3040104370"),
                "2026-03-01T10:00:00-05:00",
                valueQuantity={"value": 11},
            ),
            obs(
                "c",
                coded(EPIC, "3040104371"),
                "2026-03-01",
                valueQuantity={"value": 12, "unit": "%"},
            ),
        ),
        maps,
        AS_OF,
    )
    assert [(m.value, m.date, m.source) for m in ev.measures["PASI"]] == [
        (Decimal(11), "2026-03-01", "Observation/b"),
        (Decimal("14.2"), "2025-01-10", "Observation/a"),
    ]
    assert ev.measures["BSA"][0].unit == "%"


def test_entered_in_error_and_preliminary_are_not_facts(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(
            obs("good", coded(EPIC, "3040104370"), "2026-01-01", valueQuantity={"value": 9}),
            obs(
                "eie",
                coded(EPIC, "3040104370"),
                "2026-06-01",
                status="entered-in-error",
                valueQuantity={"value": 30},
            ),
            obs(
                "pre",
                coded(EPIC, "3040104370"),
                "2026-05-01",
                status="preliminary",
                valueQuantity={"value": 25},
            ),
        ),
        maps,
        AS_OF,
    )
    assert [m.source for m in ev.measures["PASI"]] == ["Observation/good"]


def test_display_text_must_match_whole(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(
            obs(
                "t1",
                {"coding": [{"system": "urn:local", "code": "99"}], "text": "PASI Score"},
                "2026-01-01",
                valueInteger=8,
            ),
            obs("t2", {"text": "PASI 75 response"}, "2026-01-01", valueBoolean=True),
            obs(
                "t3",
                {"text": "Body surface area"},
                "2026-01-01",
                valueQuantity={"value": 1.9, "unit": "m2"},
            ),
        ),
        maps,
        AS_OF,
    )
    assert [m.source for m in ev.measures["PASI"]] == ["Observation/t1"]
    assert ev.measures["BSA"] == ()  # body surface area by height/weight is not skin involvement


def test_iga_from_codeable_concept_keeps_the_charts_words(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(
            obs(
                "i1",
                coded(OURS, "viga-ad"),
                "2026-02-01",
                valueCodeableConcept={"text": "4 - severe"},
            ),
            obs(
                "i2",
                coded(OURS, "viga-ad"),
                "2026-01-01",
                valueCodeableConcept={
                    "coding": [{"system": "urn:x", "code": "3", "display": "Moderate"}]
                },
            ),
            obs("i3", coded(OURS, "iga-pso"), "2025-12-01", valueCodeableConcept={"text": "Mild"}),
        ),
        maps,
        AS_OF,
    )
    got = [(m.value, m.text, m.instrument) for m in ev.measures["IGA"]]
    assert got == [
        (Decimal(4), "4 - severe", "vIGA-AD"),
        (Decimal(3), "Moderate", "vIGA-AD"),
        (Decimal(2), "Mild", "IGA (psoriasis)"),
    ]


def test_easi_from_regional_components_is_their_sum(maps: EvidenceMaps) -> None:
    components = [
        {"code": coded(OURS, region), "valueQuantity": {"value": value}}
        for region, value in (
            ("region-head-neck", 2.1),
            ("region-trunk", 8),
            ("region-upper-limbs", 6.4),
            ("region-lower-limbs", 7.5),
        )
    ]
    partial = components[:3]
    ev = assemble_evidence(
        chart(
            obs("e1", coded(OURS, "easi"), "2026-04-01", component=components),
            obs("e2", coded(OURS, "easi"), "2026-03-01", component=partial),
        ),
        maps,
        AS_OF,
    )
    (easi,) = ev.measures["EASI"]
    assert easi.value == Decimal("24.0") and easi.derived == "sum of the 4 regional components"
    assert {c.region for c in easi.components} == {
        "head-neck",
        "trunk",
        "upper-limbs",
        "lower-limbs",
    }
    assert any(p.source == "Observation/e2" and "EASI" in p.message for p in ev.problems)


def test_regional_area_is_never_whole_body_bsa(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(
            obs(
                "r1",
                coded("http://loinc.org", "66529-9"),
                "2014-03-25",
                valueQuantity={"value": 11.09, "unit": "%"},
            )
        ),
        maps,
        AS_OF,
    )
    assert ev.measures["BSA"] == ()
    (area,) = ev.measures["REGION_AREA"]
    assert area.region == "trunk" and area.value == Decimal("11.09")


def test_scores_inside_a_panel_point_to_the_panel(maps: EvidenceMaps) -> None:
    panel = obs(
        "panel",
        {"text": "Psoriasis assessment"},
        "2026-05-05",
        component=[
            {"code": {"text": "PASI"}, "valueQuantity": {"value": 6.5}},
            {"code": {"text": "BSA %"}, "valueQuantity": {"value": 4}},
        ],
    )
    ev = assemble_evidence(chart(panel), maps, AS_OF)
    assert ev.measures["PASI"][0].source == "Observation/panel" and ev.measures["PASI"][
        0
    ].value == Decimal("6.5")
    assert ev.measures["BSA"][0].value == Decimal(4)


def test_a_score_without_a_date_or_value_is_reported_not_used(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(
            obs("nodate", coded(EPIC, "3040104370"), None, valueQuantity={"value": 10}),
            obs(
                "novalue",
                coded(EPIC, "3040104370"),
                "2026-01-01",
                dataAbsentReason={"text": "not performed"},
            ),
        ),
        maps,
        AS_OF,
    )
    assert ev.measures["PASI"] == ()
    messages = {p.source: p.message for p in ev.problems}
    assert "effective date" in messages["Observation/nodate"]
    assert "data-absent" in messages["Observation/novalue"]
