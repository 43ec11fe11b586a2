"""Property tests: any valid 271 benefit list, and any valid 277 claim status, survive
write -> read unchanged."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from integration.x12 import x212_codes, x279_codes
from integration.x12.envelope import EnvelopeParams, SequentialControlNumbers
from integration.x12.t270_005010x279a1 import (
    Benefit,
    DatePeriod,
    Entity,
    Header,
    Member,
    Receiver,
    Reference,
    RequestValidation,
    Response271,
    Source,
    Trace,
)
from integration.x12.t271_005010x279a1 import read_271, write_271
from integration.x12.t276_005010x212 import (
    ClaimStatus,
    Level,
    ServiceStatus,
    Status,
    StatusCode,
    StatusResponse,
)
from integration.x12.t276_005010x212 import Header as StatusHeader
from integration.x12.t277_005010x212 import read_277, write_277

PARAMS = EnvelopeParams(
    sender_qualifier="ZZ",
    sender_id="SANDBOXCH",
    receiver_qualifier="ZZ",
    receiver_id="DERMRCM",
    usage_indicator="T",
)
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
TEXT = st.text(
    alphabet="".join(c for c in map(chr, range(0x20, 0x7F)) if c not in "*^:~"), max_size=30
).map(str.strip)
MONEY = st.none() | st.integers(-(10**7), 10**7).map(lambda n: Decimal(n).scaleb(-2))
DAYS = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
PERIODS = st.builds(DatePeriod, st.sampled_from(["291", "346", "472"]), DAYS, st.none() | DAYS)
REFS = st.builds(Reference, st.sampled_from(["1K", "EJ", "18", "6P"]), TEXT.filter(bool))


def clock() -> datetime:
    return datetime(2026, 3, 2, 9, 15)


def opt(codes: frozenset[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(["", *sorted(codes)])


entities = st.builds(
    Entity,
    entity_code=st.sampled_from(["P3", "PR", "1P", "VN"]),
    entity_type=st.sampled_from(["1", "2"]),
    last_or_organization=TEXT,
    first=TEXT,
    id_qualifier=st.sampled_from(["", "XX", "PI"]),
    id=st.text(alphabet=ALNUM, max_size=10),
)
benefits = st.builds(
    Benefit,
    info_code=st.sampled_from(sorted(x279_codes.BENEFIT_INFO_CODES)),
    coverage_level=opt(x279_codes.COVERAGE_LEVELS),
    service_types=st.lists(st.text(alphabet=ALNUM, min_size=1, max_size=2), max_size=4).map(tuple),
    insurance_type=st.sampled_from(["", "HM", "PR", "MB"]),
    plan_description=TEXT,
    time_period=opt(x279_codes.TIME_PERIODS),
    amount=MONEY,
    percent=st.none() | st.integers(0, 100).map(lambda n: Decimal(n).scaleb(-2)),
    quantity_qualifier=st.sampled_from(["", "VS", "DY"]),
    quantity=st.none() | st.integers(0, 999).map(Decimal),
    authorization_required=opt(x279_codes.AUTHORIZATION_INDICATORS),
    in_network=opt(x279_codes.NETWORK_INDICATORS),
    references=st.lists(REFS, max_size=2).map(tuple),
    dates=st.lists(PERIODS, max_size=2).map(tuple),
    validations=st.lists(
        st.builds(
            RequestValidation,
            st.booleans(),
            st.sampled_from(["72", "73", "75"]),
            st.sampled_from(["C", "N"]),
        ),
        max_size=1,
    ).map(tuple),
    messages=st.lists(TEXT.filter(bool), max_size=2).map(tuple),
    related=st.lists(entities, max_size=2).map(tuple),
)


@given(items=st.lists(benefits, max_size=6), repetition=st.sampled_from(["^", None]))
def test_271_write_then_read_round_trips(items: list[Benefit], repetition: str | None) -> None:
    member = Member(
        traces=(Trace("2", "T1", "9DERMRCM01"),),
        party=Entity(
            entity_code="IL", entity_type="1", last_or_organization="DOE", id_qualifier="MI", id="1"
        ),
        benefits=tuple(items),
    )
    model = Response271(
        header=Header(reference_id="R1", created=date(2026, 3, 2), time="0915"),
        sources=(
            Source(
                party=Entity(entity_code="PR", entity_type="2", last_or_organization="PAYER"),
                receivers=(
                    Receiver(
                        party=Entity(
                            entity_code="1P", entity_type="2", last_or_organization="CLINIC"
                        ),
                        subscribers=(member,),
                    ),
                ),
            ),
        ),
    )
    params = replace(PARAMS, delimiters=replace(PARAMS.delimiters, repetition=repetition))
    text = write_271(model, params, clock, SequentialControlNumbers())
    assert read_271(text) == ([model], [])


status_codes = st.builds(
    StatusCode,
    st.sampled_from(sorted(x212_codes.CATEGORY_CODES)),
    st.integers(0, 9999).map(str),
    st.sampled_from(["", "QC", "85", "PR", "1P"]),
)
statuses = st.builds(
    Status,
    primary=status_codes,
    effective=st.none() | DAYS,
    action=st.sampled_from(["", "WQ", "U"]),
    amount=MONEY,
    paid=MONEY,
    adjudicated=st.none() | DAYS,
    payment_method=st.sampled_from(["", "ACH", "CHK"]),
    payment_date=st.none() | DAYS,
    check_number=st.text(alphabet=ALNUM, max_size=8),
    more=st.lists(status_codes, max_size=2).map(tuple),
    message=TEXT,
)
services = st.builds(
    ServiceStatus,
    procedure=st.tuples(st.just("HC"), st.sampled_from(["17311", "11102", "96900"])),
    charge=MONEY,
    paid=MONEY,
    units=st.none() | st.integers(1, 99).map(Decimal),
    statuses=st.lists(statuses, min_size=1, max_size=2).map(tuple),
    references=st.lists(REFS, max_size=1).map(tuple),
    dates=st.lists(PERIODS, max_size=1).map(tuple),
)
claims = st.builds(
    ClaimStatus,
    trace=st.builds(
        Trace, st.just("2"), st.text(alphabet=ALNUM, min_size=1, max_size=10), st.just("")
    ),
    statuses=st.lists(statuses, min_size=1, max_size=3).map(tuple),
    references=st.lists(REFS, max_size=3).map(tuple),
    dates=st.lists(PERIODS, max_size=2).map(tuple),
    services=st.lists(services, max_size=2).map(tuple),
)


@given(items=st.lists(claims, min_size=1, max_size=3))
def test_277_write_then_read_round_trips(items: list[ClaimStatus]) -> None:
    patient = Level(
        code="22",
        parties=(Entity(entity_code="IL", entity_type="1", last_or_organization="DOE"),),
        claims=tuple(items),
    )
    root = Level(
        code="20",
        parties=(Entity(entity_code="PR", entity_type="2"),),
        children=(
            Level(
                code="21",
                parties=(Entity(entity_code="41", entity_type="2"),),
                children=(
                    Level(
                        code="19",
                        parties=(Entity(entity_code="1P", entity_type="2"),),
                        children=(patient,),
                    ),
                ),
            ),
        ),
    )
    model = StatusResponse(
        header=StatusHeader(
            reference_id="R1", created=date(2026, 3, 2), time="0915", transaction_type="DG"
        ),
        levels=(root,),
    )
    text = write_277(model, PARAMS, clock, SequentialControlNumbers())
    assert read_277(text) == ([model], [])
