"""The ingest's hot statements run on the DB-API cursor (`Driver`): the rows they store must be
the ones SQLAlchemy Core stores, value for value (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from integration.hl7v2.ingest import ControlIds, Inbound, Ingest
from integration.mapping.hl7v2 import MappingOptions
from integration.mapping.hl7v2_transforms import load_feed_maps
from integration.store import fhir_store
from integration.store.database import session_factory
from integration.store.models import FhirResource, FhirResourceVersion, Hl7Applied, Hl7Message
from tests.support.hl7_messages import adt_a04

NOW = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 12, 6, 4, 59, 59, 123456, tzinfo=UTC)
_MESSAGE_REF = re.compile(r"hl7v2:message:(\d+)")


def groups() -> list[list[str]]:
    """New patients, a resend (duplicate), a reused control id (AE), an unreadable message (AR),
    the same patient again unchanged (no new version) and changed (version 2)."""
    first = adt_a04(1)
    return [
        [first, adt_a04(2), first, adt_a04(3, control_id="TEST00000002")],
        ["not HL7 at all", adt_a04(1, control_id="AGAIN-1"), adt_a04(1, sex="M", control_id="M-1")],
    ]


def ingest_and_dump(engine: Engine) -> tuple[list[bytes], dict[str, list[tuple[Any, ...]]]]:
    ingest = Ingest(
        session_factory(engine),
        load_feed_maps(),
        MappingOptions(),
        clock=lambda: NOW,
        control_ids=ControlIds("T"),
    )
    acks = []
    for group in groups():
        replies = ingest.handle([Inbound(m.encode(), "127.0.0.1:9", RECEIVED) for m in group])
        acks += [payload for reply in replies for payload in reply.payloads]
    tables = {
        "hl7_message": select(Hl7Message.__table__).order_by(Hl7Message.id),
        "hl7_applied": select(Hl7Applied.__table__).order_by(
            Hl7Applied.sender, Hl7Applied.control_id
        ),
        "fhir_resource": select(FhirResource.__table__).order_by(
            FhirResource.resource_type, FhirResource.id
        ),
        "fhir_resource_version": select(FhirResourceVersion.__table__).order_by(
            FhirResourceVersion.resource_type,
            FhirResourceVersion.id,
            FhirResourceVersion.version_id,
        ),
    }
    with engine.begin() as connection:
        ids = list(connection.scalars(select(Hl7Message.id).order_by(Hl7Message.id)))
        rank = {message_id: n for n, message_id in enumerate(ids)}  # a sequence isn't reset

        def same_ids(value: Any) -> Any:
            if isinstance(value, str):
                return _MESSAGE_REF.sub(lambda m: f"hl7v2:message:#{rank[int(m[1])]}", value)
            return value

        dump = {}
        for name, query in tables.items():
            rows = []
            for row in connection.execute(query).mappings():
                values = {k: same_ids(v) for k, v in row.items()}
                for column in ("id", "message_id") if name == "hl7_message" else ("message_id",):
                    if isinstance(values.get(column), int):
                        values[column] = rank[values[column]]
                rows.append(tuple(sorted(values.items())))
            dump[name] = rows
        for model in (FhirResourceVersion, FhirResource, Hl7Applied, Hl7Message):
            connection.execute(delete(model))
    return acks, dump


def test_the_driver_stores_what_sqlalchemy_core_stores(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    acks, rows = ingest_and_dump(engine)
    statuses = [dict(row)["status"] for row in rows["hl7_message"]]
    assert statuses == [
        "processed",
        "processed",
        "duplicate",
        "error",
        "rejected",
        "processed",
        "processed",
    ]
    # The changed Patient: version 1 moved to the history, version 2 is current.
    history = [dict(row) for row in rows["fhir_resource_version"]]
    assert [(h["resource_type"], h["version_id"]) for h in history] == [("Patient", 1)]
    current = {(dict(r)["resource_type"], dict(r)["id"]): dict(r) for r in rows["fhir_resource"]}
    assert current[("Patient", history[0]["id"])]["version_id"] == 2

    with monkeypatch.context() as patch:
        patch.setattr(fhir_store.Driver, "of", classmethod(lambda cls, connection: None))
        core_acks, core_rows = ingest_and_dump(engine)

    assert acks == core_acks
    assert rows == core_rows
