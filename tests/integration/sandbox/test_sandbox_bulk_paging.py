"""A 1,000+ resource chart read with ~10 searches in parallel, every page followed: each resource
exactly once. (Speed is measured by `make bench`, not asserted here.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from sandbox_testkit import Sandbox, coding

BULK_PATIENT = "bulk-1"
COUNTS = {
    "Observation": 1000,
    "Condition": 100,
    "MedicationRequest": 60,
    "Encounter": 40,
    "Procedure": 30,
    "DiagnosticReport": 20,
    "DocumentReference": 20,
    "Media": 20,
    "MedicationStatement": 10,
}
DATE_ELEMENT = {
    "Observation": "effectiveDateTime",
    "Condition": "onsetDateTime",
    "MedicationRequest": "authoredOn",
    "Procedure": "performedDateTime",
    "DiagnosticReport": "effectiveDateTime",
    "DocumentReference": "date",
    "Media": "createdDateTime",
    "MedicationStatement": "effectiveDateTime",
}


def _bulk_chart(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = [
        {"resource": {"resourceType": "Patient", "id": BULK_PATIENT, "gender": "other"}},
        {
            "resource": {
                "resourceType": "Coverage",
                "id": "bulk-cov",
                "status": "active",
                "beneficiary": {"reference": f"Patient/{BULK_PATIENT}"},
                "payor": [{"reference": "Organization/bulk-payer"}],
            }
        },
        {"resource": {"resourceType": "Organization", "id": "bulk-payer"}},
    ]
    for resource_type, count in COUNTS.items():
        for index in range(count):
            resource: dict[str, Any] = {
                "resourceType": resource_type,
                "id": f"{resource_type.lower()}-{index:04d}",
                "status": "final",
                "subject": {"reference": f"Patient/{BULK_PATIENT}"},
                "code": coding("http://loinc.org", f"{index % 50}-0"),
                "note": [{"text": "x" * 400}],  # about the size of a real resource
            }
            day = f"20{10 + index % 14}-0{1 + index % 9}-1{index % 10}"
            if resource_type == "Encounter":
                resource["period"] = {"start": day}
            else:
                resource[DATE_ELEMENT[resource_type]] = day
            entries.append({"resource": resource})
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    (folder / "bulk.json").write_text(json.dumps(bundle), encoding="utf-8")
    return folder


def test_parallel_paged_searches_return_each_resource_once(
    start_sandbox_with: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = start_sandbox_with(data_dir=_bulk_chart(tmp_path / "bulk"), auto_approve=True)
    token = sandbox.token("launch patient/*.rs", ehr_patient=BULK_PATIENT)["access_token"]
    session_headers = {"Authorization": f"Bearer {token}"}
    types = ["Patient", "Coverage", *COUNTS]

    def load_all(resource_type: str) -> int:
        with requests.Session() as session:
            session.headers.update(session_headers)
            url: str | None = f"{sandbox.fhir_base}/{resource_type}"
            params: dict[str, str] | None = {"patient": BULK_PATIENT, "_count": "200"}
            if resource_type == "Patient":
                params = {"_id": BULK_PATIENT}
            seen: list[str] = []
            while url:
                response = session.get(url, params=params, timeout=10)
                response.raise_for_status()
                bundle = response.json()
                seen.extend(e["resource"]["id"] for e in bundle.get("entry", []))
                url = next(
                    (link["url"] for link in bundle["link"] if link["relation"] == "next"), None
                )
                params = None
            assert len(seen) == len(set(seen)), f"{resource_type}: a resource came twice"
            return len(seen)

    with ThreadPoolExecutor(max_workers=len(types)) as pool:
        loaded = dict(zip(types, pool.map(load_all, types), strict=True))

    assert loaded == {"Patient": 1, "Coverage": 1, **COUNTS}
    assert sum(loaded.values()) > 1000
