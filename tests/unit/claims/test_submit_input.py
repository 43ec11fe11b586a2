"""Reading the claims `dermrcm claims submit` is given, and merging them into one 837P."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from integration.claims.submit import as_transaction, merge, read_claims_json
from integration.x12.t837_005010x222a1 import claim_to_json
from tests.unit.claims import scenarios as s


def test_documents_one_per_line_pretty_or_in_an_array() -> None:
    one = claim_to_json(s.transaction(s.PAID))
    two = {"model": claim_to_json(s.transaction(s.DENIED, 2)), "problems": []}
    lines = json.dumps(one) + "\n" + json.dumps(two) + "\n"
    pretty = json.dumps(one, indent=2) + "\n" + json.dumps(two, indent=2)
    array = json.dumps([one, two])
    for text in (lines, pretty, array):
        docs = read_claims_json(text)
        assert [as_transaction(d).claims[0].patient_control_number for d in docs] == [
            "DRCM-T-1001",
            "DRCM-T-1003",
        ]


def test_bad_documents_are_located() -> None:
    with pytest.raises(ValueError, match=r"^document 2\[0\]: expected a JSON object, got list"):
        read_claims_json('{"a": 1}\n[[1]]')
    with pytest.raises(ValueError, match=r"^document 1: not JSON"):
        read_claims_json("{")
    with pytest.raises(ValueError, match=r"^claims\[0\]: \$: unexpected field 'bogus'"):
        as_transaction({"bogus": 1}, "claims[0]")


def test_merge_keeps_every_claim_in_order() -> None:
    models = [s.transaction(c, i) for i, c in enumerate((s.PAID, s.REDUCED, s.DENIED))]
    merged = merge(models, datetime(2026, 12, 2, 8, 0))
    assert [c.patient_control_number for c in merged.claims] == [
        "DRCM-T-1001",
        "DRCM-T-1002",
        "DRCM-T-1003",
    ]
    assert merged.header.created == datetime(2026, 12, 2, 8, 0)
