"""Run Medplum's in-memory FHIR engine (tests/peers/medplum/server.mjs) as a test peer.

Public API:

* ``ensure_installed() -> Path`` installs the pinned npm packages when needed.
* ``start_medplum(port=0) -> MedplumPeer`` starts a server (usable as a context manager).
* ``load_bundle(base_url, bundle) -> None`` loads a FHIR Bundle so that resources keep their ids.

Needs ``node`` (>= 20.19) and ``npm`` on PATH and the npm registry reachable for the first install.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

PEER_DIR: Path = Path(__file__).resolve().parent / "medplum"
SERVER_SCRIPT: Path = PEER_DIR / "server.mjs"
STAMP_NAME = ".derm-rcm-install-stamp"
MIN_NODE = (20, 19)
READY_TIMEOUT_S = 60.0
BATCH_SIZE = 500

_URN_UUID = re.compile(r"^urn:uuid:([0-9a-fA-F-]{36})$")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class MedplumPeerError(RuntimeError):
    """The Medplum peer could not be installed, started or loaded."""


class BundleLoadError(MedplumPeerError):
    """One or more entries of a Bundle were rejected by the server."""


# ---------------------------------------------------------------------------------------------
# Installation


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MedplumPeerError(
            f"`{name}` is not on PATH. The Medplum FHIR peer needs Node.js >= "
            f"{MIN_NODE[0]}.{MIN_NODE[1]} and npm (Debian: apt-get install nodejs npm)."
        )
    return path


def _check_node_version(node: str) -> None:
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    match = re.match(r"v(\d+)\.(\d+)", out.stdout.strip())
    if out.returncode != 0 or match is None:
        raise MedplumPeerError(f"cannot tell the Node.js version: {out.stdout!r} {out.stderr!r}")
    version = (int(match.group(1)), int(match.group(2)))
    if version < MIN_NODE:
        raise MedplumPeerError(
            f"Node.js {out.stdout.strip()} is too old for the pinned @medplum packages; "
            f"need >= {MIN_NODE[0]}.{MIN_NODE[1]}"
        )


def _install_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        path = PEER_DIR / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    key = hashlib.sha256(str(PEER_DIR).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"derm-rcm-medplum-peer-{key}.lock"
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_installed() -> Path:
    """Install the peer's npm packages if node_modules is missing or stale; return the peer dir.

    Staleness is judged by a stamp file in node_modules holding the hash of package.json and
    package-lock.json. Uses ``npm ci`` when the lock file exists, else ``npm install``.
    Safe to call from several processes at once (file lock).
    """
    node = _tool("node")
    npm = _tool("npm")
    _check_node_version(node)
    stamp = PEER_DIR / "node_modules" / STAMP_NAME
    wanted = _install_fingerprint()
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return PEER_DIR
    with _install_lock():
        if stamp.exists() and stamp.read_text().strip() == wanted:
            return PEER_DIR
        has_lock = (PEER_DIR / "package-lock.json").exists()
        cmd = [npm, "ci" if has_lock else "install", "--no-audit", "--no-fund", "--loglevel=error"]
        proc = subprocess.run(
            cmd, cwd=PEER_DIR, capture_output=True, text=True, check=False, timeout=900
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip()[-4000:]
            raise MedplumPeerError(
                f"`{' '.join(cmd[1:])}` failed in {PEER_DIR} (exit {proc.returncode}):\n{tail}"
            )
        if not (PEER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
            raise MedplumPeerError(
                f"npm finished but @medplum/fhir-router is missing in {PEER_DIR}"
            )
        stamp.write_text(_install_fingerprint() + "\n")
    return PEER_DIR


# ---------------------------------------------------------------------------------------------
# Running the server


class MedplumPeer:
    """A running ``node server.mjs`` process. Use as a context manager or call ``stop()``."""

    def __init__(
        self,
        process: subprocess.Popen[str],
        port: int,
        stderr_path: Path,
        stdout_pump: threading.Thread | None = None,
    ) -> None:
        self.process = process
        self._stdout_pump = stdout_pump
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}/fhir/R4"
        self._stderr_path = stderr_path

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stderr_text(self) -> str:
        try:
            return self._stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def reset(self) -> None:
        """Delete every resource (test-only endpoint of server.mjs)."""
        resp = requests.post(f"{self.root_url}/admin/reset", timeout=30)
        resp.raise_for_status()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server and wait for it; SIGKILL if it does not exit in time. Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        if self._stdout_pump is not None:
            self._stdout_pump.join(timeout=timeout)
        if self.process.stdout is not None and (
            self._stdout_pump is None or not self._stdout_pump.is_alive()
        ):
            self.process.stdout.close()
        with contextlib.suppress(OSError):
            self._stderr_path.unlink()

    def __enter__(self) -> MedplumPeer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"MedplumPeer(base_url={self.base_url!r}, pid={self.process.pid})"


def start_medplum(port: int = 0) -> MedplumPeer:
    """Start the Medplum peer on 127.0.0.1:``port`` (0 = a free port) and wait until it is ready.

    Installs the npm packages first if needed. The returned peer has
    ``base_url == "http://127.0.0.1:<port>/fhir/R4"``; stop it with ``stop()`` or a ``with`` block.
    """
    ensure_installed()
    node = _tool("node")
    fd, stderr_name = tempfile.mkstemp(prefix="medplum-peer-", suffix=".stderr")
    stderr_path = Path(stderr_name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDPLUM_PEER_")}
    with os.fdopen(fd, "w") as stderr_file:
        process = subprocess.Popen(
            [node, str(SERVER_SCRIPT), str(port)],
            cwd=PEER_DIR,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            env=env,
        )
    assert process.stdout is not None
    lines: list[str] = []
    ready = threading.Event()

    def pump(stream: Any) -> None:
        for line in stream:
            if not ready.is_set():
                lines.append(line)
                if line.startswith("READY "):
                    ready.set()

    pump_thread = threading.Thread(target=pump, args=(process.stdout,), daemon=True)
    pump_thread.start()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready.wait(0.05):
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
                process.wait()
            pump_thread.join(timeout=5)
            process.stdout.close()
            stderr = stderr_path.read_text(errors="replace")[-4000:]
            with contextlib.suppress(OSError):
                stderr_path.unlink()
            raise MedplumPeerError(
                f"Medplum peer did not become ready (exit code {process.returncode}).\n"
                f"stdout: {''.join(lines)[-2000:]}\nstderr: {stderr}"
            )
    ready_line = next(line for line in lines if line.startswith("READY "))
    return MedplumPeer(process, int(ready_line.split()[1]), stderr_path, pump_thread)


# ---------------------------------------------------------------------------------------------
# Loading data


def _outcome_text(body: Any) -> str:
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ""
    texts = []
    for issue in body.get("issue") or []:
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or ""
        where = ", ".join(issue.get("expression") or [])
        texts.append(f"{text} ({where})" if where else text)
    return "; ".join(t for t in texts if t)


def _rewrite(value: Any, mapping: dict[str, str], dangling: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _rewrite(v, mapping, dangling) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, mapping, dangling) for v in value]
    if isinstance(value, str):
        if value in mapping:
            return mapping[value]
        if _URN_UUID.match(value):
            dangling.add(value)
    return value


def _plan_entries(bundle: dict[str, Any]) -> list[tuple[int, str, dict[str, Any]]]:
    """Return (entry index, "Type/id", resource) for each entry, references rewritten."""
    if bundle.get("resourceType") != "Bundle":
        raise ValueError(f"not a Bundle: resourceType={bundle.get('resourceType')!r}")
    planned: list[tuple[int, str, dict[str, Any]]] = []
    mapping: dict[str, str] = {}
    for index, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue  # e.g. DELETE or GET entries: nothing to load
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or not rtype:
            raise ValueError(f"entry {index}: resource has no resourceType")
        full_url = entry.get("fullUrl") or ""
        rid = resource.get("id")
        if not rid:
            urn = _URN_UUID.match(full_url)
            request_url = (entry.get("request") or {}).get("url") or ""
            if urn:
                rid = urn.group(1).lower()
            elif re.fullmatch(rf"{re.escape(rtype)}/[A-Za-z0-9\-.]{{1,64}}", request_url):
                rid = request_url.split("/", 1)[1]
            else:
                rid = str(uuid.uuid4())
        if not isinstance(rid, str) or not _FHIR_ID.match(rid):
            raise ValueError(f"entry {index} ({rtype}): {rid!r} is not a valid FHIR id")
        ref = f"{rtype}/{rid}"
        if full_url:
            mapping[full_url] = ref
        resource = copy.deepcopy(resource)
        resource["id"] = rid
        planned.append((index, ref, resource))

    rewritten: list[tuple[int, str, dict[str, Any]]] = []
    for index, ref, resource in planned:
        dangling: set[str] = set()
        new_resource = _rewrite(resource, mapping, dangling)
        if dangling:
            raise ValueError(
                f"entry {index} ({ref}) refers to {sorted(dangling)}, which no entry's fullUrl "
                "matches"
            )
        rewritten.append((index, ref, new_resource))
    return rewritten


def load_bundle(base_url: str, bundle: dict[str, Any]) -> None:
    """Load every resource of ``bundle`` into the FHIR server at ``base_url``, keeping ids.

    Each entry's resource is stored with ``PUT {type}/{id}``; an entry without an id gets the
    uuid of its ``urn:uuid:`` fullUrl (or the id in its ``PUT Type/id`` request url). References
    to other entries' fullUrls (``urn:uuid:...``) are rewritten to ``Type/id`` first. The PUTs
    are sent as ``batch`` Bundles of up to 500 entries. The input is not modified.

    Raises ``ValueError`` for a malformed bundle and ``BundleLoadError`` naming each rejected
    entry, its HTTP status and the server's OperationOutcome text.
    """
    planned = _plan_entries(bundle)
    base = base_url.rstrip("/")
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    failures: list[str] = []
    with requests.Session() as session:
        for start in range(0, len(planned), BATCH_SIZE):
            chunk = planned[start : start + BATCH_SIZE]
            batch = {
                "resourceType": "Bundle",
                "type": "batch",
                "entry": [
                    {"resource": resource, "request": {"method": "PUT", "url": ref}}
                    for _, ref, resource in chunk
                ],
            }
            resp = session.post(f"{base}/", json=batch, headers=headers, timeout=300)
            try:
                body = resp.json()
            except ValueError:
                body = None
            if resp.status_code != 200 or not isinstance(body, dict):
                raise BundleLoadError(
                    f"batch POST of entries {chunk[0][0]}..{chunk[-1][0]} to {base}/ failed: "
                    f"HTTP {resp.status_code}: {_outcome_text(body) or resp.text[:500]}"
                )
            results = body.get("entry") or []
            if len(results) != len(chunk):
                raise BundleLoadError(
                    f"batch response has {len(results)} entries for {len(chunk)} requests"
                )
            for (index, ref, _), result in zip(chunk, results, strict=True):
                response = result.get("response") or {}
                status = str(response.get("status", "")).split(" ")[0]
                if not status.startswith("2"):
                    text = _outcome_text(response.get("outcome")) or _outcome_text(
                        result.get("resource")
                    )
                    failures.append(f"entry {index} (PUT {ref}): HTTP {status or '?'}: {text}")
    if failures:
        shown = "\n  ".join(failures[:20])
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        raise BundleLoadError(
            f"{len(failures)} of {len(planned)} resources were rejected by {base}:\n  {shown}{more}"
        )
