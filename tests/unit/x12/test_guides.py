"""The guide registry (integration/x12/guides.py): every supported (ST01, guide) pair parses one
transaction with its module's `read_transaction`, the 278 request and response are told apart by
BHT02, an unsupported pair is a located problem, and `model_to_json` follows its rules.

Fixtures: the synthetic goldens under fixtures/x12/<set>/ (PROVENANCE.md beside each) and public
samples in /work/shared/data/x12 (PROVENANCE.md there)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from integration.paths import fixtures_dir
from integration.x12.envelope import Transaction, TransactionContext, read_transactions
from integration.x12.guides import GUIDES, find_guide, model_to_json, parse_transaction
from integration.x12.t278_005010x217 import Request278, Response278
from integration.x12.t837_005010x222a1 import claim_to_json

FIXTURES = fixtures_dir() / "x12"
SAMPLES = Path("/work/shared/data/x12")


def first(path: Path) -> Transaction:
    return next(iter(read_transactions(path.read_bytes(), [])))


def test_the_registry_lists_each_supported_pair_once() -> None:
    assert [(g.transaction_set_id, g.reference, g.name) for g in GUIDES] == [
        ("837", "005010X222A1", "837P"),
        ("835", "005010X221A1", "835"),
        ("270", "005010X279A1", "270"),
        ("271", "005010X279A1", "271"),
        ("275", "005010X210", "275"),
        ("276", "005010X212", "276"),
        ("277", "005010X212", "277"),
        ("277", "005010X214", "277CA"),
        ("278", "005010X217", "278"),
        ("999", "005010X231A1", "999"),
    ]
    assert find_guide("999", "005010X231") is find_guide("999", "005010X231A1")
    assert find_guide("837", "005010X223A2") is None


FILES = {
    "837P": FIXTURES / "837p" / "biopsy-99213-25-11102-11103.x12",
    "835": FIXTURES / "835" / "paid-denied-interest.835",
    "270": SAMPLES / "270__LinuxForHealth__subscriber-health-benefit-check.270",
    "275": FIXTURES / "275" / "unsolicited-appeal-pdf.275",
    "276": SAMPLES / "276__LinuxForHealth__claim-level-status.276",
    "999": FIXTURES / "999" / "999-accepted-837p-example1.x12",
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_guide_parses_a_transaction_to_json(name: str) -> None:
    guide, model, problems = parse_transaction(first(FILES[name]))
    assert guide is not None and guide.name == name
    assert model is not None and problems == []
    data = guide.to_json(model)
    assert json.loads(json.dumps(data)) == data and "envelope" not in data


def test_the_837p_uses_its_own_json() -> None:
    guide, model, _ = parse_transaction(first(FILES["837P"]))
    assert guide is not None and guide.to_json(model) == claim_to_json(model)


@pytest.mark.parametrize("kind", ["req", "resp"])
def test_278_request_and_response_by_bht02(kind: str) -> None:
    for path in sorted(SAMPLES.glob(f"278{kind}__*")):
        guide, model, _ = parse_transaction(first(path))
        assert guide is not None and guide.name == "278"
        assert isinstance(model, Response278 if kind == "resp" else Request278)


def test_277ca_is_its_own_guide() -> None:
    goldens = sorted((FIXTURES / "277").glob("*"))
    names = set()
    for path in goldens:
        if path.suffix == ".md":
            continue
        guide, model, _ = parse_transaction(first(path))
        assert guide is not None and model is not None
        names.add(guide.name)
    assert names <= {"277", "277CA"} and names


def test_an_unknown_guide_is_located() -> None:
    text = FILES["837P"].read_text().replace("ST*837*0001*005010X222A1", "ST*837*0001*005010X223A2")
    guide, model, problems = parse_transaction(next(iter(read_transactions(text, []))))
    assert (guide, model) == (None, None)
    assert [p.render() for p in problems] == [
        "ST03 (segment 2): expected one of 005010X222A1, got '005010X223A2'"
    ]
    assert (problems[0].level, problems[0].code) == ("transaction", "19")


def test_an_unknown_set_is_located() -> None:
    guide, _, problems = parse_transaction(first(SAMPLES / "834__azoner__multiple_st_loops.txt"))
    assert guide is None
    assert problems[-1].render() == (
        "ST01 (segment 2): expected one of 270, 271, 275, 276, 277, 278, 835, 837, 999, got '834'"
    )


def test_st03_empty_falls_back_to_gs08() -> None:
    guide, model, _ = parse_transaction(first(SAMPLES / "835__azoner__835_mult_loops.txt"))
    assert guide is not None and guide.name == "835" and model is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Inner:
    amount: Decimal
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Model:
    day: date
    moment: datetime
    items: tuple[_Inner, ...] = ()
    empty: tuple[str, ...] = ()
    missing: str | None = None
    flag: bool = False
    count: int = 0
    envelope: TransactionContext | None = field(default=None, compare=False)


def test_model_to_json_rules() -> None:
    model = _Model(
        day=date(2026, 3, 2),
        moment=datetime(2026, 3, 2, 9, 30),
        items=(_Inner(amount=Decimal("10.50")),),
        envelope=first(FILES["837P"]).context,
    )
    assert model_to_json(model) == {
        "day": "2026-03-02",
        "moment": "2026-03-02T09:30:00",
        "items": [{"amount": "10.50"}],
        "flag": False,
        "count": 0,
    }
    with pytest.raises(TypeError):
        model_to_json(5)
