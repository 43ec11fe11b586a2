from __future__ import annotations

import pytest

from integration.mapping.evidence_maps import EvidenceMaps, load_evidence_maps


@pytest.fixture(scope="session")
def maps() -> EvidenceMaps:
    return load_evidence_maps()
