"""Serve a WSGI app on a real socket in a daemon thread (`dermrcm run`, the sandbox, tests).

The request handler logs nothing itself: werkzeug's request line carries the query string
(launch tokens, codes, patient ids), so the apps log their own lines without it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class _QuietHandler(WSGIRequestHandler):
    """werkzeug logs the full request line, query string included; the app logs its own line."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _NotReady:
    """Placeholder app while the socket is bound but the real app is still being built."""

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"starting\n"]


class RunningServer:
    """A server running in a daemon thread; `shutdown()` (or leaving the `with`) stops it."""

    def __init__(self, server: BaseWSGIServer, host: str) -> None:
        self._server = server
        self.host = host
        self.port: int = server.server_port
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"http-{self.port}",
            daemon=True,
        )
        self._stopped = False

    @property
    def base_url(self) -> str:
        return f"http://{_connectable(self.host)}:{self.port}"

    def _start(self) -> None:
        self._thread.start()

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def wait(self) -> None:
        """Block until the server stops (or Ctrl-C)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()


def serve_in_thread(app: WSGIApplication, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve `app` (threaded werkzeug server); port 0 picks a free port, see `.port`."""
    running = RunningServer(_bind(host, port, app), host)
    running._start()
    return running


def bind_then_serve(
    app_factory: Callable[[str], WSGIApplication], host: str = "127.0.0.1", port: int = 0
) -> RunningServer:
    """Bind first, build the app from the real base URL (it needs its own URL), then serve."""
    server = _bind(host, port, _NotReady())
    running = RunningServer(server, host)
    try:
        server.app = app_factory(running.base_url)
    except BaseException:
        server.server_close()
        raise
    running._start()
    return running


def _bind(host: str, port: int, app: Any) -> BaseWSGIServer:
    return make_server(host, port, app, threaded=True, request_handler=_QuietHandler)


def _connectable(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104  # bound everywhere: reach it on loopback
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host
