"""`dermrcm run`: one process with the app, the API and (by default) the sandbox EHR."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from integration.hl7v2.listener import ListenerThread
from integration.http_server import serve_in_thread
from integration.paths import fixtures_dir
from integration.settings import Settings
from integration.store.database import make_engine, session_factory, upgrade

if TYPE_CHECKING:
    from integration.priorauth.references import PaReferences
    from integration.priorauth.watcher import ReauthWatcher

log = logging.getLogger(__name__)


def run(sandbox: bool = True, settings: Settings | None = None, hl7: bool = True) -> None:
    settings = settings or Settings()
    client_id = settings.client_id
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    print(f"database ready: {engine.url.render_as_string(hide_password=True)}", flush=True)

    sandbox_server = None
    reauth_base = settings.reauth_fhir_base
    if sandbox:
        from integration.fhir.backend_auth import load_or_create_key, public_jwks
        from integration.sandbox.config import (
            BackendClient,
            SandboxClient,
            SandboxConfig,
            fhir_base,
        )
        from integration.sandbox.server import start_sandbox

        data_dir = settings.sandbox_data or fixtures_dir() / "patients"
        app_url = settings.app_url
        backend_key = load_or_create_key(settings.backend_key_path)
        backend_id = settings.backend_client_id

        def config(base_url: str) -> SandboxConfig:
            return SandboxConfig(
                data_dir=data_dir,
                base_url=base_url,
                clients=(
                    SandboxClient(
                        client_id=client_id,
                        redirect_uris=(f"{app_url}/callback",),
                        launch_url=f"{app_url}/launch",
                    ),
                ),
                backend_clients=(BackendClient(backend_id, public_jwks(backend_key)),),
            )

        sandbox_server, sandbox_config = start_sandbox(
            config, host=settings.host, port=settings.sandbox_port
        )
        issuers = ",".join(filter(None, [settings.issuers, fhir_base(sandbox_config)]))
        payer_url = settings.payer_url or f"{sandbox_server.base_url}/payer"
        clearinghouse_url = settings.clearinghouse_url or f"{sandbox_server.base_url}/clearinghouse"
        settings = settings.with_changes(
            issuers=issuers,
            payer_url=payer_url,
            clearinghouse_url=clearinghouse_url,
            chart_fhir_base=settings.chart_fhir_base or fhir_base(sandbox_config),
        )
        reauth_base = reauth_base or fhir_base(sandbox_config)

    from smart_app import create_app
    from smart_app.app import warm_up

    app = create_app(settings)
    warm_up()
    listener_thread = None
    if hl7 and settings.hl7_port:
        listener_thread = _start_hl7(settings)
        from integration.hl7v2.metrics_app import add_metrics_route

        add_metrics_route(app, listener_thread.listener.metrics)
    watcher = _start_reauth_watcher(settings, reauth_base) if reauth_base else None
    server = serve_in_thread(app, settings.host, settings.port)
    print(f"derm-rcm app:  {settings.app_url}/  (standalone launch)", flush=True)
    if sandbox_server is not None:
        print(
            f"sandbox EHR:   {sandbox_server.base_url}/  <- open this, pick a patient, press Launch app",
            flush=True,
        )
        print(
            f"sandbox payer: {sandbox_server.base_url}/payer  "
            f"(DERMRCM_PAYER_URL for `dermrcm pa submit`)",
            flush=True,
        )
        print(
            f"clearinghouse: {settings.clearinghouse_url}  "
            f"(DERMRCM_CLEARINGHOUSE_URL for `dermrcm claims submit/poll`)",
            flush=True,
        )
    if listener_thread is not None:
        print(
            f"HL7 MLLP:      {settings.hl7_host}:{listener_thread.bound_port}  "
            f"(dermrcm hl7 send FILE --port {listener_thread.bound_port}; metrics at {settings.app_url}/metrics)",
            flush=True,
        )
    if watcher is not None:
        print(
            f"reauth watcher: every {settings.reauth_interval_hours:g} h, reading {reauth_base} "
            f"as backend service {settings.backend_client_id}",
            flush=True,
        )
    print("Ctrl-C stops.", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        if listener_thread is not None:
            listener_thread.stop()
        if watcher is not None:
            watcher.stop()
        if sandbox_server is not None:
            sandbox_server.shutdown()


def _start_hl7(settings: Settings) -> ListenerThread:
    from integration.hl7v2.ingest import Ingest
    from integration.hl7v2.listener import Listener
    from integration.hl7v2.server import ServerOptions
    from integration.mapping.hl7v2 import MappingOptions
    from integration.mapping.hl7v2_transforms import load_feed_maps
    from integration.store.database import make_engine, session_factory

    engine = make_engine(settings.database_url)
    ingest = Ingest(
        session_factory(engine), load_feed_maps(), MappingOptions(timezone=settings.hl7_timezone)
    )
    listener = Listener(
        ingest,
        ServerOptions(max_frame=settings.hl7_max_frame, idle_timeout=settings.hl7_idle_timeout),
        batch_size=settings.hl7_batch_size,
        group_wait=settings.hl7_group_wait_ms / 1000,
    )
    return ListenerThread(listener, settings.hl7_host, settings.hl7_port).start()


def _start_reauth_watcher(settings: Settings, fhir_base_url: str) -> ReauthWatcher:
    """The reauthorization watcher, reading charts as a SMART backend service."""
    from integration.fhir.backend_auth import BackendServicesToken, load_or_create_key
    from integration.fhir.client import ClientOptions, FhirClient
    from integration.mapping.evidence_maps import load_evidence_maps
    from integration.priorauth.references import load_pa_references
    from integration.priorauth.watcher import ReauthWatcher

    key = load_or_create_key(settings.backend_key_path)
    options = ClientOptions(
        timeout=settings.fhir_timeout,
        retries=settings.fhir_retries,
        concurrency=settings.fhir_concurrency,
        page_size=settings.fhir_page_size,
    )
    token = BackendServicesToken(
        fhir_base_url,
        settings.backend_client_id,
        key,
        scope=settings.backend_scope,
        timeout=settings.fhir_timeout,
    )

    def client() -> FhirClient:
        return FhirClient(fhir_base_url, token=token.token, refresh=token.refresh, options=options)

    references: list[PaReferences] = []

    def refs() -> PaReferences:
        if not references:
            references.append(load_pa_references())
        return references[0]

    engine = make_engine(settings.database_url)
    watcher = ReauthWatcher(
        session_factory(engine),
        client,
        refs,
        load_evidence_maps(),
        interval_seconds=settings.reauth_interval_hours * 3600,
        window_days=settings.reauth_window_days,
    )
    return watcher.start()
