"""Every 837P sample in /work/shared/data/x12 (public files; see PROVENANCE.md there) is read with
the exact located problems it has and, when it can be modelled, written back segment for segment
into its own envelope.

What the samples get wrong (cross-checked with pyx12 4.0 and its 837.5010.X222.A1 map where
pyx12 has a map; it has none for 005010X222 (Inteligenz) or 005010X222A2 (LinuxForHealth)):
- Inteligenz Example3_COB (and the same claim in Example1_2_And_3_Combined): a DMG in 2320, a
  4010 segment that 5010 dropped. MedicaidExample is masked ('9999', 'XX', '9') and has no HI:
  rejected. ProfessionalClaim1: SE01 says 42, a pointer to a third diagnosis of two, CLM02 100
  against lines of 190.
- LinuxForHealth: example9/11/12 and cob.2ndary write composites with '>' while ISA16 is ':', so
  CLM05, HI and SV101 cannot be split (ambulance.example5 has no CLM05-2); cob.example3.A has a
  2320 without its 2330B payer.
- imsweb (all of them, including "valid" and "no_errors"): SE01 always 25, HL*2*1*22*1 with no
  child level (HL04), a second subscriber HL*2*3 naming a parent that does not exist, HI written
  'HI*BK*8901*BF*87200*BF:5559' (qualifiers and codes in separate elements), CLM02 500 against one
  12.25 line, LX*2 opening a claim. The deliberately broken ones add: a segment without an id,
  'Nd4' and 'NM31' (bad_segment_identifier), a second 2010AA (loop_errors1), no 2010AA
  (loop_errors3), no NM102 and no CLM05 (missing_elements), a 2000B without 2010BA
  (missing_required_loop_in_one_repeat), no N3, two REF*EI and no HI (segment_errors), no ISA.
  pyx12 reports the same defects (its wording), except HL04, CLM02 balance and LX01 numbering,
  which it does not check; it reports trailing '**' in writer_test's HI where we report HI02/HI03
  empty.
A transaction set whose structure cannot be modelled (a required loop or segment missing, a broken
hierarchy) is rejected: reported, and left out of the models.

Round trips: compared segment for segment from ST to SE, ignoring line breaks, the BOM and
trailing empty elements. HL segments are renumbered by the writer (HL01/HL02 1..n, HL04 from the
children), the only differences, listed below; SE01 is recomputed, so SE is left out.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from integration.x12.envelope import read_transactions
from integration.x12.segments import render_raw
from integration.x12.t837_005010x222a1 import read_837p, render_837p

SAMPLES = Path("/work/shared/data/x12")
ALL = sorted(SAMPLES.glob("837P__*"))
HUGE = {"837P__imsweb__x12_many_claims.txt", "837P__imsweb__x12_multiple_transactions.txt"}


def norm(segment: str) -> str:
    return segment.strip().rstrip("*")


def original_transactions(data: bytes) -> list[list[str]]:
    return [[norm(render_raw(s)[:-1]) for s in t.segments] for t in read_transactions(data)]


# sample -> the (original, written) segment pairs that differ, in order
DIFFERENCES: dict[str, list[tuple[str, str]]] = {
    "837P__imsweb__x12_no_errors.txt": [
        ("HL*2*1*22*1", "HL*2*1*22*0"),
        ("HL*1**20*1", "HL*3**20*1"),
        ("HL*2*1*22*1", "HL*4*3*22*0"),
    ],
    "837P__imsweb__x12_writer_test.txt": [("HL*2*1*22*1", "HL*2*1*22*0")],
}
# samples rejected (no model): every transaction set in them has a structural defect
REJECTED = {
    "837P__Inteligenz__MedicaidExample.txt",
    "837P__imsweb__x12_bad_segment_identifier.txt",
    "837P__imsweb__x12_complex.txt",
    "837P__imsweb__x12_loop_errors1_exceeds_max_1_parent.txt",
    "837P__imsweb__x12_loop_errors3_missing_loops.txt",
    "837P__imsweb__x12_many_claims.txt",
    "837P__imsweb__x12_missing_elements.txt",
    "837P__imsweb__x12_missing_required_loop_in_one_repeat.txt",
    "837P__imsweb__x12_multiple_st.txt",
    "837P__imsweb__x12_multiple_transactions.txt",
    "837P__imsweb__x12_no_isa_line.txt",
    "837P__imsweb__x12_segment_errors.txt",
    "837P__imsweb__x12_valid.txt",
}
READ = [p for p in ALL if p.name not in REJECTED]


def test_the_samples_are_there() -> None:
    assert len(ALL) == 35
    assert len(READ) == 22


@pytest.mark.parametrize("path", READ, ids=lambda p: p.name)
def test_sample_round_trips_segment_for_segment(path: Path) -> None:
    data = path.read_bytes()
    models, _ = read_837p(data)
    originals = original_transactions(data)
    assert len(models) == len(originals)
    differences = list(DIFFERENCES.get(path.name, []))
    for model, original in zip(models, originals, strict=True):
        assert model.envelope is not None
        d = model.envelope.delimiters
        written = [
            norm(s) for s in render_837p(model, model.envelope).split(d.segment) if s.strip()
        ]
        start = next(i for i, s in enumerate(written) if s.startswith("ST" + d.element))
        mine = written[start : start + len(original)]
        assert len(mine) == len(original)
        for theirs, ours in zip(original[:-1], mine[:-1], strict=True):
            if theirs != ours:
                assert (theirs, ours) == differences.pop(0)
    assert differences == []


@pytest.mark.parametrize("path", sorted(p for p in ALL if p.name in REJECTED), ids=lambda p: p.name)
def test_rejected_samples_give_no_model(path: Path) -> None:
    models, problems = read_837p(path.read_bytes())
    assert models == []
    assert problems


EXPECTED_PROBLEMS: dict[str, list[str]] = {
    "837P__Inteligenz__Example1_2_And_3_Combined.txt": [
        "2320 DMG (segment 75): expected one of AMT, CAS, DTP, MOA, N3, N4, NM1, OI, REF, SBR, got 'DMG'",
    ],
    "837P__Inteligenz__Example1_HealthInsurance.txt": [],
    "837P__Inteligenz__Example2_Encounter.txt": [],
    "837P__Inteligenz__Example3_COB.txt": [
        "2320 DMG (segment 39): expected one of AMT, CAS, DTP, MOA, N3, N4, NM1, OI, REF, SBR, got 'DMG'",
    ],
    "837P__Inteligenz__MedicaidExample.txt": [
        "BHT01 (segment 3): expected '0019', got '9999'",
        "BHT05 (segment 3): expected HHMM or HHMMSS, got '9999'",
        "2300 CLM05-2 (segment 21): expected B, got 'X'",
        "2300 CLM05-3 (segment 21): expected 1, 6, 7 or 8, got '9'",
        "2300 CLM (segment 21): expected HI (diagnoses), got none",
        "2400 SV101-1 (segment 25): expected ER, HC, IV or WK, got 'XX'",
        "2400 SV107 (segment 25): expected a diagnosis pointer, got none",
        "2400 SV101-1 (segment 28): expected ER, HC, IV or WK, got 'XX'",
        "2400 SV107 (segment 28): expected a diagnosis pointer, got none",
        "2300 CLM02 (segment 21): expected the sum of the line charges SV102 (109.98), got 99.99",
        "2300 CLM05-2 (segment 37): expected B, got 'X'",
        "2300 CLM05-3 (segment 37): expected 1, 6, 7 or 8, got '9'",
        "2300 CLM (segment 37): expected HI (diagnoses), got none",
        "2400 SV101-1 (segment 41): expected ER, HC, IV or WK, got 'XX'",
        "2400 SV107 (segment 41): expected a diagnosis pointer, got none",
        "2400 SV101-1 (segment 44): expected ER, HC, IV or WK, got 'XX'",
        "2400 SV107 (segment 44): expected a diagnosis pointer, got none",
        "2300 CLM02 (segment 37): expected the sum of the line charges SV102 (109.98), got 99.99",
        "2300 CLM05-2 (segment 53): expected B, got 'X'",
        "2300 CLM05-3 (segment 53): expected 1, 6, 7 or 8, got '9'",
        "2300 CLM (segment 53): expected HI (diagnoses), got none",
        "2400 SV101-1 (segment 57): expected ER, HC, IV or WK, got 'XX'",
        "2400 SV107 (segment 57): expected a diagnosis pointer, got none",
        "2400 SV101-1 (segment 60): expected ER, HC, IV or WK, got 'XX'",
        "2400 SV107 (segment 60): expected a diagnosis pointer, got none",
        "2300 CLM02 (segment 53): expected the sum of the line charges SV102 (109.98), got 99.99",
        "2300 CLM05-2 (segment 69): expected B, got 'X'",
        "2300 CLM05-3 (segment 69): expected 1, 6, 7 or 8, got '9'",
        "2300 CLM (segment 69): expected HI (diagnoses), got none",
        "2400 SV101-1 (segment 73): expected ER, HC, IV or WK, got 'XX'",
        "2400 SV107 (segment 73): expected a diagnosis pointer, got none",
        "2400 SV101-1 (segment 76): expected ER, HC, IV or WK, got 'XX'",
        "2400 SV107 (segment 76): expected a diagnosis pointer, got none",
        "2300 CLM02 (segment 69): expected the sum of the line charges SV102 (109.98), got 99.99",
        "2300 CLM05-2 (segment 85): expected B, got 'X'",
        "2300 CLM05-3 (segment 85): expected 1, 6, 7 or 8, got '9'",
        "2300 CLM (segment 85): expected HI (diagnoses), got none",
        "2400 SV101-1 (segment 89): expected ER, HC, IV or WK, got 'XX'",
        "2400 SV107 (segment 89): expected a diagnosis pointer, got none",
        "2400 SV101-1 (segment 92): expected ER, HC, IV or WK, got 'XX'",
        "2400 SV107 (segment 92): expected a diagnosis pointer, got none",
        "2300 CLM02 (segment 85): expected the sum of the line charges SV102 (109.98), got 99.99",
    ],
    "837P__Inteligenz__ProfessionalClaim1.txt": [
        "SE01 (segment 62): expected segment count 61, got '42'",
        "2400 SV107-3 (segment 43): expected a pointer to one of the claim's 2 diagnoses, got '3'",
        "2300 CLM02 (segment 30): expected the sum of the line charges SV102 (190), got 100",
    ],
    "837P__LinuxForHealth__demo.ambulance.example5.837": [
        "2300 CLM05-2 (segment 22): expected B, got ''",
    ],
    "837P__LinuxForHealth__demo.autoaccident.837": [],
    "837P__LinuxForHealth__demo.cob.2ndary.example4.837": [
        "2300 CLM05-2 (segment 20): expected B, got ''",
        "2300 CLM05-3 (segment 20): expected 1, 6, 7 or 8, got ''",
        "2300 HI01-1 (segment 25): expected ABK or BK, got 'BK>7215'",
        "2300 HI01-2 (segment 25): expected a diagnosis code, got nothing",
        "2400 SV101-1 (segment 27): expected ER, HC, IV or WK, got 'HC>98940'",
    ],
    "837P__LinuxForHealth__demo.cob.example3.A.837": [
        "2330B SBR (segment 38): expected NM1*PR (other payer), got none",
    ],
    "837P__LinuxForHealth__demo.cob.example3.B.837": [],
    "837P__LinuxForHealth__demo.cob.example4.837": [],
    "837P__LinuxForHealth__demo.drug.example10.1.837": [],
    "837P__LinuxForHealth__demo.drug.example10.2.837": [],
    "837P__LinuxForHealth__demo.example1.837": [],
    "837P__LinuxForHealth__demo.example11.837": [
        "2300 CLM05-2 (segment 20): expected B, got ''",
        "2300 CLM05-3 (segment 20): expected 1, 6, 7 or 8, got ''",
        "2300 HI01-1 (segment 23): expected ABK or BK, got 'BK>496'",
        "2300 HI01-2 (segment 23): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 23): expected ABF or BF, got 'BF>25000'",
        "2300 HI02-2 (segment 23): expected a diagnosis code, got nothing",
        "2400 SV101-1 (segment 31): expected ER, HC, IV or WK, got 'HC>E0570>RR'",
        "2400 SV107-1 (segment 31): expected a pointer to one of the claim's 2 diagnoses, got '1>2'",
        "2400 SV101-1 (segment 35): expected ER, HC, IV or WK, got 'HC>A7003>NU'",
    ],
    "837P__LinuxForHealth__demo.example12.837": [
        "2300 CLM05-2 (segment 25): expected B, got ''",
        "2300 CLM05-3 (segment 25): expected 1, 6, 7 or 8, got ''",
        "2300 HI01-1 (segment 28): expected ABK or BK, got 'BK>9951'",
        "2300 HI01-2 (segment 28): expected a diagnosis code, got nothing",
        "2400 SV101-1 (segment 38): expected ER, HC, IV or WK, got 'HC>99284'",
    ],
    "837P__LinuxForHealth__demo.example2.837": [],
    "837P__LinuxForHealth__demo.example7.837": [],
    "837P__LinuxForHealth__demo.example8.837": [],
    "837P__LinuxForHealth__demo.example9.837": [
        "2300 CLM05-2 (segment 19): expected B, got ''",
        "2300 CLM05-3 (segment 19): expected 1, 6, 7 or 8, got ''",
        "2300 HI01-1 (segment 20): expected ABK or BK, got 'BK>36616'",
        "2300 HI01-2 (segment 20): expected a diagnosis code, got nothing",
        "2400 SV101-1 (segment 28): expected ER, HC, IV or WK, got 'HC>00142>QK>QS>P1'",
        "2400 SV107-1 (segment 28): expected a pointer to one of the claim's 1 diagnoses, got '1.00'",
    ],
    "837P__imsweb__x12_bad_segment_identifier.txt": [
        "SE01 (segment 35): expected segment count 34, got '25'",
        "2000B HL01 (segment 26): expected '3', got '2'",
        "2000B HL02 (segment 26): expected the HL01 of an earlier level as parent, got '3'",
        "2000B HL04 (segment 17): expected '0' (HL 2 has no subordinate level), got '1'",
        "2000B HL04 (segment 26): expected '0' (HL 2 has no subordinate level), got '1'",
        "1000A (segment 5): expected one of BHT, NM1, PER, got ''",
        "1000A NM1 (segment 4): expected PER (submitter contact), got none",
        "2000A Nd4 (segment 10): expected one of CUR, N3, N4, NM1, PER, PRV, REF, got 'Nd4'",
        "2010AA NM1 (segment 8): expected N4 (billing provider city, state, ZIP), got none",
        "2000B NM31 (segment 19): expected one of DMG, N3, N4, NM1, PAT, PER, REF, SBR, got 'NM31'",
        "2010BA HL (segment 17): expected NM1*IL (subscriber), got none",
        "2300 HI01-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 22): expected ABF or BF, got '8901'",
        "2300 HI02-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 22): expected ABF or BF, got '87200'",
        "2300 HI04-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 CLM02 (segment 21): expected the sum of the line charges SV102 (12.25), got 500",
        "2300 HI01-2 (segment 31): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 31): expected ABF or BF, got '1987'",
        "2300 HI02-2 (segment 31): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 31): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 31): expected ABF or BF, got '4134'",
        "2300 HI04-2 (segment 31): expected a diagnosis code, got nothing",
        "2400 LX01 (segment 32): expected '1', got '2'",
        "2300 CLM02 (segment 30): expected the sum of the line charges SV102 (12.25), got 500",
    ],
    "837P__imsweb__x12_complex.txt": [
        "SE01 (segment 148): expected segment count 147, got '25'",
        "2000B HL01 (segment 65): expected '3', got '2'",
        "2000B HL02 (segment 65): expected the HL01 of an earlier level as parent, got '3'",
        "2000C HL01 (segment 69): expected '4', got '3'",
        "2000B HL04 (segment 22): expected '0' (HL 2 has no subordinate level), got '1'",
        "2300 HI01-2 (segment 27): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 27): expected ABF or BF, got '8901'",
        "2300 HI02-2 (segment 27): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 27): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 27): expected ABF or BF, got '87200'",
        "2300 HI04-2 (segment 27): expected a diagnosis code, got nothing",
        "2300 CLM02 (segment 26): expected the sum of the line charges SV102 (25.51), got 500",
        "2300 HI01-2 (segment 76): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 76): expected ABF or BF, got '1987'",
        "2300 HI02-2 (segment 76): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 76): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 76): expected ABF or BF, got '4134'",
        "2300 HI04-2 (segment 76): expected a diagnosis code, got nothing",
        "2400 LX01 (segment 104): expected '1', got '3'",
        "2300 CLM02 (segment 75): expected the sum of the line charges SV102 (12.26), got 500",
        "2300 HI01-2 (segment 131): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 131): expected ABF or BF, got '1988'",
        "2300 HI02-2 (segment 131): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 131): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 131): expected ABF or BF, got '4134'",
        "2300 HI04-2 (segment 131): expected a diagnosis code, got nothing",
        "2400 LX01 (segment 138): expected '1', got '4'",
        "2400 LX01 (segment 141): expected '2', got '5'",
        "2300 CLM02 (segment 130): expected the sum of the line charges SV102 (24.61), got 500",
        "SE01 (segment 295): expected segment count 147, got '26'",
        "2000B HL01 (segment 212): expected '3', got '2'",
        "2000B HL02 (segment 212): expected the HL01 of an earlier level as parent, got '3'",
        "2000C HL01 (segment 216): expected '4', got '3'",
        "2000B HL04 (segment 169): expected '0' (HL 2 has no subordinate level), got '1'",
        "2300 HI01-2 (segment 174): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 174): expected ABF or BF, got '8901'",
        "2300 HI02-2 (segment 174): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 174): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 174): expected ABF or BF, got '87200'",
        "2300 HI04-2 (segment 174): expected a diagnosis code, got nothing",
        "2300 CLM02 (segment 173): expected the sum of the line charges SV102 (25.51), got 500",
        "2300 HI01-2 (segment 223): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 223): expected ABF or BF, got '1987'",
        "2300 HI02-2 (segment 223): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 223): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 223): expected ABF or BF, got '4134'",
        "2300 HI04-2 (segment 223): expected a diagnosis code, got nothing",
        "2400 LX01 (segment 251): expected '1', got '3'",
        "2300 CLM02 (segment 222): expected the sum of the line charges SV102 (12.26), got 500",
        "2300 HI01-2 (segment 278): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 278): expected ABF or BF, got '1989'",
        "2300 HI02-2 (segment 278): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 278): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 278): expected ABF or BF, got '4134'",
        "2300 HI04-2 (segment 278): expected a diagnosis code, got nothing",
        "2400 LX01 (segment 285): expected '1', got '4'",
        "2400 LX01 (segment 288): expected '2', got '5'",
        "2300 CLM02 (segment 277): expected the sum of the line charges SV102 (24.61), got 500",
        "GE01 (segment 296): expected transaction set count 2, got '1'",
    ],
    "837P__imsweb__x12_loop_errors1_exceeds_max_1_parent.txt": [
        "SE01 (segment 32): expected segment count 31, got '25'",
        "2000B HL04 (segment 23): expected '0' (HL 2 has no subordinate level), got '1'",
        "2010AA NM1 (segment 14): expected one NM1 in this loop, got another",
        "2300 HI01-2 (segment 28): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 28): expected ABF or BF, got '8901'",
        "2300 HI02-2 (segment 28): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 28): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 28): expected ABF or BF, got '87200'",
        "2300 HI04-2 (segment 28): expected a diagnosis code, got nothing",
        "2300 CLM02 (segment 27): expected the sum of the line charges SV102 (12.25), got 500",
    ],
    "837P__imsweb__x12_loop_errors3_missing_loops.txt": [
        "SE01 (segment 20): expected segment count 19, got '25'",
        "2000B HL04 (segment 11): expected '0' (HL 2 has no subordinate level), got '1'",
        "2010AA HL (segment 7): expected NM1*85 (billing provider), got none",
        "2300 HI01-2 (segment 16): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 16): expected ABF or BF, got '8901'",
        "2300 HI02-2 (segment 16): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 16): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 16): expected ABF or BF, got '87200'",
        "2300 HI04-2 (segment 16): expected a diagnosis code, got nothing",
        "2300 CLM02 (segment 15): expected the sum of the line charges SV102 (12.25), got 500",
    ],
    "837P__imsweb__x12_missing_elements.txt": [
        "SE01 (segment 35): expected segment count 34, got '25'",
        "2000B HL01 (segment 26): expected '3', got '2'",
        "2000B HL02 (segment 26): expected the HL01 of an earlier level as parent, got '3'",
        "2000B HL04 (segment 17): expected '0' (HL 2 has no subordinate level), got '1'",
        "2000B HL04 (segment 26): expected '0' (HL 2 has no subordinate level), got '1'",
        "1000B NM102 (segment 6): expected 1 or 2, got ''",
        "2300 HI01-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 22): expected ABF or BF, got '8901'",
        "2300 HI02-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 22): expected ABF or BF, got '87200'",
        "2300 HI04-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 CLM02 (segment 21): expected the sum of the line charges SV102 (12.25), got 500",
        "2300 CLM05 (segment 30): expected facility code, qualifier and frequency, got nothing",
        "2300 HI01-2 (segment 31): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 31): expected ABF or BF, got '1987'",
        "2300 HI02-2 (segment 31): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 31): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 31): expected ABF or BF, got '4134'",
        "2300 HI04-2 (segment 31): expected a diagnosis code, got nothing",
        "2400 LX01 (segment 32): expected '1', got '2'",
        "2300 CLM02 (segment 30): expected the sum of the line charges SV102 (12.25), got 500",
    ],
    "837P__imsweb__x12_missing_required_loop_in_one_repeat.txt": [
        "SE01 (segment 41): expected segment count 40, got '25'",
        "2000B HL02 (segment 17): expected the HL01 of an earlier level as parent, got '3'",
        "2000A HL01 (segment 25): expected '3', got '1'",
        "2000B HL01 (segment 32): expected '4', got '2'",
        "2000A HL04 (segment 7): expected '0' (HL 1 has no subordinate level), got '1'",
        "2000B HL04 (segment 17): expected '0' (HL 2 has no subordinate level), got '1'",
        "2000B HL04 (segment 32): expected '0' (HL 2 has no subordinate level), got '1'",
        "2000A HL (segment 7): expected a subscriber level (HL 22), got none",
        "2300 HI01-2 (segment 37): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 37): expected ABF or BF, got '8901'",
        "2300 HI02-2 (segment 37): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 37): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 37): expected ABF or BF, got '87200'",
        "2300 HI04-2 (segment 37): expected a diagnosis code, got nothing",
        "2300 CLM02 (segment 36): expected the sum of the line charges SV102 (12.25), got 500",
        "2010BA HL (segment 17): expected NM1*IL (subscriber), got none",
        "2300 HI01-2 (segment 21): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 21): expected ABF or BF, got '1987'",
        "2300 HI02-2 (segment 21): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 21): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 21): expected ABF or BF, got '4134'",
        "2300 HI04-2 (segment 21): expected a diagnosis code, got nothing",
        "2400 LX01 (segment 22): expected '1', got '2'",
        "2300 CLM02 (segment 20): expected the sum of the line charges SV102 (12.25), got 500",
    ],
    "837P__imsweb__x12_multiple_st.txt": [
        "SE01 (segment 35): expected segment count 34, got '25'",
        "2000B HL01 (segment 26): expected '3', got '2'",
        "2000B HL02 (segment 26): expected the HL01 of an earlier level as parent, got '3'",
        "2000B HL04 (segment 17): expected '0' (HL 2 has no subordinate level), got '1'",
        "2000B HL04 (segment 26): expected '0' (HL 2 has no subordinate level), got '1'",
        "2300 HI01-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 22): expected ABF or BF, got '8901'",
        "2300 HI02-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 22): expected ABF or BF, got '87200'",
        "2300 HI04-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 CLM02 (segment 21): expected the sum of the line charges SV102 (12.25), got 500",
        "2300 HI01-2 (segment 31): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 31): expected ABF or BF, got '1987'",
        "2300 HI02-2 (segment 31): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 31): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 31): expected ABF or BF, got '4134'",
        "2300 HI04-2 (segment 31): expected a diagnosis code, got nothing",
        "2400 LX01 (segment 32): expected '1', got '2'",
        "2300 CLM02 (segment 30): expected the sum of the line charges SV102 (12.25), got 500",
        "SE01 (segment 69): expected segment count 34, got '25'",
        "2000B HL01 (segment 60): expected '3', got '2'",
        "2000B HL02 (segment 60): expected the HL01 of an earlier level as parent, got '3'",
        "2000B HL04 (segment 51): expected '0' (HL 2 has no subordinate level), got '1'",
        "2000B HL04 (segment 60): expected '0' (HL 2 has no subordinate level), got '1'",
        "2300 HI01-2 (segment 56): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 56): expected ABF or BF, got '8901'",
        "2300 HI02-2 (segment 56): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 56): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 56): expected ABF or BF, got '87200'",
        "2300 HI04-2 (segment 56): expected a diagnosis code, got nothing",
        "2300 CLM02 (segment 55): expected the sum of the line charges SV102 (12.25), got 500",
        "2300 HI01-2 (segment 65): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 65): expected ABF or BF, got '1987'",
        "2300 HI02-2 (segment 65): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 65): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 65): expected ABF or BF, got '4134'",
        "2300 HI04-2 (segment 65): expected a diagnosis code, got nothing",
        "2400 LX01 (segment 66): expected '1', got '2'",
        "2300 CLM02 (segment 64): expected the sum of the line charges SV102 (12.25), got 500",
        "GE01 (segment 70): expected transaction set count 2, got '1'",
    ],
    "837P__imsweb__x12_no_errors.txt": [
        "SE01 (segment 42): expected segment count 41, got '25'",
        "2000A HL01 (segment 26): expected '3', got '1'",
        "2000B HL01 (segment 33): expected '4', got '2'",
        "2000B HL04 (segment 17): expected '0' (HL 2 has no subordinate level), got '1'",
        "2000B HL04 (segment 33): expected '0' (HL 2 has no subordinate level), got '1'",
        "2300 HI01-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 22): expected ABF or BF, got '8901'",
        "2300 HI02-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 22): expected ABF or BF, got '87200'",
        "2300 HI04-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 CLM02 (segment 21): expected the sum of the line charges SV102 (12.25), got 500",
        "2300 HI01-2 (segment 38): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 38): expected ABF or BF, got '8901'",
        "2300 HI02-2 (segment 38): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 38): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 38): expected ABF or BF, got '87200'",
        "2300 HI04-2 (segment 38): expected a diagnosis code, got nothing",
        "2300 CLM02 (segment 37): expected the sum of the line charges SV102 (12.25), got 500",
    ],
    "837P__imsweb__x12_no_isa_line.txt": [
        "(segment 0): expected the interchange to start with ISA, got 'GS*'",
    ],
    "837P__imsweb__x12_segment_errors.txt": [
        "SE01 (segment 24): expected segment count 23, got '25'",
        "2000B HL04 (segment 16): expected '0' (HL 2 has no subordinate level), got '1'",
        "2010AA NM1 (segment 8): expected N3 (billing provider address), got none",
        "2010AA NM1 (segment 8): expected one REF*EI or REF*SY (billing provider tax id), got 2",
        "2300 CLM (segment 20): expected HI (diagnoses), got none",
        "2400 SV107-1 (segment 22): expected a pointer to one of the claim's 0 diagnoses, got '1'",
        "2400 SV107-2 (segment 22): expected a pointer to one of the claim's 0 diagnoses, got '2'",
        "2400 SV107-3 (segment 22): expected a pointer to one of the claim's 0 diagnoses, got '3'",
        "2300 CLM02 (segment 20): expected the sum of the line charges SV102 (12.25), got 500",
    ],
    "837P__imsweb__x12_valid.txt": [
        "SE01 (segment 35): expected segment count 34, got '25'",
        "2000B HL01 (segment 26): expected '3', got '2'",
        "2000B HL02 (segment 26): expected the HL01 of an earlier level as parent, got '3'",
        "2000B HL04 (segment 17): expected '0' (HL 2 has no subordinate level), got '1'",
        "2000B HL04 (segment 26): expected '0' (HL 2 has no subordinate level), got '1'",
        "2300 HI01-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 22): expected ABF or BF, got '8901'",
        "2300 HI02-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 22): expected ABF or BF, got '87200'",
        "2300 HI04-2 (segment 22): expected a diagnosis code, got nothing",
        "2300 CLM02 (segment 21): expected the sum of the line charges SV102 (12.25), got 500",
        "2300 HI01-2 (segment 31): expected a diagnosis code, got nothing",
        "2300 HI02-1 (segment 31): expected ABF or BF, got '1987'",
        "2300 HI02-2 (segment 31): expected a diagnosis code, got nothing",
        "2300 HI03-2 (segment 31): expected a diagnosis code, got nothing",
        "2300 HI04-1 (segment 31): expected ABF or BF, got '4134'",
        "2300 HI04-2 (segment 31): expected a diagnosis code, got nothing",
        "2400 LX01 (segment 32): expected '1', got '2'",
        "2300 CLM02 (segment 30): expected the sum of the line charges SV102 (12.25), got 500",
    ],
    "837P__imsweb__x12_writer_test.txt": [
        "SE01 (segment 32): expected segment count 31, got '25'",
        "2000B HL04 (segment 17): expected '0' (HL 2 has no subordinate level), got '1'",
        "2300 HI02 (segment 27): expected a diagnosis, got nothing",
        "2300 HI03 (segment 27): expected a diagnosis, got nothing",
        "2400 SV107-2 (segment 29): expected a pointer to one of the claim's 1 diagnoses, got '2'",
        "2400 SV107-3 (segment 29): expected a pointer to one of the claim's 1 diagnoses, got '3'",
        "2300 CLM02 (segment 24): expected the sum of the line charges SV102 (12.25), got 500",
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_PROBLEMS))
def test_sample_problems_are_exact(name: str) -> None:
    _, problems = read_837p(SAMPLES.joinpath(name).read_bytes())
    assert [p.render() for p in problems] == EXPECTED_PROBLEMS[name]


def test_huge_imsweb_samples_repeat_the_small_ones_defects() -> None:
    _, problems = read_837p(
        SAMPLES.joinpath("837P__imsweb__x12_multiple_transactions.txt").read_bytes()
    )
    kinds = Counter((p.loop_id, p.element, p.component) for p in problems)
    assert len(problems) == 6240
    assert kinds == {
        (None, "SE01", None): 312,
        ("2000B", "HL01", None): 312,
        ("2000B", "HL02", None): 312,
        ("2000B", "HL04", None): 624,
        ("2300", "CLM02", None): 624,
        ("2300", "HI01", 2): 624,
        ("2300", "HI02", 1): 624,
        ("2300", "HI02", 2): 624,
        ("2300", "HI03", 2): 624,
        ("2300", "HI04", 1): 624,
        ("2300", "HI04", 2): 624,
        ("2400", "LX01", None): 312,
    }
    assert {p.transaction_control_number for p in problems} >= {"987654"}
    _, problems = read_837p(SAMPLES.joinpath("837P__imsweb__x12_many_claims.txt").read_bytes())
    assert len(problems) == 8609
    assert problems[0].render() == "SE01 (segment 11487): expected segment count 11486, got '25'"
    assert problems[-1].render() == (
        "2300 CLM02 (segment 11482): expected the sum of the line charges SV102 (12.25), got 500"
    )


def test_fields_of_a_clean_sample() -> None:
    (model,), problems = read_837p(
        SAMPLES.joinpath("837P__LinuxForHealth__demo.cob.example3.B.837").read_bytes()
    )
    assert problems == []
    (claim,) = model.claims
    assert (claim.facility_code, claim.frequency) == ("11", "1")
    other = claim.other_subscribers[0]
    assert other.payer is not None
    line = claim.services[0]
    assert line.adjudications
    assert [(a.group, a.reasons[0].reason) for a in line.adjudications[0].adjustments]


def test_drug_sample_reads_the_ndc() -> None:
    (model,), problems = read_837p(
        SAMPLES.joinpath("837P__LinuxForHealth__demo.drug.example10.1.837").read_bytes()
    )
    assert problems == []
    line = model.claims[0].services[1]
    assert line.procedure.code == "J1550"
    assert line.drug is not None
    assert (line.drug.ndc, str(line.drug.quantity), line.drug.unit) == (
        "00026063512",
        "10.00",
        "ML",
    )
    assert [(a.qualifier, str(a.amount)) for a in line.amounts] == [("T", "3.37")]
    assert model.claims[0].rendering is not None
    assert model.claims[0].rendering.npi == "1122333341"
