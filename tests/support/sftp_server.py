"""A real SFTP server over TCP for the SFTP clearinghouse adapter's tests: asyncssh's, on its own
event loop in a background thread, chrooted to a folder, with a fresh host key and a password or
public-key login. `known_hosts` is the line a client needs to trust it."""

from __future__ import annotations

import asyncio
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

with warnings.catch_warnings():  # asyncssh still names DSA types cryptography deprecated
    warnings.simplefilter("ignore")
    import asyncssh

USER = "dermrcm"
PASSWORD = "synthetic-test-password"  # a test server's own, never a real secret


@dataclass
class SftpServer:
    root: Path
    port: int
    host_key_line: str
    client_key_file: Path
    _loop: asyncio.AbstractEventLoop
    _server: Any
    _thread: threading.Thread

    def known_hosts(self, path: Path) -> Path:
        path.write_text(f"[127.0.0.1]:{self.port} {self.host_key_line}\n", encoding="utf-8")
        return path

    @property
    def url(self) -> str:
        return f"sftp://{USER}@127.0.0.1:{self.port}/mailbox"

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()
            for conn in list(_OPEN):
                conn.close()
                await conn.wait_closed()
            _OPEN.clear()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


_OPEN: set[Any] = set()  # connections not closed yet (closed by stop(), so no socket leaks)


class _Logins(asyncssh.SSHServer):  # type: ignore[misc]
    def connection_made(self, conn: Any) -> None:
        self._conn = conn
        _OPEN.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        _OPEN.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == USER and password == PASSWORD


def start_sftp_server(root: Path) -> SftpServer:
    """Serve `root` (with mailbox/inbound, mailbox/outbound, mailbox/archive made) on a free
    port; stop() when done."""
    for folder in ("inbound", "outbound", "archive"):
        (root / "mailbox" / folder).mkdir(parents=True, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key_file = root.parent / f"{root.name}-client-key"
    client_key.write_private_key(str(client_key_file))
    authorized = asyncssh.import_authorized_keys(
        client_key.export_public_key("openssh").decode("ascii")
    )
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    def factory(channel: Any) -> Any:
        return asyncssh.SFTPServer(channel, chroot=str(root).encode())

    async def serve() -> None:
        holder["server"] = await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[host_key],
            server_factory=_Logins,
            authorized_client_keys=authorized,
            sftp_factory=factory,
        )
        started.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        holder["task"] = loop.create_task(serve())
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name="sftp-server", daemon=True)
    thread.start()
    if not started.wait(30):
        raise RuntimeError("the test SFTP server did not start")
    server = holder["server"]
    port = server.sockets[0].getsockname()[1]
    line = host_key.export_public_key("openssh").decode("ascii").strip()
    return SftpServer(root, port, line, client_key_file, loop, server, thread)
