from __future__ import annotations

import pytest

from integration.priorauth.references import PaReferences, load_pa_references


@pytest.fixture(scope="session")
def refs() -> PaReferences:
    return load_pa_references()
