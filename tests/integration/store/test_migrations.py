"""The same Alembic migrations on SQLite and PostgreSQL, matching the models exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from integration.store.database import (
    current_tables,
    downgrade,
    make_engine,
    session_factory,
    upgrade,
)
from integration.store.models import Base
from integration.store.secrets import TokenCipher
from integration.store.smart_sessions import LaunchedSession, PendingLaunch, SmartSessionStore


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        assert {"smart_launch", "smart_session", "alembic_version"} <= current_tables(engine)
        downgrade(engine, "base")
        assert current_tables(engine) <= {"alembic_version"}
        upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
    finally:
        engine.dispose()


def _session(session_id: str, ends_in: timedelta) -> LaunchedSession:
    now = datetime.now(UTC)
    return LaunchedSession(
        id=session_id,
        iss="http://ehr/fhir",
        client_id="derm-rcm",
        token_endpoint="http://ehr/token",
        access_token="access-secret",
        refresh_token="refresh-secret",
        expires_at=now + timedelta(minutes=5),
        scope="launch patient/*.rs",
        patient_id="p1",
        encounter_id=None,
        need_patient_banner=False,
        fhir_user=None,
        launch_kind="ehr",
        refresh_count=0,
        ends_at=now + ends_in,
    )


def test_session_store_round_trip_and_expiry(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        store = SmartSessionStore(session_factory(engine), TokenCipher("k1"))
        store.save_launch(
            PendingLaunch(
                "s1",
                "http://ehr/fhir",
                "derm-rcm",
                "http://ehr/token",
                "v" * 64,
                "http://app/callback",
                "launch",
                "ehr",
            )
        )
        taken = store.take_launch("s1")
        assert taken is not None and taken.code_verifier == "v" * 64
        assert store.take_launch("s1") is None  # single use

        store.create(_session("live", timedelta(hours=1)))
        store.create(_session("over", timedelta(seconds=-1)))
        live = store.get("live")
        assert (
            live is not None
            and live.access_token == "access-secret"
            and live.expires_at.tzinfo is not None
        )
        assert store.get("over") is None
        store.update_tokens("live", "access-2", None, datetime.now(UTC) + timedelta(minutes=5))
        renewed = store.get("live")
        assert renewed is not None and (
            renewed.access_token,
            renewed.refresh_token,
            renewed.refresh_count,
        ) == ("access-2", "refresh-secret", 1)
        assert (
            SmartSessionStore(session_factory(engine), TokenCipher("another key")).get("live")
            is None
        )
    finally:
        engine.dispose()
