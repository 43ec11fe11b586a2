"""A visit's status through its ADT events, as stored (SQLite and PostgreSQL).

fixtures/hl7/adt-visit-lifecycle.hl7: visit V250318001 is pre-admitted (A05), checked in
(A04), updated (A08, which says no status), checked out (A03) and its check-out cancelled
(A13); visit V250318002 is checked in and cancelled (A11). The pre-admit carries the planned
time and the check-in the arrival time: one visit, by its visit number. An update keeps the
status the visit has; a visit first seen in an update is unknown.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from integration.hl7v2.ingest import Inbound, Ingest
from integration.hl7v2.message import split_batch
from integration.mapping.hl7v2 import MappingOptions
from integration.mapping.hl7v2_transforms import load_feed_maps
from integration.paths import fixtures_dir
from integration.store.database import session_factory
from integration.store.fhir_store import FhirStore
from integration.store.models import FhirResource, FhirResourceVersion

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
LIFECYCLE = split_batch(
    (fixtures_dir() / "hl7" / "adt-visit-lifecycle.hl7").read_text("utf-8")
).messages


@pytest.fixture
def ingest(engine: Engine) -> Ingest:
    return Ingest(
        session_factory(engine), load_feed_maps(), MappingOptions(timezone="America/New_York")
    )


def handle(ingest: Ingest, *messages: str) -> None:
    replies = ingest.handle([Inbound(m.encode(), "127.0.0.1:9", NOW) for m in messages])
    assert [o.code.value for reply in replies for o in reply.outcomes] == ["AA"] * len(messages)


def encounters(engine: Engine) -> list[dict[str, Any]]:
    with session_factory(engine)() as session:
        store = FhirStore(session)
        ids = session.scalars(
            select(FhirResource.id).where(FhirResource.resource_type == "Encounter")
        ).all()
        found = [store.get("Encounter", i) for i in sorted(ids)]
    return [e for e in found if e is not None]


def visit(engine: Engine, number: str) -> dict[str, Any]:
    [found] = [e for e in encounters(engine) if e["identifier"][0]["value"] == number]
    return found


def history(engine: Engine, resource_id: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(
                select(func.count())
                .select_from(FhirResourceVersion)
                .where(FhirResourceVersion.id == resource_id)
            )
            or 0
        )


def test_each_event_moves_the_status_and_an_update_keeps_it(ingest: Ingest, engine: Engine) -> None:
    seen = []
    for message in LIFECYCLE[:5]:
        handle(ingest, message)
        first = visit(engine, "V250318001")
        seen.append((first["status"], first["period"].get("end")))
    assert seen == [
        ("planned", None),  # A05
        ("arrived", None),  # A04
        ("arrived", None),  # A08: says no status, keeps the visit's
        ("finished", "2025-03-18T10:05:00-04:00"),  # A03 with PV1-45
        ("in-progress", None),  # A13: the check-out cancelled, its time gone
    ]
    assert len(encounters(engine)) == 1  # planned and arrival times: one visit
    first = visit(engine, "V250318001")
    assert first["meta"]["versionId"] == "4"  # the A08 changed nothing: no version of its own
    assert history(engine, first["id"]) == 3

    for message in LIFECYCLE[5:]:
        handle(ingest, message)
    assert visit(engine, "V250318002")["status"] == "cancelled"  # A11
    assert visit(engine, "V250318001")["status"] == "in-progress"


def test_an_update_in_the_same_group_as_the_check_in_keeps_its_status(
    ingest: Ingest, engine: Engine
) -> None:
    handle(ingest, LIFECYCLE[1], LIFECYCLE[2])  # A04 and A08 committed together
    assert visit(engine, "V250318001")["status"] == "arrived"


def test_a_visit_first_seen_in_an_update_is_unknown_until_an_event_says(
    ingest: Ingest, engine: Engine
) -> None:
    handle(ingest, LIFECYCLE[2])  # the A08 alone
    assert visit(engine, "V250318001")["status"] == "unknown"
    handle(ingest, LIFECYCLE[3])
    assert visit(engine, "V250318001")["status"] == "finished"
