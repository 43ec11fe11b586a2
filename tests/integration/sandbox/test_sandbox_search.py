"""FHIR search as a client uses it: every parameter, paging, sorting, includes, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
import requests
from sandbox_testkit import (
    LOINC,
    N_OBSERVATIONS,
    NOTE_TEXT,
    OBS_7_ID,
    OBS_CATEGORY,
    OTHER_PATIENT,
    PATIENT,
    PNG_BYTES,
    SCORE_SYSTEM,
    SNOMED,
    Sandbox,
    ids,
    observation_code,
    observation_date,
    outcome_text,
)


@pytest.fixture(scope="module")
def search(sandbox: Sandbox, user_token: str) -> Callable[..., dict[str, Any]]:
    """GET {fhir}/{type}?params as a user-level token; returns the Bundle (asserting 200)."""

    def run(resource_type: str, params: Any = None) -> dict[str, Any]:
        response = sandbox.get(f"/{resource_type}", user_token, params)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/fhir+json")
        body: dict[str, Any] = response.json()
        assert body["resourceType"] == "Bundle"
        assert body["type"] == "searchset"
        return body

    return run


def _expected_observations(predicate: Callable[[int], bool]) -> set[str]:
    return {f"obs-{i:03d}" if i != 7 else OBS_7_ID for i in range(N_OBSERVATIONS) if predicate(i)}


# --- patient, subject, beneficiary, _id ------------------------------------------------------


@pytest.mark.parametrize("value", [PATIENT, f"Patient/{PATIENT}"])
@pytest.mark.parametrize("param", ["patient", "subject"])
def test_patient_and_subject_take_both_reference_forms(
    search: Callable[..., dict[str, Any]], param: str, value: str
) -> None:
    bundle = search("Observation", {param: value, "_count": "1000"})

    assert bundle["total"] == N_OBSERVATIONS
    assert set(ids(bundle)) == _expected_observations(lambda i: True)


def test_absolute_reference_and_comma_or(
    sandbox: Sandbox, search: Callable[..., dict[str, Any]]
) -> None:
    absolute = search("Condition", {"patient": f"{sandbox.fhir_base}/Patient/{OTHER_PATIENT}"})
    both = search("Condition", {"patient": f"{PATIENT},{OTHER_PATIENT}"})

    assert ids(absolute) == ["cond-other-patient"]
    assert sorted(ids(both)) == ["cond-ad", "cond-other-patient", "cond-psoriasis"]


@pytest.mark.parametrize("param", ["beneficiary", "patient"])
def test_coverage_by_beneficiary(search: Callable[..., dict[str, Any]], param: str) -> None:
    assert ids(search("Coverage", {param: PATIENT})) == ["cov-1"]


def test_search_by_id(search: Callable[..., dict[str, Any]]) -> None:
    bundle = search("Observation", {"_id": "obs-003,obs-001,nope"})
    assert ids(bundle) == ["obs-001", "obs-003"]


@pytest.mark.parametrize(
    ("resource_type", "expected"),
    [
        ("Coverage", ["cov-1"]),
        ("Condition", ["cond-ad", "cond-psoriasis"]),
        ("MedicationStatement", ["ms-1"]),
        ("MedicationRequest", ["mr-1", "mr-2"]),
        ("Media", ["media-1"]),
        ("DocumentReference", ["doc-1"]),
        ("Procedure", ["proc-1"]),
        ("DiagnosticReport", ["dr-path"]),
        ("Encounter", ["enc-0", "enc-1", "enc-2"]),
        ("ServiceRequest", ["sr-1"]),
        ("AllergyIntolerance", ["ai-1"]),
        ("Immunization", ["imm-1"]),
    ],
)
def test_every_chart_type_searches_by_patient(
    search: Callable[..., dict[str, Any]], resource_type: str, expected: list[str]
) -> None:
    assert ids(search(resource_type, {"patient": PATIENT})) == expected


@pytest.mark.parametrize(
    ("resource_type", "expected"),
    [
        ("Medication", ["med-dupilumab", "med-mtx"]),
        ("Organization", ["payer-1"]),
        ("Practitioner", ["dr-1"]),
        ("Binary", ["note-1", "photo-1"]),
        ("Patient", [PATIENT, OTHER_PATIENT]),
    ],
)
def test_shared_types_search_without_patient(
    search: Callable[..., dict[str, Any]], resource_type: str, expected: list[str]
) -> None:
    assert ids(search(resource_type)) == expected


# --- tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "predicate"),
    [
        (f"{SCORE_SYSTEM}|pasi", lambda i: observation_code(i)[1] == "pasi"),
        ("bsa", lambda i: observation_code(i)[1] == "bsa"),
        (f"{LOINC}|", lambda i: observation_code(i)[0] == LOINC),
        (f"{SCORE_SYSTEM}|pasi,{LOINC}|718-7", lambda i: observation_code(i)[1] != "bsa"),
        ("|pasi", lambda i: False),  # every coding has a system
        (f"{LOINC}|pasi", lambda i: False),
    ],
)
def test_code_token_forms(
    search: Callable[..., dict[str, Any]], value: str, predicate: Callable[[int], bool]
) -> None:
    bundle = search("Observation", {"code": value, "patient": PATIENT, "_count": "1000"})
    assert set(ids(bundle)) == _expected_observations(predicate)


def test_code_on_other_types(search: Callable[..., dict[str, Any]]) -> None:
    assert ids(search("Condition", {"code": f"{SNOMED}|24079001"})) == ["cond-ad"]
    assert ids(search("MedicationRequest", {"code": "106258"})) == ["mr-2"]
    assert ids(search("Procedure", {"code": "96910"})) == ["proc-1"]
    assert ids(search("Immunization", {"vaccine-code": "140"})) == ["imm-1"]
    assert ids(search("Medication", {"code": "6851"})) == ["med-mtx"]


def test_category_status_and_clinical_status(search: Callable[..., dict[str, Any]]) -> None:
    laboratory = search("Observation", {"category": f"{OBS_CATEGORY}|laboratory", "_count": "0"})
    amended = search("Observation", {"status": "amended", "_count": "1000"})
    active = search("Condition", {"clinical-status": "active"})
    problems = search("Condition", {"category": "problem-list-item", "patient": PATIENT})
    stopped = search("MedicationRequest", {"status": "stopped,cancelled"})
    pathology = search("DiagnosticReport", {"category": "SP"})
    notes = search("DocumentReference", {"category": "clinical-note", "status": "current"})

    assert laboratory["total"] == 43
    assert "entry" not in laboratory, "_count=0 gives the total only"
    assert set(ids(amended)) == _expected_observations(lambda i: i % 10 == 0)
    assert sorted(ids(active)) == ["cond-psoriasis"]
    assert ids(problems) == ["cond-psoriasis"]
    assert ids(stopped) == ["mr-2"]
    assert ids(pathology) == ["dr-path"]
    assert ids(notes) == ["doc-1"]


def test_identifier_and_escaped_separators(search: Callable[..., dict[str, Any]]) -> None:
    assert ids(search("Patient", {"identifier": "urn:example:mrn|MRN-0001"})) == [PATIENT]
    assert ids(search("Patient", {"identifier": r"urn:example:mrn|MRN\,0001"})) == []


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "predicate"),
    [
        ({"date": "ge2021-01-01"}, lambda d: d.isoformat() >= "2021-01-01"),
        ({"date": "gt2021-01-04"}, lambda d: d.isoformat() > "2021-01-04"),
        ({"date": "lt2020-03-01"}, lambda d: d.isoformat() < "2020-03-01"),
        ({"date": "le2020-01-13"}, lambda d: d.isoformat() <= "2020-01-13"),
        ({"date": "2021"}, lambda d: d.year == 2021),
        ({"date": "eq2021-03"}, lambda d: d.isoformat()[:7] == "2021-03"),
        ({"date": "2020-01-13"}, lambda d: d.isoformat() == "2020-01-13"),
        (
            [("date", "ge2021-01-01"), ("date", "lt2021-07-01")],
            lambda d: "2021-01-01" <= d.isoformat() < "2021-07-01",
        ),
        # 2021-06-01T00:00+02:00 is 2021-05-31T22:00Z: the Monday 2021-05-31 still overlaps
        ({"date": "ge2021-06-01T00:00:00+02:00"}, lambda d: d.isoformat() >= "2021-05-31"),
        ({"date": "ge2021-06-01T00:00:00-02:00"}, lambda d: d.isoformat() >= "2021-06-01"),
    ],
)
def test_date_prefixes_on_observation_effective(
    search: Callable[..., dict[str, Any]], params: Any, predicate: Callable[[Any], bool]
) -> None:
    extra = [("_count", "1000"), ("patient", PATIENT)]
    query = [*params, *extra] if isinstance(params, list) else [*params.items(), *extra]
    bundle = search("Observation", query)
    expected = _expected_observations(lambda i: predicate(observation_date(i)))
    assert expected, "the case should select something"
    assert set(ids(bundle)) == expected


@pytest.mark.parametrize(
    ("resource_type", "day", "expected"),
    [
        ("Condition", "2019-05-01", "cond-psoriasis"),  # onsetDateTime
        ("Condition", "2021-02-03", "cond-ad"),  # recordedDate when there is no onset
        ("Procedure", "2022-11-10", "proc-1"),
        ("MedicationRequest", "2023-03-01", "mr-1"),
        ("DiagnosticReport", "2022-11-20", "dr-path"),
        ("Media", "2023-02-01", "media-1"),
        ("DocumentReference", "2023-02-02", "doc-1"),
        ("Encounter", "2022-11-10", "enc-1"),
        ("ServiceRequest", "2023-02-01", "sr-1"),
        ("AllergyIntolerance", "2019-01-01", "ai-1"),
        ("Immunization", "2018-10-01", "imm-1"),
    ],
)
def test_date_uses_each_types_natural_date(
    search: Callable[..., dict[str, Any]], resource_type: str, day: str, expected: str
) -> None:
    following = (date.fromisoformat(day) + timedelta(days=1)).isoformat()

    hit = search(resource_type, {"date": day, "patient": PATIENT})
    miss = search(resource_type, {"date": following, "patient": PATIENT})

    assert ids(hit) == [expected]
    assert expected not in ids(miss)


def test_date_against_a_period(search: Callable[..., dict[str, Any]]) -> None:
    """ms-1 ran 2020-01-01 to 2020-06-30: ge/le test overlap, eq needs the whole period inside."""
    overlapping = search(
        "MedicationStatement", [("date", "ge2020-03-15"), ("date", "le2020-03-15")]
    )
    after = search("MedicationStatement", {"date": "ge2020-07-01"})
    whole_year = search("MedicationStatement", {"date": "2020"})
    one_day = search("MedicationStatement", {"date": "2020-03-15"})

    assert ids(overlapping) == ["ms-1"]
    assert ids(after) == []
    assert ids(whole_year) == ["ms-1"]
    assert ids(one_day) == []


def test_element_date_params(search: Callable[..., dict[str, Any]]) -> None:
    assert ids(search("Condition", {"onset-date": "2019-05"})) == ["cond-psoriasis"]
    assert ids(search("Condition", {"recorded-date": "2021-02-03"})) == ["cond-ad"]
    assert ids(search("Patient", {"birthdate": "le1979"})) == [OTHER_PATIENT]
    assert ids(search("MedicationRequest", {"authoredon": "ge2023-01-01"})) == ["mr-1"]


def test_last_updated_param(search: Callable[..., dict[str, Any]]) -> None:
    assert search("Condition", {"_lastUpdated": "gt2000-01-01"})["total"] == 3
    assert search("Condition", {"_lastUpdated": "lt2000-01-01"})["total"] == 0


# --- sorting and paging -----------------------------------------------------------------------


def test_sort_by_date_both_ways(search: Callable[..., dict[str, Any]]) -> None:
    newest = search("Observation", {"patient": PATIENT, "_sort": "-date", "_count": "5"})
    oldest = search("Observation", {"patient": PATIENT, "_sort": "date", "_count": "5"})

    newest_dates = [e["resource"]["effectiveDateTime"] for e in newest["entry"]]
    oldest_dates = [e["resource"]["effectiveDateTime"] for e in oldest["entry"]]
    assert newest_dates == [observation_date(i).isoformat() for i in range(129, 124, -1)]
    assert oldest_dates == [observation_date(i).isoformat() for i in range(5)]


def test_sort_by_last_updated_and_default_order_is_by_id(
    search: Callable[..., dict[str, Any]],
) -> None:
    default = ids(search("Encounter"))
    by_update = search("Encounter", {"_sort": "-_lastUpdated"})

    assert default == sorted(default)
    assert sorted(ids(by_update)) == sorted(default)


def test_paging_returns_every_match_exactly_once(
    sandbox: Sandbox, user_token: str, search: Callable[..., dict[str, Any]]
) -> None:
    bundle = search("Observation", {"patient": PATIENT, "_count": "17", "_sort": "-date"})
    seen: list[str] = []
    pages = 0
    while True:
        pages += 1
        assert bundle["total"] == N_OBSERVATIONS
        seen += ids(bundle)
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        if "next" not in links:
            break
        assert links["next"].startswith(sandbox.fhir_base + "/Observation?")
        assert "_sort=-date" in links["next"], "links keep the original parameters"
        response = sandbox.get(links["next"], user_token)
        assert response.status_code == 200
        bundle = response.json()

    assert pages == 8  # ceil(130 / 17)
    assert len(seen) == len(set(seen)) == N_OBSERVATIONS


def test_default_page_size_and_count_cap(start_sandbox_with: Callable[..., Sandbox]) -> None:
    sandbox = start_sandbox_with(auth_enabled=False, default_page_size=20, max_page_size=30)

    default = sandbox.get("/Observation").json()
    capped = sandbox.get("/Observation", params={"_count": "500"}).json()

    assert len(default["entry"]) == 20
    assert len(capped["entry"]) == 30
    next_url = {link["relation"]: link["url"] for link in capped["link"]}["next"]
    assert "_count=30" in next_url


def test_next_links_can_point_at_another_host_name(
    start_sandbox_with: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox_with(
        auth_enabled=False, next_link_base=lambda base: base.replace("127.0.0.1", "localhost")
    )
    other_origin = sandbox.base_url.replace("127.0.0.1", "localhost")

    first = sandbox.get("/Observation", params={"_count": "100"}).json()

    links = {link["relation"]: link["url"] for link in first["link"]}
    assert links["self"].startswith(sandbox.fhir_base)
    assert links["next"].startswith(other_origin + "/fhir/Observation?")
    assert first["entry"][0]["fullUrl"].startswith(sandbox.fhir_base)
    second = requests.get(links["next"], timeout=10).json()
    assert set(ids(first)).isdisjoint(ids(second))
    assert len(ids(first)) + len(ids(second)) == first["total"]


def test_post_search_matches_get(
    sandbox: Sandbox, user_token: str, search: Callable[..., dict[str, Any]]
) -> None:
    form = {"patient": PATIENT, "code": "bsa", "_count": "1000"}
    posted = requests.post(
        sandbox.fhir_base + "/Observation/_search",
        data=form,
        headers={"Authorization": f"Bearer {user_token}"},
        timeout=10,
    )

    assert posted.status_code == 200
    assert ids(posted.json()) == ids(search("Observation", form))


def test_summary_count(search: Callable[..., dict[str, Any]]) -> None:
    bundle = search("Observation", {"patient": PATIENT, "_summary": "count"})
    assert bundle["total"] == N_OBSERVATIONS
    assert "entry" not in bundle


# --- _include ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource_type", "params", "included"),
    [
        ("Coverage", {"patient": PATIENT, "_include": "Coverage:payor"}, ["payer-1"]),
        (
            "MedicationRequest",
            {"patient": PATIENT, "_include": "MedicationRequest:medication"},
            ["med-dupilumab"],
        ),
        (
            "MedicationStatement",
            {"patient": PATIENT, "_include": "MedicationStatement:medication"},
            ["med-mtx"],
        ),
        (
            "Observation",
            {"patient": PATIENT, "_include": "Observation:performer", "_count": "1000"},
            ["dr-1"],
        ),
    ],
)
def test_include(
    sandbox: Sandbox,
    search: Callable[..., dict[str, Any]],
    resource_type: str,
    params: dict[str, str],
    included: list[str],
) -> None:
    bundle = search(resource_type, params)

    assert ids(bundle, "include") == included, "each included resource once"
    include_entries = [e for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert include_entries[0]["fullUrl"].startswith(sandbox.fhir_base + "/")
    assert bundle["total"] == len(ids(bundle)), "total counts matches, not includes"


def test_include_can_be_switched_off(start_sandbox_with: Callable[..., Sandbox]) -> None:
    sandbox = start_sandbox_with(auth_enabled=False, support_include=False)

    bundle = sandbox.get("/Coverage", params={"_include": "Coverage:payor"}).json()

    assert ids(bundle, "include") == []
    [outcome] = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert "does not support _include" in outcome_text(outcome["resource"])


def test_unsupported_include_is_reported(search: Callable[..., dict[str, Any]]) -> None:
    bundle = search("Observation", {"_include": "Observation:subject", "_count": "1"})
    [outcome] = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert "supported: Observation:performer" in outcome_text(outcome["resource"])


# --- unknown and bad parameters ---------------------------------------------------------------


def test_unknown_params_are_ignored_and_reported(search: Callable[..., dict[str, Any]]) -> None:
    bundle = search("Condition", {"patient": PATIENT, "severity": "severe", "_elements": "id"})

    assert sorted(ids(bundle)) == ["cond-ad", "cond-psoriasis"]
    [outcome] = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    text = outcome_text(outcome["resource"])
    assert "severity: not a search parameter of Condition" in text
    assert "_elements" in text
    assert bundle["entry"][-1] is outcome, "matches come first"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"date": "xx2024"},
            "date: expected a prefix ge, le, gt, lt or eq and a date, got 'xx2024'",
        ),
        ({"date": "ge2024-13-01"}, "date: expected a prefix ge, le, gt, lt or eq and a date"),
        ({"date": "ne2024"}, "got 'ne2024'"),
        ({"_count": "-1"}, "_count: expected a whole number 0 or more, got '-1'"),
        ({"_count": "ten"}, "got 'ten'"),
        ({"_sort": "code"}, "_sort: expected date, -date, _lastUpdated or -_lastUpdated"),
        ({"code": "a|b|c"}, "code: expected a token"),
        ({"code:text": "psoriasis"}, "the modifier ':text' is not supported on code"),
        ({"patient": "Patient/"}, "patient: expected Patient/<id> or <id>, got 'Patient/'"),
        ({"_id": "bad id!"}, "_id: expected ids"),
        ({"_getpagesoffset": "x"}, "_getpagesoffset: expected a whole number"),
    ],
)
def test_bad_values_are_400_with_where_and_what(
    sandbox: Sandbox, user_token: str, params: dict[str, str], message: str
) -> None:
    response = sandbox.get("/Observation", user_token, params)

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    assert message in outcome_text(response.json())


def test_xml_format_is_not_acceptable(sandbox: Sandbox, user_token: str) -> None:
    response = sandbox.get("/Observation", user_token, {"_format": "xml"})
    assert response.status_code == 406
    assert "JSON only" in outcome_text(response.json())


# --- read, vread, Binary ----------------------------------------------------------------------


def test_read_and_vread(sandbox: Sandbox, user_token: str) -> None:
    read = sandbox.get("/Observation/obs-001", user_token)
    vread = sandbox.get("/Observation/obs-001/_history/1", user_token)
    missing_version = sandbox.get("/Observation/obs-001/_history/2", user_token)
    missing = sandbox.get("/Observation/obs-999", user_token)
    unknown_type = sandbox.get("/Widget/1", user_token)

    assert read.status_code == 200
    assert read.headers["ETag"] == 'W/"1"'
    assert read.json()["meta"]["versionId"] == "1"
    assert vread.json() == read.json()
    assert missing_version.status_code == 404
    assert "only version 1" in outcome_text(missing_version.json())
    assert missing.status_code == 404
    assert "Observation/obs-999: not found" in outcome_text(missing.json())
    assert unknown_type.status_code == 404
    assert "Widget: not a FHIR R4 resource type" in outcome_text(unknown_type.json())


def test_binary_raw_or_as_fhir(sandbox: Sandbox, user_token: str) -> None:
    raw = sandbox.get("/Binary/photo-1", user_token, Accept="*/*")
    as_fhir = sandbox.get("/Binary/photo-1", user_token, Accept="application/fhir+json")

    assert raw.status_code == 200
    assert raw.headers["Content-Type"] == "image/png"
    assert raw.content == PNG_BYTES
    assert as_fhir.json()["resourceType"] == "Binary"


def test_binaries_belong_to_the_patient_of_what_attaches_them(
    sandbox: Sandbox, patient_token: dict[str, Any]
) -> None:
    token = sandbox.token("launch patient/*.rs", ehr_patient=OTHER_PATIENT)["access_token"]

    own = sandbox.get("/Binary/note-1", patient_token["access_token"], Accept="text/plain")
    other = sandbox.get("/Binary/note-1", token)
    other_photo = sandbox.get("/Binary/photo-1", token)

    assert own.content == NOTE_TEXT
    assert other.status_code == 403
    assert other_photo.status_code == 403


def test_every_entry_has_an_absolute_full_url(
    sandbox: Sandbox, search: Callable[..., dict[str, Any]]
) -> None:
    bundle = search("Encounter", {"patient": PATIENT})
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == f"{sandbox.fhir_base}/Encounter/{resource['id']}"
        assert entry["search"]["mode"] == "match"
    self_link = {link["relation"]: link["url"] for link in bundle["link"]}["self"]
    assert self_link == f"{sandbox.fhir_base}/Encounter?patient={PATIENT}"
