"""Feed resources keep every version once: the current one in `fhir_resource`, the ones an
update replaced in `fhir_resource_version`, as they were stored (SQLite and PostgreSQL, on the
driver's statements and on SQLAlchemy Core's), and migration 0010 turns a database that copied
every version into that form and back."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from integration.store import fhir_store
from integration.store.database import downgrade, upgrade
from integration.store.fhir_store import FhirStore, ResourceWriter
from integration.store.models import FhirResource, FhirResourceVersion, Hl7Message

T0 = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


@pytest.fixture(params=["driver", "core"])
def statements(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The driver's statements (SQLite's and psycopg's cursors), or SQLAlchemy Core's."""
    if request.param == "core":
        monkeypatch.setattr(fhir_store.Driver, "of", classmethod(lambda cls, connection: None))
    return str(request.param)


def _messages(engine: Engine, count: int) -> list[int]:
    with engine.begin() as connection:
        return [
            int(
                connection.execute(
                    insert(Hl7Message).returning(Hl7Message.id),
                    {
                        "received_at": T0,
                        "peer": "127.0.0.1:1",
                        "sender": "EHR|CLINIC",
                        "control_id": f"C{n}",
                        "message_type": "ADT^A08",
                        "version": "2.5.1",
                        "raw": b"MSH|^~\\&|",
                        "charset": "utf-8",
                        "sha256": hashlib.sha256(str(n).encode()).hexdigest(),
                        "status": "processed",
                        "attempts": 1,
                    },
                ).scalar_one()
            )
            for n in range(count)
        ]


def _patient(family: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", "name": [{"family": family}]}


def _write(engine: Engine, now: datetime, message_id: int, *bodies: dict[str, Any]) -> list[int]:
    with engine.begin() as connection:
        writer = ResourceWriter(connection)
        source = f"urn:derm-rcm:hl7v2:message:{message_id}"
        versions = [writer.write(b, "replace", now, message_id, source).version_id for b in bodies]
        writer.flush()
    return versions


def _history(engine: Engine, resource_type: str, resource_id: str) -> list[Any]:
    with Session(engine) as session:
        return FhirStore(session).history(resource_type, resource_id)


def test_an_update_moves_the_stored_version_to_the_history_as_it_was(
    engine: Engine, statements: str
) -> None:
    first, second = _messages(engine, 2)
    assert _write(engine, T0, first, _patient("Okafor")) == [1]
    assert _write(engine, T0, first, _patient("Okafor")) == [1]  # unchanged: no new version
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(FhirResourceVersion)) == 0
        stored_v1 = connection.execute(
            select(FhirResource.last_updated, FhirResource.content)
        ).one()

    # One group changes it twice: version 1 (stored) and version 2 (this group's) are replaced.
    assert _write(engine, T1, second, _patient("Moreau"), _patient("Tanaka")) == [2, 3]

    history = _history(engine, "Patient", "p1")
    assert [v.version_id for v in history] == [1, 2, 3]
    assert [v.content["name"][0]["family"] for v in history] == ["Okafor", "Moreau", "Tanaka"]
    assert [v.message_id for v in history] == [first, second, second]
    assert [v.content["meta"]["versionId"] for v in history] == ["1", "2", "3"]
    with engine.connect() as connection:
        archived = connection.execute(
            select(FhirResourceVersion.last_updated, FhirResourceVersion.content).where(
                FhirResourceVersion.version_id == 1
            )
        ).one()
        current = connection.execute(select(FhirResource.version_id)).scalar_one()
    assert tuple(archived) == tuple(stored_v1)  # byte for byte, its time included
    assert current == 3


def test_a_new_resource_written_twice_in_one_group(engine: Engine, statements: str) -> None:
    (message,) = _messages(engine, 1)
    assert _write(engine, T0, message, _patient("Silva"), _patient("Novak")) == [1, 2]
    history = _history(engine, "Patient", "p1")
    assert [(v.version_id, v.content["name"][0]["family"]) for v in history] == [
        (1, "Silva"),
        (2, "Novak"),
    ]
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(FhirResourceVersion)) == 1
    assert _history(engine, "Patient", "unknown") == []


def test_migration_0010_keeps_each_version_once(engine: Engine) -> None:
    """A database of revision 0009 held a copy of every current version in the history; the
    upgrade removes those copies only, and the downgrade puts them back."""
    downgrade(engine, "0009")
    rows = [
        {"version_id": 1, "last_updated": T0, "content": '{"v":1}'},
        {"version_id": 2, "last_updated": T1, "content": '{"v":2}'},
    ]
    with engine.begin() as connection:
        key = {"resource_type": "Patient", "id": "p1", "message_id": None}
        connection.execute(insert(FhirResource), [{**key, **rows[1], "patient_id": "p1"}])
        connection.execute(insert(FhirResourceVersion), [{**key, **row} for row in rows])

    def history_rows() -> list[tuple[int, str]]:
        with engine.connect() as connection:
            return [
                (int(v), str(c))
                for v, c in connection.execute(
                    select(FhirResourceVersion.version_id, FhirResourceVersion.content).order_by(
                        FhirResourceVersion.version_id
                    )
                )
            ]

    upgrade(engine)
    assert history_rows() == [(1, '{"v":1}')]
    assert [v.version_id for v in _history(engine, "Patient", "p1")] == [1, 2]
    downgrade(engine, "0009")
    assert history_rows() == [(1, '{"v":1}'), (2, '{"v":2}')]
    upgrade(engine)
