"""Tables. Every change goes through an Alembic migration in store/migrations/versions/."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SmartLaunch(Base):
    """An authorization request in flight: created at /launch, consumed once at /callback."""

    __tablename__ = "smart_launch"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    iss: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(200))
    token_endpoint: Mapped[str] = mapped_column(String(500))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    scope: Mapped[str] = mapped_column(Text)
    launch_kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SmartSession(Base):
    """A launched session: tokens are kept here, encrypted, never in the browser's cookie."""

    __tablename__ = "smart_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    iss: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(200))
    token_endpoint: Mapped[str] = mapped_column(String(500))
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    scope: Mapped[str] = mapped_column(Text)
    patient_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    encounter_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    need_patient_banner: Mapped[bool] = mapped_column(Boolean, default=True)
    fhir_user: Mapped[str | None] = mapped_column(String(500), nullable=True)
    launch_kind: Mapped[str] = mapped_column(String(20))
    refresh_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
