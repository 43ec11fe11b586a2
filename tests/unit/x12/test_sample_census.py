"""Every X12 sample in ../shared/data/x12/ through the registry, as `dermrcm x12 validate`
reads it: the outcome of each file (transactions by set, errors, warnings, the first error
rendered) is pinned in fixtures/x12/census/shared-samples.json, so a file that starts or stops
reading cleanly, or whose first located error changes, fails here with the difference.
UPDATE_GOLDENS=1 rewrites the census (review the diff: each change must be explained).

Outcomes, in short: a file with no error was read and modelled; a file with errors was read
as far as it could be, every error located; the 834 (no guide of ours) is reported as an
unsupported transaction set, not silently skipped."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from integration.paths import fixtures_dir
from integration.x12.envelope import decode, read_transactions
from integration.x12.errors import Problem, X12Error
from integration.x12.guides import parse_transaction

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "x12"
CENSUS = fixtures_dir() / "x12" / "census" / "shared-samples.json"


def outcome(path: Path) -> dict[str, Any]:
    text = decode(path.read_bytes())  # UTF-8 with or without a BOM, else Latin-1, as the CLI
    problems: list[Problem] = []
    by_set: dict[str, int] = {}
    modelled = 0
    try:
        for txn in read_transactions(text, problems):
            by_set[txn.context.transaction_set_id] = (
                by_set.get(txn.context.transaction_set_id, 0) + 1
            )
            _guide, model, found = parse_transaction(txn)
            problems.extend(found)
            modelled += model is not None
    except X12Error as exc:
        problems.extend(exc.problems)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    return {
        "transactions": dict(sorted(by_set.items())),
        "modelled": modelled,
        "errors": len(errors),
        "warnings": len(warnings),
        "first_error": errors[0].render() if errors else None,
    }


def test_every_shared_sample_has_its_recorded_outcome() -> None:
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES}: the shared samples are not beside the checkout")
    files = sorted(p for p in SAMPLES.iterdir() if p.is_file() and p.suffix != ".md")
    assert len(files) >= 80
    found = {p.name: outcome(p) for p in files}
    if os.environ.get("UPDATE_GOLDENS") == "1" or not CENSUS.exists():
        CENSUS.parent.mkdir(parents=True, exist_ok=True)
        CENSUS.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(CENSUS.read_text(encoding="utf-8"))
    changed = {
        name: {"expected": expected.get(name), "now": now}
        for name, now in found.items()
        if expected.get(name) != now
    }
    assert changed == {}, json.dumps(changed, indent=1)[:4000]
    assert sorted(expected) == sorted(found)


def test_the_census_says_what_a_clean_file_is() -> None:
    """Guard against a census where everything 'fails': clean files exist in every set we read."""
    census = json.loads(CENSUS.read_text(encoding="utf-8"))
    clean_sets = {
        s for o in census.values() if o["errors"] == 0 and o["modelled"] for s in o["transactions"]
    }
    # (the shared 278 samples all carry ISA12 00401; our 278 goldens read clean in their tests)
    assert {"270", "271", "276", "277", "835", "837", "999"} <= clean_sets
    unsupported = census["834__azoner__multiple_st_loops.txt"]
    assert unsupported["modelled"] == 0 and "ST01" in (unsupported["first_error"] or "")
