"""A scratch PostgreSQL database for a benchmark run: created fresh, dropped afterwards."""

from __future__ import annotations

import os

PG_ADMIN = os.environ.get(
    "DERMRCM_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)


def pg_create(name: str) -> str:
    """Create database `name` (dropping a leftover one first); its SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    params = dict(p.split("=", 1) for p in PG_ADMIN.split())
    user, host, port = (
        params.get("user", "postgres"),
        params.get("host", "127.0.0.1"),
        params.get("port", "5432"),
    )
    return f"postgresql+psycopg://{user}@{host}:{port}/{name}"


def pg_drop(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
