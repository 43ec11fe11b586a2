"""Our writer's output for synthetic dermatology 837P claims, frozen in fixtures/x12/837p/
(UPDATE_GOLDENS=1 rewrites them: review the diff before committing). The clock and control
numbers are injected, so the files are byte-for-byte deterministic; each golden reads back,
without problems, to the model that wrote it, and pyx12 4.0 (map 837.5010.X222.A1.xml)
validates each one with zero errors."""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from integration.paths import fixtures_dir
from integration.x12.errors import X12Error
from integration.x12.t837_005010x222a1 import read_837p, write_837p
from tests.unit.x12.scenarios_837p import (
    BIOPSY,
    CLINIC_PARAMS,
    TRANSACTIONS,
    clock,
    control_numbers,
    transaction,
)

pyx12_params = pytest.importorskip("pyx12.params")
pyx12_document = pytest.importorskip("pyx12.x12n_document")

GOLDENS = fixtures_dir() / "x12" / "837p"


def written(name: str) -> str:
    return write_837p(
        TRANSACTIONS[name], CLINIC_PARAMS, clock, control_numbers(), segment_suffix="\n"
    )


def _walk(node: Any, where: str, out: list[str]) -> None:
    if isinstance(node, dict):
        for err in node.get("errors", []):
            out.append(f"{where}: {err.get('err_cde')} {err.get('err_str')}")
        label = node.get("seg_id") or node.get("trn_set_id") or node.get("gs_control_num") or ""
        for key in ("interchanges", "groups", "transactions", "segments", "elements"):
            for child in node.get(key, []):
                _walk(child, f"{where}/{label}" if label else where, out)


def pyx12_errors(text: str) -> list[str]:
    """pyx12's errors for `text` ([] when valid), from the error tree it writes as JSON (the
    call its x12valid script makes: x12n_document(param, src, fd_997, fd_html, fd_xmldoc))."""
    logging.disable(logging.CRITICAL)
    try:
        errors_json = io.StringIO()
        valid = pyx12_document.x12n_document(
            param=pyx12_params.params(),
            src_file=io.StringIO(text),
            fd_997=None,
            fd_html=None,
            fd_xmldoc=None,
            fd_json=errors_json,
        )
    finally:
        logging.disable(logging.NOTSET)
    out: list[str] = []
    _walk(json.loads(errors_json.getvalue() or "{}"), "", out)
    if not valid and not out:
        out.append("pyx12 reported the document invalid without a listed error")
    return out


@pytest.mark.parametrize("name", sorted(TRANSACTIONS))
def test_golden(name: str) -> None:
    text = written(name)
    path = GOLDENS / f"{name}.x12"
    if os.environ.get("UPDATE_GOLDENS") == "1":
        path.write_text(text, encoding="ascii", newline="")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDENS=1 and review it"
    assert text == path.read_bytes().decode("ascii")
    models, problems = read_837p(text)
    assert [p.render() for p in problems] == []
    assert models == [TRANSACTIONS[name]]


@pytest.mark.parametrize("name", sorted(TRANSACTIONS))
def test_pyx12_validates_the_golden(name: str) -> None:
    assert pyx12_errors((GOLDENS / f"{name}.x12").read_text("ascii")) == []


def test_pyx12_is_not_vacuous() -> None:
    """The check above can fail: pyx12 rejects a golden with a bad SV101-1 or NM102."""
    text = written("biopsy-99213-25-11102-11103")
    assert pyx12_errors(text.replace("SV1*HC:11102", "SV1*ZZ:11102")) != []
    assert pyx12_errors(text.replace("NM1*85*2", "NM1*85*7")) != []


def test_biopsy_wire_format() -> None:
    text = written("biopsy-99213-25-11102-11103")
    assert "CLM*DRCM-BX-1001*520.00***11:B:1*Y*A*Y*Y~" in text
    assert "HI*ABK:L570*ABF:D485*ABF:L821~" in text
    assert "SV1*HC:99213:25*150.00*UN*1***1:2:3~" in text
    assert "SV1*HC:11103*190.00*UN*2***2:3~" in text
    assert text.startswith(
        "ISA*00*          *00*          *ZZ*DERMRCM        *ZZ*SANDBOXPAYER   *260302*0930*^*00501*000002001*1*T*:~\n"
        "GS*HC*DERMRCM*SANDBOXPAYER*20260302*0930*2001*X*005010X222A1~\n"
        "ST*837*0001*005010X222A1~\n"
    )


def test_mohs_prior_authorization_and_attachment() -> None:
    text = written("mohs-17311-17312-13132-prior-auth")
    assert "PWK*09*EL***AC*ATT-MOHS-0001~\nREF*G1*AUTH-MOHS-0001~" in text
    (model,), _ = read_837p(text)
    assert model.claims[0].prior_authorization == "AUTH-MOHS-0001"
    assert [s.procedure.code for s in model.claims[0].services] == ["17311", "17312", "13132"]


def test_biologic_ndc_lines() -> None:
    text = written("biologic-j3357-ndc")
    assert (
        "SV1*HC:J3357*2700.00*UN*45***1~\nDTP*472*D8*20260217~\nLIN**N4*57894006103~\nCTP****0.5*ML~"
        in text
    )


def test_corrected_and_void_name_the_payer_claim() -> None:
    assert "11:B:7*" in written("corrected-frequency-7")
    assert "11:B:8*" in written("void-frequency-8")
    for name in ("corrected-frequency-7", "void-frequency-8"):
        (model,), _ = read_837p(written(name))
        assert model.claims[0].payer_claim_control_number == "SBXCLM000123"


def test_secondary_claim_carries_the_primary_adjudication() -> None:
    text = written("secondary-2320-2430")
    assert "SBR*S*18*******CI~" in text
    assert "SBR*P*18*GRP-0042******CI~\nAMT*D*160.00~\nOI***Y*P**Y~" in text
    assert (
        "SVD*PRIM01*96.00*HC:11102**1~\nCAS*CO*45*60.00~\nCAS*PR*2*24.00~\nDTP*573*D8*20260227~"
        in text
    )
    (model,), _ = read_837p(text)
    other = model.claims[0].other_subscribers[0]
    assert other.paid == Decimal("160.00")
    assert other.payer is not None and other.payer.id == "PRIM01"
    line = model.claims[0].services[1]
    assert line.adjudications[0].adjustments[0].reasons[0].quantity == Decimal("2")


def test_writer_refuses_more_than_100_claims_under_one_subscriber() -> None:
    claims = [replace(BIOPSY, patient_control_number=f"DRCM-BX-{k:04d}") for k in range(101)]
    assert write_837p(transaction(*claims[:100]), CLINIC_PARAMS, clock, control_numbers())
    with pytest.raises(X12Error) as err:
        write_837p(transaction(*claims), CLINIC_PARAMS, clock, control_numbers())
    assert [p.render() for p in err.value.problems] == [
        "2300: expected at most 100 claims (2300) under one subscriber level (2000B), got 101"
    ]


def test_writer_refuses_what_the_tr3_rejects() -> None:
    bad = replace(BIOPSY, frequency="7", references=())
    with pytest.raises(X12Error) as err:
        write_837p(transaction(bad), CLINIC_PARAMS, clock, control_numbers())
    assert [p.render() for p in err.value.problems] == [
        "2300 REF: expected REF*F8 (payer claim control number) for frequency 7, got none"
    ]
    with pytest.raises(X12Error) as err:
        write_837p(
            transaction(replace(BIOPSY, frequency="9")), CLINIC_PARAMS, clock, control_numbers()
        )
    assert [p.render() for p in err.value.problems] == [
        "2300 CLM05-3: expected 1, 6, 7 or 8, got '9'"
    ]
    no_lines = replace(BIOPSY, services=(), diagnoses=())
    with pytest.raises(X12Error) as err:
        write_837p(transaction(no_lines), CLINIC_PARAMS, clock, control_numbers())
    assert [p.render() for p in err.value.problems] == [
        "2300 HI: expected a diagnosis, got none",
        "2400 LX: expected a service line, got none",
    ]
