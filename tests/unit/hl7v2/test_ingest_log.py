"""What the ingest logs per transaction: one line for the messages acknowledged AA, one line
per message that was not (with its error and where), never message content."""

from __future__ import annotations

import logging

import pytest

from integration.hl7v2.ack import AckCode
from integration.hl7v2.errors import ErrorCode, Hl7Error, Location
from integration.hl7v2.ingest import MessageOutcome, _log_group


def test_accepted_messages_share_a_line_and_refused_ones_get_their_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="integration.hl7v2.ingest")
    error = Hl7Error(
        Location(segment_id="PID", segment_index=3, field=7),
        "a date",
        "19501301",
        ErrorCode.DATA_TYPE,
    )
    _log_group(
        [
            MessageOutcome(101, "C1", "processed", AckCode.AA),
            MessageOutcome(102, "C2", "processed", AckCode.AA),
            MessageOutcome(103, "C3", "duplicate", AckCode.AA),
            MessageOutcome(104, "C4", "error", AckCode.AE, error),
            MessageOutcome(106, "C6", "processed", AckCode.AA),
        ]
    )
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert lines[-1] == (
        logging.INFO,
        "hl7 stored duplicate=1 processed=3 ack=AA ids=101-103,106",
    )
    [(level, refused)] = [line for line in lines if "C4" in line[1]]
    assert level == logging.WARNING
    assert "id=104" in refused and "ack=AE" in refused and f"at={error.where}" in refused
    assert "19501301" not in caplog.text  # the value itself may be patient data
