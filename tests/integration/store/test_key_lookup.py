"""`Driver.rows_by_keys`: the HL7 ingest's lookup of stored resources (and exactly-once keys) by
their primary-key pairs, once per group. It must find exactly the stored keys asked for, and on
PostgreSQL keep probing the primary key however much the table grows while the listener runs
(a statement prepared while the table was small kept a sequential-scan plan)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from integration.store.database import make_engine, upgrade
from integration.store.fhir_store import Driver
from integration.store.models import FhirResource

KEY = ("resource_type", "id")
COLUMNS = ("resource_type", "id", "version_id")
NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def _store(engine: Engine, first: int, count: int) -> None:
    rows = [
        {
            "resource_type": "Patient" if n % 2 else "Observation",
            "id": f"r{n}",
            "version_id": 1 + n % 3,
            "last_updated": NOW,
            "patient_id": None,
            "content": json.dumps({"resourceType": "Patient" if n % 2 else "Observation"}),
            "message_id": None,
        }
        for n in range(first, first + count)
    ]
    with engine.begin() as connection:
        connection.execute(insert(FhirResource.__table__), rows)


def test_the_lookup_finds_exactly_the_stored_keys_asked_for(engine: Engine) -> None:
    _store(engine, 0, 40)
    asked = [
        ("Patient", "r1"),  # stored
        ("Observation", "r2"),  # stored
        ("Observation", "r1"),  # the id is stored, under the other type
        ("Patient", "r999"),  # not stored
        ("Patient", "r1"),  # asked twice
        ("Patient", "r39"),
    ]
    with engine.connect() as connection:
        driver = Driver.of(connection)
        assert driver is not None
        rows = driver.rows_by_keys("fhir_resource", KEY, COLUMNS, asked)
    assert {tuple(row) for row in rows} == {
        ("Patient", "r1", 2),
        ("Observation", "r2", 3),
        ("Patient", "r39", 1),
    }


@pytest.mark.postgres
def test_postgresql_plans_the_lookup_for_the_table_as_it_is(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    upgrade(engine)
    try:
        _store(engine, 0, 20)
        with engine.connect() as connection:
            driver = Driver.of(connection)
            assert driver is not None
            keys = [("Patient", "r1"), ("Observation", "r4")]
            for _ in range(10):  # psycopg prepares a statement on its 6th run by default
                assert len(driver.rows_by_keys("fhir_resource", KEY, COLUMNS, keys)) == 2
            prepared = connection.exec_driver_sql(
                "SELECT statement FROM pg_prepared_statements"
            ).all()
            assert [s for (s,) in prepared if "unnest" in s] == []
            connection.commit()

            _store(engine, 20, 5000)  # the table grows while the listener holds its connection
            sql = driver.by_keys_sql("fhir_resource", KEY, COLUMNS)
            cursor = connection.connection.cursor()
            cursor.execute(f"EXPLAIN {sql}", [["Patient"], ["r1"]], prepare=False)
            plan = "\n".join(line for (line,) in cursor.fetchall())
            cursor.close()
            assert "pk_fhir_resource" in plan, plan
            assert "Seq Scan on fhir_resource" not in plan, plan
            rows = driver.rows_by_keys("fhir_resource", KEY, COLUMNS, [("Observation", "r5000")])
            assert [tuple(row) for row in rows] == [("Observation", "r5000", 1 + 5000 % 3)]
    finally:
        engine.dispose()


def test_the_sqlite_lookup_probes_the_primary_key(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/lookup.db")
    upgrade(engine)
    try:
        _store(engine, 0, 2000)
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            driver = Driver.of(connection)
            assert driver is not None
            sql = driver.by_keys_sql("fhir_resource", KEY, COLUMNS)
            plan = " | ".join(
                str(row[-1])
                for row in connection.execute(
                    text(f"EXPLAIN QUERY PLAN {sql.replace('?', ':keys')}"),
                    {"keys": json.dumps([["Patient", "r1"]])},
                )
            )
    finally:
        engine.dispose()
    assert "USING INDEX sqlite_autoindex_fhir_resource_1" in plan, plan
    assert "SCAN t" not in plan, plan
