"""A segment belongs to its own group: a repeated group (IN1 + IN2, OBR + its OBX and SPM, an
ORC before its OBR) never reads a segment that another group of its kind holds, while
segments of the enclosing group (PID, the SPM after an OBR's last OBX) stay visible."""

from __future__ import annotations

from typing import Any

import pytest

from integration.hl7v2.errors import ErrorCode, Hl7Error
from integration.hl7v2.message import parse_message
from integration.mapping.hl7v2 import map_message
from integration.mapping.hl7v2_transforms import load_feed_maps

MSH_ADT = "MSH|^~\\&|EHR|DERMCLINIC|DERMRCM|DERMRCM|20250312093015||ADT^A04^ADT_A01|GRP-1|P|2.5.1"
MSH_ORU = "MSH|^~\\&|LIS|DERMPATH|DERMRCM|DERMRCM|20250314110000||ORU^R01^ORU_R01|GRP-2|P|2.5.1"
PID = "PID|1||E1000001^^^EHR^MR||TESTPATIENT^SYNTH||19800229|F"


def mapped(*segments: str) -> list[dict[str, Any]]:
    message = parse_message("\r".join(segments) + "\r")
    return [r.body for r in map_message(message, load_feed_maps())]


def of_type(resources: list[dict[str, Any]], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == resource_type]


def in1(set_id: int, plan: str, payer: str, member: str = "") -> str:
    fields = [""] * 36
    fields[0], fields[1], fields[2], fields[3] = str(set_id), plan, payer, f"{payer} PLAN"
    fields[16] = "SEL"
    fields[35] = member
    return "|".join(["IN1", *fields])


def test_the_in2_of_the_second_insurance_is_not_the_firsts() -> None:
    in2 = "IN2" + "|" * 61 + "SECONDARY-MEMBER-2"  # IN2-61, the member id of IN1 #2
    coverages = of_type(
        mapped(MSH_ADT, PID, in1(1, "P1", "PAYERA"), in1(2, "P2", "PAYERB"), in2), "Coverage"
    )
    by_payer = {c["payor"][0]["display"]: c for c in coverages}
    assert set(by_payer) == {"PAYERA PLAN", "PAYERB PLAN"}
    assert by_payer["PAYERB PLAN"]["subscriberId"] == "SECONDARY-MEMBER-2"
    assert "subscriberId" not in by_payer["PAYERA PLAN"]  # reported missing, not borrowed


def test_the_in2_of_the_first_insurance_stays_with_it() -> None:
    in2 = "IN2" + "|" * 61 + "PRIMARY-MEMBER-1"
    coverages = of_type(
        mapped(MSH_ADT, PID, in1(1, "P1", "PAYERA"), in2, in1(2, "P2", "PAYERB", "M-2")),
        "Coverage",
    )
    by_payer = {c["payor"][0]["display"]: c["subscriberId"] for c in coverages}
    assert by_payer == {"PAYERA PLAN": "PRIMARY-MEMBER-1", "PAYERB PLAN": "M-2"}


def obr(set_id: int, filler: str, placer: str = "") -> str:
    return (
        f"OBR|{set_id}|{placer}|{filler}|88305^Surgical pathology^CPT|||20250312101500"
        + "|" * 18
        + "F"
    )


def obx(text: str) -> str:
    return f"OBX|1|TX|22637-3^Final diagnosis^LN||{text}||||||F"


SPM_CHEEK = "SPM|1|||TISS^Tissue^HL70487||||60093006^Left cheek^SCT"


def sites(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        o["valueString"]: o.get("bodySite", {}).get("coding", [{}])[0].get("display")
        for o in of_type(resources, "Observation")
    }


def test_an_order_without_a_specimen_does_not_take_the_next_orders() -> None:
    resources = mapped(
        MSH_ORU,
        PID,
        obr(1, "S25-30^LIS"),
        obx("A. SCALP: seborrheic keratosis"),
        obr(2, "S25-31^LIS"),
        obx("B. LEFT CHEEK: basal cell carcinoma"),
        SPM_CHEEK,
    )
    assert sites(resources) == {
        "A. SCALP: seborrheic keratosis": None,
        "B. LEFT CHEEK: basal cell carcinoma": "Left cheek",
    }


def test_a_specimen_after_the_last_result_is_its_orders_for_every_result() -> None:
    resources = mapped(
        MSH_ORU,
        PID,
        obr(1, "S25-32^LIS"),
        obx("C. LEFT CHEEK: basal cell carcinoma"),
        "OBX|2|TX|22634-0^Path report.gross^LN||Gross: 0.4 cm shave||||||F",
        SPM_CHEEK,
    )
    assert sites(resources) == {
        "C. LEFT CHEEK: basal cell carcinoma": "Left cheek",
        "Gross: 0.4 cm shave": "Left cheek",
    }


def test_a_result_before_any_order_is_a_segment_sequence_error_not_left_out() -> None:
    orphan = "OBX|1|NM|PASI^PASI score^L||14.2||||||F"
    for segments in (
        (MSH_ORU, PID, orphan, obr(1, "S25-40^LIS"), obx("D. BACK: psoriasis")),
        (MSH_ORU, PID, orphan),  # no OBR at all
    ):
        with pytest.raises(Hl7Error) as raised:
            mapped(*segments)
        assert raised.value.code == ErrorCode.SEGMENT_SEQUENCE
        assert str(raised.value.where) == "OBX (segment 3)"
        assert "an OBR before this OBX" in raised.value.message
