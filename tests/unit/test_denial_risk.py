"""The denial-risk model: it ranks a claim with a known denial driver above a clean one, its
probabilities match observed denial rates on later, held-out claims, its reasons name the
driver, it refuses too little history, a saved model scores as the trained one, the synthetic
history is reproducible, and the practice's own claims join to their 835s.

Data: the seeded synthetic history of integration/coding/history.py (synthetic identifiers),
the 837P fixture fixtures/x12/837p/mohs-17311-17312-13132-prior-auth.x12 and the synthetic 835
scenarios of tests/unit/denials/era_scenarios.py."""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import Decimal
from pathlib import Path

import joblib
import pytest
from click.testing import CliRunner

from integration.coding import denial_risk, history
from integration.coding.denial_risk import Example, NotEnoughHistory, RiskModel
from integration.coding.risk_cli import risk_command
from integration.x12.t837_005010x222a1 import (
    Claim,
    DatePeriod,
    Diagnosis,
    Procedure,
    Reference,
    ServiceLine,
)

DAY = date(2025, 9, 16)  # a Tuesday in the held-out part of the default range
MOHS_837 = Path(__file__).parents[2] / "fixtures/x12/837p/mohs-17311-17312-13132-prior-auth.x12"


def claim(
    *lines: tuple[str, tuple[str, ...], str], dx: tuple[str, ...] = ("L309",), auth: str = ""
) -> Claim:
    services = tuple(
        ServiceLine(
            line_number=i,
            procedure=Procedure.hcpcs(code, *mods),
            charge=Decimal(charge),
            quantity=Decimal(1),
            pointers=(min(i, len(dx)),),
            dates=(DatePeriod("472", DAY),),
        )
        for i, (code, mods, charge) in enumerate(lines, start=1)
    )
    return Claim(
        patient_control_number="SYN-TEST-1",
        total_charge=sum((s.charge for s in services), Decimal(0)),
        facility_code="11",
        references=(Reference("G1", auth),) if auth else (),
        diagnoses=tuple(
            Diagnosis.principal(c) if i == 0 else Diagnosis.other(c) for i, c in enumerate(dx)
        ),
        services=services,
    )


SAFE = claim(("99213", (), "130.00"))
EM_NO_25 = claim(("99213", (), "130.00"), ("17000", (), "110.00"), dx=("L309", "L570"))
EM_WITH_25 = claim(("99213", ("25",), "130.00"), ("17000", (), "110.00"), dx=("L309", "L570"))
AK_17004_WITH_17000 = claim(("17004", (), "330.00"), ("17000", (), "110.00"), dx=("L570",))
BIOLOGIC_NO_AUTH = claim(("96372", (), "40.00"), ("J3357", (), "13000.00"), dx=("L400",))


@pytest.fixture(scope="module")
def synthetic() -> list[Example]:
    return history.generate(4000, seed=11)


@pytest.fixture(scope="module")
def split(synthetic: list[Example]) -> tuple[list[Example], list[Example]]:
    return denial_risk.time_split(synthetic)


@pytest.fixture(scope="module")
def model(split: tuple[list[Example], list[Example]]) -> RiskModel:
    return denial_risk.train(split[0])


# -- features ------------------------------------------------------------------------------------


def test_features_see_modifier_25_beside_a_same_day_procedure() -> None:
    without = denial_risk.features(EM_NO_25, "SYN-MCR", DAY)
    with_25 = denial_risk.features(EM_WITH_25, "SYN-MCR", DAY)
    assert "em_with=17000|no25" in without and "em_with=17000|25" not in without
    assert {"em_with=17000|25", "mod=25", "cpt_mod=99213|25"} <= with_25.keys()
    assert {"payer=SYN-MCR", "family=destruction", "dx3=L57", "family_dx3=destruction|L57"} <= (
        without.keys()
    )
    assert denial_risk.describe("em_with=17000|no25") == (
        "E/M without modifier 25 and 17000 the same day"
    )


# -- the model -------------------------------------------------------------------------------------


def test_a_claim_with_a_known_driver_scores_above_a_clean_one(model: RiskModel) -> None:
    safe = model.score(SAFE, "SYN-COM1", DAY).probability
    for risky_claim, payer in (
        (EM_NO_25, "SYN-MCR"),
        (AK_17004_WITH_17000, "SYN-MCR"),
        (BIOLOGIC_NO_AUTH, "SYN-COM1"),
    ):
        risky = model.score(risky_claim, payer, DAY).probability
        assert risky > 0.5 > 0.1 > safe, (risky, safe)
    assert model.score(EM_WITH_25, "SYN-MCR", DAY).probability < 0.3


def test_reasons_name_the_feature_that_drives_a_risky_claim(model: RiskModel) -> None:
    expected = {
        "pair=17000+17004": (AK_17004_WITH_17000, "SYN-MCR"),
        "family_prior_auth=drug|no": (BIOLOGIC_NO_AUTH, "SYN-COM1"),
    }
    for feature, (risky_claim, payer) in expected.items():
        score = model.score(risky_claim, payer, DAY)
        assert len(score.reasons) == 3
        top = score.reasons[0]
        assert top.feature == feature, score.reasons
        assert top.log_odds > 0.5
        assert top.text.startswith(denial_risk.describe(feature) + ": +")
        assert top.text.endswith(" log-odds")
    reasons = [r.feature for r in model.score(EM_NO_25, "SYN-MCR", DAY).reasons]
    assert any("no25" in r for r in reasons), reasons


def test_a_score_is_its_baseline_plus_every_feature_share(model: RiskModel) -> None:
    for c, payer in ((EM_NO_25, "SYN-MCD"), (SAFE, "SYN-MCR")):
        score = model.score(c, payer, DAY)
        assert math.log(score.probability / (1 - score.probability)) == pytest.approx(
            score.log_odds, abs=1e-9
        )
        (batch,) = model.probabilities([denial_risk.features(c, payer, DAY)])
        assert batch == pytest.approx(score.probability, abs=1e-12)


def test_probabilities_are_calibrated_on_later_held_out_claims(
    split: tuple[list[Example], list[Example]], model: RiskModel
) -> None:
    train_part, test_part = split
    assert max(e.date_of_service for e in train_part) < min(e.date_of_service for e in test_part)
    assert len(test_part) == pytest.approx(1000, abs=60)
    predicted = model.predict(test_part)
    observed = [e.denied for e in test_part]
    base_rate = sum(observed) / len(observed)
    assert sum(predicted) / len(predicted) == pytest.approx(base_rate, abs=0.03)
    for b in denial_risk.reliability_table(predicted, observed):
        if b.claims >= 100:
            assert b.mean_predicted is not None and b.observed is not None
            assert abs(b.mean_predicted - b.observed) <= 0.08, b


def test_evaluation_reports_auc_brier_and_ten_reliability_bins(synthetic: list[Example]) -> None:
    ev = denial_risk.evaluate(synthetic)
    assert ev.train_claims + ev.test_claims == len(synthetic)
    assert ev.train_to < ev.test_from
    assert ev.auc > 0.8
    assert ev.brier < ev.brier_base_rate  # better than always predicting the base rate
    assert len(ev.reliability) == 10
    assert sum(b.claims for b in ev.reliability) == ev.test_claims
    assert 0.05 < ev.test_base_rate < 0.25


# -- refusing ------------------------------------------------------------------------------------


def test_too_little_history_is_refused_with_the_counts(synthetic: list[Example]) -> None:
    few = synthetic[:120]
    with pytest.raises(NotEnoughHistory, match=r"not enough history: 120 claims \(\d+ denied"):
        denial_risk.train(few)
    one_outcome = [e for e in synthetic if not e.denied][:1000]
    with pytest.raises(NotEnoughHistory, match=r"1000 claims \(0 denied, 1000 not\), need ≥ 500"):
        denial_risk.train(one_outcome)


# -- files ---------------------------------------------------------------------------------------


def test_a_saved_model_scores_exactly_as_the_trained_one(
    model: RiskModel, split: tuple[list[Example], list[Example]], tmp_path: Path
) -> None:
    path = tmp_path / "var" / "risk.joblib"
    denial_risk.save(model, path)
    loaded = denial_risk.load(path)
    sample = split[1][:200]
    assert loaded.predict(sample) == model.predict(sample)
    assert loaded.score(EM_NO_25, "SYN-MCR", DAY) == model.score(EM_NO_25, "SYN-MCR", DAY)
    assert (loaded.trained_from, loaded.trained_to) == (model.trained_from, model.trained_to)
    other = tmp_path / "other.joblib"
    joblib.dump({"not": "a model"}, other)
    with pytest.raises(ValueError, match="expected a denial-risk model"):
        denial_risk.load(other)


def test_the_generator_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    first = history.generate(300, seed=3)
    assert first == history.generate(300, seed=3)
    assert first != history.generate(300, seed=4)
    assert [e.date_of_service for e in first] == sorted(e.date_of_service for e in first)
    assert all(e.claim.patient_control_number.startswith("SYN3-") for e in first)
    path = tmp_path / "history.jsonl"
    assert history.write_history(first, path) == 300
    assert history.read_history(path) == first


def test_a_bad_history_line_is_located(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    good = history.example_to_json(history.generate(1, seed=1)[0])
    bad = {**good, "denied": "no"}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(ValueError, match=r"h.jsonl:2.denied: expected true or false"):
        history.read_history(path)


# -- the command ---------------------------------------------------------------------------------


def test_generate_train_score_and_evaluate_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    data, model_path = tmp_path / "h.jsonl", tmp_path / "m.joblib"
    out = runner.invoke(
        risk_command, ["generate", "--claims", "1200", "--seed", "5", "--out", str(data)]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["claims"] == 1200

    out = runner.invoke(risk_command, ["train", "--history", str(data), "--model", str(model_path)])
    assert out.exit_code == 0, out.output
    trained = json.loads(out.output)
    assert trained["claims"] == 1200 and trained["trained_from"] < trained["trained_to"]
    assert trained["metrics"]["auc"] > 0.75 and len(trained["metrics"]["reliability"]) == 10

    one = tmp_path / "claim.json"
    first = data.read_text().splitlines()[0]
    one.write_text(first)
    out = runner.invoke(risk_command, ["score", str(one), "--model", str(model_path)])
    assert out.exit_code == 0, out.output
    scored = json.loads(out.output)
    assert set(scored) == {"probability", "reasons"} and 0 < scored["probability"] < 1
    assert all({"feature", "log_odds", "text"} == set(r) for r in scored["reasons"])

    out = runner.invoke(risk_command, ["score", str(MOHS_837), "--model", str(model_path)])
    assert out.exit_code == 0, out.output
    assert 0 < json.loads(out.output)["probability"] < 1

    report = tmp_path / "docs" / "denial-risk.md"
    out = runner.invoke(risk_command, ["evaluate", "--history", str(data), "--report", str(report)])
    assert out.exit_code == 0, out.output
    text = report.read_text()
    metrics = json.loads(out.output)
    assert f"| AUC (ROC) | {metrics['auc']:.3f} |" in text
    assert "Synthetic history" in text and "says nothing about a real practice" in text
    assert text.count("\n| 0.") + text.count("\n| 1.") >= 10  # the reliability rows


def test_the_command_refuses_too_little_history_and_a_missing_model(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "h.jsonl"
    history.write_history(history.generate(80, seed=2), data)
    out = runner.invoke(
        risk_command, ["train", "--history", str(data), "--model", str(tmp_path / "m")]
    )
    assert out.exit_code == 1
    assert "not enough history: 80 claims" in out.output
    assert not (tmp_path / "m").exists()
    out = runner.invoke(risk_command, ["score", str(MOHS_837), "--model", str(tmp_path / "none")])
    assert out.exit_code == 1 and "no model" in out.output
    out = runner.invoke(risk_command, ["train", "--model", str(tmp_path / "m")])
    assert out.exit_code == 2 and "exactly one of --history FILE and --from-db" in out.output


# -- the practice's own history ------------------------------------------------------------------


def test_stored_claims_join_their_835_postings(tmp_path: Path) -> None:
    from integration.claims.repository import ClaimsStore, ClaimToRecord
    from integration.denials.remittance import SubmittedLine
    from integration.store.database import make_engine, session_factory, upgrade
    from integration.store.remittances import RemittanceStore
    from integration.x12.t835_005010x221a1 import write_835
    from tests.unit.denials.era_scenarios import (
        BIOPSY_DAY,
        DENIED_CLAIM,
        PAID_CLAIM,
        PAYER_PARAMS,
        cas,
        clock,
        control_numbers,
        line,
        remittance,
    )
    from tests.unit.denials.era_scenarios import claim as era_claim

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        remittances = RemittanceStore(sessions)
        # 1001 and 1002: recorded from the ledger only (no 837P file stored)
        remittances.record_submitted_claim(
            patient_control_number="DRM-1001",
            payer_id="1999999999",
            total_charge=Decimal("350.00"),
            lines=(
                SubmittedLine(1, "99213", ("25",), BIOPSY_DAY, Decimal("150.00"), Decimal(1)),
                SubmittedLine(2, "11102", (), BIOPSY_DAY, Decimal("200.00"), Decimal(1)),
            ),
        )
        remittances.record_submitted_claim(
            patient_control_number="DRM-1002",
            payer_id="1999999999",
            total_charge=Decimal("900.00"),
            lines=(
                SubmittedLine(1, "17311", (), date(2026, 2, 12), Decimal("900.00"), Decimal(1)),
            ),
        )
        remittances.record_submitted_claim(
            patient_control_number="DRM-1003",  # never paid or denied yet
            payer_id="1999999999",
            total_charge=Decimal("90.00"),
            lines=(SubmittedLine(1, "99212", (), BIOPSY_DAY, Decimal("90.00"), Decimal(1)),),
        )
        # the Mohs claim: submitted in an 837P file, so diagnoses and prior auth are known
        mohs_day = date(2026, 2, 17)
        ClaimsStore(sessions, remittances).record_file(
            filename="mohs.837",
            raw=MOHS_837.read_bytes(),
            interchange="000000001",
            group="1",
            transaction="0001",
            claims=[
                ClaimToRecord(
                    "DRCM-MOHS-2001",
                    "SBX01",
                    Decimal("2330.00"),
                    (
                        SubmittedLine(1, "17311", (), mohs_day, Decimal("1200.00"), Decimal(1)),
                        SubmittedLine(2, "17312", (), mohs_day, Decimal("650.00"), Decimal(1)),
                        SubmittedLine(3, "13132", (), mohs_day, Decimal("480.00"), Decimal(1)),
                    ),
                )
            ],
        )
        # the Mohs claim paid but its repair line denied as bundled (CO-97)
        mohs_paid = era_claim(
            "DRCM-MOHS-2001",
            "1",
            "2330.00",
            "1500.00",
            "0",
            "PCN0009",
            (
                line("17311", (), "1200.00", "1000.00", mohs_day, (cas("CO", ("45", "200.00")),)),
                line("17312", (), "650.00", "500.00", mohs_day, (cas("CO", ("45", "150.00")),)),
                line("13132", (), "480.00", "0", mohs_day, (cas("CO", ("97", "480.00")),)),
            ),
        )
        payment = remittance(claims=(PAID_CLAIM, DENIED_CLAIM, mohs_paid))
        raw = write_835(payment, PAYER_PARAMS, clock, control_numbers()).encode("ascii")
        assert remittances.post_file(raw, "era.835").status == "posted"

        loaded = history.load_from_database(sessions)
    finally:
        engine.dispose()

    by_pcn = {e.claim.patient_control_number: e for e in loaded.examples}
    assert set(by_pcn) == {"DRM-1001", "DRM-1002", "DRCM-MOHS-2001"}
    assert loaded.skipped == {"no 835 posted (or only reversed postings)": 1}
    assert loaded.from_ledger_lines == 2
    assert not by_pcn["DRM-1001"].denied  # paid, with deductible: not a denial
    assert (by_pcn["DRM-1002"].denied, by_pcn["DRM-1002"].carc) == (True, "CO-197")
    mohs = by_pcn["DRCM-MOHS-2001"]
    assert (mohs.denied, mohs.carc, mohs.payer_id) == (True, "CO-97", "SBX01")
    assert mohs.date_of_service == mohs_day
    assert mohs.claim.prior_authorization == "AUTH-MOHS-0001"
    assert [d.code for d in mohs.claim.diagnoses] == ["C44311"]
    assert "cpt_mod=99213|25" in denial_risk.features(
        by_pcn["DRM-1001"].claim, "1999999999", BIOPSY_DAY
    )
