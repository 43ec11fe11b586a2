"""The SFTP clearinghouse adapter against a real SFTP server over TCP (asyncssh's, see
tests/support/sftp_server.py): whole files only, nothing overwritten or deleted that was not
stored, the host key checked, every failure located; and `dermrcm claims submit / poll` over it.

Files are synthetic: the claims of tests/unit/claims/scenarios.py and fixtures/x12/835/."""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from integration.claims.cli import claims_command
from integration.clearinghouse.port import ClearinghouseError
from integration.clearinghouse.sftp import SftpClearinghouse, SftpOptions
from integration.paths import fixtures_dir
from integration.x12.t837_005010x222a1 import claim_to_json
from tests.support.sftp_server import PASSWORD, USER, SftpServer, start_sftp_server
from tests.unit.claims import scenarios as s


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpServer]:
    root = tmp_path_factory.mktemp("sftp") / "root"
    root.mkdir()
    running = start_sftp_server(root)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def mailbox(server: SftpServer) -> Path:
    """The mailbox's folders, emptied."""
    box = server.root / "mailbox"
    for folder in ("inbound", "outbound", "archive"):
        shutil.rmtree(box / folder)
        (box / folder).mkdir()
    return box


def adapter(server: SftpServer, tmp_path: Path, **options: object) -> SftpClearinghouse:
    settings: dict[str, object] = {
        "known_hosts": server.known_hosts(tmp_path / "known_hosts"),
        "password": PASSWORD,
        "timeout": 5.0,
    }
    settings.update(options)
    return SftpClearinghouse(server.url, SftpOptions(**settings))  # type: ignore[arg-type]


def test_submit_puts_the_whole_file_under_its_name_and_never_overwrites(
    server: SftpServer, mailbox: Path, tmp_path: Path
) -> None:
    sftp = adapter(server, tmp_path)
    receipt = sftp.submit("claims-0001.837", b"ISA*00*first~")
    assert receipt.filename == "claims-0001.837"
    assert [p.name for p in (mailbox / "inbound").iterdir()] == ["claims-0001.837"]  # no .part
    assert (mailbox / "inbound" / "claims-0001.837").read_bytes() == b"ISA*00*first~"

    with pytest.raises(ClearinghouseError) as info:
        sftp.submit("claims-0001.837", b"ISA*00*second~")
    assert str(info.value) == (
        f"SFTP submit sftp://{USER}@127.0.0.1:{server.port}/mailbox/inbound/claims-0001.837: "
        "a file of that name is already waiting (not overwritten)"
    )
    assert (mailbox / "inbound" / "claims-0001.837").read_bytes() == b"ISA*00*first~"
    with pytest.raises(ClearinghouseError, match="expected a plain file name"):
        sftp.submit("../escape.837", b"ISA")


def test_fetch_reads_finished_files_oldest_first_and_ack_deletes_or_archives(
    server: SftpServer, mailbox: Path, tmp_path: Path
) -> None:
    out = mailbox / "outbound"
    for name, data, age in (
        ("b.835", b"ISA*835~", 100),
        ("a.999", b"ISA*999~", 200),
        ("c.277", b"ISA*277~", 50),
        ("d.835.part", b"ISA*half", 300),
        (".hidden", b"x", 300),
    ):
        (out / name).write_bytes(data)
        stamp = 1_700_000_000 - age
        os.utime(out / name, (stamp, stamp))
    (out / "folder").mkdir()

    sftp = adapter(server, tmp_path)
    files = sftp.fetch()
    assert [(f.name, f.data) for f in files] == [
        ("a.999", b"ISA*999~"),
        ("b.835", b"ISA*835~"),
        ("c.277", b"ISA*277~"),
    ]
    sftp.ack(files[0].id)
    assert not (out / "a.999").exists()

    archiving = adapter(server, tmp_path, archive_dir="archive")
    archiving.ack(files[1].id)
    assert not (out / "b.835").exists()
    [archived] = (mailbox / "archive").iterdir()
    assert archived.name.endswith("-b.835") and archived.read_bytes() == b"ISA*835~"
    assert [f.name for f in sftp.fetch()] == ["c.277"]


def test_a_reused_name_is_a_new_file_and_a_replaced_file_is_not_deleted(
    server: SftpServer, mailbox: Path, tmp_path: Path
) -> None:
    out = mailbox / "outbound"
    sftp = adapter(server, tmp_path)
    (out / "835.txt").write_bytes(b"ISA*monday~")
    [monday] = sftp.fetch()
    (out / "835.txt").write_bytes(b"ISA*tuesday~")  # the clearinghouse replaced it meanwhile
    with pytest.raises(ClearinghouseError, match="changed since it was fetched"):
        sftp.ack(monday.id)
    assert (out / "835.txt").read_bytes() == b"ISA*tuesday~"  # not lost
    [tuesday] = sftp.fetch()
    assert tuesday.id != monday.id and tuesday.name == monday.name
    sftp.ack(tuesday.id)
    assert not (out / "835.txt").exists()
    sftp.ack(tuesday.id)  # acknowledged twice: already gone, nothing to do


def test_login_with_a_private_key_file(server: SftpServer, mailbox: Path, tmp_path: Path) -> None:
    (mailbox / "outbound" / "a.999").write_bytes(b"ISA*999~")
    sftp = adapter(server, tmp_path, password=None, key_file=server.client_key_file)
    assert [f.name for f in sftp.fetch()] == ["a.999"]


def test_an_unknown_or_changed_host_key_is_refused(
    server: SftpServer, mailbox: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(ClearinghouseError, match=r"host key is not in .*empty_known_hosts"):
        adapter(server, tmp_path, known_hosts=empty).fetch()

    other = tmp_path / "other_known_hosts"
    other.write_text(
        f"[127.0.0.1]:{server.port} ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
    )
    with pytest.raises(ClearinghouseError, match="host key is not the one in"):
        adapter(server, tmp_path, known_hosts=other).fetch()

    with pytest.raises(ClearinghouseError, match=r"known_hosts .* could not be read"):
        adapter(server, tmp_path, known_hosts=tmp_path / "missing").fetch()


def test_a_wrong_password_or_a_closed_port_is_a_located_error(
    server: SftpServer, mailbox: Path, tmp_path: Path
) -> None:
    with pytest.raises(ClearinghouseError) as info:
        adapter(server, tmp_path, password="not-it").fetch()
    assert str(info.value) == (
        f"SFTP fetch sftp://{USER}@127.0.0.1:{server.port}/mailbox/outbound: "
        f"login refused for user {USER}"
    )
    assert "not-it" not in str(info.value)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    down = SftpClearinghouse(
        f"sftp://{USER}@127.0.0.1:{closed}/mailbox",
        SftpOptions(known_hosts=tmp_path / "kh", password=PASSWORD, timeout=2),
    )
    (tmp_path / "kh").write_text("")
    with pytest.raises(ClearinghouseError, match=r"^SFTP submit .*: could not connect"):
        down.submit("claims.837", b"ISA")


def test_a_url_with_a_password_or_without_a_user_is_refused(tmp_path: Path) -> None:
    options = SftpOptions(known_hosts=tmp_path / "kh", password=PASSWORD)
    with pytest.raises(ClearinghouseError, match="a password in the URL is refused"):
        SftpClearinghouse("sftp://user:secret@example.invalid/box", options)
    with pytest.raises(ClearinghouseError, match="expected a user name"):
        SftpClearinghouse("sftp://example.invalid/box", options)
    with pytest.raises(ClearinghouseError, match="a password or a private key file"):
        SftpClearinghouse("sftp://u@example.invalid/box", SftpOptions(known_hosts=tmp_path))


def test_claims_submit_and_poll_over_sftp(
    server: SftpServer, mailbox: Path, tmp_path: Path, database_url: str
) -> None:
    env = {
        "DERMRCM_DATABASE_URL": database_url,
        "DERMRCM_CLEARINGHOUSE_URL": server.url,
        "DERMRCM_CLEARINGHOUSE_SFTP_PASSWORD": PASSWORD,
        "DERMRCM_CLEARINGHOUSE_SFTP_KNOWN_HOSTS": str(server.known_hosts(tmp_path / "kh")),
        "DERMRCM_CLEARINGHOUSE_SFTP_ARCHIVE_DIR": "archive",
        "DERMRCM_CLEARINGHOUSE_TIMEOUT": "5",
    }
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(claim_to_json(s.transaction(s.PAID, 1))))
    runner = CliRunner()
    submitted = runner.invoke(claims_command, ["submit", str(claims)], env=env)
    assert submitted.exit_code == 0, submitted.output
    [sent] = (mailbox / "inbound").iterdir()
    assert sent.read_bytes().startswith(b"ISA*") and b"ST*837*" in sent.read_bytes()

    remittance = fixtures_dir() / "x12" / "835" / "paid-denied-interest.835"
    shutil.copy(remittance, mailbox / "outbound" / "remit-20261120.835")
    polled = runner.invoke(claims_command, ["poll"], env=env)
    assert polled.exit_code == 0, polled.output
    [handled] = json.loads(polled.output)["files"]
    assert handled["transaction_set"] == "835" and handled["acknowledged"] is True
    assert list((mailbox / "outbound").iterdir()) == []
    [archived] = (mailbox / "archive").iterdir()
    assert archived.read_bytes() == remittance.read_bytes()

    again = runner.invoke(claims_command, ["poll"], env=env)
    assert again.exit_code == 0 and json.loads(again.output)["files"] == []
