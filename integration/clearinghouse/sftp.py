"""`SftpClearinghouse`: the clearinghouse port over SFTP mailboxes, the way most clearinghouses
exchange batch X12 (837P out; 999, 277CA and 835 back).

`clearinghouse_url` is `sftp://user@host[:port]/base` (base: the mailbox's root, default the
login folder). Under it:

- `send_dir` (default `inbound`, the clearinghouse's in-box): `submit` writes `.<name>.part` and
  renames it to `<name>` once every byte is there, so the clearinghouse never picks up half a file;
- `receive_dir` (default `outbound`): `fetch` reads every regular file there, oldest first
  (modification time, then name), skipping dot-files and unfinished uploads (`.part`, `.tmp`,
  `.filepart`);
- `ack` deletes the file, or moves it into `archive_dir` when one is set (some clearinghouses
  forbid deletes).

An inbound file's id is `<sha256 prefix>:<name>`: a clearinghouse that reuses a name (`835.txt`
every day) still gives each new content a new id, so the claims loop never takes a new file for
one it has already stored. `ack` reads the file again and leaves it in place if it is no longer
the one fetched (the clearinghouse replaced it meanwhile): deleting it would lose the new one.

The server's host key must be in `known_hosts` (an unknown or changed key is refused: no
trust on first use). Login by password or private key file. Each call opens its own connection
(a mailbox is polled a few times an hour), with `timeout` on connecting, logging in and each
read. Every failure is a `ClearinghouseError` naming the operation, `sftp://user@host:port/path`
and what happened, never a password or file content; nothing is retried.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paramiko

from integration.clearinghouse.port import ClearinghouseError, InboundFile, Receipt

log = logging.getLogger(__name__)

UNFINISHED_SUFFIXES = (".part", ".tmp", ".filepart")
_ID_HASH = 16  # hex digits of the content's SHA-256 in an inbound id


@dataclass(frozen=True, slots=True)
class SftpOptions:
    """Where and how to log in, and the mailbox's folders (relative to the URL's path)."""

    known_hosts: Path
    password: str | None = None
    key_file: Path | None = None
    send_dir: str = "inbound"
    receive_dir: str = "outbound"
    archive_dir: str | None = None
    timeout: float = 30.0


class SftpClearinghouse:
    def __init__(self, url: str, options: SftpOptions) -> None:
        parts = urlsplit(url)
        if parts.scheme != "sftp" or not parts.hostname:
            raise ClearinghouseError(
                f"clearinghouse_url: expected sftp://user@host[:port]/path, got {_safe(url)!r}"
            )
        if not parts.username:
            raise ClearinghouseError(
                f"clearinghouse_url: expected a user name (sftp://user@host/...), got {_safe(url)!r}"
            )
        if parts.password:
            raise ClearinghouseError(
                "clearinghouse_url: a password in the URL is refused "
                "(DERMRCM_CLEARINGHOUSE_SFTP_PASSWORD, or a key file)"
            )
        if options.password is None and options.key_file is None:
            raise ClearinghouseError(
                "SFTP clearinghouse: expected a password or a private key file, got neither"
            )
        self.host = parts.hostname
        self.port = parts.port or 22
        self.user = unquote(parts.username)
        self.base = unquote(parts.path).rstrip("/") or "."
        self.options = options
        for name, folder in (
            ("send_dir", options.send_dir),
            ("receive_dir", options.receive_dir),
            ("archive_dir", options.archive_dir),
        ):
            if folder is not None and (not folder or ".." in folder.split("/")):
                raise ClearinghouseError(
                    f"SFTP clearinghouse {name}: expected a folder under {self.base}, got {folder!r}"
                )

    # ---------------------------------------------------------------- the port

    def submit(self, filename: str, data: bytes) -> Receipt:
        _check_name(filename, "submit")
        folder = self._path(self.options.send_dir)
        final = posixpath.join(folder, filename)
        partial = posixpath.join(folder, f".{filename}.part")
        with self._sftp("submit", final) as sftp:
            try:
                sftp.stat(final)
            except FileNotFoundError:
                pass
            else:
                raise ClearinghouseError(
                    f"SFTP submit {self._where(final)}: a file of that name is already waiting "
                    "(not overwritten)"
                )
            with sftp.open(partial, "wb") as remote:
                remote.write(data)
            written = sftp.stat(partial).st_size
            if written != len(data):
                raise ClearinghouseError(
                    f"SFTP submit {self._where(partial)}: expected {len(data)} bytes written, "
                    f"got {written} (left as {posixpath.basename(partial)})"
                )
            _rename(sftp, partial, final)
        log.info("clearinghouse file submitted over sftp", extra={"size": len(data)})
        return Receipt(posixpath.join(self.options.send_dir, filename), filename)

    def fetch(self) -> list[InboundFile]:
        folder = self._path(self.options.receive_dir)
        with self._sftp("fetch", folder) as sftp:
            entries = [
                entry
                for entry in sftp.listdir_attr(folder)
                # a server that sends no permissions: every finished name is tried as a file
                if (entry.st_mode is None or stat.S_ISREG(entry.st_mode))
                and _is_finished(entry.filename)
            ]
            entries.sort(key=lambda e: (e.st_mtime or 0, e.filename))
            out: list[InboundFile] = []
            for entry in entries:
                data = self._read(sftp, posixpath.join(folder, entry.filename))
                out.append(InboundFile(_inbound_id(entry.filename, data), entry.filename, data))
        return out

    def ack(self, inbound_id: str) -> None:
        digest, _, name = inbound_id.partition(":")
        if len(digest) != _ID_HASH or not name:
            raise ClearinghouseError(
                f"SFTP ack: expected an id <sha256 prefix>:<file name>, got {inbound_id!r}"
            )
        _check_name(name, "ack")
        path = posixpath.join(self._path(self.options.receive_dir), name)
        with self._sftp("ack", path) as sftp:
            try:
                data = self._read(sftp, path)
            except FileNotFoundError:
                log.info("clearinghouse file already gone on ack")
                return
            if _inbound_id(name, data) != inbound_id:
                raise ClearinghouseError(
                    f"SFTP ack {self._where(path)}: the file changed since it was fetched "
                    "(left in place: the next fetch reads the new one)"
                )
            if self.options.archive_dir is None:
                sftp.remove(path)
            else:
                target = posixpath.join(self._path(self.options.archive_dir), f"{digest}-{name}")
                _rename(sftp, path, target)

    # ---------------------------------------------------------------- plumbing

    def _path(self, folder: str) -> str:
        return posixpath.join(self.base, folder)

    def _where(self, path: str) -> str:
        return f"sftp://{self.user}@{self.host}:{self.port}/{path.lstrip('/')}"

    def _read(self, sftp: paramiko.SFTPClient, path: str) -> bytes:
        with sftp.open(path, "rb") as remote:
            remote.prefetch()
            data: bytes = remote.read()
        return data

    @contextmanager
    def _sftp(self, operation: str, path: str) -> Iterator[paramiko.SFTPClient]:
        """A logged-in SFTP session for one call; every failure as a located error."""
        where = f"SFTP {operation} {self._where(path)}"
        options = self.options
        client = paramiko.SSHClient()
        try:
            try:
                client.load_host_keys(str(options.known_hosts))
            except OSError:
                raise ClearinghouseError(
                    f"{where}: known_hosts {options.known_hosts} could not be read: add the "
                    "clearinghouse's host key there (ssh-keyscan, checked against what they publish)"
                ) from None
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            try:
                client.connect(
                    self.host,
                    self.port,
                    username=self.user,
                    password=options.password,
                    key_filename=str(options.key_file) if options.key_file else None,
                    timeout=options.timeout,
                    banner_timeout=options.timeout,
                    auth_timeout=options.timeout,
                    channel_timeout=options.timeout,
                    look_for_keys=False,
                    allow_agent=False,
                )
            except paramiko.BadHostKeyException:
                raise ClearinghouseError(
                    f"{where}: the server's host key is not the one in {options.known_hosts} "
                    "(refused: it may not be the clearinghouse)"
                ) from None
            except paramiko.AuthenticationException:
                raise ClearinghouseError(f"{where}: login refused for user {self.user}") from None
            except paramiko.SSHException as exc:
                if "not found in known_hosts" in str(exc):
                    raise ClearinghouseError(
                        f"{where}: the server's host key is not in {options.known_hosts} (refused)"
                    ) from None
                raise ClearinghouseError(f"{where}: SSH failed ({type(exc).__name__})") from None
            except TimeoutError:
                raise ClearinghouseError(
                    f"{where}: no answer within {options.timeout:g} s"
                ) from None
            except OSError as exc:
                raise ClearinghouseError(
                    f"{where}: could not connect ({type(exc).__name__})"
                ) from None
            try:
                sftp = client.open_sftp()
                channel = sftp.get_channel()
                if channel is not None:
                    channel.settimeout(options.timeout)
                with sftp:
                    yield sftp
            except ClearinghouseError:
                raise
            except FileNotFoundError as exc:
                raise ClearinghouseError(f"{where}: no such file or folder") from exc
            except PermissionError as exc:
                raise ClearinghouseError(f"{where}: permission denied") from exc
            except TimeoutError:
                raise ClearinghouseError(
                    f"{where}: no answer within {options.timeout:g} s"
                ) from None
            except (OSError, paramiko.SSHException) as exc:
                raise ClearinghouseError(f"{where}: failed ({type(exc).__name__})") from None
        finally:
            client.close()


def _rename(sftp: paramiko.SFTPClient, source: str, target: str) -> None:
    """posix-rename@openssh.com where the server has it; else plain SFTP rename (which refuses an
    existing target, as wanted here)."""
    try:
        sftp.posix_rename(source, target)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError | PermissionError):
            raise
        sftp.rename(source, target)


def _inbound_id(name: str, data: bytes) -> str:
    return f"{hashlib.sha256(data).hexdigest()[:_ID_HASH]}:{name}"


def _is_finished(name: str) -> bool:
    return not name.startswith(".") and not name.lower().endswith(UNFINISHED_SUFFIXES)


def _check_name(name: str, operation: str) -> None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ClearinghouseError(
            f"SFTP {operation}: expected a plain file name (no folders, not hidden), got {name!r}"
        )


def _safe(url: str) -> str:
    """The URL without a password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()
