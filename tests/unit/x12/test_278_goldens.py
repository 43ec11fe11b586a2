"""Our writer's output for dermatology 278 requests and the sandbox payer's responses, frozen in
fixtures/x12/278/ (UPDATE_GOLDENS=1 rewrites them: review the diff before committing).
The clock and control numbers are injected, so the files are byte-for-byte deterministic, and
each golden reads back, without problems, to the model that wrote it."""

from __future__ import annotations

import os

import pytest

from integration.paths import fixtures_dir
from integration.x12.t278_005010x217 import (
    Request278,
    Response278,
    read_278_request,
    read_278_response,
    write_278_request,
    write_278_response,
)
from tests.unit.x12.scenarios import (
    CLINIC_PARAMS,
    PAYER_PARAMS,
    REQUESTS,
    RESPONSES,
    clock,
    control_numbers,
)

GOLDENS = fixtures_dir() / "x12" / "278"


def check_golden(name: str, text: str) -> None:
    path = GOLDENS / f"{name}.x12"
    if os.environ.get("UPDATE_GOLDENS") == "1":
        path.write_text(text, encoding="ascii", newline="")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDENS=1 and review it"
    assert text == path.read_bytes().decode("ascii")


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_request_golden(name: str) -> None:
    model = REQUESTS[name]
    text = write_278_request(model, CLINIC_PARAMS, clock, control_numbers(), segment_suffix="\n")
    check_golden(f"request-{name}", text)
    models, problems = read_278_request(text)
    assert problems == []
    assert models == [model]


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_response_golden(name: str) -> None:
    model = RESPONSES[name]
    text = write_278_response(model, PAYER_PARAMS, clock, control_numbers(), segment_suffix="\n")
    check_golden(f"response-{name}", text)
    models, problems = read_278_response(text)
    assert problems == []
    assert models == [model]


def test_mohs_request_wire_format() -> None:
    text = write_278_request(REQUESTS["mohs-17311"], CLINIC_PARAMS, clock, control_numbers())
    assert "HI*ABK:C44311~" in text
    assert "SV1*HC:17311**UN*3~" in text
    assert "UM*HS*I*2*11:B~" in text
    assert text.startswith(
        "ISA*00*          *00*          *ZZ*DERMRCM        *ZZ*SANDBOXPAYER   *260302*0930*^*00501*000001001*1*T*:~"
    )
    assert (
        "GS*HI*DERMRCM*SANDBOXPAYER*20260302*0930*1001*X*005010X217~ST*278*0001*005010X217~" in text
    )


def test_drug_request_carries_the_ndc_line() -> None:
    model = REQUESTS["ustekinumab-j3357-ndc"]
    assert model.event is not None
    assert [s.ndc for s in model.event.services] == [None, "57894006103"]
    text = write_278_request(model, CLINIC_PARAMS, clock, control_numbers())
    assert "SV1*N4:57894006103**UN*1~" in text
    assert "PWK*09*FX***AC*ATT-J3357-1~" in text


def test_response_types() -> None:
    assert all(isinstance(m, Response278) for m in RESPONSES.values())
    assert all(isinstance(m, Request278) for m in REQUESTS.values())
