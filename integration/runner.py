"""`dermrcm run`: one process with the app, the API and (by default) the sandbox EHR."""

from __future__ import annotations

import logging

from integration.http_server import serve_in_thread
from integration.paths import fixtures_dir
from integration.settings import Settings
from integration.store.database import make_engine, upgrade

log = logging.getLogger(__name__)


def run(sandbox: bool = True, settings: Settings | None = None) -> None:
    settings = settings or Settings()
    client_id = settings.client_id
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    print(f"database ready: {engine.url.render_as_string(hide_password=True)}", flush=True)

    sandbox_server = None
    if sandbox:
        from integration.sandbox.config import SandboxClient, SandboxConfig, fhir_base
        from integration.sandbox.server import start_sandbox

        data_dir = settings.sandbox_data or fixtures_dir() / "patients"
        app_url = settings.app_url

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
            )

        sandbox_server, sandbox_config = start_sandbox(
            config, host=settings.host, port=settings.sandbox_port
        )
        issuers = ",".join(filter(None, [settings.issuers, fhir_base(sandbox_config)]))
        settings = settings.with_changes(issuers=issuers)

    from smart_app import create_app
    from smart_app.app import warm_up

    app = create_app(settings)
    warm_up()
    server = serve_in_thread(app, settings.host, settings.port)
    print(f"derm-rcm app:  {settings.app_url}/  (standalone launch)", flush=True)
    if sandbox_server is not None:
        print(
            f"sandbox EHR:   {sandbox_server.base_url}/  <- open this, pick a patient, press Launch app",
            flush=True,
        )
    print("Ctrl-C stops.", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        if sandbox_server is not None:
            sandbox_server.shutdown()
