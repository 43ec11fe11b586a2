"""A 278 the payer can't accept is answered the way a clearinghouse answers: a 999 rejecting it,
naming the segment and element at fault (over real HTTP to the sandbox payer), and the 278
channel turns that 999 into an error that says where, instead of a bare HTTP failure."""

from __future__ import annotations

import pytest
import requests

from integration.paths import fixtures_dir
from integration.priorauth.channels.transport import ChannelError
from integration.priorauth.channels.x278 import read_response
from integration.x12.t999_005010x231a1 import read_999
from tests.support.servers import Sandbox

GOLDEN = fixtures_dir() / "x12" / "278" / "request-mohs-17311.x12"


def _post(payer: Sandbox, text: str) -> requests.Response:
    return requests.post(
        f"{payer.server.base_url}/payer/x12/278",
        data=text.encode("ascii"),
        headers={"Content-Type": "application/edi-x12"},
        timeout=30,
    )


def test_a_bad_review_category_is_rejected_by_a_999_naming_the_element(payer: Sandbox) -> None:
    bad = GOLDEN.read_text(encoding="ascii").replace("UM*HS*", "UM*XX*", 1)
    assert bad != GOLDEN.read_text(encoding="ascii")
    answer = _post(payer, bad)
    assert answer.status_code == 200
    acks, problems = read_999(answer.text)
    assert problems == []
    [ack] = acks
    assert ack.status == "R"
    [txn] = ack.transactions
    assert (txn.transaction_set_id, txn.status) == ("278", "R")
    [segment] = [s for s in txn.segments if s.segment_id == "UM"]
    assert [e.position.element for e in segment.elements] == [1]
    assert segment.elements[0].bad_value == "XX"

    with pytest.raises(ChannelError) as caught:
        read_response(answer.status_code, answer.content)
    said = str(caught.value)
    assert said.startswith("278: the payer's 999 rejected the request (278 ")
    assert "UM (position" in said and "element 1: IK403" in said and "'XX'" in said


def test_text_that_is_not_x12_is_a_400_with_the_reason(payer: Sandbox) -> None:
    answer = _post(payer, "this is not an interchange")
    assert answer.status_code == 400
    assert "ISA" in answer.text
    with pytest.raises(ChannelError, match=r"HTTP 400"):
        read_response(answer.status_code, answer.content)
