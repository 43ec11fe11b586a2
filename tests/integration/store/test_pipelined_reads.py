"""The HL7 ingest's reads go out together: `Driver.send_query` / `send_rows_by_keys` /
`send_new_ids` send a SELECT and read its rows later, so that on PostgreSQL, inside
`Driver.pipelined()`, a group's reads share one round trip and its writes go with the COMMIT
(`Driver.commit`). Whatever order the rows are read in, each call must get its own rows, and
the queued COMMIT must really commit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from integration.store.fhir_store import Driver
from integration.store.models import FhirResource, Hl7Message, table_of

KEY = ("resource_type", "id")
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def _resource(n: int) -> dict[str, object]:
    return {
        "resource_type": "Patient",
        "id": f"p{n}",
        "version_id": n,
        "last_updated": NOW,
        "patient_id": f"p{n}",
        "content": json.dumps({"resourceType": "Patient", "id": f"p{n}"}),
        "message_id": None,
    }


def test_reads_sent_together_each_get_their_own_rows(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(insert(FhirResource), [_resource(n) for n in range(1, 6)])
        connection.execute(
            insert(Hl7Message),
            [
                {
                    "received_at": NOW,
                    "peer": "test",
                    "sender": "A|B",
                    "control_id": "C1",
                    "message_type": "ADT^A04",
                    "version": "2.5.1",
                    "raw": b"MSH|",
                    "charset": "utf-8",
                    "sha256": "0" * 64,
                    "status": "processed",
                    "attempts": 1,
                }
            ],
        )
        highest = connection.scalar(select(func.max(Hl7Message.id)))
    assert highest is not None

    with engine.begin() as connection:
        driver = Driver.of(connection)
        assert driver is not None
        with driver.pipelined():
            first = driver.send_rows_by_keys(
                "fhir_resource", KEY, ("id", "version_id"), [("Patient", "p1"), ("Patient", "p9")]
            )
            second = driver.send_rows_by_keys(
                "fhir_resource", KEY, ("id", "version_id"), [("Patient", "p4"), ("Patient", "p5")]
            )
            new_ids = driver.send_new_ids(table_of(Hl7Message), 3)
            assert driver.in_pipeline == (connection.dialect.name == "postgresql")
            # read in another order than sent
            assert sorted(tuple(row) for row in second()) == [("p4", 4), ("p5", 5)]
            assert [tuple(row) for row in first()] == [("p1", 1)]
            if connection.dialect.name == "postgresql":
                assert new_ids is not None
                ids = new_ids()
                assert len(set(ids)) == 3 and ids == sorted(ids) and ids[0] > highest
            else:
                assert new_ids is None  # SQLite: the INSERT gives the id, no round trip


def test_a_commit_queued_with_the_writes_commits_them(engine: Engine) -> None:
    with engine.begin() as connection:
        driver = Driver.of(connection)
        assert driver is not None
        with driver.pipelined():
            driver.executemany(
                driver.insert_sql(table_of(FhirResource), tuple(_resource(1))),
                [tuple(_resource(n).values()) for n in (7, 8)],
            )
            driver.commit()
    # a new connection sees both rows, and SQLAlchemy's own commit afterwards did no harm
    with engine.connect() as connection:
        stored = connection.scalars(select(FhirResource.id).order_by(FhirResource.id)).all()
    assert stored == ["p7", "p8"]
