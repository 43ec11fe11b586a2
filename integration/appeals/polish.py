"""Optional language polish of a drafted letter by a language model behind an OpenAI-compatible
endpoint (`POST {endpoint}/chat/completions`).

Off by default: it runs only when an endpoint is set AND `allow_phi` is true, because the
sentences carry PHI (the patient's name, dates, scores) and leave the practice. The model gets
the sentences as JSON and must answer the same ids with reworded text. Each reworded sentence
may state no fact its original doesn't (no number, date, amount, code, drug or diagnosis word
that isn't in the original) and must pass the pre-sign check against the letter's evidence; one
failing sentence rejects the whole polish, with the reason. Accepted sentences keep their
sources and become origin "polish". Nothing here logs sentence text.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import Any

import requests

from integration.appeals.factcheck import (
    Vocabulary,
    check_sentence,
    load_vocabulary,
    tokens,
    word_patterns,
)
from integration.appeals.letter import Letter, Sentence
from integration.settings import Settings

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You edit sentences of a physician's appeal letter to a health insurer for clarity and a "
    "courteous, professional tone. Keep every number, date, amount, code, drug name and "
    "diagnosis exactly as written; add no new fact, number, date, drug or diagnosis; do not "
    "merge or split sentences. Answer only JSON: "
    '{"sentences": [{"id": "<same id>", "text": "<reworded sentence>"}]} with every id given.'
)


DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class PolishSettings:
    """`endpoint` is the base URL of the OpenAI-compatible API (None: off); `allow_phi` must be
    true for any sentence to leave; `api_key` is sent as a bearer token when set."""

    endpoint: str | None = None
    model: str = DEFAULT_MODEL
    allow_phi: bool = False
    timeout: float = DEFAULT_TIMEOUT
    api_key: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PolishSettings:
        """From the `appeal_polish_*` settings: patient data may leave only when
        `appeal_polish_allow_phi_to` names exactly the endpoint (an explicit consent per
        endpoint, so pointing the endpoint elsewhere switches polish off again)."""
        endpoint = settings.appeal_polish_endpoint
        consent = settings.appeal_polish_allow_phi_to
        return cls(
            endpoint=endpoint,
            model=settings.appeal_polish_model,
            allow_phi=bool(endpoint) and consent is not None and consent == endpoint,
            timeout=settings.appeal_polish_timeout,
            api_key=settings.appeal_polish_api_key,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.endpoint) and self.allow_phi

    def why_off(self) -> str | None:
        if not self.endpoint:
            return "polish is off: no endpoint is set (appeal_polish_endpoint)"
        if not self.allow_phi:
            return (
                "polish is off: the letter holds patient data and appeal_polish_allow_phi_to "
                f"does not name {self.endpoint}"
            )
        return None


@dataclass(frozen=True, slots=True)
class PolishResult:
    """`letter` is the polished letter, or the original when `rejected` says why not."""

    letter: Letter
    rejected: str | None
    changed: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.rejected is None

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected, "changed": list(self.changed)}


def _facts_of(text: str, vocab: Vocabulary) -> set[tuple[str, str]]:
    out = {(t.kind if t.kind != "amount" else "number", t.value) for t in tokens(text)}
    drugs, diagnoses = word_patterns(vocab)
    for kind, pattern in (("drug", drugs), ("diagnosis", diagnoses)):
        out.update((kind, m.group(0).lower()) for m in pattern.finditer(text))
    return out


def new_facts(original: str, polished: str, vocab: Vocabulary | None = None) -> list[str]:
    """What `polished` states that `original` doesn't ("number 22", "drug dupilumab")."""
    v = vocab or load_vocabulary()
    before = _facts_of(original, v)
    added = sorted(_facts_of(polished, v) - before)
    return [f"{kind} {value}" for kind, value in added]


def _ask(settings: PolishSettings, sentences: list[Sentence]) -> dict[str, str]:
    assert settings.endpoint is not None
    payload = {
        "model": settings.model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {
                "role": "user",
                "content": json.dumps(
                    {"sentences": [{"id": s.id, "text": s.text} for s in sentences]}
                ),
            },
        ],
    }
    headers = {"Content-Type": "application/json"}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    url = settings.endpoint.rstrip("/") + "/chat/completions"
    response = requests.post(url, json=payload, headers=headers, timeout=settings.timeout)
    if response.status_code != 200:
        raise ValueError(f"{url}: expected HTTP 200, got {response.status_code}")
    try:
        content = response.json()["choices"][0]["message"]["content"]
        answer = json.loads(content)
        items = answer["sentences"]
        return {str(item["id"]): str(item["text"]) for item in items}
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{url}: expected choices[0].message.content with JSON {{'sentences': [...]}}, got "
            f"something else ({type(exc).__name__})"
        ) from None


def polish_letter(letter: Letter, settings: PolishSettings) -> PolishResult:
    """The letter reworded by the model, or the original with the reason it was refused."""
    off = settings.why_off()
    if off is not None:
        return PolishResult(letter, off)
    targets = [s for s in letter.sentences if s.origin == "template"]
    if not targets:
        return PolishResult(letter, "nothing to polish: every sentence is a person's")
    try:
        answer = _ask(settings, targets)
    except (requests.RequestException, ValueError) as exc:
        reason = (
            str(exc)
            if isinstance(exc, ValueError)
            else f"endpoint not reachable ({type(exc).__name__})"
        )
        log.info("appeal polish failed denial=%s reason=%s", letter.denial_id, type(exc).__name__)
        return PolishResult(letter, reason)
    wanted = {s.id for s in targets}
    if set(answer) != wanted:
        extra = sorted(set(answer) - wanted)
        lost = sorted(wanted - set(answer))
        return PolishResult(
            letter, f"the model's answer changed the sentences: missing {lost}, unexpected {extra}"
        )
    vocab = load_vocabulary()
    reasons: list[str] = []
    changed: list[str] = []
    out: list[Sentence] = []
    for s in letter.sentences:
        text = " ".join(answer.get(s.id, s.text).split())
        if s.id not in wanted or text == s.text:
            out.append(s)
            continue
        added = new_facts(s.text, text, vocab)
        if added:
            reasons.append(f"sentence {s.id}: states what the original doesn't: {', '.join(added)}")
            continue
        polished = replace(s, text=text, origin="polish")
        problems = check_sentence(polished, letter.evidence, vocabulary=vocab)
        if problems:
            reasons.append(
                "; ".join(f'sentence {p.sentence_id}: "{p.span}": {p.message}' for p in problems)
            )
            continue
        changed.append(s.id)
        out.append(polished)
    if reasons:
        log.info("appeal polish rejected denial=%s sentences=%d", letter.denial_id, len(reasons))
        return PolishResult(letter, "polish rejected: " + " | ".join(reasons))
    log.info("appeal polish accepted denial=%s changed=%d", letter.denial_id, len(changed))
    return PolishResult(replace(letter, sentences=tuple(out)), None, tuple(changed))
