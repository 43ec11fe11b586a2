"""The optional language polish, against a local stub of an OpenAI-compatible server: off unless
an endpoint is set and PHI is allowed; any new fact and the whole polish is rejected."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from integration.appeals.draft import draft_letter
from integration.appeals.factcheck import check_letter
from integration.appeals.letter import Letter
from integration.appeals.polish import PolishSettings, new_facts, polish_letter
from integration.priorauth.references import PaReferences
from tests.unit.appeals.support import TODAY, assessment_for, load_evidence, make_denial

Rewrite = Callable[[dict[str, str]], dict[str, str]]


class Stub:
    """A chat-completions endpoint that rewrites the sentences it is sent with `rewrite`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.rewrite: Rewrite = lambda sentences: sentences
        self.status = 200
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                sent = json.loads(body["messages"][-1]["content"])["sentences"]
                out = stub.rewrite({s["id"]: s["text"] for s in sent})
                content = json.dumps({"sentences": [{"id": k, "text": v} for k, v in out.items()]})
                data = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": content}}]}
                ).encode()
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def stub() -> Iterator[Stub]:
    running = Stub()
    yield running
    running.close()


@pytest.fixture(scope="module")
def letter(refs: PaReferences) -> Letter:
    evidence = load_evidence("psoriasis-skyrizi")
    return draft_letter(
        make_denial(),
        evidence,
        rule_assessment=assessment_for(refs, evidence, "skyrizi.json"),
        today=TODAY,
    )


def on(stub: Stub) -> PolishSettings:
    return PolishSettings(
        endpoint=stub.url, model="stub-model", allow_phi=True, timeout=5, api_key="k"
    )


def test_off_by_default_and_without_phi_consent_nothing_is_sent(letter: Letter, stub: Stub) -> None:
    result = polish_letter(letter, PolishSettings())
    assert not result.accepted and "no endpoint" in (result.rejected or "")
    result = polish_letter(letter, PolishSettings(endpoint=stub.url))
    assert not result.accepted and "allow_phi" in (result.rejected or "")
    assert result.letter is letter
    assert stub.requests == []


def test_a_rewording_with_the_same_facts_is_accepted(letter: Letter, stub: Stub) -> None:
    stub.rewrite = lambda s: {
        k: (v.replace("I am writing to appeal", "I respectfully appeal") if k == "opening" else v)
        for k, v in s.items()
    }
    result = polish_letter(letter, on(stub))
    assert result.accepted, result.rejected
    assert result.changed == ("opening",)
    opening = result.letter.sentence("opening")
    assert opening is not None and opening.origin == "polish"
    assert opening.text.startswith("I respectfully appeal")
    assert opening.sources == letter.sentence("opening").sources  # type: ignore[union-attr]
    assert check_letter(result.letter).ok
    (request,) = stub.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["model"] == "stub-model" and request["auth"] == "Bearer k"


def test_a_new_number_rejects_the_whole_polish(letter: Letter, stub: Stub) -> None:
    stub.rewrite = lambda s: {
        k: (v.replace("15.6", "22") if k == "pasi" else v.replace("I am writing", "I write"))
        for k, v in s.items()
    }
    result = polish_letter(letter, on(stub))
    assert not result.accepted
    assert "sentence pasi" in (result.rejected or "") and "number 22" in (result.rejected or "")
    assert result.letter is letter  # nothing of the polish kept


def test_a_new_drug_or_a_lost_sentence_rejects_the_polish(letter: Letter, stub: Stub) -> None:
    stub.rewrite = lambda s: {
        k: (v + " Dupixent also failed." if k == "therapy-3" else v) for k, v in s.items()
    }
    result = polish_letter(letter, on(stub))
    assert not result.accepted and "drug dupixent" in (result.rejected or "")
    stub.rewrite = lambda s: {k: v for k, v in s.items() if k != "closing"}
    result = polish_letter(letter, on(stub))
    assert not result.accepted and "missing ['closing']" in (result.rejected or "")


def test_a_failing_endpoint_keeps_the_letter(letter: Letter, stub: Stub) -> None:
    stub.status = 500
    result = polish_letter(letter, on(stub))
    assert not result.accepted and "expected HTTP 200, got 500" in (result.rejected or "")


def test_new_facts_names_what_was_added() -> None:
    assert new_facts("PASI was 15.6 on 2026-09-10.", "On 2026-09-10, PASI was 15.6.") == []
    assert new_facts("PASI was 15.6.", "PASI was 15.6 on 2026-09-10.") == ["date 2026-09-10"]


def test_polish_is_off_unless_the_consent_names_the_endpoint() -> None:
    from integration.settings import Settings

    settings = PolishSettings.from_settings(Settings())
    assert not settings.enabled
    assert settings.why_off() is not None
    endpoint = "http://127.0.0.1:9/v1"
    # an endpoint alone, or a consent naming another endpoint, sends nothing
    for consent in (None, "http://127.0.0.1:10/v1"):
        off = PolishSettings.from_settings(
            Settings(appeal_polish_endpoint=endpoint, appeal_polish_allow_phi_to=consent)
        )
        assert not off.enabled and "does not name" in (off.why_off() or "")
    on = PolishSettings.from_settings(
        Settings(appeal_polish_endpoint=endpoint, appeal_polish_allow_phi_to=endpoint)
    )
    assert on.enabled and on.why_off() is None
