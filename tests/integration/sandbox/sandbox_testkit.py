"""Helpers for the sandbox tests: a synthetic dermatology chart and the SMART flow.

The chart is made up here (no real person); ids are fixed so tests can name them, and the
Bundle is a transaction with urn:uuid fullUrls and references, the way Synthea writes them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.support.html_forms import Form, parse_page, submit

__all__ = ["Form", "parse_page", "submit"]

CLIENT_ID = "derm-rcm"
REDIRECT_URI = "http://127.0.0.1:9/callback"
LAUNCH_URL = "http://127.0.0.1:9/launch"
OTHER_CLIENT_ID = "other-app"
OTHER_REDIRECT_URI = "http://127.0.0.1:9/other-callback"

PATIENT = "derm-1"
OTHER_PATIENT = "derm-2"
SCORE_SYSTEM = "http://example.org/fhir/CodeSystem/derm-scores"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
N_OBSERVATIONS = 130
"""Observations of PATIENT: weekly from 2020-01-06, codes cycling pasi, bsa, hemoglobin."""
PNG_BYTES = b"\x89PNG\r\n\x1a\n-not-really-a-photo"
NOTE_TEXT = b"Plaque psoriasis, BSA 12%, PASI 14.2. Plan: start biologic."


def urn(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'derm-rcm-sandbox-test/' + key)}"


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    item = {"system": system, "code": code}
    if display:
        item["display"] = display
    return {"coding": [item]}


def observation_date(index: int) -> date:
    return date(2020, 1, 6) + timedelta(weeks=index)


def observation_code(index: int) -> tuple[str, str]:
    return [(SCORE_SYSTEM, "pasi"), (SCORE_SYSTEM, "bsa"), (LOINC, "718-7")][index % 3]


def chart_bundle() -> dict[str, Any]:
    """A transaction Bundle: two patients and a dermatology chart for the first."""
    pat = urn("patient/derm-1")
    pat2 = urn("patient/derm-2")
    resources: list[tuple[str, dict[str, Any]]] = []

    def add(key: str, resource: dict[str, Any]) -> None:
        resources.append((urn(key), resource))

    add(
        "patient/derm-1",
        {
            "resourceType": "Patient",
            "id": PATIENT,
            "identifier": [{"system": "urn:example:mrn", "value": "MRN-0001"}],
            "name": [{"use": "official", "family": "Testperson", "given": ["Avery"]}],
            "gender": "female",
            "birthDate": "1980-04-02",
        },
    )
    add(
        "patient/derm-2",
        {
            "resourceType": "Patient",
            "id": OTHER_PATIENT,
            "name": [{"family": "Otherperson", "given": ["Blake"]}],
            "gender": "male",
            "birthDate": "1975-09-30",
        },
    )
    add(
        "practitioner/dr-1",
        {
            "resourceType": "Practitioner",
            "id": "dr-1",
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
            "name": [{"family": "Derm", "given": ["Casey"], "prefix": ["Dr."]}],
        },
    )
    for patient_urn, cov_id in ((pat, "cov-1"), (pat2, "cov-2")):
        add(
            f"coverage/{cov_id}",
            {
                "resourceType": "Coverage",
                "id": cov_id,
                "status": "active",
                "beneficiary": {"reference": patient_urn},
                "payor": [{"reference": "Organization/payer-1"}],
            },
        )
    add(
        "condition/psoriasis",
        {
            "resourceType": "Condition",
            "id": "cond-psoriasis",
            "clinicalStatus": coding(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active"
            ),
            "category": [
                coding(
                    "http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item"
                )
            ],
            "code": coding(SNOMED, "9014002", "Psoriasis"),
            "subject": {"reference": pat},
            "onsetDateTime": "2019-05-01",
        },
    )
    add(
        "condition/ad",
        {
            "resourceType": "Condition",
            "id": "cond-ad",
            "clinicalStatus": coding(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "resolved"
            ),
            "category": [
                coding(
                    "http://terminology.hl7.org/CodeSystem/condition-category",
                    "encounter-diagnosis",
                )
            ],
            "code": coding(SNOMED, "24079001", "Atopic dermatitis"),
            "subject": {"reference": pat},
            "recordedDate": "2021-02-03",
        },
    )
    add(
        "condition/other",
        {
            "resourceType": "Condition",
            "id": "cond-other-patient",
            "code": coding(SNOMED, "9014002", "Psoriasis"),
            "subject": {"reference": pat2},
            "onsetDateTime": "2018-01-01",
        },
    )
    for index in range(N_OBSERVATIONS):
        system, code = observation_code(index)
        observation: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final" if index % 10 else "amended",
            "category": [coding(OBS_CATEGORY, "laboratory" if system == LOINC else "survey")],
            "code": coding(system, code),
            "subject": {"reference": pat},
            "effectiveDateTime": observation_date(index).isoformat(),
            "valueQuantity": {"value": index % 20},
        }
        if index % 5 == 0:
            observation["performer"] = [{"reference": urn("practitioner/dr-1")}]
        if index != 7:  # obs 7 has no id: it takes the uuid of its fullUrl
            observation["id"] = f"obs-{index:03d}"
        add(f"observation/{index}", observation)
    for index in range(3):
        add(
            f"observation/other/{index}",
            {
                "resourceType": "Observation",
                "id": f"obs-other-{index}",
                "status": "final",
                "code": coding(SCORE_SYSTEM, "pasi"),
                "subject": {"reference": pat2},
                "effectiveDateTime": f"2022-0{index + 1}-15",
            },
        )
    add(
        "medication/dupilumab",
        {
            "resourceType": "Medication",
            "id": "med-dupilumab",
            "code": coding("http://www.nlm.nih.gov/research/umls/rxnorm", "1876376"),
        },
    )
    add(
        "medication/mtx",
        {
            "resourceType": "Medication",
            "id": "med-mtx",
            "code": coding("http://www.nlm.nih.gov/research/umls/rxnorm", "6851"),
        },
    )
    add(
        "mr/1",
        {
            "resourceType": "MedicationRequest",
            "id": "mr-1",
            "status": "active",
            "intent": "order",
            "medicationReference": {"reference": urn("medication/dupilumab")},
            "subject": {"reference": pat},
            "authoredOn": "2023-03-01",
        },
    )
    add(
        "mr/2",
        {
            "resourceType": "MedicationRequest",
            "id": "mr-2",
            "status": "stopped",
            "intent": "order",
            "medicationCodeableConcept": coding(
                "http://www.nlm.nih.gov/research/umls/rxnorm", "106258"
            ),
            "subject": {"reference": pat},
            "authoredOn": "2021-06-01",
        },
    )
    add(
        "ms/1",
        {
            "resourceType": "MedicationStatement",
            "id": "ms-1",
            "status": "completed",
            "medicationReference": {"reference": "Medication/med-mtx"},
            "subject": {"reference": pat},
            "effectivePeriod": {"start": "2020-01-01", "end": "2020-06-30"},
        },
    )
    add(
        "media/1",
        {
            "resourceType": "Media",
            "id": "media-1",
            "status": "completed",
            "subject": {"reference": pat},
            "createdDateTime": "2023-02-01T09:30:00Z",
            "content": {"contentType": "image/png", "url": "Binary/photo-1"},
        },
    )
    add(
        "binary/photo",
        {
            "resourceType": "Binary",
            "id": "photo-1",
            "contentType": "image/png",
            "data": base64.b64encode(PNG_BYTES).decode(),
        },
    )
    add(
        "doc/1",
        {
            "resourceType": "DocumentReference",
            "id": "doc-1",
            "status": "current",
            "type": coding(LOINC, "11506-3", "Progress note"),
            "category": [
                coding(
                    "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                    "clinical-note",
                )
            ],
            "subject": {"reference": pat},
            "date": "2023-02-02T10:00:00Z",
            "content": [{"attachment": {"contentType": "text/plain", "url": "Binary/note-1"}}],
        },
    )
    add(
        "binary/note",
        {
            "resourceType": "Binary",
            "id": "note-1",
            "contentType": "text/plain",
            "securityContext": {"reference": "DocumentReference/doc-1"},
            "data": base64.b64encode(NOTE_TEXT).decode(),
        },
    )
    add(
        "procedure/1",
        {
            "resourceType": "Procedure",
            "id": "proc-1",
            "status": "completed",
            "code": coding("http://www.ama-assn.org/go/cpt", "96910"),
            "subject": {"reference": pat},
            "performedDateTime": "2022-11-10",
        },
    )
    add(
        "report/1",
        {
            "resourceType": "DiagnosticReport",
            "id": "dr-path",
            "status": "final",
            "category": [coding("http://terminology.hl7.org/CodeSystem/v2-0074", "SP")],
            "code": coding(LOINC, "60567-5", "Pathology report"),
            "subject": {"reference": pat},
            "effectiveDateTime": "2022-11-20",
        },
    )
    for enc_id, start, patient_urn in (
        ("enc-1", "2022-11-10T09:00:00Z", pat),
        ("enc-2", "2023-02-01T09:00:00Z", pat),
        ("enc-0", "2019-05-01T09:00:00Z", pat),
        ("enc-9", "2022-05-05T09:00:00Z", pat2),
    ):
        add(
            f"encounter/{enc_id}",
            {
                "resourceType": "Encounter",
                "id": enc_id,
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                },
                "subject": {"reference": patient_urn},
                "period": {"start": start, "end": start.replace("T09", "T10")},
            },
        )
    add(
        "sr/1",
        {
            "resourceType": "ServiceRequest",
            "id": "sr-1",
            "status": "active",
            "intent": "order",
            "code": coding("http://www.ama-assn.org/go/cpt", "96910"),
            "subject": {"reference": pat},
            "authoredOn": "2023-02-01",
        },
    )
    add(
        "allergy/1",
        {
            "resourceType": "AllergyIntolerance",
            "id": "ai-1",
            "clinicalStatus": coding(
                "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active"
            ),
            "code": coding(SNOMED, "91936005", "Penicillin allergy"),
            "patient": {"reference": pat},
            "recordedDate": "2019-01-01",
        },
    )
    add(
        "immunization/1",
        {
            "resourceType": "Immunization",
            "id": "imm-1",
            "status": "completed",
            "vaccineCode": coding("http://hl7.org/fhir/sid/cvx", "140"),
            "patient": {"reference": pat},
            "occurrenceDateTime": "2018-10-01",
        },
    )
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": full_url,
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
            for full_url, resource in resources
        ],
    }


OBS_7_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "derm-rcm-sandbox-test/observation/7"))


def write_chart(folder: Path) -> Path:
    """The synthetic chart plus a single-resource file and two files that are not FHIR."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chart.json").write_text(json.dumps(chart_bundle()), encoding="utf-8")
    payers = folder / "shared" / "organizations"
    payers.mkdir(parents=True, exist_ok=True)
    (payers / "payer-1.json").write_text(
        json.dumps(
            {"resourceType": "Organization", "id": "payer-1", "name": "Example Health Plan"}
        ),
        encoding="utf-8",
    )
    (folder / "notes.json").write_text(json.dumps({"hello": "not FHIR"}), encoding="utf-8")
    (folder / "broken.json").write_text("{ this is not json", encoding="utf-8")
    (folder / "README.txt").write_text("ignored: not *.json", encoding="utf-8")
    return folder


# --- SMART flow -------------------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class Sandbox:
    """A running sandbox as the tests see it."""

    base_url: str
    fhir_base: str

    @property
    def authorize_url(self) -> str:
        return self.base_url + "/oauth2/authorize"

    @property
    def token_url(self) -> str:
        return self.base_url + "/oauth2/token"

    def launch_token(self, patient: str = PATIENT, client_id: str = CLIENT_ID) -> str:
        response = requests.post(
            self.base_url + "/launch",
            data={"client_id": client_id, "patient": patient},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 303, response.text
        params = query_of(response.headers["Location"])
        assert params["iss"] == self.fhir_base
        return params["launch"]

    def authorize(
        self,
        scope: str,
        *,
        launch: str | None = None,
        client_id: str = CLIENT_ID,
        redirect_uri: str = REDIRECT_URI,
        aud: str | None = None,
        challenge: str | None = None,
        method: str | None = "S256",
        state: str = "state-123",
        extra: dict[str, str] | None = None,
    ) -> requests.Response:
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "aud": self.fhir_base if aud is None else aud,
        }
        if launch is not None:
            params["launch"] = launch
        if challenge is not None:
            params["code_challenge"] = challenge
        if method is not None and challenge is not None:
            params["code_challenge_method"] = method
        params.update(extra or {})
        return requests.get(self.authorize_url, params=params, allow_redirects=False, timeout=10)

    def exchange(
        self,
        code: str,
        verifier: str | None,
        client_id: str = CLIENT_ID,
        redirect_uri: str = REDIRECT_URI,
    ) -> requests.Response:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
        }
        if verifier is not None:
            data["code_verifier"] = verifier
        return requests.post(self.token_url, data=data, timeout=10)

    def refresh(self, refresh_token: str, client_id: str = CLIENT_ID) -> requests.Response:
        return requests.post(
            self.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client_id,
            },
            timeout=10,
        )

    def code_for(
        self,
        scope: str,
        *,
        ehr_patient: str | None = PATIENT,
        pick_patient: str | None = None,
        untick: tuple[str, ...] = (),
        verifier_challenge: tuple[str, str] | None = None,
        extra: dict[str, str] | None = None,
    ) -> tuple[str, str]:
        """Run authorize -> (picker) -> consent Allow; return (code, verifier)."""
        verifier, challenge = verifier_challenge or pkce_pair()
        launch = self.launch_token(ehr_patient) if ehr_patient else None
        page = self.authorize(scope, launch=launch, challenge=challenge, extra=extra)
        if pick_patient is not None:
            assert page.status_code == 200, page.text
            page = submit(page, "picker", f"patient-{pick_patient}")
        if page.status_code == 200:
            page = submit(page, "consent", "allow", untick=untick)
        assert page.status_code == 302, page.text
        location = page.headers["Location"]
        assert location.startswith(REDIRECT_URI), location
        params = query_of(location)
        assert "code" in params, params
        assert params["state"] == "state-123"
        return params["code"], verifier

    def token(self, scope: str, **kwargs: Any) -> dict[str, Any]:
        code, verifier = self.code_for(scope, **kwargs)
        response = self.exchange(code, verifier)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def get(
        self, path: str, token: str | None = None, params: Any = None, **headers: str
    ) -> requests.Response:
        url = path if path.startswith("http") else self.fhir_base + path
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.get(url, params=params, headers=headers, timeout=10)


def ids(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return [
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode") == mode
    ]


def outcome_text(body: dict[str, Any]) -> str:
    assert body["resourceType"] == "OperationOutcome", body
    return " | ".join(i.get("diagnostics", "") for i in body["issue"])
