"""The FHIR client against a server that pages badly or answers oddly (real HTTP)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integration.fhir.client import ClientOptions, FhirClient
from integration.fhir.errors import FhirBadResponse, FhirHttpError

Handler = Callable[[str], tuple[int, str, bytes]]


@pytest.fixture
def server() -> Iterator[tuple[str, list[Handler], list[str]]]:
    """A FHIR-ish server whose answers the test scripts: handlers are used in order."""
    handlers: list[Handler] = []
    seen: list[str] = []

    class _H(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            status, ctype, body = (
                handlers.pop(0)(self.path) if handlers else (404, "text/plain", b"none")
            )
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _H)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/base/r4", handlers, seen
    httpd.shutdown()
    httpd.server_close()


def bundle(
    ids: list[str], next_url: str | None = None, extra: dict[str, Any] | None = None
) -> Handler:
    body: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "Observation", "id": i}, "search": {"mode": "match"}}
            for i in ids
        ],
        "link": [{"relation": "next", "url": next_url}] if next_url else [],
        **(extra or {}),
    }
    return lambda _path: (200, "application/fhir+json", json.dumps(body).encode())


def test_relative_and_absolute_next_links_are_followed(
    server: tuple[str, list[Handler], list[str]],
) -> None:
    base, handlers, seen = server
    handlers += [
        bundle(["a"], "Observation?page=2"),
        bundle(["b"], f"{base}/Observation?page=3"),
        bundle(["c"]),
    ]
    result = FhirClient(base).search("Observation", {"patient": "p"})
    assert [r["id"] for r in result.matches] == ["a", "b", "c"]
    assert result.pages == 3
    assert seen[1] == "/base/r4/Observation?page=2"


def test_a_paging_loop_is_refused(server: tuple[str, list[Handler], list[str]]) -> None:
    base, handlers, _seen = server
    handlers += [
        bundle(["a"], f"{base}/Observation?page=2"),
        bundle(["b"], f"{base}/Observation?page=2"),
    ]
    with pytest.raises(FhirBadResponse, match="page 2: the next link repeats an earlier page"):
        FhirClient(base).search("Observation", {})


def test_html_instead_of_fhir(server: tuple[str, list[Handler], list[str]]) -> None:
    base, handlers, _seen = server
    handlers.append(lambda _p: (200, "text/html", b"<html>login</html>"))
    with pytest.raises(FhirBadResponse, match="expected FHIR JSON, got 'text/html'"):
        FhirClient(base).read("Patient", "p")


def test_entry_without_resource_and_wrong_type(
    server: tuple[str, list[Handler], list[str]],
) -> None:
    base, handlers, _seen = server
    handlers.append(
        lambda _p: (
            200,
            "application/fhir+json",
            b'{"resourceType":"Bundle","entry":[{"fullUrl":"x"}]}',
        )
    )
    with pytest.raises(FhirBadResponse, match="page 1 entry 0: expected a resource"):
        FhirClient(base).search("Observation", {})
    handlers.append(
        lambda _p: (200, "application/fhir+json", b'{"resourceType":"OperationOutcome"}')
    )
    with pytest.raises(FhirBadResponse, match="expected a Bundle, got 'OperationOutcome'"):
        FhirClient(base).search("Observation", {})


def test_retries_then_gives_up_with_the_servers_words(
    server: tuple[str, list[Handler], list[str]],
) -> None:
    base, handlers, seen = server
    outcome = b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"busy","diagnostics":"overloaded"}]}'
    handlers += [lambda _p: (503, "application/fhir+json", outcome)] * 3
    client = FhirClient(base, options=ClientOptions(retries=2, backoff=0.01))
    with pytest.raises(FhirHttpError, match="HTTP 503: overloaded") as info:
        client.read("Patient", "p")
    assert info.value.status == 503
    assert len(seen) == 3
    assert client.round_trips == 3
