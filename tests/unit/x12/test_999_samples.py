"""Every 999 sample in /work/shared/data/x12 (public; see PROVENANCE.md there) is read and written
back segment for segment into its own envelope.

- Inteligenz DHS_Wisconsin_Sample (ST03 005010X231, the pre-A1 guide): read without problems;
  it rejects two of three 837s (IK3 CLM with an IK4, IK3 REF with a situational-trigger CTX).
- azoner 834_ls_le_ls_5010.999: read without problems.
- imsweb x12_999_accepted has two envelope defects, reported exactly: GS05 '102497' is not a time
  (97 seconds) and IEA02 is not ISA13. Its GS date and IEA cannot be written back as they were
  (the writer writes a read date and always echoes ISA13), so its ST..SE is compared.
Comparison ignores line breaks and indentation after segment terminators and the BOM.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.x12.t999_005010x231a1 import (
    ElementPosition,
    read_999,
    render_999,
)

SAMPLES = Path("/work/shared/data/x12")
FILES = sorted(SAMPLES.glob("999__*"))
EXPECTED_PROBLEMS = {
    "999__Inteligenz__DHS_Wisconsin_Sample.txt": [],
    "999__azoner__834_ls_le_ls_5010.999.txt": [],
    "999__imsweb__x12_999_accepted.txt": [
        "GS04 (segment 1): expected CCYYMMDD and HHMM, got '20200415' '102497'",
        "IEA02 (segment 9): expected interchange control number '000000286' (ISA13), "
        "got '000000001'",
    ],
}


def segments(text: str) -> list[str]:
    return [s.strip() for s in text.lstrip("\ufeff").split("~") if s.strip()]


def transaction_set(segs: list[str]) -> list[str]:
    start = next(i for i, s in enumerate(segs) if s.startswith("ST*"))
    end = next(i for i, s in enumerate(segs) if s.startswith("SE*"))
    return segs[start : end + 1]


def test_the_samples_are_there() -> None:
    assert [p.name for p in FILES] == sorted(EXPECTED_PROBLEMS)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_sample_reads_and_round_trips(path: Path) -> None:
    text = path.read_bytes().decode("utf-8-sig")
    acks, problems = read_999(path.read_bytes())
    assert [p.render() for p in problems] == EXPECTED_PROBLEMS[path.name]
    assert len(acks) == 1
    ack = acks[0]
    assert ack.envelope is not None
    written = segments(render_999(ack, ack.envelope, "\r\n"))
    if problems:
        assert transaction_set(written) == transaction_set(segments(text))
    else:
        assert written == segments(text)


def test_wisconsin_sample_fields() -> None:
    text = SAMPLES.joinpath("999__Inteligenz__DHS_Wisconsin_Sample.txt").read_text("utf-8-sig")
    (ack,), _ = read_999(text)
    assert (ack.functional_id, ack.group_control_number, ack.version) == (
        "HC",
        "17456",
        "004010X098A1",
    )
    assert (ack.status, ack.included, ack.received, ack.accepted) == ("P", 3, 3, 1)
    assert [(t.control_number, t.status, t.error_codes) for t in ack.transactions] == [
        ("0001", "A", ()),
        ("002", "R", ("5",)),
        ("0003", "R", ("5",)),
    ]
    clm = ack.transactions[1].segments[0]
    assert (clm.segment_id, clm.position, clm.error_code) == ("CLM", 22, "8")
    assert clm.contexts[0].name == "CLM01" and clm.contexts[0].reference == "123456789"
    element = clm.elements[0]
    assert (element.position, element.reference_number, element.error_code) == (
        ElementPosition(2),
        "782",
        "1",
    )
    ref = ack.transactions[2].segments[0]
    trigger = ref.contexts[0]
    assert (trigger.name, trigger.segment_id, trigger.segment_position) == (
        "SITUATIONAL TRIGGER",
        "CLM",
        43,
    )
    assert trigger.position == ElementPosition(5, 3)
    assert trigger.element_reference == ("C023", "1325")
    assert [t.accepted for t in ack.transactions] == [True, False, False]


def test_azoner_sample_fields() -> None:
    (ack,), _ = read_999(SAMPLES.joinpath("999__azoner__834_ls_le_ls_5010.999.txt").read_text())
    assert ack.envelope is not None and ack.envelope.delimiters.repetition == "!"
    assert (ack.functional_id, ack.version, ack.status) == ("BE", "005010X220A1", "A")
    assert ack.transactions[0].implementation_reference == "005010X220A1"
