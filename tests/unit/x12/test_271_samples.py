"""Every 271 sample in /work/shared/data/x12 (public; see PROVENANCE.md there) is read and written
back segment for segment into its own envelope.

Read without problems and round tripped exactly: both LinuxForHealth samples and Inteligenz
2__Example_3_1_2. The other Inteligenz files are hand-edited validation fixtures of that project
("Validation..."), deliberately invalid; each is read with its defects reported exactly (SE01
left at 22 after segments were cut, HL04 no longer matching the levels that follow) and written
back differing only there (the writer computes HL04 and SE01). From_georgiosd's 7-digit GS05
time 1039290 is kept as sent and written back unchanged. imsweb x271 says 005010X279A1 in ST03 inside a 004010X092A1 group (GS08 reported)
and has SE01 and IEA02 wrong. Comparison ignores line breaks, indentation, the BOM and trailing
empty elements. pyx12 4.0 has no 5010 271 map, so no pyx12 cross-check.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from integration.x12.t271_005010x279a1 import read_271, render_271, summarize_benefits

SAMPLES = Path("/work/shared/data/x12")
FILES = sorted(SAMPLES.glob("271__*"))


def se(count: int, got: int) -> str:
    return f"SE01 (segment {count + 1}): expected segment count {count}, got '{got}'"


EXPECTED: dict[str, tuple[list[str], list[tuple[str, str]]]] = {
    "271__Inteligenz__2__Example_3_1_2.txt": ([], []),
    "271__Inteligenz__Example_3_1_2.txt": ([se(40, 22)], [("SE*40*4321", "SE*22*4321")]),
    "271__Inteligenz__Example_3_1_3.txt": (
        ["2000B HL04 (segment 6): expected 0, got '1'"],
        [("HL*2*1*21*0", "HL*2*1*21*1")],
    ),
    "271__Inteligenz__From_georgiosd.txt": ([], []),
    "271__Inteligenz__ValidationForDependentBenefitInfo.txt": (
        [se(16, 22), "2000C HL04 (segment 8): expected 1, got '0'"],
        [("HL*3*2*22*1", "HL*3*2*22*0"), ("SE*16*4321", "SE*22*4321")],
    ),
    "271__Inteligenz__ValidationForDependentName.txt": (
        [se(16, 22), "2000C HL04 (segment 8): expected 1, got '0'"],
        [("HL*3*2*22*1", "HL*3*2*22*0"), ("SE*16*4321", "SE*22*4321")],
    ),
    "271__Inteligenz__ValidationForReceiverName.txt": (
        [se(11, 22), "2000B HL04 (segment 6): expected 0, got '1'"],
        [("HL*2*1*21*0", "HL*2*1*21*1"), ("SE*11*4321", "SE*22*4321")],
    ),
    "271__Inteligenz__ValidationForSourceName.txt": (
        [se(6, 22), "2000A HL04 (segment 4): expected 0, got '1'"],
        [("HL*1**20*0", "HL*1**20*1"), ("SE*6*4321", "SE*22*4321")],
    ),
    "271__Inteligenz__ValidationForSubscriberName.txt": (
        [se(16, 22)],
        [("SE*16*4321", "SE*22*4321")],
    ),
    "271__Inteligenz__ValidationOnAll.txt": (
        [se(29, 22), "2000C HL04 (segment 14): expected 1, got '0'"],
        [("HL*3*2*22*1", "HL*3*2*22*0"), ("SE*29*4321", "SE*22*4321")],
    ),
    "271__LinuxForHealth__dependent-health-benefit-check.271": ([], []),
    "271__LinuxForHealth__subscriber-health-benefit-check.271": ([], []),
    "271__imsweb__x271.txt": (
        [
            "ISA12 (segment 0): expected '00501', got '00401'",
            se(18, 22),
            "GS08 (segment 1): expected '005010X279A1' (as in ST03), got '004010X092A1'",
            "IEA02 (segment 21): expected interchange control number '000003438' (ISA13), "
            "got '000014420'",
        ],
        [("SE*18*4321", "SE*22*4321"), ("IEA*1*000003438", "IEA*1*000014420")],
    ),
}


def segments(text: str) -> list[str]:
    return [s.strip().rstrip("*") for s in text.lstrip("\ufeff").split("~") if s.strip()]


def test_the_samples_are_there() -> None:
    assert [p.name for p in FILES] == sorted(EXPECTED)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_sample_reads_and_round_trips(path: Path) -> None:
    text = path.read_bytes().decode("utf-8-sig")
    models, problems = read_271(path.read_bytes())
    expected_problems, expected_diff = EXPECTED[path.name]
    assert [p.render() for p in problems] == expected_problems
    (model,) = models
    assert model.envelope is not None
    written, original = segments(render_271(model, model.envelope, "\r\n")), segments(text)
    assert len(written) == len(original)
    assert [(a, b) for a, b in zip(written, original, strict=True) if a != b] == expected_diff


def test_linuxforhealth_benefits_and_summary() -> None:
    path = SAMPLES / "271__LinuxForHealth__subscriber-health-benefit-check.271"
    (model,), _ = read_271(path.read_text())
    (member,) = model.members()
    assert member.traces[0].type_code == "2"
    copays = [b for b in member.benefits if b.info_code == "B"]
    assert [(b.amount, b.in_network, b.time_period) for b in copays] == [
        (Decimal("10.00"), "Y", "27"),
        (Decimal("30.00"), "N", "27"),
    ]
    assert copays[0].service_types == ("1", "33", "35", "47", "86", "88", "98", "AL", "MH", "UC")
    assert member.benefits[1].related[0].entity_code == "P3"
    office = summarize_benefits(member, "98")
    assert (office.active, office.copay, office.in_network) == (True, Decimal("10.00"), True)
    assert summarize_benefits(member, "98", in_network=False).copay == Decimal("30.00")
    assert summarize_benefits(member, "42").copay is None


def test_inteligenz_validations_and_component_service_types() -> None:
    path = SAMPLES / "271__Inteligenz__Example_3_1_2.txt"
    (model,), _ = read_271(path.read_bytes())
    source = model.sources[0]
    assert [(v.valid, v.reject_reason, v.follow_up_action) for v in source.validations] == [
        (False, "80", "P"),
        (True, "79", "N"),
    ]
    member = model.members()[0]
    plan = member.benefits[0]
    assert [(v.reject_reason, v.follow_up_action) for v in plan.validations] == [
        ("51", "N"),
        ("60", "W"),
    ]
    assert plan.related[0].contacts[0].communications == (("TE", "8008823822"),)
    # ISA11 and ISA16 are both '^' here: the service type list arrives as components.
    assert member.benefits[-1].service_types[:3] == ("1", "33", "35")
    outline = member.benefits[1]
    assert (outline.info_code, outline.authorization_required, outline.in_network) == (
        "F",
        "Y",
        "N",
    )
