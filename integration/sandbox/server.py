"""Start the sandbox EHR on a real socket (tests, `dermrcm run`, the CLI)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask

from integration.http_server import RunningServer, bind_then_serve, serve_in_thread
from integration.sandbox.app import create_sandbox_app
from integration.sandbox.config import SandboxConfig

__all__ = ["RunningServer", "serve_in_thread", "start_sandbox"]

log = logging.getLogger(__name__)


def start_sandbox(
    config_factory: Callable[[str], SandboxConfig], host: str = "127.0.0.1", port: int = 0
) -> tuple[RunningServer, SandboxConfig]:
    """Bind first, then build the config from the real base URL, then serve the sandbox."""
    configs: list[SandboxConfig] = []

    def build(base_url: str) -> Flask:
        configs.append(config_factory(base_url))
        return create_sandbox_app(configs[0])

    running = bind_then_serve(build, host, port)
    config = configs[0]
    log.info(
        "sandbox EHR listening on %s (FHIR at %s%s)",
        running.base_url,
        config.base_url,
        config.fhir_path,
    )
    return running, config
