"""The Medplum peer (tests/peers/medplum) behaves as a FHIR R4 server for a Synthea chart.

Loads Garrett Thompson's Synthea transaction Bundle (fixtures/patients/synthea, a copy of
shared/data/fhir) into Medplum's in-memory FHIR engine and checks read, search, paging and the
quirks listed in tests/peers/medplum/README.md.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.peers import conftest_medplum
from tests.peers.medplum_peer import BundleLoadError, MedplumPeer, load_bundle, start_medplum

medplum_server = conftest_medplum.medplum_server
pytestmark = pytest.mark.peer

PATIENT_ID = "3ed2a74a-739a-4f67-8492-c7b94e61515f"
SAMPLE_NAME = "Garrett_Thompson_5a72e290-8102-4c8a-84f7-f838387508b2.json"
ATOPIC_DERMATITIS = "http://snomed.info/sct|24079001"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _sample_path() -> Path:
    """The repo's copy (fixtures/patients/synthea), else the original in shared/data/fhir."""
    candidates = [REPO_ROOT / "fixtures" / "patients" / "synthea" / SAMPLE_NAME]
    shared_dirs = [REPO_ROOT.parent / "shared", Path("/work/shared")]
    if os.environ.get("DERM_RCM_SHARED_DIR"):
        shared_dirs.insert(0, Path(os.environ["DERM_RCM_SHARED_DIR"]))
    candidates += [
        d / "data" / "fhir" / "generated-sample-data-r4" / SAMPLE_NAME for d in shared_dirs
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"{SAMPLE_NAME} not found at any of {[str(c) for c in candidates]}")


@pytest.fixture(scope="module")
def chart() -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads(_sample_path().read_text())
    return bundle


def _resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


@pytest.fixture(scope="module")
def loaded(medplum_server: MedplumPeer, chart: dict[str, Any]) -> MedplumPeer:
    medplum_server.reset()
    load_bundle(medplum_server.base_url, chart)
    return medplum_server


@pytest.fixture(scope="module")
def http() -> requests.Session:
    session = requests.Session()
    session.headers["Accept"] = "application/fhir+json"
    return session


def _get(http: requests.Session, url: str, **params: str) -> dict[str, Any]:
    resp = http.get(url, params=params or None, timeout=30)
    assert resp.status_code == 200, f"GET {resp.url}: {resp.status_code} {resp.text[:500]}"
    body: dict[str, Any] = resp.json()
    return body


def _search_all(
    http: requests.Session, base_url: str, path: str, **params: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Follow `next` links to the end; return (resources, pages)."""
    pages = [_get(http, f"{base_url}/{path}", **params)]
    while True:
        nxt = [link["url"] for link in pages[-1].get("link", []) if link["relation"] == "next"]
        if not nxt:
            break
        assert len(pages) < 100, "runaway paging"
        pages.append(_get(http, nxt[0]))
    resources = [e["resource"] for page in pages for e in page.get("entry", [])]
    return resources, pages


def test_patient_read_by_id(loaded: MedplumPeer, http: requests.Session) -> None:
    patient = _get(http, f"{loaded.base_url}/Patient/{PATIENT_ID}")
    assert patient["resourceType"] == "Patient"
    assert patient["id"] == PATIENT_ID
    assert patient["name"][0]["family"]
    # Medplum assigns its own version ids (UUIDs, not "1") and lastUpdated (load time).
    assert patient["meta"]["versionId"]
    assert patient["meta"]["lastUpdated"]


def test_observation_paging_returns_each_once(
    loaded: MedplumPeer, http: requests.Session, chart: dict[str, Any]
) -> None:
    expected = {
        o["id"]
        for o in _resources(chart, "Observation")
        if o["subject"]["reference"] == f"urn:uuid:{PATIENT_ID}"
    }
    assert len(expected) == 47

    found, pages = _search_all(
        http, loaded.base_url, "Observation", patient=PATIENT_ID, _count="10"
    )
    counts = Counter(o["id"] for o in found)
    assert set(counts) == expected
    assert all(n == 1 for n in counts.values()), [i for i, n in counts.items() if n > 1]
    assert len(pages) == 5
    assert all(len(p.get("entry", [])) <= 10 for p in pages)
    for page in pages:
        assert page["type"] == "searchset"
        assert "total" not in page  # like hosted Medplum: only with _total=accurate
        for link in page["link"]:
            assert link["url"].startswith(loaded.base_url + "/Observation?"), link
        for entry in page.get("entry", []):
            res = entry["resource"]
            assert entry["fullUrl"] == f"{loaded.base_url}/Observation/{res['id']}"
            assert res["subject"]["reference"] == f"Patient/{PATIENT_ID}"  # rewritten urn:uuid


def test_patient_reference_forms_are_equivalent(
    loaded: MedplumPeer, http: requests.Session
) -> None:
    def ids(**params: str) -> set[str]:
        found, _ = _search_all(http, loaded.base_url, "Observation", _count="100", **params)
        return {o["id"] for o in found}

    bare = ids(patient=PATIENT_ID)
    assert len(bare) == 47
    assert ids(patient=f"Patient/{PATIENT_ID}") == bare
    assert ids(subject=f"Patient/{PATIENT_ID}") == bare
    assert ids(**{"subject:Patient": PATIENT_ID}) == bare
    assert ids(patient=f"{loaded.base_url}/Patient/{PATIENT_ID}") == bare


def test_condition_by_snomed_code(loaded: MedplumPeer, http: requests.Session) -> None:
    found, _ = _search_all(
        http, loaded.base_url, "Condition", patient=PATIENT_ID, code=ATOPIC_DERMATITIS
    )
    assert len(found) == 1
    coding = found[0]["code"]["coding"][0]
    assert (coding["system"], coding["code"]) == ("http://snomed.info/sct", "24079001")
    assert coding["display"] == "Atopic dermatitis"
    # code without a system matches too; a wrong system does not
    by_code, _ = _search_all(
        http, loaded.base_url, "Condition", patient=PATIENT_ID, code="24079001"
    )
    assert [c["id"] for c in by_code] == [found[0]["id"]]
    other, _ = _search_all(
        http, loaded.base_url, "Condition", patient=PATIENT_ID, code="http://loinc.org|24079001"
    )
    assert other == []


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def test_search_by_date(loaded: MedplumPeer, http: requests.Session, chart: dict[str, Any]) -> None:
    cutoff = datetime(1972, 10, 1, tzinfo=UTC)
    expected = {
        o["id"] for o in _resources(chart, "Observation") if _when(o["effectiveDateTime"]) >= cutoff
    }
    assert 0 < len(expected) < 47
    found, _ = _search_all(
        http, loaded.base_url, "Observation", patient=PATIENT_ID, date="ge1972-10-01", _count="10"
    )
    assert {o["id"] for o in found} == expected
    assert len(found) == len(expected)

    before, _ = _search_all(
        http, loaded.base_url, "Observation", patient=PATIENT_ID, date="lt1972-10-01"
    )
    assert {o["id"] for o in before} | expected == {
        o["id"] for o in _resources(chart, "Observation")
    }

    conditions, _ = _search_all(
        http, loaded.base_url, "Condition", patient=PATIENT_ID, **{"onset-date": "ge1972-08-01"}
    )
    assert sorted(c["code"]["coding"][0]["code"] for c in conditions) == ["24079001", "65363002"]


@pytest.mark.parametrize(
    "rtype",
    [
        "Condition",
        "Observation",
        "MedicationRequest",
        "Procedure",
        "DiagnosticReport",
        "Immunization",
        "Encounter",
        "CarePlan",
        "Claim",
        "ExplanationOfBenefit",
    ],
)
def test_patient_search_on_chart_types(
    loaded: MedplumPeer, http: requests.Session, chart: dict[str, Any], rtype: str
) -> None:
    found, _ = _search_all(http, loaded.base_url, rtype, patient=PATIENT_ID)
    assert sorted(r["id"] for r in found) == sorted(r["id"] for r in _resources(chart, rtype))


@pytest.mark.parametrize("rtype", ["Coverage", "MedicationStatement", "Media", "DocumentReference"])
def test_patient_search_on_empty_types(
    loaded: MedplumPeer, http: requests.Session, rtype: str
) -> None:
    page = _get(http, f"{loaded.base_url}/{rtype}", patient=PATIENT_ID)
    assert page["type"] == "searchset"
    assert page.get("entry", []) == []


def test_total_default_page_size_and_max(loaded: MedplumPeer, http: requests.Session) -> None:
    page = _get(http, f"{loaded.base_url}/Observation", patient=PATIENT_ID, _total="accurate")
    assert page["total"] == 47
    assert len(page["entry"]) == 20  # default _count
    assert any(link["relation"] == "next" for link in page["link"])
    counted = _get(http, f"{loaded.base_url}/Observation", patient=PATIENT_ID, _summary="count")
    assert counted["total"] == 47
    assert "entry" not in counted
    big = _get(http, f"{loaded.base_url}/Observation", _count="5000")
    self_link = next(link["url"] for link in big["link"] if link["relation"] == "self")
    assert "_count=1000" in self_link


def test_peer_rejects_what_it_cannot_answer(loaded: MedplumPeer, http: requests.Session) -> None:
    base = loaded.base_url
    cases = {
        f"{base}/Patient?patient={PATIENT_ID}": "Unknown search parameter",
        f"{base}/Observation?nonsense=1": "Unknown search parameter",
        f"{base}/Observation?value-quantity=gt5": "cannot match",
        f"{base}/Observation?_include=Observation:subject": "not supported",
        f"{base}/NotAType?x=1": "Unknown resource type",
    }
    for url, text in cases.items():
        resp = http.get(url, timeout=30)
        assert resp.status_code in (400, 404), url
        body = resp.json()
        assert body["resourceType"] == "OperationOutcome"
        assert text in body["issue"][0]["details"]["text"], (url, body)
    resp = http.get(f"{base}/Patient/does-not-exist", timeout=30)
    assert resp.status_code == 404
    assert resp.json()["resourceType"] == "OperationOutcome"


def test_metadata_auth_put_and_versions(loaded: MedplumPeer, http: requests.Session) -> None:
    cap = _get(http, f"{loaded.base_url}/metadata")
    assert cap["resourceType"] == "CapabilityStatement"
    assert cap["fhirVersion"] == "4.0.1"
    types = {r["type"] for r in cap["rest"][0]["resource"]}
    assert {"Patient", "Observation", "Coverage", "Media", "DocumentReference"} <= types

    url = f"{loaded.base_url}/Patient/peer-test-put"
    body = {"resourceType": "Patient", "id": "peer-test-put", "name": [{"family": "Put"}]}
    headers = {"Authorization": "Bearer not-checked", "Content-Type": "application/fhir+json"}
    first = requests.put(url, json=body, headers=headers, timeout=30)
    assert first.status_code == 200  # Medplum's engine answers 200, not 201, to update-as-create
    second = requests.put(url, json=body, headers=headers, timeout=30)
    assert second.status_code == 200
    v1, v2 = first.json()["meta"]["versionId"], second.json()["meta"]["versionId"]
    assert v1 != v2
    assert second.headers["ETag"] == f'W/"{v2}"'
    history = _get(http, f"{url}/_history")
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == [v2, v1]
    wrong = requests.put(url, json={**body, "id": "other"}, headers=headers, timeout=30)
    assert wrong.status_code == 400


def test_load_bundle_reports_rejected_entries(medplum_server: MedplumPeer) -> None:
    def entry(n: int, resource: dict[str, Any]) -> dict[str, Any]:
        return {
            "fullUrl": f"urn:uuid:0b6c4f7e-0f3a-4a57-9d0e-6b1d1c0f7a1{n}",
            "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"]},
        }

    bad = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            entry(1, {"resourceType": "Observation", "status": "final", "code": {"text": "ok"}}),
            entry(2, {"resourceType": "Observation", "status": "final", "bogus": 1}),
            entry(3, {"resourceType": "NotAType"}),
        ],
    }
    with pytest.raises(BundleLoadError) as info:
        load_bundle(medplum_server.base_url, bad)
    message = str(info.value)
    assert "2 of 3 resources were rejected" in message
    assert (
        "entry 1 (PUT Observation/0b6c4f7e-0f3a-4a57-9d0e-6b1d1c0f7a12): HTTP 400: "
        "Missing required property (Observation.code); "
        'Invalid additional property "bogus" (Observation.bogus)'
    ) in message
    assert "entry 2 (PUT NotAType/0b6c4f7e-0f3a-4a57-9d0e-6b1d1c0f7a13): HTTP 400: " in message
    # batch semantics: the valid entry was stored anyway
    created = requests.get(
        f"{medplum_server.base_url}/Observation/0b6c4f7e-0f3a-4a57-9d0e-6b1d1c0f7a11", timeout=30
    )
    assert created.status_code == 200

    dangling = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:0b6c4f7e-0f3a-4a57-9d0e-6b1d1c0f7a13",
                "resource": {
                    "resourceType": "Observation",
                    "subject": {"reference": "urn:uuid:0b6c4f7e-0f3a-4a57-9d0e-6b1d1c0f7a99"},
                },
            }
        ],
    }
    with pytest.raises(ValueError, match="no entry's fullUrl"):
        load_bundle(medplum_server.base_url, dangling)


def test_loading_3000_resources_is_fast(medplum_server: MedplumPeer) -> None:
    patient_ref = "urn:uuid:6f1c8a52-3d8e-4d35-9c1e-000000000000"
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": patient_ref,
            "resource": {"resourceType": "Patient", "name": [{"family": "Bulk"}]},
            "request": {"method": "POST", "url": "Patient"},
        }
    ]
    for i in range(1, 3000):
        entries.append(
            {
                "fullUrl": f"urn:uuid:6f1c8a52-3d8e-4d35-9c1e-{i:012d}",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "66519-0"}]},
                    "subject": {"reference": patient_ref},
                    "effectiveDateTime": f"2020-01-01T00:00:{i % 60:02d}Z",
                    "valueQuantity": {"value": i / 100, "unit": "%"},
                },
                "request": {"method": "POST", "url": "Observation"},
            }
        )
    started = time.monotonic()
    load_bundle(
        medplum_server.base_url, {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    )
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"loading 3000 resources took {elapsed:.1f} s"
    page = requests.get(
        f"{medplum_server.base_url}/Observation",
        params={"patient": "6f1c8a52-3d8e-4d35-9c1e-000000000000", "_summary": "count"},
        timeout=30,
    ).json()
    assert page["total"] == 2999


def test_start_and_stop_on_sigterm() -> None:
    with start_medplum() as peer:
        assert peer.port > 0
        assert peer.base_url == f"http://127.0.0.1:{peer.port}/fhir/R4"
        assert requests.get(f"{peer.base_url}/metadata", timeout=30).status_code == 200
    assert peer.process.returncode == 0  # clean exit on SIGTERM, not killed
