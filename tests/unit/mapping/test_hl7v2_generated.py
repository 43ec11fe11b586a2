"""The maps compiled to generated Python source (the default) map every message as the closure
interpreter does (`load_hl7_maps(generate=False)`, the reference): the same resources (type, id,
mode, body, map) in the same order, or the same error (code, location, message). Over every
fixture message, the benchmark's synthetic messages and seeded mutations of all of them
(tests/support/hl7_mutations.py)."""

from __future__ import annotations

import pytest

from integration.mapping.evidence_maps import load_evidence_maps
from integration.mapping.hl7v2 import Hl7Maps, load_hl7_maps
from integration.mapping.hl7v2_transforms import hl7_transforms
from tests.support.hl7_mutations import cases, outcome


@pytest.fixture(scope="module")
def both() -> tuple[Hl7Maps, Hl7Maps]:
    transforms = hl7_transforms(load_evidence_maps())
    return (
        load_hl7_maps(None, transforms, generate=True),
        load_hl7_maps(None, transforms, generate=False),
    )


def test_generated_maps_agree_with_the_closure_interpreter(both: tuple[Hl7Maps, Hl7Maps]) -> None:
    generated, reference = both
    compared = errors = 0
    for text in cases():
        expected = outcome(text, reference)
        if expected is None:
            continue
        assert outcome(text, generated) == expected, text
        compared += 1
        errors += isinstance(expected, tuple)
    assert compared > 3000 and errors > 200, (compared, errors)


def test_generated_source_is_kept_for_reading(both: tuple[Hl7Maps, Hl7Maps]) -> None:
    generated, reference = both
    body = generated.by_type["ORU^R01"].resources[0].body
    assert "def run(scope):" in body.source  # type: ignore[attr-defined]
    assert not hasattr(reference.by_type["ORU^R01"].resources[0].body, "source")
