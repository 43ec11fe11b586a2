"""POST one PA message to the payer over HTTP and return its answer, or a ChannelError that says
which URL and what went wrong. No retries here: the caller records the failure on the case and a
person (or the next run) sends again with the same message id."""

from __future__ import annotations

from dataclasses import dataclass

import requests


class ChannelError(Exception):
    """A submission that could not be completed: where (URL, element) and what."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content_type: str
    body: bytes


class PayerTransport:
    def __init__(self, timeout: float, session: requests.Session | None = None) -> None:
        self.timeout = timeout
        self.session = session or requests.Session()

    def post(self, url: str, body: bytes, content_type: str, accept: str) -> Reply:
        try:
            response = self.session.post(
                url,
                data=body,
                headers={"Content-Type": content_type, "Accept": accept},
                timeout=self.timeout,
            )
        except requests.Timeout:
            raise ChannelError(f"POST {url}: no answer within {self.timeout:g} s") from None
        except requests.ConnectionError as exc:
            raise ChannelError(f"POST {url}: could not connect ({type(exc).__name__})") from None
        kind = response.headers.get("Content-Type", "").split(";")[0].strip()
        if response.status_code >= 500:
            raise ChannelError(
                f"POST {url}: the payer failed with HTTP {response.status_code}; "
                "nothing was decided, send again later"
            )
        return Reply(response.status_code, kind, response.content)
