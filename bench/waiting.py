"""Waiting for a server a benchmark started to answer."""

from __future__ import annotations

import time

import requests


def wait_for(url: str, seconds: float = 120) -> None:
    """Return once `url` answers below 500; exit the benchmark if it hasn't within `seconds`.

    A server that has bound its port may still be loading (a sandbox reads its fixture charts),
    and with the other servers starting beside it on two cores its first answer can take over
    the 2 s a try waits: a refused connection and a timeout both mean "not up yet"."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up within {seconds:.0f} s")
