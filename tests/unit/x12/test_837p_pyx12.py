"""Cross-check with pyx12 4.0 on the 837P samples. pyx12 ships only the 837.5010.X222.A1 map, so
it cannot read the 005010X222 (Inteligenz) and 005010X222A2 (LinuxForHealth) samples at all; on
the imsweb samples (all 005010X222A1, all defective) it finds errors wherever we do, and the
deliberately broken ones are rejected by both for the same defect."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.x12.t837_005010x222a1 import read_837p
from tests.unit.x12.test_837p_goldens import pyx12_errors

pyx12_errors_module = pytest.importorskip("pyx12.errors")

SAMPLES = Path("/work/shared/data/x12")
IMSWEB = sorted(
    p
    for p in SAMPLES.glob("837P__imsweb__*")
    if p.stat().st_size < 100_000 and "no_isa" not in p.name
)


def errors_of(name: str) -> list[str]:
    return pyx12_errors(SAMPLES.joinpath(name).read_bytes().decode("utf-8-sig"))


@pytest.mark.parametrize(
    "name",
    ["837P__Inteligenz__Example1_HealthInsurance.txt", "837P__LinuxForHealth__demo.example1.837"],
)
def test_pyx12_has_no_map_for_the_other_837p_versions(name: str) -> None:
    with pytest.raises(pyx12_errors_module.EngineError, match="Map not found"):
        errors_of(name)


@pytest.mark.parametrize("path", IMSWEB, ids=lambda p: p.name)
def test_both_find_errors_in_every_imsweb_sample(path: Path) -> None:
    assert pyx12_errors(path.read_bytes().decode("utf-8-sig")) != []
    assert read_837p(path.read_bytes())[1] != []


# sample -> (a pyx12 error, the problem we report for the same defect)
SAME_DEFECT = {
    "837P__imsweb__x12_segment_errors.txt": [
        (
            'Mandatory segment "Billing Provider Address" (N3) missing',
            "2010AA NM1 (segment 8): expected N3 (billing provider address), got none",
        ),
        (
            "Segment REF exceeded max count.  Found 2, should have 1",
            "2010AA NM1 (segment 8): expected one REF*EI or REF*SY (billing provider tax id), got 2",
        ),
        (
            'Mandatory segment "Health Care Diagnosis Code" (HI) missing',
            "2300 CLM (segment 20): expected HI (diagnoses), got none",
        ),
    ],
    "837P__imsweb__x12_loop_errors1_exceeds_max_1_parent.txt": [
        (
            "Loop 2010AA exceeded max count.  Found 2, should have 1",
            "2010AA NM1 (segment 14): expected one NM1 in this loop, got another",
        ),
    ],
    "837P__imsweb__x12_loop_errors3_missing_loops.txt": [
        (
            'Mandatory loop "Billing Provider Name" (2010AA) missing',
            "2010AA HL (segment 7): expected NM1*85 (billing provider), got none",
        ),
    ],
    "837P__imsweb__x12_missing_elements.txt": [
        (
            'Mandatory data element "Entity Type Qualifier" (NM102) is missing',
            "1000B NM102 (segment 6): expected 1 or 2, got ''",
        ),
    ],
    "837P__imsweb__x12_bad_segment_identifier.txt": [
        (
            "Segment Nd4*CALVERTON not found",
            "2000A Nd4 (segment 10): expected one of CUR, N3, N4, NM1, PER, PRV, REF, got 'Nd4'",
        ),
        (
            'Segment identifier "" is invalid',
            "1000A (segment 5): expected one of BHT, NM1, PER, got ''",
        ),
    ],
    "837P__imsweb__x12_missing_required_loop_in_one_repeat.txt": [
        (
            'Mandatory loop "Subscriber Name" (2010BA) missing',
            "2010BA HL (segment 17): expected NM1*IL (subscriber), got none",
        ),
    ],
}


@pytest.mark.parametrize("name", sorted(SAME_DEFECT))
def test_the_same_defects(name: str) -> None:
    theirs = errors_of(name)
    ours = [p.render() for p in read_837p(SAMPLES.joinpath(name).read_bytes())[1]]
    for pyx12_says, we_say in SAME_DEFECT[name]:
        assert any(pyx12_says in e for e in theirs), (pyx12_says, theirs)
        assert we_say in ours
