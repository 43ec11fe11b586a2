"""`HttpClearinghouse`: the clearinghouse port over plain HTTP(S), the protocol the sandbox
clearinghouse (`integration.sandbox.clearinghouse`) speaks:

- `POST {base}/files` with the file as the body (`application/edi-x12`) and its name in the
  `X-Filename` header: 202 and `{"id": ..., "name": ...}`;
- `GET {base}/inbox`: `{"files": [{"id", "name", "transaction_set", "size"}]}`, oldest first;
- `GET {base}/inbox/<id>`: the file's bytes; `DELETE {base}/inbox/<id>`: acknowledged, 204.

Every call has a timeout; every failure is a `ClearinghouseError` naming the method, URL (never a
query string or body) and what happened. There are no retries: `submit` failures leave the file
stored on our side to be sent again, `fetch`/`ack` failures leave the inbox as it was.

Real clearinghouses mostly exchange files over SFTP mailboxes: `sftp.SftpClearinghouse`.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from integration.clearinghouse.port import ClearinghouseError, InboundFile, Receipt

log = logging.getLogger(__name__)

X12_MEDIA_TYPE = "application/edi-x12"


class HttpClearinghouse:
    def __init__(
        self, base_url: str, timeout: float = 30.0, session: requests.Session | None = None
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ClearinghouseError(
                f"clearinghouse_url: expected an http(s):// URL, got {base_url!r}"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise ClearinghouseError(
                f"{method} {url}: no answer within {self.timeout:g} s"
            ) from None
        except requests.ConnectionError as exc:
            raise ClearinghouseError(
                f"{method} {url}: could not connect ({type(exc).__name__})"
            ) from None
        except requests.RequestException as exc:
            raise ClearinghouseError(f"{method} {url}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise ClearinghouseError(
                f"{method} {url}: expected success, got HTTP {response.status_code}"
                f"{_detail(response)}"
            )
        return response

    def _json(self, method: str, path: str, response: requests.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ClearinghouseError(
                f"{method} {self.base_url}{path}: expected a JSON object, got "
                f"{response.headers.get('Content-Type', 'no content type')}"
            )
        return data

    def submit(self, filename: str, data: bytes) -> Receipt:
        response = self._call(
            "POST",
            "/files",
            data=data,
            headers={"Content-Type": X12_MEDIA_TYPE, "X-Filename": filename},
        )
        body = self._json("POST", "/files", response)
        file_id = body.get("id")
        if not isinstance(file_id, str) or not file_id:
            raise ClearinghouseError(
                f"POST {self.base_url}/files: id: expected a non-empty string, got {file_id!r}"
            )
        log.info("clearinghouse file submitted", extra={"clearinghouse_id": file_id})
        return Receipt(file_id, filename)

    def list_inbox(self) -> list[tuple[str, str]]:
        """(id, name) of each waiting file, without the bytes."""
        body = self._json("GET", "/inbox", self._call("GET", "/inbox"))
        files = body.get("files")
        if not isinstance(files, list):
            raise ClearinghouseError(
                f"GET {self.base_url}/inbox: files: expected a list, got {type(files).__name__}"
            )
        out: list[tuple[str, str]] = []
        for i, item in enumerate(files):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise ClearinghouseError(
                    f"GET {self.base_url}/inbox: files[{i}].id: expected a string, got {item!r}"
                )
            out.append((item["id"], str(item.get("name") or item["id"])))
        return out

    def fetch(self) -> list[InboundFile]:
        return [
            InboundFile(file_id, name, self._call("GET", f"/inbox/{file_id}").content)
            for file_id, name in self.list_inbox()
        ]

    def ack(self, inbound_id: str) -> None:
        self._call("DELETE", f"/inbox/{inbound_id}")


def _detail(response: requests.Response) -> str:
    """The server's own `description` when it sent JSON `{"code", "description"}`."""
    try:
        data = response.json()
    except ValueError:
        return ""
    if isinstance(data, dict) and isinstance(data.get("description"), str):
        return f": {data['description'][:300]}"
    return ""
