"""The MLLP listener over real TCP, on SQLite and PostgreSQL: store before ACK, exactly once.

Senders are python-hl7's MLLP client (a third-party peer) and our blocking client.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hl7.client
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from integration.hl7v2.client import MllpClient
from integration.hl7v2.ingest import Ingest
from integration.hl7v2.listener import Listener, ListenerThread
from integration.hl7v2.message import parse_message
from integration.hl7v2.server import ServerOptions
from integration.mapping.hl7v2 import MappingOptions
from integration.mapping.hl7v2_transforms import load_feed_maps
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.models import FhirResource, FhirResourceVersion, Hl7Applied, Hl7Message
from tests.support.hl7_messages import adt_a04


@dataclass
class Running:
    port: int
    sessions: sessionmaker[Session]
    thread: ListenerThread

    def count(self, model: type, **where: str) -> int:
        with self.sessions() as session:
            query = select(func.count()).select_from(model)
            for key, value in where.items():
                query = query.where(getattr(model, key) == value)
            return int(session.scalar(query) or 0)


@pytest.fixture
def running(database_url: str) -> Iterator[Running]:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    ingest = Ingest(sessions, load_feed_maps(), MappingOptions(timezone="America/Chicago"))
    listener = Listener(ingest, ServerOptions(max_frame=200_000, idle_timeout=5))
    thread = ListenerThread(listener, "127.0.0.1", 0).start()
    try:
        yield Running(thread.bound_port, sessions, thread)
    finally:
        thread.stop()
        engine.dispose()


def unframe(data: bytes) -> str:
    assert data.startswith(b"\x0b") and data.endswith(b"\x1c\r"), data[:20]
    return data[1:-2].decode("utf-8")


def segments(ack: str) -> dict[str, list[str]]:
    return {line[:3]: line.split("|") for line in ack.split("\r") if line}


def test_python_hl7_client_gets_aa_after_the_message_is_stored_and_applied(
    running: Running,
) -> None:
    client = hl7.client.MLLPClient("127.0.0.1", running.port)
    try:
        ack = unframe(client.send_message(adt_a04(1)))
    finally:
        client.close()
    msa = segments(ack)["MSA"]
    assert msa[1:3] == ["AA", "TEST00000001"]
    msh = segments(ack)["MSH"]
    # The ACK goes back to the sender (MSH-5/6 = its MSH-3/4), in its version.
    assert msh[4:6] == ["TESTEHR", "DERMCLINIC"] and msh[8] == "ACK^A04^ACK" and msh[11] == "2.5.1"
    assert running.count(Hl7Message, status="processed") == 1
    assert running.count(FhirResource, resource_type="Patient") == 1
    assert running.count(FhirResource, resource_type="Coverage") == 1


def test_a_resent_message_is_acknowledged_again_and_applied_once(running: Running) -> None:
    message = adt_a04(7).encode()
    with MllpClient("127.0.0.1", running.port) as client:
        first = client.send(message)
        second = client.send(message)
    assert segments(first[0].decode())["MSA"][1] == "AA"
    assert segments(second[0].decode())["MSA"][1] == "AA"
    assert running.count(Hl7Message) == 2
    assert running.count(Hl7Message, status="duplicate") == 1
    assert running.count(Hl7Applied) == 1
    # One version of each resource: the resend replaced nothing.
    assert running.count(FhirResource, resource_type="Patient") == 1
    assert running.count(FhirResourceVersion, resource_type="Patient") == 0


def test_a_resend_with_a_new_timestamp_is_still_a_duplicate(running: Running) -> None:
    first = adt_a04(30)
    later = first.replace("20261120093000-0500||ADT", "20261120101500-0500||ADT", 1)
    assert later != first
    with MllpClient("127.0.0.1", running.port) as client:
        client.send(first.encode())
        reply = client.send(later.encode())[0].decode()
    assert segments(reply)["MSA"][1] == "AA"
    assert running.count(Hl7Message, status="duplicate") == 1


def test_control_id_reused_for_other_content_is_an_ae_at_msh_10(running: Running) -> None:
    with MllpClient("127.0.0.1", running.port) as client:
        client.send(adt_a04(1, control_id="SAME").encode())
        reply = client.send(adt_a04(2, control_id="SAME").encode())[0].decode()
    parts = segments(reply)
    assert parts["MSA"][1] == "AE"
    assert parts["ERR"][2] == "MSH^1^10^1" and parts["ERR"][3].startswith("205^")
    assert "MSH-10 (segment 1)" in parts["ERR"][8]
    assert running.count(FhirResource, resource_type="Patient") == 1  # the second one not applied


def test_unsupported_type_is_ar_and_kept_as_a_dead_letter(running: Running) -> None:
    message = adt_a04(3).replace("ADT^A04^ADT_A01", "QBP^Q22^QBP_Q21")
    with MllpClient("127.0.0.1", running.port) as client:
        reply = client.send(message.encode())[0].decode()
    parts = segments(reply)
    assert parts["MSA"][1] == "AR"
    assert parts["ERR"][3].startswith("200^Unsupported message type")
    assert "MSH-9 (segment 1)" in parts["ERR"][8] and "QBP\\S\\Q22" in parts["ERR"][8]
    assert running.count(Hl7Message, status="rejected") == 1


def test_bad_value_is_ae_with_the_field_located_and_nothing_half_written(running: Running) -> None:
    bad = adt_a04(4).replace("|19800102|", "|19801302|")  # month 13
    with MllpClient("127.0.0.1", running.port) as client:
        reply = client.send(bad.encode())[0].decode()
    parts = segments(reply)
    assert parts["MSA"][1] == "AE"
    assert parts["ERR"][2] == "PID^1^7^1"  # ERL-2: the first PID, whatever its place
    assert "PID-7 (segment 3): expected a real calendar date" in parts["ERR"][8]
    assert running.count(Hl7Message, status="error") == 1
    assert running.count(FhirResource) == 0  # the savepoint took every resource back
    assert running.count(Hl7Applied) == 0


def test_enhanced_mode_sends_the_accept_ack_then_the_application_ack(running: Running) -> None:
    lines = adt_a04(5).split("\r")
    lines[0] += "|||AL|AL"
    with MllpClient("127.0.0.1", running.port) as client:
        replies = client.send("\r".join(lines).encode(), expect=2)
    codes = [segments(r.decode())["MSA"][1] for r in replies]
    assert codes == ["CA", "AA"]
    lines[0] = lines[0].replace("|||AL|AL", "|||AL|ER").replace("TEST00000005", "TEST00000055")
    with MllpClient("127.0.0.1", running.port) as client:
        replies = client.send("\r".join(lines).encode(), expect=None, quiet=0.5)
    assert [segments(r.decode())["MSA"][1] for r in replies] == ["CA"]  # ER: no AA on success


def test_a_batch_file_in_one_frame_gets_a_batch_of_acks(running: Running) -> None:
    batch = (
        "FHS|^~\\&|TESTEHR|DERMCLINIC\rBHS|^~\\&|TESTEHR|DERMCLINIC\r"
        + adt_a04(10)
        + adt_a04(11)
        + "BTS|2\rFTS|1\r"
    )
    with MllpClient("127.0.0.1", running.port) as client:
        reply = client.send(batch.encode())[0].decode()
    lines = [line for line in reply.split("\r") if line]
    assert [line[:3] for line in lines] == ["FHS", "BHS", "MSH", "MSA", "MSH", "MSA", "BTS", "FTS"]
    assert lines[3].startswith("MSA|AA|TEST00000010") and lines[5].startswith("MSA|AA|TEST00000011")
    assert lines[6] == "BTS|2"
    assert running.count(Hl7Applied) == 2


def test_a_batch_whose_count_is_wrong_is_rejected_with_the_place(running: Running) -> None:
    batch = "BHS|^~\\&|TESTEHR|DERMCLINIC\r" + adt_a04(12) + "BTS|3\r"
    with MllpClient("127.0.0.1", running.port) as client:
        reply = client.send(batch.encode())[0].decode()
    assert "MSA|AR|" in reply and "BTS-1" in reply
    assert running.count(Hl7Applied) == 0


def test_an_oversized_frame_is_ar_and_the_connection_goes_on(running: Running) -> None:
    huge = adt_a04(6).replace("1 TEST ST", "X" * 250_000)
    with MllpClient("127.0.0.1", running.port) as client:
        reply = client.send(huge.encode())[0].decode()
        assert segments(reply)["MSA"][1] == "AR" and "104^" in segments(reply)["ERR"][3]
        after = client.send(adt_a04(8).encode())[0].decode()
    assert segments(after)["MSA"][1:3] == ["AA", "TEST00000008"]


def test_non_default_delimiters_and_latin1_are_read_and_answered_in_kind(running: Running) -> None:
    text = adt_a04(9).replace("|", "#").replace("^", "!").replace("MSH#!~\\&", "MSH#!~\\&")
    text = text.replace("SYNTH9", "Zo\xeb")  # Latin-1, declared in MSH-18
    lines = text.split("\r")
    lines[0] += "#######8859/1"
    payload = "\r".join(lines).encode("latin-1")
    with MllpClient("127.0.0.1", running.port) as client:
        reply = client.send(payload)[0].decode("latin-1")
    assert reply.startswith("MSH#!~\\&#") and "MSA#AA#TEST00000009" in reply
    with running.sessions() as session:
        patient = session.scalars(
            select(FhirResource).where(FhirResource.resource_type == "Patient")
        ).one()
    assert json.loads(patient.content)["name"][0]["given"][0] == "Zo\xeb"


SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "hl7"


# The shared samples we refuse, and why (every other one is accepted with AA / CA).
REFUSED = {
    "OML_O33": ("AR", "200"),  # lab orders: not a feed we take
    "RSP_K2": ("AR", "200"),  # query responses
    "__UNK.hl7": ("AR", "200"),  # MSH-9 is a template placeholder '{}'
    "mirthproject__mfn": ("AR", "200"),  # master files
    "catalyze-io__orm": ("AR", "102"),  # a broken line: segment 7 starts '8866|'
    "bad-phone-example": ("AR", "100"),  # SIU^S12 without an SCH segment
    "cerner__cerner_en": ("AE", "205"),  # reuses cerner_bordetella's MSH-10 for other content
    "realm-campylobacter-jejuni": ("AE", "205"),  # the realm samples share MSH-10 1234567890
    "realm__realm-cj.hl7": ("AE", "205"),
    "python-hl7__tests__samples__L3__ORU": ("AE", "102"),  # PID-7 '196203520' is no date
}


def test_every_shared_sample_is_acknowledged_with_a_located_reason_when_refused(
    running: Running,
) -> None:
    """AA for what we map; AR or AE with the place and HL7 error code for the rest."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not present")
    from integration.hl7v2.client import expected_acks
    from integration.hl7v2.message import split_batch

    seen: dict[str, set[tuple[str, str]]] = {}
    with MllpClient("127.0.0.1", running.port) as client:
        for path in sorted(SHARED.glob("*.hl7")):
            text = path.read_bytes().decode("utf-8")
            for part in split_batch(text).messages:
                payload = part.encode()
                expect = expected_acks(payload)
                if expect is None:
                    # Ask for the application ACK so every outcome shows (the samples say NE).
                    lines = part.split("\r")
                    fields = lines[0].split("|")
                    fields += [""] * (17 - len(fields))
                    fields[14], fields[15] = "NE", "AL"
                    lines[0] = "|".join(fields)
                    payload = "\r".join(lines).encode()
                    expect = 1
                ack = client.send(payload, expect=expect)[0].decode()
                code = segments(ack)["MSA"][1]
                err_code = ""
                if code != "AA":
                    err = segments(ack)["ERR"]
                    if len(err) > 8:
                        err_code, located = err[3].split("^")[0], err[8]
                    else:  # before 2.5: ERR-1 (ELD) and MSA-3's text
                        err_code, located = (
                            err[1].split("^")[3].split("&")[0],
                            segments(ack)["MSA"][3],
                        )
                    assert "(segment" in located or located.startswith(("SCH", "segment ")), (
                        path.name,
                        ack,
                    )
                seen.setdefault(path.name, set()).add((code, err_code))
    assert set(seen) == {p.name for p in SHARED.glob("*.hl7")}
    for name, outcomes in seen.items():
        reason = next((v for k, v in REFUSED.items() if k in name), None)
        if reason is None:
            assert outcomes == {("AA", "")}, (name, outcomes)
        else:
            assert reason in outcomes, (name, outcomes)


def test_header_of_every_stored_message_is_readable_again(running: Running) -> None:
    with MllpClient("127.0.0.1", running.port) as client:
        client.send(adt_a04(20).encode())
    with running.sessions() as session:
        row = session.scalars(select(Hl7Message)).one()
    assert parse_message(row.raw.decode()).header.control_id == "TEST00000020"
    assert row.peer.startswith("127.0.0.1:")


@contextlib.contextmanager
def _listener_with_wait(database_url: str, group_wait: float) -> Iterator[ListenerThread]:
    engine = make_engine(database_url)
    upgrade(engine)
    ingest = Ingest(session_factory(engine), load_feed_maps(), MappingOptions())
    listener = Listener(ingest, ServerOptions(idle_timeout=5), group_wait=group_wait)
    thread = ListenerThread(listener, "127.0.0.1", 0).start()
    try:
        yield thread
    finally:
        thread.stop()
        engine.dispose()


def test_concurrent_senders_share_commits_and_a_lone_sender_never_waits(
    database_url: str,
) -> None:
    """Four senders, each sending its next message as soon as it has the ACK: they share
    transactions (the commits counter says how many). Then a lone sender is acknowledged
    without waiting for a group (the wait here is 1 s)."""
    with _listener_with_wait(database_url, group_wait=1.0) as thread:
        listener = thread.listener
        senders, each = 4, 12
        acks: list[str] = []

        def send(k: int) -> None:
            with MllpClient("127.0.0.1", thread.bound_port, timeout=10) as client:
                for r in range(each):
                    message = adt_a04(k, control_id=f"G{k}-{r}").encode()
                    acks.append(client.send(message)[0].decode())

        workers = [threading.Thread(target=send, args=(k,)) for k in range(senders)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert len(acks) == senders * each
        assert all("MSA|AA|" in ack for ack in acks)
        assert listener.metrics.commits < senders * each
        assert f"dermrcm_hl7_commits_total {listener.metrics.commits}" in (
            listener.metrics.prometheus()
        )

        time.sleep(0.1)  # the four are no longer recent senders
        with MllpClient("127.0.0.1", thread.bound_port, timeout=10) as client:
            started = time.perf_counter()
            for n in range(5):
                ack = client.send(adt_a04(9, control_id=f"L{n}").encode())[0].decode()
                assert "MSA|AA|" in ack
            assert time.perf_counter() - started < 1.0  # not a group wait per message
