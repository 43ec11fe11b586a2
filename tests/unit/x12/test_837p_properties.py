"""Property-based tests for the 837P: random claims (valid values, several claims, patients,
other payers, line adjudications and drugs) written with random delimiters read back equal and
without problems, and through JSON; corrupted 837P text never raises and every problem is located."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration.paths import fixtures_dir
from integration.x12.delimiters import Delimiters
from integration.x12.t837_005010x222a1 import (
    Adjustment,
    AdjustmentReason,
    Amount,
    BillingProvider,
    Claim,
    Claim837Transaction,
    DatePeriod,
    Diagnosis,
    DrugIdentification,
    LineAdjudication,
    Note,
    OtherInsurance,
    OtherSubscriber,
    Party,
    PatientLoop,
    Procedure,
    Reference,
    ServiceLine,
    SubscriberInfo,
    SubscriberLoop,
    claim_from_json,
    claim_to_json,
    read_837p,
    write_837p,
)
from tests.unit.x12.scenarios_837p import (
    BILLING,
    CLINIC_PARAMS,
    HEADER,
    PAYER,
    RECEIVER,
    SUBMITTER,
    SUBSCRIBER,
    clock,
    control_numbers,
)

SAFE = ["*", "|", "~", ":", "^", ">", "!", "{"]
DELIMITERS = st.permutations(SAFE).map(lambda p: Delimiters(p[0], p[1], p[2], p[3]))
WORD = st.from_regex(r"[A-Z0-9]([A-Z0-9 ]{0,10}[A-Z0-9])?", fullmatch=True)
CODE = st.from_regex(r"[A-Z0-9]{1,5}", fullmatch=True)
MONEY = st.decimals(min_value=Decimal(0), max_value=Decimal("99999.99"), places=2)
SIGNED = st.decimals(min_value=Decimal("-9999.99"), max_value=Decimal("9999.99"), places=2)
UNITS = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(999), places=3)
DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31))
PERIODS = st.builds(DatePeriod, st.just("472"), DAYS) | st.builds(
    lambda a, b: DatePeriod("472", min(a, b), max(a, b)), DAYS, DAYS
)
PROCEDURES = st.builds(
    Procedure,
    st.just("HC"),
    st.from_regex(r"[A-Z0-9]{5}", fullmatch=True),
    st.lists(st.from_regex(r"[A-Z0-9]{2}", fullmatch=True), max_size=4).map(tuple),
    st.just("") | WORD,
)
CAS = st.builds(
    Adjustment,
    st.sampled_from(["CO", "OA", "PI", "PR"]),
    st.lists(
        st.builds(AdjustmentReason, CODE, SIGNED, st.none() | UNITS), min_size=1, max_size=6
    ).map(tuple),
)


def person(entity: str) -> st.SearchStrategy[Party]:
    return st.builds(
        Party,
        entity_code=st.just(entity),
        entity_type=st.just("1"),
        last_or_organization=WORD,
        first=st.just("") | WORD,
        id_qualifier=st.just("MI"),
        id=CODE,
    )


@st.composite
def service_line(draw: st.DrawFn, number: int, diagnoses: int) -> ServiceLine:
    procedure = draw(PROCEDURES)
    drug = draw(
        st.none()
        | st.builds(
            DrugIdentification,
            ndc=st.from_regex(r"[0-9]{11}", fullmatch=True),
            quantity=UNITS,
            unit=st.sampled_from(["F2", "GR", "ME", "ML", "UN"]),
            references=st.lists(st.builds(Reference, st.just("XZ"), CODE), max_size=1).map(tuple),
        )
    )
    quantity = draw(UNITS)
    adjudications = draw(
        st.lists(
            st.builds(
                LineAdjudication,
                payer_id=CODE,
                paid=MONEY,
                procedure=st.just(procedure),
                paid_units=st.just(quantity),
                adjustments=st.lists(CAS, max_size=2).map(tuple),
                adjudication_date=st.none() | DAYS,
            ),
            max_size=2,
        )
    )
    return ServiceLine(
        line_number=number,
        procedure=procedure,
        charge=draw(MONEY),
        quantity=quantity,
        unit=draw(st.sampled_from(["UN", "MJ"])),
        place_of_service=draw(st.sampled_from(["", "11", "22"])),
        pointers=tuple(draw(st.lists(st.integers(1, diagnoses), min_size=1, max_size=4))),
        emergency=draw(st.sampled_from(["", "Y"])),
        dates=(draw(PERIODS),),
        references=tuple(draw(st.lists(st.builds(Reference, st.just("6R"), CODE), max_size=1))),
        notes=tuple(draw(st.lists(st.builds(Note, st.just("ADD"), WORD), max_size=1))),
        drug=drug,
        adjudications=tuple(adjudications),
    )


@st.composite
def claim(draw: st.DrawFn) -> Claim:
    diagnoses = draw(st.integers(1, 12))
    codes = draw(
        st.lists(
            st.from_regex(r"[A-Z][0-9]{2,6}", fullmatch=True),
            min_size=diagnoses,
            max_size=diagnoses,
        )
    )
    count = draw(st.integers(1, 4))
    lines = tuple(draw(service_line(n, diagnoses)) for n in range(1, count + 1))
    frequency = draw(st.sampled_from(["1", "6", "7", "8"]))
    refs = [Reference("F8", draw(CODE))] if frequency in ("7", "8") else []
    refs += draw(st.lists(st.builds(Reference, st.just("G1"), CODE), max_size=1))
    others = draw(
        st.lists(
            st.builds(
                OtherSubscriber,
                info=st.builds(
                    SubscriberInfo,
                    payer_responsibility=st.sampled_from(["P", "S", "T"]),
                    relationship=st.sampled_from(["18", "01"]),
                    claim_filing=st.just("CI"),
                ),
                adjustments=st.lists(CAS, max_size=2).map(tuple),
                amounts=st.lists(st.builds(Amount, st.just("D"), MONEY), max_size=1).map(tuple),
                coverage=st.builds(OtherInsurance),
                parties=st.tuples(person("IL"), person("PR")),
            ),
            max_size=2,
        )
    )
    return Claim(
        patient_control_number=draw(CODE),
        total_charge=sum((s.charge for s in lines), Decimal(0)),
        facility_code=draw(st.sampled_from(["11", "22", "24"])),
        frequency=frequency,
        references=tuple(refs),
        diagnoses=(
            Diagnosis("ABK", codes[0]),
            *(Diagnosis("ABF", c) for c in codes[1:]),
        ),
        other_subscribers=tuple(others),
        services=lines,
    )


@st.composite
def transaction(draw: st.DrawFn) -> Claim837Transaction:
    subscribers = []
    for _ in range(draw(st.integers(1, 2))):
        if draw(st.booleans()):
            subscribers.append(
                SubscriberLoop(
                    info=SubscriberInfo(payer_responsibility="P", relationship="18"),
                    subscriber=SUBSCRIBER,
                    payer=PAYER,
                    claims=tuple(draw(st.lists(claim(), min_size=1, max_size=2))),
                )
            )
        else:
            patients = draw(
                st.lists(
                    st.builds(
                        PatientLoop,
                        relationship=st.sampled_from(["01", "19", "21"]),
                        patient=person("QC"),
                        claims=st.lists(claim(), min_size=1, max_size=2).map(tuple),
                    ),
                    min_size=1,
                    max_size=2,
                )
            )
            subscribers.append(
                SubscriberLoop(
                    info=SubscriberInfo(payer_responsibility="P"),
                    subscriber=SUBSCRIBER,
                    payer=PAYER,
                    patients=tuple(patients),
                )
            )
    return Claim837Transaction(
        header=HEADER,
        submitter=SUBMITTER,
        receiver=RECEIVER,
        billing_providers=(BillingProvider(provider=BILLING, subscribers=tuple(subscribers)),),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=transaction(), delimiters=DELIMITERS)
def test_random_claims_round_trip(model: Claim837Transaction, delimiters: Delimiters) -> None:
    params = replace(CLINIC_PARAMS, delimiters=delimiters)
    text = write_837p(model, params, clock, control_numbers())
    models, problems = read_837p(text)
    assert [p.render() for p in problems] == []
    assert models == [model]
    assert claim_from_json(claim_to_json(model)) == model


VALID = (fixtures_dir() / "x12" / "837p" / "secondary-2320-2430.x12").read_text("ascii")


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(0, len(VALID)), junk=st.text(alphabet="*:~^AB1 ", max_size=8))
def test_corrupted_text_never_raises_and_problems_are_located(cut: int, junk: str) -> None:
    text = VALID[:cut] + junk + VALID[cut:]
    models, problems = read_837p(text)
    for problem in problems:
        assert problem.segment_index is not None or problem.loop_id or problem.element
    if not problems:
        assert len(models) == 1
