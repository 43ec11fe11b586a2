"""The HTTP clearinghouse adapter's located errors (no server needed)."""

from __future__ import annotations

import socket

import pytest

from integration.clearinghouse.http import HttpClearinghouse
from integration.clearinghouse.port import ClearinghouseError


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_closed_port_is_a_located_error() -> None:
    base = f"http://127.0.0.1:{_closed_port()}/clearinghouse"
    adapter = HttpClearinghouse(base, timeout=2)
    with pytest.raises(ClearinghouseError) as info:
        adapter.submit("batch.837", b"ISA*")
    assert str(info.value).startswith(f"POST {base}/files: could not connect")
    with pytest.raises(ClearinghouseError, match=r"^GET .*/inbox: could not connect"):
        adapter.fetch()


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ClearinghouseError, match="expected an http"):
        HttpClearinghouse("sftp://example.invalid/in")
