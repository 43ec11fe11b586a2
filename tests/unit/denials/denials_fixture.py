"""The synthetic 835 of the denial worklist (fixtures/x12/835-denials.x12) and the claims it
pays (fixtures/denials/835-denials.claims.json): invented payers, clinic, patients and amounts, no
real data. Two payments in one interchange:

- UNITEDHEALTHCARE SANDBOX (CLP06 12 PPO, no cited appeal deadline): DRM-2001 risankizumab (J3590)
  CO-50 for Patient/psoriasis-skyrizi-patient; DRM-2002 Mohs 17311 CO-197 + N54; DRM-2003 a paid
  99213-25 (CO-45 + PR-2) and an 11102 reduced by CO-45 only; DRM-2004 NB-UVB 96910 CO-15.
- MEDICARE PART B SANDBOX (CLP06 MB, 42 CFR 405.942): DRM-2101 destruction 17000 CO-16 + N290;
  DRM-2102 99213-25 CO-97 + M15 beside a paid 11102; DRM-2103 11102 CO-45 + PR-1 paid nothing.

`UPDATE_GOLDENS=1 .venv/bin/pytest tests/unit/denials/test_worklist_golden.py` rewrites both
files from these models; review the diff before committing.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from integration.denials.remittance import SubmittedLine
from integration.paths import fixtures_dir
from integration.store.remittances import RemittanceStore
from integration.x12.envelope import (
    SequentialControlNumbers,
    TransactionBody,
    new_transaction_context,
    write_interchange,
)
from integration.x12.t278_005010x217 import Address, Contact, DatePeriod, Party, Reference, Trace
from integration.x12.t835_005010x221a1 import (
    ClaimPayment,
    HeaderNumber,
    Organization,
    Payment,
    PaymentHeader,
    Remittance835,
    ServicePayment,
    _body,
)
from integration.x12.x221_codes import FUNCTIONAL_ID, IMPLEMENTATION_REFERENCE, TRANSACTION_SET_ID
from tests.unit.denials.era_scenarios import PAYER_PARAMS, cas, d, line

FIXTURE = fixtures_dir() / "x12" / "835-denials.x12"
CLAIMS = fixtures_dir() / "denials" / "835-denials.claims.json"
REMIT_DAY = date(2026, 11, 20)
PSORIASIS = "Patient/psoriasis-skyrizi-patient"
UHC = ("1999999901", "UNITEDHEALTHCARE SANDBOX", "SBXUHC01")
MAC = ("1999999902", "MEDICARE PART B SANDBOX", "SBXMAC01")


def clock() -> datetime:
    return datetime(2026, 11, 20, 6, 0)


def _claim(
    pcn: str,
    status: str,
    filing: str,
    payer_claim: str,
    services: tuple[ServicePayment, ...],
    patient_resp: str = "0",
) -> ClaimPayment:
    return ClaimPayment(
        patient_control_number=pcn,
        status=status,
        charge=sum((s.charge for s in services), Decimal(0)),
        paid=sum((s.paid for s in services), Decimal(0)),
        patient_responsibility=d(patient_resp),
        filing_indicator=filing,
        payer_claim_control_number=payer_claim,
        facility_code="11",
        frequency="1",
        parties=(
            Party(
                entity_code="QC",
                entity_type="1",
                last_or_organization="SYNTHETIC",
                first="PATIENT",
                id_qualifier="MI",
                id="SYN" + pcn[-4:],
            ),
        ),
        dates=(DatePeriod("050", date(2026, 11, 1)),),
        services=services,
    )


def _header(payer: tuple[str, str, str], trace: str, amount: Decimal) -> PaymentHeader:
    payer_id, name, plan_id = payer
    return PaymentHeader(
        payment=Payment(
            handling_code="I",
            amount=amount,
            credit_debit="C",
            method="ACH",
            format_code="CCP",
            bank=(
                "01",
                "999999992",
                "DA",
                "123456",
                payer_id,
                "",
                "01",
                "999988880",
                "DA",
                "98765",
            ),
            payment_date=REMIT_DAY,
        ),
        trace=Trace("1", trace, payer_id),
        references=(Reference("EV", "DERMRCM"),),
        dates=(DatePeriod("405", date(2026, 11, 19)),),
        payer=Organization(
            entity_code="PR",
            name=name,
            address=Address(("1 TEST WAY",), "SPRINGFIELD", "IL", "62701"),
            references=(Reference("2U", plan_id),),
            contacts=(Contact("BL", "EDI SUPPORT", (("TE", "8005550100"),)),),
        ),
        payee=Organization(
            entity_code="PE",
            name="SYNTHETIC DERMATOLOGY CLINIC",
            id_qualifier="XX",
            id="1234567893",
            references=(Reference("TJ", "999999999"),),
        ),
    )


def _payment(
    payer: tuple[str, str, str], trace: str, claims: tuple[ClaimPayment, ...]
) -> Remittance835:
    total = sum((c.paid for c in claims), Decimal(0))
    return Remittance835(
        header=_header(payer, trace, total),
        groups=(HeaderNumber(number="1", claims=claims),),
    )


DOS = date(2026, 10, 1)
UHC_CLAIMS = (
    _claim(
        "DRM-2001",
        "4",
        "12",
        "UHC2001",
        (line("J3590", (), "4500.00", "0", DOS, (cas("CO", ("50", "4500.00")),), "DRM-2001-1"),),
    ),
    _claim(
        "DRM-2002",
        "4",
        "12",
        "UHC2002",
        (
            line(
                "17311",
                (),
                "1200.00",
                "0",
                date(2026, 10, 6),
                (cas("CO", ("197", "1200.00")),),
                "DRM-2002-1",
                ("N54",),
            ),
        ),
    ),
    _claim(
        "DRM-2003",
        "1",
        "12",
        "UHC2003",
        (
            line(
                "99213",
                ("25",),
                "150.00",
                "80.00",
                date(2026, 10, 8),
                (cas("CO", ("45", "40.00")), cas("PR", ("2", "30.00"))),
                "DRM-2003-1",
            ),
            line(
                "11102",
                (),
                "200.00",
                "120.00",
                date(2026, 10, 8),
                (cas("CO", ("45", "80.00")),),
                "DRM-2003-2",
            ),
        ),
        patient_resp="30.00",
    ),
    _claim(
        "DRM-2004",
        "4",
        "12",
        "UHC2004",
        (
            line(
                "96910",
                (),
                "250.00",
                "0",
                date(2026, 10, 9),
                (cas("CO", ("15", "250.00")),),
                "DRM-2004-1",
            ),
        ),
    ),
)
MAC_CLAIMS = (
    _claim(
        "DRM-2101",
        "4",
        "MB",
        "MAC2101",
        (
            line(
                "17000",
                (),
                "180.00",
                "0",
                date(2026, 10, 13),
                (cas("CO", ("16", "180.00")),),
                "DRM-2101-1",
                ("N290",),
            ),
        ),
    ),
    _claim(
        "DRM-2102",
        "1",
        "MB",
        "MAC2102",
        (
            line(
                "99213",
                ("25",),
                "150.00",
                "0",
                date(2026, 10, 14),
                (cas("CO", ("97", "150.00")),),
                "DRM-2102-1",
                ("M15",),
            ),
            line(
                "11102",
                (),
                "200.00",
                "96.00",
                date(2026, 10, 14),
                (cas("CO", ("45", "80.00")), cas("PR", ("2", "24.00"))),
                "DRM-2102-2",
            ),
        ),
        patient_resp="24.00",
    ),
    _claim(
        "DRM-2103",
        "1",
        "MB",
        "MAC2103",
        (
            line(
                "11102",
                (),
                "200.00",
                "0",
                date(2026, 10, 15),
                (cas("CO", ("45", "60.00")), cas("PR", ("1", "140.00"))),
                "DRM-2103-1",
            ),
        ),
        patient_resp="140.00",
    ),
)
PAYMENTS = (
    _payment(UHC, "UHCEFT0001", UHC_CLAIMS),
    _payment(MAC, "MACEFT0001", MAC_CLAIMS),
)


def fixture_text() -> str:
    """Both payments in one interchange and one functional group (ST 0001 and 0002)."""
    context = new_transaction_context(
        PAYER_PARAMS,
        transaction_set_id=TRANSACTION_SET_ID,
        implementation_reference=IMPLEMENTATION_REFERENCE,
        functional_id=FUNCTIONAL_ID,
        clock=clock,
        control_numbers=SequentialControlNumbers(interchange=2001, group=2001, transaction=1),
    )
    bodies = [
        TransactionBody(TRANSACTION_SET_ID, f"{n:04d}", IMPLEMENTATION_REFERENCE, _body(p))
        for n, p in enumerate(PAYMENTS, start=1)
    ]
    return write_interchange(
        context.interchange, [(context.group, bodies)], context.delimiters, "\n"
    )


#: the claims we submitted that the fixture pays (recorded before posting it)
def claims_json() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for payment in PAYMENTS:
        for c in payment.claims:
            out.append(
                {
                    "patient_control_number": c.patient_control_number,
                    "payer_id": payment.header.payer_id,
                    "patient_ref": PSORIASIS if c.patient_control_number == "DRM-2001" else None,
                    "total_charge": format(c.charge, "f"),
                    "lines": [
                        {
                            "line_number": n,
                            "procedure": s.procedure.code,
                            "modifiers": list(s.procedure.modifiers),
                            "service_date": s.service_date.isoformat() if s.service_date else None,
                            "charge": format(s.charge, "f"),
                            "units": "1",
                        }
                        for n, s in enumerate(c.services, start=1)
                    ],
                }
            )
    return out


def claims_text() -> str:
    return json.dumps({"claims": claims_json()}, indent=2) + "\n"


def record_fixture_claims(store: RemittanceStore) -> dict[str, int]:
    """Record the claims of fixtures/denials/835-denials.claims.json; claim ids by control number."""
    data = json.loads(CLAIMS.read_text(encoding="utf-8"))
    ids: dict[str, int] = {}
    for c in data["claims"]:
        ids[c["patient_control_number"]] = store.record_submitted_claim(
            patient_control_number=c["patient_control_number"],
            payer_id=c["payer_id"],
            total_charge=Decimal(c["total_charge"]),
            patient_ref=c["patient_ref"],
            lines=tuple(
                SubmittedLine(
                    line_number=line["line_number"],
                    procedure=line["procedure"],
                    modifiers=tuple(line["modifiers"]),
                    service_date=date.fromisoformat(line["service_date"]),
                    charge=Decimal(line["charge"]),
                    units=Decimal(line["units"]),
                )
                for line in c["lines"]
            ),
        )
    return ids
