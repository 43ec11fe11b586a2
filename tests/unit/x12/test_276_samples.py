"""Every 276, 277 and 277CA sample in /work/shared/data/x12 (public; see PROVENANCE.md there) is
read and written back segment for segment into its own envelope.

- 276: the three LinuxForHealth samples read without problems; Inteligenz Example1_IG says
  005010X279 in GS08 under an ST03 of 005010X212 (reported exactly). All four round trip exactly.
- 277 (X212): LinuxForHealth samples read without problems; imsweb x12_277_x212 has an IEA02 that
  is not ISA13 (reported; the writer echoes ISA13, so only the IEA differs).
- 277CA (X214): imsweb and Inteligenz FromAlexbrodsky have no STC in the billing provider's
  2200C (pyx12's X214 map reports the same); otherwise read and round trip exactly.
  Inteligenz FromLatitude81uk is a scrambled file (ISA12 '343434', dates like '201254545'): it is
  rejected at the ISA with the exact located message below, nothing else can be read.
Comparison ignores line breaks, indentation, the BOM and trailing empty elements.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from integration.x12.t276_005010x212 import DatePeriod, read_276, render_276
from integration.x12.t277_005010x212 import claim_statuses, read_277, render_277

SAMPLES = Path("/work/shared/data/x12")
IEA_277 = (
    "IEA02 (segment 110): expected interchange control number '000000001' (ISA13), got '842928883'"
)
NO_STC = "2200C TRN (segment 17): expected STC after TRN, got none"
EXPECTED: dict[str, tuple[list[str], list[tuple[str, str]]]] = {
    "276__Inteligenz__Example1_IG.txt": (
        [
            "ISA12 (segment 0): expected '00501', got '00401'",
            "GS08 (segment 1): expected '005010X212' (as in ST03), got '005010X279'",
        ],
        [],
    ),
    "276__LinuxForHealth__claim-level-status.276": ([], []),
    "276__LinuxForHealth__information-receiver-level-status.276": ([], []),
    "276__LinuxForHealth__provider-level-status.276": ([], []),
    "277CA__Inteligenz__FromAlexbrodsky.txt": ([NO_STC], []),
    "277CA__imsweb__x12_277CA_accepted.txt": ([NO_STC], []),
    "277__LinuxForHealth__claim-level-status.277": ([], []),
    "277__LinuxForHealth__information-receiver-level-status.277": ([], []),
    "277__LinuxForHealth__provider-level-status.277": ([], []),
    "277__imsweb__x12_277_x212.txt": (
        [IEA_277],
        [("IEA*1*000000001", "IEA*1*842928883")],
    ),
}
FILES = sorted(p for p in SAMPLES.glob("27[67]*") if p.name in EXPECTED)


def segments(text: str) -> list[str]:
    return [s.strip().rstrip("*") for s in text.lstrip("\ufeff").split("~") if s.strip()]


def test_the_samples_are_there() -> None:
    names = sorted(p.name for p in SAMPLES.glob("27[67]*"))
    assert names == sorted([*EXPECTED, "277CA__Inteligenz__FromLatitude81uk.txt"])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_sample_reads_and_round_trips(path: Path) -> None:
    text = path.read_bytes().decode("utf-8-sig")
    expected_problems, expected_diff = EXPECTED[path.name]
    if path.name.startswith("276"):
        requests, problems = read_276(path.read_bytes())
        (model,) = requests
        assert model.envelope is not None
        written = render_276(model, model.envelope, "\n")
    else:
        responses, problems = read_277(path.read_bytes())
        (response,) = responses
        assert response.envelope is not None
        written = render_277(response, response.envelope, "\n")
    assert [p.render() for p in problems] == expected_problems
    ours, theirs = segments(written), segments(text)
    assert len(ours) == len(theirs)
    assert [(a, b) for a, b in zip(ours, theirs, strict=True) if a != b] == expected_diff


def test_scrambled_277ca_is_rejected_at_the_isa() -> None:
    models, problems = read_277((SAMPLES / "277CA__Inteligenz__FromLatitude81uk.txt").read_bytes())
    assert models == []
    assert [p.render() for p in problems] == [
        "ISA12 (segment 0): expected a fixed-width ISA of 106 characters (ISA01..ISA16 widths "
        "2/10/2/10/2/15/2/15/6/4/1/5/9/1/1/1), got widths 2/10/2/10/2/15/2/15/6/4/1/6/8/1/1"
    ]


def test_276_claim_fields() -> None:
    (model,), _ = read_276((SAMPLES / "276__LinuxForHealth__claim-level-status.276").read_text())
    claims = list(model.claims())
    assert [(path[-1].code, c.trace.number, c.patient_account) for path, c in claims] == [
        ("22", "ABCXYZ1", "SM123456"),
        ("22", "ABCXYZ2", "J0234567"),
        ("23", "ABCXYZ3", "MA345678"),
    ]
    path, first = claims[0]
    assert path[-1].demographics is not None and path[-1].demographics.gender == "M"
    assert first.amounts == (("T3", Decimal("8513.88")),)
    assert first.dates == (DatePeriod("472", date(2005, 8, 31), date(2005, 9, 6)),)
    service = claims[2][1].services[0]
    assert (service.procedure, service.charge, service.units) == (
        ("HC", "99203"),
        Decimal("150.00"),
        Decimal("1.00"),
    )


def test_277_statuses() -> None:
    (model,), _ = read_277((SAMPLES / "277__LinuxForHealth__claim-level-status.277").read_text())
    lines = claim_statuses(model)
    assert [
        (
            s.patient_account,
            s.payer_claim_number,
            s.status.primary.category,
            s.status.primary.code,
            s.status.primary.entity,
            s.status.effective,
            s.status.amount,
            s.service,
        )
        for s in lines
    ] == [
        ("SM123456", "05347006051", "P3", "317", "", date(2005, 9, 13), Decimal("8513.88"), ()),
        ("J0234567", "0529675341", "F0", "3", "", date(2005, 9, 15), Decimal("7599.00"), ()),
        ("MA345678", "051681010827", "F2", "88", "QC", date(2005, 6, 12), Decimal("150.00"), ()),
        ("MA345678", "051681010827", "F2", "88", "QC", date(2005, 6, 12), None, ("HC", "99203")),
    ]
    assert lines[1].status.paid == Decimal("7599.00")


def test_277ca_levels_and_message() -> None:
    (model,), _ = read_277((SAMPLES / "277CA__imsweb__x12_277CA_accepted.txt").read_text())
    assert model.implementation_reference == "005010X214"
    assert model.header.transaction_type == "TH"
    codes = [(path[-1].code, c.trace.type_code) for path, c in model.claims()]
    assert codes == [("20", "1"), ("21", "2"), ("19", "1"), ("PT", "2")]
    patient = list(model.claims())[-1][1]
    assert patient.payer_claim_number == "1107000000014420"
    assert patient.statuses[0].action == "WQ"
    (ims,), _ = read_277((SAMPLES / "277__imsweb__x12_277_x212.txt").read_text())
    first = claim_statuses(ims)[0]
    assert first.status.message == "PAYER ACKNOWLEDGED RECEIPT OF THE CLAIM"
    assert (first.status.primary.category, first.status.primary.code) == ("A1", "704")
    assert len(ims.levels) == 8
