"""Every 278 sample in /work/shared/data/x12 (real, public; see PROVENANCE.md there) is read and
written back segment for segment into its own envelope.

The four samples (Inteligenz/X12Parser, copied from the TR3 examples 3.1.1/3.1.2/3.2.1/3.2.2) are
read without problems except two defects they all share: their ISA12 says 00401 (a 4010
interchange around a 5010 transaction), and their GS08 says 005010X279 (the 270/271 guide) while
ST03 says 005010X217. The TR3 wants ISA12 00501 and GS08 = ST03, so both are reported, exactly.
Comparison ignores only line breaks and indentation after segment terminators and the BOM.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.x12.t278_005010x217 import (
    Request278,
    Response278,
    read_278_request,
    read_278_response,
    render_278,
)

SAMPLES = Path("/work/shared/data/x12")
REQUESTS = sorted(SAMPLES.glob("278req__*"))
RESPONSES = sorted(SAMPLES.glob("278resp__*"))
ISA12_DEFECT = "ISA12 (segment 0): expected '00501', got '00401'"
GS08_DEFECT = "GS08 (segment 1): expected '005010X217' (as in ST03), got '005010X279'"


def segments(text: str) -> list[str]:
    return [s.strip() for s in text.lstrip("\ufeff").split("~") if s.strip()]


def test_the_samples_are_there() -> None:
    assert len(REQUESTS) == 2
    assert len(RESPONSES) == 2


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: p.name)
def test_request_sample_reads_and_round_trips(path: Path) -> None:
    text = path.read_bytes().decode("utf-8-sig")
    models, problems = read_278_request(path.read_bytes())
    assert [p.render() for p in problems] == [ISA12_DEFECT, GS08_DEFECT]
    assert len(models) == 1
    model = models[0]
    assert isinstance(model, Request278)
    assert model.envelope is not None
    assert segments(render_278(model, model.envelope, "\r\n")) == segments(text)


@pytest.mark.parametrize("path", RESPONSES, ids=lambda p: p.name)
def test_response_sample_reads_and_round_trips(path: Path) -> None:
    text = path.read_bytes().decode("utf-8-sig")
    models, problems = read_278_response(text)
    assert [p.render() for p in problems] == [ISA12_DEFECT, GS08_DEFECT]
    assert len(models) == 1
    model = models[0]
    assert isinstance(model, Response278)
    assert model.envelope is not None
    assert segments(render_278(model, model.envelope)) == segments(text)


def test_request_sample_fields() -> None:
    models, _ = read_278_request(
        SAMPLES.joinpath("278req__Inteligenz__Example_3_2_1_Request.txt").read_text("utf-8-sig")
    )
    model = models[0]
    assert model.umo.last_or_organization == "MARYLAND CAPITAL INSURANCE COMPANY"
    assert model.subscriber is not None and model.subscriber.id == "12345678901"
    event = model.event
    assert event is not None and event.review is not None
    assert (event.review.request_category, event.review.certification_type) == ("AR", "I")
    assert (event.review.facility_code, event.review.facility_qualifier) == ("21", "B")
    assert event.traces[0].number == "97021001"
    assert [(d.qualifier, d.code) for d in event.diagnoses] == [("BF", "41090")]
    assert event.parties[0].address is not None
    assert event.parties[0].address.city == "ANYTOWN"
    service = event.services[0]
    assert service.procedure is not None and service.procedure.code == "33510"
    assert service.parties[0].provider is not None
    assert service.parties[0].provider.taxonomy == "203BS0133X"


def test_response_sample_decisions() -> None:
    text = SAMPLES.joinpath("278resp__Inteligenz__Example_3_2_2_Response.txt").read_text(
        "utf-8-sig"
    )
    model = read_278_response(text)[0][0]
    assert model.event is not None and model.event.decision is not None
    assert (model.event.decision.action_code, model.event.decision.review_number) == (
        "A6",
        "AUTH0002",
    )
    assert model.event.delivery is not None and str(model.event.delivery.quantity) == "5"
    decision = model.event.services[0].decision
    assert decision is not None and decision.meaning == "Certified in total"
