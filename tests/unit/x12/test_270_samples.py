"""Every 270 sample in /work/shared/data/x12 (public; see PROVENANCE.md there) is read and written
back segment for segment into its own envelope.

The Inteligenz and LinuxForHealth samples (005010X279 / 005010X279A1) read without problems and
round trip exactly. imsweb x270 is a 4010 (004010X092A1) 270: it is read, with its defects
reported exactly (no ST03, SE01/SE02 and IEA02 wrong, HL04 says a dependent follows and none
does); written back it differs only where those defects were (the writer computes HL04, SE and
IEA). Comparison ignores line breaks, indentation, the BOM and trailing empty elements (which the
writer never writes). pyx12 4.0 has no 5010 270 map, so no pyx12 cross-check.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from integration.x12.t270_005010x279a1 import DatePeriod, read_270, render_270

SAMPLES = Path("/work/shared/data/x12")
FILES = sorted(SAMPLES.glob("270__*"))
ISA12_00401 = "ISA12 (segment 0): expected '00501', got '00401'"  # a 4010 interchange header
EXPECTED: dict[str, tuple[list[str], list[tuple[str, str]]]] = {
    "270__Inteligenz__Example1_IG.txt": ([ISA12_00401], []),
    "270__LinuxForHealth__dependent-health-benefit-check.270": ([], []),
    "270__LinuxForHealth__subscriber-health-benefit-check.270": ([], []),
    "270__imsweb__x270.txt": (
        [
            ISA12_00401,
            "SE01 (segment 15): expected segment count 14, got '15'",
            "SE02 (segment 15): expected transaction set control number '000121' (ST02), "
            "got '0000121'",
            "ST03 (segment 2): expected one of 005010X279, 005010X279A1, got ''",
            "GS08 (segment 1): expected '' (as in ST03), got '004010X092A1'",
            "2000C HL04 (segment 8): expected 0, got '1'",
            "IEA02 (segment 17): expected interchange control number '000003438' (ISA13), "
            "got '000014420'",
        ],
        [
            ("HL*3*2*22*0", "HL*3*2*22*1"),
            ("SE*14*000121", "SE*15*0000121"),
            ("IEA*1*000003438", "IEA*1*000014420"),
        ],
    ),
}


def segments(text: str) -> list[str]:
    return [s.strip().rstrip("*") for s in text.lstrip("\ufeff").split("~") if s.strip()]


def test_the_samples_are_there() -> None:
    assert [p.name for p in FILES] == sorted(EXPECTED)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_sample_reads_and_round_trips(path: Path) -> None:
    text = path.read_bytes().decode("utf-8-sig")
    models, problems = read_270(path.read_bytes())
    expected_problems, expected_diff = EXPECTED[path.name]
    assert [p.render() for p in problems] == expected_problems
    (model,) = models
    assert model.envelope is not None
    written, original = segments(render_270(model, model.envelope, "\n")), segments(text)
    assert len(written) == len(original)
    assert [(a, b) for a, b in zip(written, original, strict=True) if a != b] == expected_diff


def test_dependent_sample_fields() -> None:
    path = SAMPLES / "270__LinuxForHealth__dependent-health-benefit-check.270"
    (model,), _ = read_270(path.read_text())
    source = model.sources[0]
    assert (source.party.entity_code, source.party.id) == ("PR", "842610001")
    receiver = source.receivers[0]
    assert (receiver.party.last_or_organization, receiver.party.first) == ("JONES", "MARCUS")
    subscriber = receiver.subscribers[0]
    assert subscriber.party.id == "11122333301" and subscriber.inquiries == ()
    dependent = subscriber.dependents[0]
    assert dependent.traces[0].number == "93175-012547"
    assert dependent.party.entity_code == "03"
    assert dependent.party.dates == (DatePeriod("291", date(2006, 5, 1)),)
    assert [q.service_types for q in dependent.inquiries] == [("30",)]
    assert [m.party.entity_code for m in model.members()] == ["IL", "03"]
