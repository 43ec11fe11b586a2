"""Golden scrub cases: a claim with its documentation in, findings and the corrected claim out.

Each file in fixtures/coding/golden/<family>/ holds `request` (fhir_profiles/scrub-request.schema
.json), the rule `families` whose findings it asserts exactly, and `expected`: those findings
(rule, severity, lines, whether a fix is proposed), the corrected claim's lines as
"CODE-MOD-MOD xUNITS" and the self-pay lines' codes. The scrub always runs the full rule set with
the NCCI/MUE test tables loaded, so the corrected claim is what a coder would get."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integration.coding.engine import Scrubber
from integration.coding.model import ScrubResult, request_from_json
from tests.support.coding import scrubber_for_tests

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "coding" / "golden"
CASES = sorted(GOLDEN.rglob("*.json"))


def _line(line: dict[str, Any]) -> str:
    proc = line["procedure"]
    code = "-".join([proc["code"], *proc["modifiers"]])
    return f"{code} x{line['quantity']}"


def _findings(result: ScrubResult, families: list[str]) -> list[dict[str, Any]]:
    return sorted(
        (
            {
                "rule": f.rule,
                "severity": f.severity,
                "lines": list(f.lines),
                "fix": f.fix is not None,
            }
            for f in result.findings
            if f.rule.split(".", 1)[0] in families
        ),
        key=lambda f: (f["rule"], f["lines"], f["severity"]),
    )


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return scrubber_for_tests()


def test_there_are_enough_golden_cases_for_every_family() -> None:
    by_family: dict[str, int] = {}
    for path in CASES:
        for family in json.loads(path.read_text())["families"]:
            by_family[family] = by_family.get(family, 0) + 1
    assert len(CASES) >= 60, f"{len(CASES)} golden cases"
    from integration.coding.engine import FAMILY_MODULES

    assert sorted(f for f in FAMILY_MODULES if f not in by_family) == []


@pytest.mark.parametrize("path", CASES, ids=[str(p.relative_to(GOLDEN)) for p in CASES])
def test_golden_case(path: Path, scrubber: Scrubber) -> None:
    case = json.loads(path.read_text())
    result = scrubber.scrub(request_from_json(case["request"]))
    expected = case["expected"]
    want = sorted(
        ({**f, "fix": bool(f.get("fix", False))} for f in expected["findings"]),
        key=lambda f: (f["rule"], f["lines"], f["severity"]),
    )
    assert _findings(result, case["families"]) == want
    out = result.to_json()
    assert [_line(s) for s in out["corrected"]["services"]] == expected["corrected_lines"]
    assert [s["code"] for s in out["self_pay"]] == expected.get("self_pay", [])
    for finding in result.findings:  # every finding cites its rule's source and says something
        assert finding.source.title and len(finding.message) > 20, finding
