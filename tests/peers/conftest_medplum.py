"""pytest fixtures for the Medplum FHIR peer.

Use from a test module (run pytest from the repository root, e.g. ``python -m pytest``)::

    import pytest

    from tests.peers import conftest_medplum
    from tests.peers.medplum_peer import MedplumPeer

    medplum_server = conftest_medplum.medplum_server
    pytestmark = pytest.mark.peer

    def test_something(medplum_server: MedplumPeer) -> None:
        ...

The server is shared by the whole test session and keeps what earlier tests loaded; call
``medplum_server.reset()`` for an empty repository.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peers.medplum_peer import MedplumPeer, start_medplum


@pytest.fixture(scope="session")
def medplum_server() -> Iterator[MedplumPeer]:
    """A running Medplum in-memory FHIR server for the test session (installs npm deps once)."""
    peer = start_medplum(0)
    try:
        yield peer
    finally:
        peer.stop()
