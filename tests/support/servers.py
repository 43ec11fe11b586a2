"""Real HTTP servers for tests: the sandbox EHR over the fixture charts and the derm-rcm app."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask

from integration.http_server import RunningServer, bind_then_serve, serve_in_thread
from integration.paths import fixtures_dir
from integration.sandbox.app import create_sandbox_app
from integration.sandbox.config import SandboxClient, SandboxConfig, fhir_base
from integration.settings import Settings
from integration.store.database import make_engine, upgrade
from smart_app import create_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

PATIENTS = fixtures_dir() / "patients"
CLIENT_ID = "derm-rcm"


class SwappableApp:
    """A WSGI app whose target each test sets, so one socket (one redirect URI) serves them all."""

    def __init__(self) -> None:
        self.app: Flask | None = None
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            app = self.app
        if app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no app\n"]
        return app(environ, start_response)


@dataclass
class Sandbox:
    server: RunningServer
    config: SandboxConfig

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def fhir(self) -> str:
        return fhir_base(self.config)


def start_fixture_sandbox(
    app_url: str | None,
    data_dir: Path = PATIENTS,
    wrap: Callable[[Flask], WSGIApplication] | None = None,
    **options: Any,
) -> Sandbox:
    """The sandbox EHR over `data_dir`, with derm-rcm registered at `app_url` (if given);
    `wrap` puts middleware (e.g. FaultyFhir) in front of it. Callable options get the base URL."""
    clients: tuple[SandboxClient, ...] = ()
    if app_url:
        clients = (SandboxClient(CLIENT_ID, (f"{app_url}/callback",), f"{app_url}/launch"),)
    configs: list[SandboxConfig] = []

    def build(base_url: str) -> WSGIApplication:
        overrides = {k: (v(base_url) if callable(v) else v) for k, v in options.items()}
        configs.append(
            SandboxConfig(data_dir=data_dir, base_url=base_url, clients=clients, **overrides)
        )
        app = create_sandbox_app(configs[0])
        return wrap(app) if wrap else app

    server = bind_then_serve(build)
    return Sandbox(server, configs[0])


@dataclass
class AppServer:
    """The derm-rcm app on a real socket; `use(...)` builds a fresh app for one test."""

    server: RunningServer
    holder: SwappableApp

    @property
    def url(self) -> str:
        return self.server.base_url

    def use(self, database_url: str, issuers: Iterable[str], **settings: Any) -> Flask:
        engine = make_engine(database_url)
        upgrade(engine)
        engine.dispose()
        values: dict[str, Any] = {
            "database_url": database_url,
            "secret_key": "test-secret-key-not-for-production",
            "public_url": self.url,
            "issuers": ",".join(issuers),
            "fhir_timeout": 5.0,
            "fhir_retries": 2,
        }
        values.update(settings)
        app = create_app(Settings(**values))
        self.holder.app = app
        return app

    @contextmanager
    def using(self, database_url: str, issuers: Iterable[str], **settings: Any) -> Iterator[Flask]:
        """`use`, then close the app's database connections (before a test database is dropped)."""
        app = self.use(database_url, issuers, **settings)
        try:
            yield app
        finally:
            self.holder.app = None
            app.extensions["dermrcm.engine"].dispose()


def start_app_server() -> AppServer:
    holder = SwappableApp()
    return AppServer(serve_in_thread(holder), holder)


@dataclass
class Fault:
    """Make requests whose path contains `path` fail: `times` times with `status`, or `delay` seconds late."""

    path: str
    status: int = 0
    times: int = 1
    delay: float = 0.0
    retry_after: str | None = None
    body: str = '{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient","diagnostics":"injected fault"}]}'


class FaultyFhir:
    """WSGI middleware in front of the sandbox that injects the faults a real FHIR server shows."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.faults: list[Fault] = []
        self.seen: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        with self._lock:
            self.seen.append(path)
            fault = next((f for f in self.faults if f.path in path and f.times > 0), None)
            if fault is not None:
                fault.times -= 1
        if fault is not None and fault.delay:
            threading.Event().wait(fault.delay)
        if fault is not None and fault.status:
            headers = [("Content-Type", "application/fhir+json")]
            if fault.retry_after is not None:
                headers.append(("Retry-After", fault.retry_after))
            start_response(f"{fault.status} Injected", headers)
            return [fault.body.encode()]
        return self.app(environ, start_response)


def start_faulty_sandbox(app_url: str, **options: Any) -> tuple[Sandbox, FaultyFhir]:
    wrappers: list[FaultyFhir] = []

    def wrap(app: Flask) -> FaultyFhir:
        wrappers.append(FaultyFhir(app))
        return wrappers[0]

    sandbox = start_fixture_sandbox(app_url, wrap=wrap, **options)
    return sandbox, wrappers[0]
