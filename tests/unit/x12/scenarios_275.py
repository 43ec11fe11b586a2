"""Synthetic 275 (005010X210) scenarios shared by the test_275_* tests: invented people, ids and
claim numbers; the document is a tiny hand-made PDF whose bytes include every X12 delimiter,
a NUL, 0xFF and CR LF (a real PDF holds such bytes in its compressed streams)."""

from __future__ import annotations

from datetime import date, datetime

from integration.x12.envelope import EnvelopeParams, SequentialControlNumbers
from integration.x12.t275_005010x210 import (
    Attachment275,
    Document,
    Party,
    Patient,
    ServiceDates,
)

CLINIC_PARAMS = EnvelopeParams(
    sender_qualifier="ZZ",
    sender_id="DERMRCM",
    receiver_qualifier="ZZ",
    receiver_id="SANDBOXPAYER",
    usage_indicator="T",
)

TINY_PDF = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"3 0 obj << /Length 20 >> stream\n~*:^\x00\xff\r\n~BIN*3*abc~\nendstream endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


def clock() -> datetime:
    return datetime(2026, 12, 6, 21, 5)


def control_numbers() -> SequentialControlNumbers:
    return SequentialControlNumbers(interchange=2701, group=2701, transaction=1)


def appeal(data: bytes = TINY_PDF, *, documents: int = 1) -> Attachment275:
    return Attachment275(
        reference="APPEAL-7",
        created=datetime(2026, 12, 6, 21, 5),
        payer=Party(
            entity_code="PR",
            entity_type="2",
            last_or_organization="SANDBOX HEALTH PLAN",
            id_qualifier="PI",
            id="SANDBOX01",
        ),
        submitter=Party(
            entity_code="41",
            entity_type="2",
            last_or_organization="EXAMPLE DERMATOLOGY",
            id_qualifier="46",
            id="ETIN0001",
        ),
        provider=Party(
            entity_code="1P",
            entity_type="2",
            last_or_organization="EXAMPLE DERMATOLOGY",
            id_qualifier="XX",
            id="1234567893",
        ),
        patient=Patient(
            name=Party(
                entity_code="QC",
                entity_type="1",
                last_or_organization="TESTPATIENT",
                first="PSORIASIS",
                id_qualifier="MI",
                id="SYNMEM0001",
            ),
            patient_control_number="CLM-2026-0042",
            payer_claim_number="PCN20260917001",
            service=ServiceDates(date(2026, 9, 10)),
        ),
        documents=tuple(
            Document(
                control_number=f"APL7-{n}",
                submitted=date(2026, 12, 6),
                data=data,
            )
            for n in range(1, documents + 1)
        ),
    )
