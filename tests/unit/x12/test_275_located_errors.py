"""Each problem the 275 reader or writer finds, rendered where: expected, got."""

from __future__ import annotations

from dataclasses import replace

import pytest

from integration.x12.errors import X12Error
from integration.x12.t275_005010x210 import Party, read_275, write_275
from tests.unit.x12.scenarios_275 import CLINIC_PARAMS, TINY_PDF, appeal, clock, control_numbers


def golden_text() -> bytes:
    return write_275(appeal(b"%PDF-1.4 ~*:^ %%EOF"), CLINIC_PARAMS, clock, control_numbers())


def messages(data: bytes) -> list[str]:
    _, problems = read_275(data)
    return [p.render() for p in problems]


def test_bin_shorter_than_declared_is_located() -> None:
    data = golden_text().replace(b"BIN*19*", b"BIN*25*")
    models, problems = read_275(data)
    assert models == []
    bin_problems = [p for p in problems if p.element == "BIN01"]
    assert [p.render() for p in bin_problems] == [
        "2110B BIN01 (segment 16): expected BIN02 of 25 octets followed by the segment terminator, "
        "got 8 octets before the next terminator"
    ]
    assert bin_problems[0].code == "7" and bin_problems[0].level == "element"


def test_bin_longer_than_declared_is_located() -> None:
    data = golden_text().replace(b"BIN*19*", b"BIN*3*")
    models, problems = read_275(data)
    assert models == []
    assert any(
        p.render().startswith("2110B BIN01 (segment 16): expected BIN02 of 3 octets")
        for p in problems
    )


def test_bin_length_not_a_number_is_located() -> None:
    data = golden_text().replace(b"BIN*19*", b"BIN*X9*")
    assert "2110B BIN01 (segment 16): expected the length of BIN02 in octets, got 'X9'" in messages(
        data
    )


def test_missing_bin_is_located() -> None:
    data = golden_text()
    start = data.index(b"BIN*")
    end = data.index(b"%%EOF~") + len(b"%%EOF~")
    data = data[:start] + data[end:]
    data = data.replace(b"SE*16*", b"SE*15*")
    assert messages(data) == [
        "2110B SE (segment 16): expected BIN (the document's octets), "
        "got the end of the transaction set"
    ]


def test_wrong_payer_qualifier_is_located() -> None:
    data = golden_text().replace(b"*****PI*SANDBOX01", b"*****XV*SANDBOX01")
    assert "1000A NM108 (segment 4): expected 'PI', got 'XV'" in messages(data)


def test_missing_patient_is_located() -> None:
    data = golden_text().replace(b"NM1*QC*", b"NM1*IL*")
    assert messages(data) == ["1000D NM101 (segment 7): expected 'QC' (the patient), got 'IL'"]
    models, _ = read_275(data)
    assert models == []


def test_missing_submitter_is_located_and_the_provider_still_read() -> None:
    data = golden_text().replace(b"NM1*41*2*EXAMPLE DERMATOLOGY*****46*ETIN0001~", b"")
    data = data.replace(b"SE*16*", b"SE*15*")
    assert messages(data) == ["1000B NM101 (segment 5): expected '41' (the submitter), got '1P'"]


def test_unknown_purpose_is_located() -> None:
    data = golden_text().replace(b"BGN*02*", b"BGN*99*")
    assert "BGN01 (segment 3): expected one of 02, 11, got '99'" in messages(data)


def test_wrong_guide_is_located() -> None:
    data = golden_text().replace(b"ST*275*0001*005010X210", b"ST*275*0001*005010X211")
    assert "ST03 (segment 2): expected '005010X210', got '005010X211'" in messages(data)


def test_writer_refuses_a_document_without_octets() -> None:
    with pytest.raises(X12Error) as caught:
        write_275(appeal(b""), CLINIC_PARAMS, clock, control_numbers())
    assert [p.render() for p in caught.value.problems] == [
        "2110B BIN02: expected document 1's octets, got none"
    ]


def test_writer_refuses_duplicate_control_numbers_and_missing_ids() -> None:
    model = appeal(TINY_PDF, documents=2)
    docs = (model.documents[0], replace(model.documents[1], control_number="APL7-1"))
    payer = Party(entity_code="PR", entity_type="2", last_or_organization="SANDBOX HEALTH PLAN")
    with pytest.raises(X12Error) as caught:
        write_275(
            replace(model, documents=docs, payer=payer), CLINIC_PARAMS, clock, control_numbers()
        )
    assert [p.render() for p in caught.value.problems] == [
        "1000A NM109: expected the payer's identifier, got nothing",
        "2000A TRN02: expected a control number unique to each document, got 'APL7-1' twice",
    ]


def test_writer_consumes_no_control_numbers_when_it_refuses() -> None:
    numbers = control_numbers()
    with pytest.raises(X12Error):
        write_275(appeal(b""), CLINIC_PARAMS, clock, numbers)
    assert numbers.interchange == 2701
