"""Finding a feed Patient by identifier and following its merges (`FhirStore`), as each chart
launch does to join the feeds' resources: exact matches only, whatever characters the value
holds or however an older row was spaced, without parsing every stored Patient."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from integration.store import fhir_store
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.fhir_store import FhirStore, ResourceWriter
from integration.store.models import FhirResource

MRN = "urn:oid:2.16.840.1.113883.3.9999.1"
OTHER = "urn:oid:2.16.840.1.113883.3.9999.2"
NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def _patient(pid: str, *identifiers: tuple[str, str], **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": s, "value": v} for s, v in identifiers],
        **more,
    }


def _merged_into(survivor: str) -> dict[str, Any]:
    return {"link": [{"other": {"reference": f"Patient/{survivor}"}, "type": "replaced-by"}]}


PATIENTS = [
    _patient("a", (MRN, "MRN1")),
    _patient("b", (MRN, "MRN12")),  # MRN1 is a prefix of it
    _patient("c", (OTHER, "MRN1")),  # same value, another system
    _patient("d", (MRN, "50%_x")),  # LIKE's wildcards
    _patient("e", (MRN, "50ab_x")),
    _patient("f", (MRN, 'Q"uote\\d')),  # characters JSON escapes
    _patient("g", (MRN, "Zoë-7")),
    _patient("h", (MRN, "H1"), name=[{"family": "MRN77"}]),  # MRN77 only in a name
    _patient("old1", (MRN, "OLD1"), **_merged_into("old2")),
    _patient("old2", (MRN, "OLD2"), **_merged_into("new")),
    _patient("new", (MRN, "NEW")),
    _patient("i", (MRN, "I1"), name=[{"text": "replaced-by"}]),  # the word, not a link
]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as connection:
        writer = ResourceWriter(connection)
        for body in PATIENTS:
            writer.write(body, "replace", NOW, None, "urn:test")
        writer.flush()
        # a row stored before the compact JSON (json.dumps' default spacing)
        connection.execute(
            insert(FhirResource.__table__),
            {
                "resource_type": "Patient",
                "id": "spaced",
                "version_id": 1,
                "last_updated": NOW,
                "patient_id": "spaced",
                "content": json.dumps(_patient("spaced", (MRN, "SP 1")), sort_keys=True),
                "message_id": None,
            },
        )
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    ("system", "value", "expected"),
    [
        (MRN, "MRN1", ["a"]),
        (None, "MRN1", ["a", "c"]),
        (OTHER, "MRN1", ["c"]),
        (MRN, "MRN12", ["b"]),
        (MRN, "50%_x", ["d"]),
        (MRN, "50ab_x", ["e"]),
        (MRN, 'Q"uote\\d', ["f"]),
        (MRN, "Zoë-7", ["g"]),
        (MRN, "zoë-7", []),
        (MRN, "MRN77", []),
        (MRN, "SP 1", ["spaced"]),
        (MRN, "", []),
    ],
)
def test_a_patient_is_found_by_its_exact_identifier(
    engine: Engine, system: str | None, value: str, expected: list[str]
) -> None:
    with session_factory(engine)() as session:
        assert sorted(FhirStore(session).find_patients(system, value)) == expected


def test_merges_are_followed_to_every_patient_merged_into_the_survivor(engine: Engine) -> None:
    with session_factory(engine)() as session:
        store = FhirStore(session)
        assert store.linked_patients("new") == {"new", "old2", "old1"}
        assert store.linked_patients("old2") == {"old2", "old1"}
        assert store.linked_patients("i") == {"i"}
        assert store.linked_patients("a") == {"a"}


def test_a_lookup_reads_only_the_patients_holding_the_value(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with engine.begin() as connection:
        writer = ResourceWriter(connection)
        for n in range(300):
            writer.write(_patient(f"x{n}", (MRN, f"X{n:04d}")), "replace", NOW, None, "urn:test")
        writer.flush()
    parsed: list[str] = []
    real = fhir_store.json.loads

    def counting(text: str, *args: Any, **kwargs: Any) -> Any:
        parsed.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(fhir_store.json, "loads", counting)
    with session_factory(engine)() as session:
        store = FhirStore(session)
        assert store.find_patients(MRN, "X0123") == ["x123"]
        assert store.linked_patients("x123") == {"x123"}
    assert len(parsed) <= 4, f"{len(parsed)} Patients parsed for one lookup"
