"""One group commit holds messages from many connections: what one message does must not change
what happens to the others (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine

from integration.hl7v2.ingest import Inbound, Ingest, MessageOutcome
from integration.hl7v2.message import parse_message
from integration.mapping.hl7v2 import MappingOptions, map_message
from integration.mapping.hl7v2_transforms import load_feed_maps
from integration.store.database import session_factory
from integration.store.models import FhirResource, FhirResourceVersion, Hl7Applied, Hl7Message
from tests.support.hl7_messages import adt_a04

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture
def ingest(engine: Engine) -> Ingest:
    return Ingest(session_factory(engine), load_feed_maps(), MappingOptions())


def handle(ingest: Ingest, *messages: str) -> list[MessageOutcome]:
    replies = ingest.handle([Inbound(m.encode(), "127.0.0.1:9", NOW) for m in messages])
    return [outcome for reply in replies for outcome in reply.outcomes]


def count(engine: Engine, table: type[object]) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def test_a_resend_in_the_same_group_is_a_duplicate_and_a_reuse_is_ae_205(
    ingest: Ingest, engine: Engine
) -> None:
    first = adt_a04(1, control_id="GROUP-1")
    reuse = adt_a04(2, control_id="GROUP-1")  # same control id, another patient
    outcomes = handle(ingest, first, first, reuse)

    assert [(o.status, o.code.value) for o in outcomes] == [
        ("processed", "AA"),
        ("duplicate", "AA"),
        ("error", "AE"),
    ]
    error = outcomes[2].error
    assert error is not None and error.code.value == "205"
    assert str(error.where) == "MSH-10 (segment 1)"
    assert "earlier in this batch" in error.message
    assert count(engine, Hl7Message) == 3  # every message is kept
    assert count(engine, Hl7Applied) == 1
    with engine.connect() as connection:
        versions = connection.scalars(select(FhirResource.version_id)).all()
    assert versions and set(versions) == {1}  # applied once: no second version of anything


def test_a_message_the_database_refuses_does_not_hold_back_its_group(
    ingest: Ingest, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A stray history row makes the database refuse the Patient of message 2 (the update
    would move its stored version 1 to the history, where a version 1 already is); messages
    1 and 3 of the same group are still applied, and message 2 is kept with AE 207 for
    replay."""
    bad = adt_a04(2)
    patient = next(
        r for r in map_message(parse_message(bad), load_feed_maps()) if r.type == "Patient"
    )
    stray = {
        "resource_type": "Patient",
        "id": patient.id,
        "version_id": 1,
        "last_updated": NOW,
        "content": json.dumps({"id": patient.id, "resourceType": "Patient"}),
        "message_id": None,
    }
    with engine.begin() as connection:
        connection.execute(insert(FhirResource), [stray])
        connection.execute(insert(FhirResourceVersion), [stray])

    with caplog.at_level("INFO", logger="integration.hl7v2.ingest"):
        outcomes = handle(ingest, adt_a04(1), bad, adt_a04(3))
    assert "group of 3 refused by the database (IntegrityError" in caplog.text
    assert "refused by the database control_id=TEST00000002 error=IntegrityError" in caplog.text
    assert "TESTPATIENT" not in caplog.text and "MRN" not in caplog.text  # no PHI in logs

    assert [(o.status, o.code.value) for o in outcomes] == [
        ("processed", "AA"),
        ("error", "AE"),
        ("processed", "AA"),
    ]
    error = outcomes[1].error
    assert error is not None and error.code.value == "207"
    assert "stored for replay" in error.message
    assert count(engine, Hl7Applied) == 2
    with engine.connect() as connection:
        statuses = connection.execute(
            select(Hl7Message.control_id, Hl7Message.status).order_by(Hl7Message.id)
        ).all()
        patient_rows = connection.scalar(
            select(func.count()).where(FhirResource.resource_type == "Patient")
        )
        kept = connection.execute(
            select(FhirResource.version_id, FhirResource.content).where(
                FhirResource.resource_type == "Patient", FhirResource.id == patient.id
            )
        ).one()
    assert [tuple(s) for s in statuses] == [
        ("TEST00000001", "processed"),
        ("TEST00000002", "error"),
        ("TEST00000003", "processed"),
    ]
    # Nothing of message 2 was half-written: its Patient is as it was.
    assert patient_rows == 3 and tuple(kept) == (1, stray["content"])

    # Once the cause is gone, replay applies it, once.
    with engine.begin() as connection:
        connection.execute(
            delete(FhirResourceVersion).where(FhirResourceVersion.message_id.is_(None))
        )
    assert outcomes[1].message_id is not None
    replayed = ingest.replay([outcomes[1].message_id, outcomes[0].message_id or 0])
    assert [(o.status, o.code.value) for o in replayed] == [
        ("processed", "AA"),
        ("processed", "AA"),
    ]
    assert count(engine, Hl7Applied) == 3
    with engine.connect() as connection:
        attempts = connection.scalars(select(Hl7Message.attempts).order_by(Hl7Message.id)).all()
        history = connection.execute(
            select(FhirResourceVersion.version_id, FhirResourceVersion.content).where(
                FhirResourceVersion.id == patient.id
            )
        ).all()
    assert attempts == [2, 2, 1]
    assert [tuple(h) for h in history] == [(1, stray["content"])]  # the replaced version


def test_messages_sent_back_to_back_in_one_frame_are_stored_and_replayed_one_by_one(
    ingest: Ingest, engine: Engine
) -> None:
    """Three messages in one frame with no batch header: each row keeps its own message, so
    the one that failed is replayed as itself (not as the frame's first message)."""
    good, bad, last = adt_a04(11), adt_a04(12), adt_a04(13)
    bad = bad.replace("|19800102|", "|19801302|")  # PID-7: no 13th month
    replies = ingest.handle([Inbound((good + bad + last).encode(), "127.0.0.1:9", NOW)])
    outcomes = replies[0].outcomes
    assert [(o.control_id, o.code.value) for o in outcomes] == [
        ("TEST00000011", "AA"),
        ("TEST00000012", "AE"),
        ("TEST00000013", "AA"),
    ]
    with engine.connect() as connection:
        raws = connection.execute(
            select(Hl7Message.control_id, Hl7Message.raw).order_by(Hl7Message.id)
        ).all()
    assert [(cid, raw.decode()) for cid, raw in raws] == [
        ("TEST00000011", good),
        ("TEST00000012", bad),
        ("TEST00000013", last),
    ]
    assert outcomes[1].message_id is not None
    replayed = ingest.replay([outcomes[1].message_id])
    assert [(o.control_id, o.code.value) for o in replayed] == [("TEST00000012", "AE")]
    error = replayed[0].error
    assert error is not None and error.code.value != "205"  # not taken for message 11
    assert str(error.where).startswith("PID-7")
    assert count(engine, Hl7Applied) == 2
