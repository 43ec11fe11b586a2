"""Repository for SMART launch state and launched sessions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from integration.store.models import SmartLaunch, SmartSession
from integration.store.secrets import TokenCipher

LAUNCH_TTL = timedelta(minutes=10)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PendingLaunch:
    state: str
    iss: str
    client_id: str
    token_endpoint: str
    code_verifier: str
    redirect_uri: str
    scope: str
    launch_kind: str


@dataclass(frozen=True, slots=True)
class LaunchedSession:
    id: str
    iss: str
    client_id: str
    token_endpoint: str
    access_token: str
    refresh_token: str | None
    expires_at: datetime
    scope: str
    patient_id: str | None
    encounter_id: str | None
    need_patient_banner: bool
    fhir_user: str | None
    launch_kind: str
    refresh_count: int
    ends_at: datetime

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())


class SmartSessionStore:
    def __init__(self, sessions: sessionmaker[Session], cipher: TokenCipher) -> None:
        self._sessions = sessions
        self._cipher = cipher

    # -- launches ---------------------------------------------------------------------------

    def save_launch(self, launch: PendingLaunch) -> None:
        with self._sessions.begin() as db:
            db.execute(delete(SmartLaunch).where(SmartLaunch.created_at < utcnow() - LAUNCH_TTL))
            db.add(SmartLaunch(created_at=utcnow(), **asdict(launch)))

    def take_launch(self, state: str) -> PendingLaunch | None:
        """The launch for `state`, removed so it can be used once; None if unknown or too old."""
        with self._sessions.begin() as db:
            row = db.get(SmartLaunch, state)
            if row is None:
                return None
            db.delete(row)
            if _aware(row.created_at) < utcnow() - LAUNCH_TTL:
                return None
            return PendingLaunch(**{f.name: getattr(row, f.name) for f in fields(PendingLaunch)})

    # -- sessions ---------------------------------------------------------------------------

    def create(self, session: LaunchedSession) -> None:
        with self._sessions.begin() as db:
            db.execute(delete(SmartSession).where(SmartSession.ends_at < utcnow()))
            db.add(
                SmartSession(
                    id=session.id,
                    iss=session.iss,
                    client_id=session.client_id,
                    token_endpoint=session.token_endpoint,
                    access_token=self._cipher.encrypt(session.access_token),
                    refresh_token=self._cipher.encrypt(session.refresh_token)
                    if session.refresh_token
                    else None,
                    expires_at=session.expires_at,
                    scope=session.scope,
                    patient_id=session.patient_id,
                    encounter_id=session.encounter_id,
                    need_patient_banner=session.need_patient_banner,
                    fhir_user=session.fhir_user,
                    launch_kind=session.launch_kind,
                    refresh_count=session.refresh_count,
                    created_at=utcnow(),
                    ends_at=session.ends_at,
                )
            )

    def get(self, session_id: str) -> LaunchedSession | None:
        """The session, or None if unknown, ended, or its tokens can't be decrypted."""
        with self._sessions() as db:
            row = db.execute(
                select(SmartSession).where(SmartSession.id == session_id)
            ).scalar_one_or_none()
            if row is None or _aware(row.ends_at) < utcnow():
                return None
            access = self._cipher.decrypt(row.access_token)
            if access is None:
                return None
            refresh = self._cipher.decrypt(row.refresh_token) if row.refresh_token else None
            return LaunchedSession(
                id=row.id,
                iss=row.iss,
                client_id=row.client_id,
                token_endpoint=row.token_endpoint,
                access_token=access,
                refresh_token=refresh,
                expires_at=_aware(row.expires_at),
                scope=row.scope,
                patient_id=row.patient_id,
                encounter_id=row.encounter_id,
                need_patient_banner=row.need_patient_banner,
                fhir_user=row.fhir_user,
                launch_kind=row.launch_kind,
                refresh_count=row.refresh_count,
                ends_at=_aware(row.ends_at),
            )

    def update_tokens(
        self, session_id: str, access_token: str, refresh_token: str | None, expires_at: datetime
    ) -> None:
        with self._sessions.begin() as db:
            row = db.get(SmartSession, session_id)
            if row is None:
                return
            row.access_token = self._cipher.encrypt(access_token)
            if refresh_token:
                row.refresh_token = self._cipher.encrypt(refresh_token)
            row.expires_at = expires_at
            row.refresh_count += 1

    def end(self, session_id: str) -> None:
        with self._sessions.begin() as db:
            db.execute(delete(SmartSession).where(SmartSession.id == session_id))
