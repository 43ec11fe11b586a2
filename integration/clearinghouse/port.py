"""The clearinghouse as our claim loop sees it: send a file, list the files waiting for us,
acknowledge one once it is stored on our side.

An adapter is chosen by settings (`clearinghouse_url`: `http.HttpClearinghouse` for http(s)://,
`sftp.SftpClearinghouse` for sftp://); tests use the sandbox clearinghouse over real HTTP and
an SFTP server over real TCP. Errors are `ClearinghouseError`s that say where (the URL or
file id) and what went wrong; a failed call changes nothing on our side that can't be retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ClearinghouseError(Exception):
    """A call that could not be completed: where (method, URL, file) and what went wrong."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """The clearinghouse's id for a file it accepted for processing."""

    id: str
    filename: str


@dataclass(frozen=True, slots=True)
class InboundFile:
    """A file waiting for us: 999, 277CA, 835, 271 or 277."""

    id: str
    name: str
    data: bytes


class Clearinghouse(Protocol):
    def submit(self, filename: str, data: bytes) -> Receipt:
        """Hand over one outbound file (837P, 270, 276)."""
        ...

    def fetch(self) -> list[InboundFile]:
        """Every file waiting for us, oldest first, with its bytes."""
        ...

    def ack(self, inbound_id: str) -> None:
        """We have stored the file: the clearinghouse may drop it from the inbox."""
        ...
