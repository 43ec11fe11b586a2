"""Messages refused for what their MSH says: an event no map lists, a version that is not
HL7 v2, a required MSH field missing. Each gets AR with its located reason, its ACK still
names its MSH-10 in MSA-2 and goes back to its sender, and nothing of it is applied."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from integration.hl7v2.ingest import Inbound, Ingest
from integration.hl7v2.message import parse_message
from integration.mapping.hl7v2 import MappingOptions
from integration.mapping.hl7v2_transforms import load_feed_maps
from integration.store.database import session_factory
from integration.store.models import FhirResource, Hl7Applied, Hl7Message
from tests.support.hl7_messages import adt_a04

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PID = "PID|1||MRN7000001^^^DERMCLINIC^MR||TESTPATIENT^SYNTH^Q||19800102|F"


@pytest.fixture
def ingest(engine: Engine) -> Ingest:
    return Ingest(session_factory(engine), load_feed_maps(), MappingOptions())


def msh(message_type: str, control_id: str, version: str = "2.5.1") -> str:
    return (
        f"MSH|^~\\&|TESTEHR|DERMCLINIC|DERM-RCM|RCMFAC|20261207110000-0500||{message_type}"
        f"|{control_id}|P|{version}"
    )


def ack_of(ingest: Ingest, text: str) -> dict[str, str]:
    reply = ingest.handle([Inbound(text.encode(), "127.0.0.1:9", NOW)])[0]
    (payload,) = reply.payloads
    ack = parse_message(payload.decode())
    err = ack.first("ERR")
    return {
        "to": f"{ack.msh.value(5)}|{ack.msh.value(6)}",
        "version": ack.msh.value(12),
        "code": ack.first("MSA").value(1),  # type: ignore[union-attr]
        "control_id": ack.first("MSA").value(2),  # type: ignore[union-attr]
        "error": "" if err is None else f"{err.value(3, 1)} at {err.raw_field(2)}",
    }


def nothing_applied(engine: Engine) -> bool:
    with engine.connect() as connection:
        stored = connection.scalar(select(func.count()).select_from(Hl7Message))
        applied = connection.scalar(select(func.count()).select_from(Hl7Applied))
        resources = connection.scalar(select(func.count()).select_from(FhirResource))
    return stored == 1 and applied == 0 and resources == 0


@pytest.mark.parametrize(
    ("message_type", "second"),
    [
        # SIU_S12's structure, but S16 discontinues: it must not be booked
        ("SIU^S16^SIU_S12", "SCH|PL-5001^EPIC|FL-9001^EPIC||||||||||^^30^20261220093000"),
        # ADT_A05's structure (A05, A28, A31 are taken), but A14 is a pending admit: not taken
        ("ADT^A14^ADT_A05", "EVN|A14|20261207100000"),
        ("ADT^A99^ADT_A01", "EVN|A99|20261207110000"),
    ],
)
def test_an_event_no_map_lists_is_refused_under_its_structures_map_too(
    ingest: Ingest, engine: Engine, message_type: str, second: str
) -> None:
    text = "\r".join([msh(message_type, "EVT-1"), second, PID]) + "\r"
    assert ack_of(ingest, text) == {
        "to": "TESTEHR|DERMCLINIC",
        "version": "2.5.1",
        "code": "AR",
        "control_id": "EVT-1",
        "error": "201 at MSH^1^9^1",
    }
    assert nothing_applied(engine)


def test_a_version_that_is_not_hl7_v2_is_refused_203(ingest: Ingest, engine: Engine) -> None:
    text = adt_a04(1, control_id="VER-1").replace("|P|2.5.1", "|P|9.9", 1)
    assert ack_of(ingest, text) == {
        "to": "TESTEHR|DERMCLINIC",
        "version": "9.9",
        "code": "AR",
        "control_id": "VER-1",
        "error": "203 at MSH^1^12^1",
    }
    assert nothing_applied(engine)


@pytest.mark.parametrize(
    ("change", "version", "where"),
    [
        (("|ADT^A04^ADT_A01|", "||"), "2.5.1", "MSH^1^9^1^1"),  # MSH-9 missing
        (("|P|2.5.1", "|P|"), "2.5.1", "MSH^1^12^1"),  # MSH-12 missing: the ACK says 2.5.1
        (("|P|2.5.1", "|P|2.3"), "2.3", None),  # control: a v2.3 message is taken
    ],
)
def test_a_message_missing_a_required_msh_field_still_gets_its_control_id_back(
    ingest: Ingest, engine: Engine, change: tuple[str, str], version: str, where: str | None
) -> None:
    text = adt_a04(2, control_id="REQ-1").replace(*change, 1)
    ack = ack_of(ingest, text)
    assert ack["control_id"] == "REQ-1"  # MSA-2: how the sender matches the ACK
    assert ack["to"] == "TESTEHR|DERMCLINIC"
    if where is None:
        assert (ack["code"], ack["version"], ack["error"]) == ("AA", version, "")
        return
    assert ack["version"] == version
    assert (ack["code"], ack["error"]) == ("AR", f"101 at {where}")
    assert nothing_applied(engine)


def test_err_2_counts_the_segments_occurrence_not_its_place(ingest: Ingest, engine: Engine) -> None:
    """ERL-2 is the occurrence of that segment in the message (HL7 v2.5.1 2.14.5): the second
    OBX is OBX^2 though it is the sixth segment; the text keeps the place for a person."""
    text = (
        "\r".join(
            [
                msh("ORU^R01^ORU_R01", "OCC-1"),
                PID,
                "OBR|1||S25-50^LIS|DERMSEV^Severity^L|||20261201100000" + "|" * 18 + "F",
                "OBX|1|NM|PASI^PASI score^L||14.2||||||F",
                "NTE|1||measured at the visit",
                "OBX|2|NM|DLQI^DLQI^L||abc||||||F",
            ]
        )
        + "\r"
    )
    ack = ack_of(ingest, text)
    assert (ack["code"], ack["control_id"]) == ("AE", "OCC-1")
    assert ack["error"] == "102 at OBX^2^5^1"
    reply = ingest.handle([Inbound(text.replace("OCC-1", "OCC-2").encode(), "p:1", NOW)])[0]
    assert "OBX-5 (segment 6)" in reply.payloads[0].decode()
