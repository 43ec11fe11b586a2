"""The 278 and the ePA messages name the patient with the family and given names the chart's
Patient.name has: "de la Cruz" is the family name, not "Cruz" (sent to the sandbox payer over
real HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from integration.priorauth.references import PaReferences
from integration.store.models import PaCase
from tests.integration.priorauth.test_submission import (
    DERM,
    DUPIXENT_2_PENS,
    NOW,
    _base,
    _order,
    _ready_case,
    _submitter,
)
from tests.support.servers import Sandbox


def _rename(sessions: Any, case_id: str) -> None:
    """The case's chart: a patient whose family name is "de la Cruz"."""
    with sessions.begin() as session:
        row = session.get(PaCase, case_id)
        evidence = json.loads(row.evidence_json)
        evidence["patient"].update(
            name="Maria Luisa de la Cruz", family="de la Cruz", given=["Maria", "Luisa"]
        )
        row.evidence_json = json.dumps(evidence)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_x12_278_names_the_subscriber_de_la_cruz(
    stores: Any, refs: PaReferences, payer: Sandbox
) -> None:
    _cases, subs, sessions = stores
    case_id = _ready_case(stores, refs, "bcc-mohs", _order("mohs"), "aetna")
    _rename(sessions, case_id)

    _submitter(subs, _base(payer)).submit(case_id, actor="coordinator", now=NOW)

    sent = subs.messages(case_id)[0].body
    assert "NM1*IL*1*de la Cruz*Maria Luisa****MI*" in sent


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ncpdp_epa_names_the_patient_de_la_cruz(
    stores: Any, refs: PaReferences, payer: Sandbox
) -> None:
    _cases, subs, sessions = stores
    order = _order("dupixent", **DUPIXENT_2_PENS)
    case_id = _ready_case(
        stores, refs, "atopic-dermatitis-dupixent", order, "cigna", prescriber=DERM
    )
    _rename(sessions, case_id)

    _submitter(subs, _base(payer)).submit(case_id, actor="coordinator", now=NOW)

    initiation = subs.messages(case_id)[0].body
    assert "<LastName>de la Cruz</LastName>" in initiation
    assert "<FirstName>Maria Luisa</FirstName>" in initiation
