"""The sandbox clearinghouse's decision table (mappings/sandbox/clearinghouse-adjudication.yaml):
loaded against its schema, each rule met by a synthetic claim line, and the answers it builds
(999, 277CA, 835, 271, 277) read back without problems."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from integration.mapping.loader import MappingError
from integration.paths import mappings_dir
from integration.sandbox.clearinghouse import (
    ClearinghouseSandbox,
    adjudicate,
    default_adjudication,
)
from integration.x12.envelope import SequentialControlNumbers
from integration.x12.t271_005010x279a1 import read_271, summarize_benefits
from integration.x12.t277_005010x212 import claim_statuses, read_277
from integration.x12.t835_005010x221a1 import read_835
from integration.x12.t837_005010x222a1 import Claim, write_837p
from integration.x12.t999_005010x231a1 import read_999
from tests.unit.claims import scenarios as s

PATIENT = s.subscriber(1)


def _one_line(code: str, *dx: str, modifiers: tuple[str, ...] = (), pos: str = "") -> Claim:
    line = replace(s.line(1, code, "100.00", modifiers=modifiers), place_of_service=pos)
    return s.claim("DRCM-U-1", (line,), *dx)


@pytest.mark.parametrize(
    ("claim", "rule", "paid", "adjustment"),
    [
        (_one_line("11102", "D48.5"), "otherwise", "100.00", None),
        (_one_line("99213", "L57.0"), "office-visit-contracted-rate", "80.00", ("CO", "45")),
        (
            _one_line("99213", "L57.0", pos="02"),
            "telehealth-visit-contracted-rate",
            "65.00",
            ("CO", "45"),
        ),
        (_one_line("17110", "L82.1"), "benign-lesion-destruction-not-necessary", "0", ("CO", "50")),
        (_one_line("17110", "B07.8"), "otherwise", "100.00", None),
        (_one_line("11900", "L40.0"), "intralesional-injection-bundled", "0", ("CO", "97")),
        (_one_line("11900", "L40.0", modifiers=("XS",)), "otherwise", "100.00", None),
        (
            _one_line("96910", "L30.9"),
            "phototherapy-without-supporting-diagnosis",
            "0",
            ("CO", "16"),
        ),
        (_one_line("96910", "L40.0"), "otherwise", "100.00", None),
        (_one_line("15788", "L81.4"), "chemical-peel-not-covered", "0", ("PR", "204")),
    ],
)
def test_each_rule(claim: Claim, rule: str, paid: str, adjustment: tuple[str, str] | None) -> None:
    table = default_adjudication()
    decided = adjudicate(table, claim, PATIENT, "SBXCLM1")
    assert decided.rules == (rule,)
    line = decided.first.services[0]
    assert line.paid == Decimal(paid)
    got = [(a.group, a.reason) for a in line.adjustments]
    assert got == ([adjustment] if adjustment else [])
    if adjustment == ("PR", "204"):
        assert decided.first.patient_responsibility == Decimal("100.00")
    assert decided.correction is None


def test_reverse_and_correct_pays_in_full_then_at_the_allowed_percent() -> None:
    decided = adjudicate(default_adjudication(), s.REPROCESSED, PATIENT, "SBXCLM1")
    assert decided.first.paid == Decimal("150.00")
    assert decided.correction is not None and decided.correction.paid == Decimal("105.00")


def test_a_front_end_edit_on_the_principal_diagnosis() -> None:
    table = default_adjudication()
    edit = table.edit_for(s.EDIT_REJECTED)
    assert edit is not None and edit.status_code == "254"
    assert table.edit_for(s.PAID) is None


def test_a_broken_table_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "mappings"
    (root / "schemas").mkdir(parents=True)
    for schema in (mappings_dir() / "schemas").glob("*.schema.json"):
        (root / "schemas" / schema.name).write_text(schema.read_text())
    text = (mappings_dir() / "sandbox" / "clearinghouse-adjudication.yaml").read_text()
    bad = root / "sandbox" / "clearinghouse-adjudication.yaml"
    bad.parent.mkdir()
    bad.write_text(
        text.replace('outcome: deny\n    adjustment: {group: CO, reason: "97"}', "outcome: deny")
    )
    with pytest.raises(MappingError, match="adjustment"):
        default_adjudication.__wrapped__(root)


def _batch(*claims: Claim) -> bytes:
    models = [s.transaction(c, i + 1) for i, c in enumerate(claims)]
    merged = replace(
        models[0], billing_providers=tuple(bp for m in models for bp in m.billing_providers)
    )
    return write_837p(merged, s.PARAMS, s.clock, SequentialControlNumbers(7, 7, 7)).encode()


def test_an_837p_gets_999_277ca_and_835s_deterministically() -> None:
    data = _batch(s.PAID, s.REDUCED, s.DENIED, s.REPROCESSED, s.EDIT_REJECTED)
    outputs = []
    for _ in range(2):
        sandbox = ClearinghouseSandbox(default_adjudication(), clock=s.clock)
        file_id, new = sandbox.receive("batch.837", data)
        assert new and sandbox.receive("batch.837", data) == (file_id, False)
        outputs.append([(f.id, f.data) for f in sandbox.list_inbox()])
    assert outputs[0] == outputs[1]
    files = dict(outputs[0])
    kinds = [name.split("-", 1)[1] for name in files]
    assert kinds == ["999", "277CA", "835", "835-2"]
    acks, problems = read_999(files[f"{file_id}-999"])
    assert problems == [] and acks[0].status == "A"
    responses, problems = read_277(files[f"{file_id}-277CA"])
    assert problems == []
    claims = {
        c.trace_number: f"{c.status.primary.category}:{c.status.primary.code}"
        for c in claim_statuses(responses[0])
        if c.level == "PT"
    }
    assert claims == {
        "DRCM-T-1001": "A1:20",
        "DRCM-T-1002": "A1:20",
        "DRCM-T-1003": "A1:20",
        "DRCM-T-1004": "A1:20",
        "DRCM-T-1005": "A7:254",
    }
    first, problems = read_835(files[f"{file_id}-835"])
    assert problems == []
    assert [(c.patient_control_number, c.status, str(c.paid)) for c in first[0].claims] == [
        ("DRCM-T-1001", "1", "290.00"),
        ("DRCM-T-1002", "1", "80.00"),
        ("DRCM-T-1003", "4", "0"),
        ("DRCM-T-1004", "1", "150.00"),
    ]
    later, problems = read_835(files[f"{file_id}-835-2"])
    assert problems == []
    assert [(c.status, str(c.paid)) for c in later[0].claims] == [
        ("22", "-150.00"),
        ("1", "105.00"),
    ]


def test_an_invalid_claim_gets_a_rejecting_999_and_nothing_else() -> None:
    sandbox = ClearinghouseSandbox(default_adjudication(), clock=s.clock)
    file_id, _ = sandbox.receive("bad.837", _batch(s.INVALID))
    files = sandbox.list_inbox()
    assert [f.id for f in files] == [f"{file_id}-999"]
    acks, _ = read_999(files[0].data)
    assert acks[0].status == "R"


FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "x12"


def test_a_270_gets_the_benefit_table_as_a_271() -> None:
    sandbox = ClearinghouseSandbox(default_adjudication(), clock=s.clock)
    data = (FIXTURES / "270" / "request-general-and-office-visit.x12").read_bytes()
    file_id, _ = sandbox.receive("elig.270", data)
    (answer,) = sandbox.list_inbox()
    assert answer.id == f"{file_id}-271"
    models, problems = read_271(answer.data)
    assert problems == []
    member = models[0].members()[0]
    office = summarize_benefits(member, "98")
    assert office.active is True
    assert (office.copay, office.coinsurance) == (Decimal("40.00"), Decimal(".2"))
    assert office.deductible == Decimal("1500.00")
    assert office.deductible_remaining == Decimal("650.00")
    out = summarize_benefits(member, "98", in_network=False)
    assert (out.copay, out.deductible) == (Decimal("80.00"), Decimal("3000.00"))


def test_a_276_is_answered_from_the_adjudicated_claims() -> None:
    sandbox = ClearinghouseSandbox(default_adjudication(), clock=s.clock)
    sandbox.receive("batch.837", _batch(s.PAID, s.DENIED))
    asked = (FIXTURES / "276" / "request-mohs-claim-status.x12").read_text()
    for account, expected in (
        ("DRCM-T-1001", "F1:65"),
        ("DRCM-T-1003", "F2:88"),
        ("NOPE", "A4:35"),
    ):
        file_id, _ = sandbox.receive(
            "status.276", asked.replace("REF*EJ*DRM-0001", f"REF*EJ*{account}").encode()
        )
        answer = sandbox.get(f"{file_id}-277")
        assert answer is not None
        models, problems = read_277(answer.data)
        assert problems == []
        (status,) = claim_statuses(models[0])
        assert f"{status.status.primary.category}:{status.status.primary.code}" == expected


def test_frequency_and_place_of_service_conditions() -> None:
    from integration.sandbox.clearinghouse import holds, line_facts

    claim = replace(_one_line("99213", "L57.0", pos="02"), frequency="7")
    facts = line_facts(claim, claim.services[0])
    assert facts.place_of_service == "02" and facts.diagnoses == ("L570",)
    assert holds({"frequencies": ["7", "8"], "places_of_service": ["02"]}, facts)
    assert not holds({"frequencies": ["1"]}, facts)
    assert not holds({"procedures": ["99213"], "no_modifiers": ["25"], "modifiers": ["25"]}, facts)
