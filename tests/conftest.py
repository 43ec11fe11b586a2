"""Shared test fixtures: databases (SQLite and PostgreSQL), the browser, the sandbox EHR."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from integration.store.database import make_engine, upgrade

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("DERMRCM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
CHROMIUM = "/usr/bin/chromium"


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to test an extension built from an older source (integration/native.py): the
    tests would run the old code. `make test` rebuilds it first."""
    from integration import native

    old = native.stale()
    if old:
        raise pytest.UsageError(
            f"compiled modules older than their source: {', '.join(old)}; run `make native` "
            "(or `.venv/bin/python -m integration.native clean` to test them as Python)"
        )


def _pg_reachable() -> str | None:
    """None if PostgreSQL answers, else the reason."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("select 1")
        return None
    except psycopg.Error as exc:
        return (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        )


def _start_local_postgres() -> None:
    """Start the machine's cluster as the env notes say (pg_ctlcluster), if there is one."""
    versions = (
        sorted(p.name for p in Path("/etc/postgresql").glob("*"))
        if Path("/etc/postgresql").is_dir()
        else []
    )
    if not versions or shutil.which("pg_ctlcluster") is None:
        return
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
        check=False,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    reason = _pg_reachable()
    if reason and IN_CI:
        _start_local_postgres()
        reason = _pg_reachable()
        if reason:
            pytest.fail(
                f"CI needs PostgreSQL at {PG_ADMIN_URL} and could not reach or start it: {reason}"
            )
    if reason:
        pytest.skip(
            f"PostgreSQL not reachable at {PG_ADMIN_URL} ({reason}); set DERMRCM_TEST_PG or start it"
        )
    return PG_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    import psycopg

    name = f"dermrcm_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _db = postgres_admin_url.rpartition("/")
    url = f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield url
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dermrcm.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on `database_url` (each database in turn) with every migration applied."""
    engine = make_engine(database_url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _install_chromium() -> str | None:
    """Debian's chromium, installed with apt-get when missing and we may; None or why not."""
    if Path(CHROMIUM).exists():
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "Debian's chromium is not installed (apt-get install chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(
        ["apt-get", "install", "-y", "-q", "chromium"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, timeout=600)
        result = subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium"],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
    if result.returncode != 0 or not Path(CHROMIUM).exists():
        return f"apt-get install chromium failed: {result.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    reason = _install_chromium()
    if reason and IN_CI:
        pytest.fail(f"browser tests need Debian's chromium: {reason}")
    if reason:
        pytest.skip(reason)
    return CHROMIUM
