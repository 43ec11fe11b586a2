"""Our 270 for a dermatology eligibility check and the sandbox clearinghouse's 271 answers, frozen
in fixtures/x12/270/ and fixtures/x12/271/ (UPDATE_GOLDENS=1 rewrites them: review the diff).
Clock and control numbers are injected; each golden reads back, without problems, to the model
that wrote it. Synthetic people and ids (see the PROVENANCE.md files)."""

from __future__ import annotations

import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from integration.paths import fixtures_dir
from integration.x12.envelope import EnvelopeParams, SequentialControlNumbers
from integration.x12.t270_005010x279a1 import (
    Benefit,
    DatePeriod,
    Demographics,
    Entity,
    Header,
    Inquiry,
    Member,
    Receiver,
    Request270,
    RequestValidation,
    Response271,
    Source,
    Trace,
    read_270,
    write_270,
)
from integration.x12.t271_005010x279a1 import read_271, summarize_benefits, write_271

CLINIC = EnvelopeParams(
    sender_qualifier="ZZ",
    sender_id="DERMRCM",
    receiver_qualifier="ZZ",
    receiver_id="SANDBOXCH",
    usage_indicator="T",
)
SANDBOX = EnvelopeParams(
    sender_qualifier="ZZ",
    sender_id="SANDBOXCH",
    receiver_qualifier="ZZ",
    receiver_id="DERMRCM",
    usage_indicator="T",
)
PAYER = Entity(
    entity_code="PR",
    entity_type="2",
    last_or_organization="SANDBOX HEALTH PLAN",
    id_qualifier="PI",
    id="SBX01",
)
CLINIC_PROVIDER = Entity(
    entity_code="1P",
    entity_type="2",
    last_or_organization="SANDBOX DERMATOLOGY",
    id_qualifier="XX",
    id="1234567893",
)
SUBSCRIBER = Entity(
    entity_code="IL",
    entity_type="1",
    last_or_organization="DOE",
    first="JORDAN",
    id_qualifier="MI",
    id="SBX123456789",
    demographics=Demographics(date(1961, 7, 14), "F"),
)
TRACE = Trace("1", "ELIG-0001", "9DERMRCM01")
ECHO = Trace("2", "ELIG-0001", "9DERMRCM01")
PLAN_DATE = DatePeriod("291", date(2026, 3, 2))


SUBSCRIBER_WITH_PLAN_DATE = Entity(
    entity_code=SUBSCRIBER.entity_code,
    entity_type=SUBSCRIBER.entity_type,
    last_or_organization=SUBSCRIBER.last_or_organization,
    first=SUBSCRIBER.first,
    id_qualifier=SUBSCRIBER.id_qualifier,
    id=SUBSCRIBER.id,
    demographics=SUBSCRIBER.demographics,
    dates=(PLAN_DATE,),
)


def _request() -> Request270:
    member = Member(
        traces=(TRACE,),
        party=SUBSCRIBER_WITH_PLAN_DATE,
        inquiries=(Inquiry(service_types=("30",)), Inquiry(service_types=("98", "MH"))),
    )
    return Request270(
        header=Header(
            reference_id="ELIG-0001", created=date(2026, 3, 2), time="0915", transaction_type="RT"
        ),
        sources=(
            Source(
                party=PAYER,
                receivers=(Receiver(party=CLINIC_PROVIDER, subscribers=(member,)),),
            ),
        ),
    )


def _benefit(info: str, service: str, **kw: object) -> Benefit:
    return Benefit(info_code=info, coverage_level="IND", service_types=(service,), **kw)  # type: ignore[arg-type]


ACTIVE_BENEFITS = (
    Benefit(
        info_code="1",
        coverage_level="IND",
        service_types=("30",),
        insurance_type="PR",
        plan_description="SANDBOX PPO",
    ),
    _benefit("C", "30", time_period="23", amount=Decimal("1500.00"), in_network="Y"),
    _benefit("C", "30", time_period="29", amount=Decimal("650.00"), in_network="Y"),
    _benefit("C", "30", time_period="23", amount=Decimal("3000.00"), in_network="N"),
    _benefit("G", "30", time_period="23", amount=Decimal("5000.00"), in_network="Y"),
    _benefit("A", "98", time_period="27", percent=Decimal("0.2"), in_network="Y"),
    _benefit("B", "98", time_period="27", amount=Decimal("40.00"), in_network="Y"),
    _benefit("B", "98", time_period="27", amount=Decimal("80.00"), in_network="N"),
    Benefit(
        info_code="B",
        coverage_level="IND",
        service_types=("MH",),
        time_period="27",
        amount=Decimal("25.00"),
        authorization_required="Y",
        in_network="Y",
        messages=("PHOTOTHERAPY OVER 36 SESSIONS NEEDS PRIOR AUTHORIZATION",),
    ),
)


def _response(benefits: tuple[Benefit, ...], party: Entity) -> Response271:
    member = Member(traces=(ECHO,), party=party, benefits=benefits)
    return Response271(
        header=Header(reference_id="ELIG-0001", created=date(2026, 3, 2), time="0916"),
        sources=(
            Source(
                party=PAYER,
                receivers=(Receiver(party=CLINIC_PROVIDER, subscribers=(member,)),),
            ),
        ),
    )


NOT_FOUND = Entity(
    entity_code="IL",
    entity_type="1",
    last_or_organization="DOE",
    first="JORDAN",
    id_qualifier="MI",
    id="SBX123456789",
    validations=(RequestValidation(True, "75", "C"),),
)
RESPONSES = {
    "active-ppo-deductible-copay": _response(ACTIVE_BENEFITS, SUBSCRIBER_WITH_PLAN_DATE),
    "subscriber-not-found-aaa75": _response((), NOT_FOUND),
}


def clock() -> datetime:
    return datetime(2026, 3, 2, 9, 15)


def control_numbers() -> SequentialControlNumbers:
    return SequentialControlNumbers(interchange=2001, group=2001, transaction=1)


def check_golden(path: Path, text: str) -> None:
    if os.environ.get("UPDATE_GOLDENS") == "1":
        path.write_text(text, encoding="ascii", newline="")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDENS=1 and review it"
    assert text == path.read_bytes().decode("ascii")


def test_request_golden() -> None:
    model = _request()
    text = write_270(model, CLINIC, clock, control_numbers(), segment_suffix="\n")
    check_golden(fixtures_dir() / "x12" / "270" / "request-general-and-office-visit.x12", text)
    assert read_270(text) == ([model], [])
    assert "EQ*98^MH~" in text and "DTP*291*D8*20260302~" in text
    assert "GS*HS*DERMRCM*SANDBOXCH*20260302*0915*2001*X*005010X279A1~" in text


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_response_golden(name: str) -> None:
    model = RESPONSES[name]
    text = write_271(model, SANDBOX, clock, control_numbers(), segment_suffix="\n")
    check_golden(fixtures_dir() / "x12" / "271" / f"response-{name}.x12", text)
    assert read_271(text) == ([model], [])


def test_response_wire_format_and_summary() -> None:
    model = RESPONSES["active-ppo-deductible-copay"]
    text = write_271(model, SANDBOX, clock, control_numbers())
    assert "EB*A*IND*98***27**0.2****Y~" in text
    assert "EB*C*IND*30***29*650.00*****Y~" in text
    assert "EB*B*IND*MH***27*25.00****Y*Y~MSG*PHOTOTHERAPY" in text
    member = read_271(text)[0][0].members()[0]
    office = summarize_benefits(member, "98")
    assert (office.deductible, office.deductible_remaining) == (
        Decimal("1500.00"),
        Decimal("650.00"),
    )
    assert (office.coinsurance, office.copay, office.out_of_pocket) == (
        Decimal("0.2"),
        Decimal("40.00"),
        Decimal("5000.00"),
    )
    out = summarize_benefits(member, "98", in_network=False)
    assert (out.deductible, out.copay, out.coinsurance) == (
        Decimal("3000.00"),
        Decimal("80.00"),
        None,
    )
    uvb = summarize_benefits(member, "MH")
    assert uvb.authorization_required is True and uvb.messages[0].startswith("PHOTOTHERAPY")
    assert uvb.active is True


def test_not_found_carries_the_rejection() -> None:
    member = RESPONSES["subscriber-not-found-aaa75"].members()[0]
    assert member.party.validations == (RequestValidation(True, "75", "C"),)
    assert summarize_benefits(member, "30").active is None
