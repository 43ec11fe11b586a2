"""The patient's name travels as the chart has it: a family name of several words ("de la Cruz")
stays the family name in the evidence and in the 278 and ePA messages; evidence stored before
the parts existed still reads (the display name's last word, as before)."""

from __future__ import annotations

import json
from datetime import date

from fhir.resources.R4B.patient import Patient

from integration.domain.evidence import PatientFact, from_json, to_json_value
from integration.evidence.assemble import assemble_evidence
from integration.evidence.chart import ChartData
from integration.mapping.evidence_maps import load_evidence_maps


def _patient(**name: object) -> Patient:
    return Patient.model_validate(
        {
            "resourceType": "Patient",
            "id": "p1",
            "meta": {"versionId": "1"},
            "birthDate": "1980-02-03",
            "gender": "female",
            "name": [{"use": "official", **name}],
        }
    )


def _fact(patient: Patient) -> PatientFact:
    evidence = assemble_evidence(
        ChartData("p1", [patient]), load_evidence_maps(), date(2026, 11, 15)
    )
    assert evidence.patient is not None
    return evidence.patient


def test_a_family_name_of_several_words_is_kept_whole() -> None:
    fact = _fact(_patient(family="de la Cruz", given=["Maria", "Luisa"]))

    assert (fact.family, fact.given) == ("de la Cruz", ("Maria", "Luisa"))
    assert fact.name_parts() == ("de la Cruz", ("Maria", "Luisa"))
    again = from_json(PatientFact, json.loads(json.dumps(to_json_value(fact))))
    assert again == fact


def test_the_evidence_keeps_the_name_parts_as_the_chart_has_them() -> None:
    fact = _fact(_patient(family="Pettibone", given=["Eugenia", "May"]))

    assert fact.name_parts() == ("Pettibone", ("Eugenia", "May"))
    stored = to_json_value(fact)
    assert (stored["family"], stored["given"]) == ("Pettibone", ["Eugenia", "May"])


def test_a_name_text_that_differs_keeps_the_parts() -> None:
    fact = _fact(_patient(text="Bob Smith-Jones", family="Smith Jones", given=["Robert"]))

    assert fact.name == "Bob Smith-Jones"
    assert fact.name_parts() == ("Smith Jones", ("Robert",))


def test_evidence_stored_without_the_parts_still_reads() -> None:
    stored = {"id": "p1", "source": "Patient/p1/_history/1", "name": "Ana de la Cruz",
              "birth_date": "1980-02-03", "gender": "female"}  # fmt: skip

    fact = from_json(PatientFact, stored)

    assert (fact.family, fact.given) == (None, ())
    assert fact.name_parts() == ("Cruz", ("Ana", "de", "la"))  # the old guess, documented
