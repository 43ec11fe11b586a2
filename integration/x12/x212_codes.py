"""Code lists the 276/277 (005010X212) and 277CA (005010X214) codecs check or branch on.

Sources: the X12 005010X212 and 005010X214 TR3 segment lists as published by Stedi's guides
(stedi.com/app/guides/view/hipaa/health-care-claim-status-request, -response, and
health-care-claim-acknowledgment) and pyx12's maps 277.5010.X212.xml / 277.5010.X214.xml
(BSD-3-Clause). Values only: the claim status category and status code lists (code source 507
and 508) are maintained by X12 outside the TR3; they are checked here by their structure
(category A0-A8, D0, E0-E4, F0-F4, P0-P5, R0-R16; status code 1-4 digits), not by content.
"""

from __future__ import annotations

REQUEST_REFERENCE = "005010X212"  # 276 and 277
ACK_REFERENCE = "005010X214"  # 277CA
FUNCTIONAL_ID_276 = "HR"
FUNCTIONAL_ID_277 = "HN"

BHT_STRUCTURE = {REQUEST_REFERENCE: "0010", ACK_REFERENCE: "0085"}
PURPOSE_REQUEST = "13"  # 276 BHT02
PURPOSE_RESPONSE = "08"  # 277 / 277CA BHT02 (status)

# HL03 -> loop id and the level of its parent, per guide.
HL_LOOPS: dict[str, dict[str, str]] = {
    REQUEST_REFERENCE: {"20": "2000A", "21": "2000B", "19": "2000C", "22": "2000D", "23": "2000E"},
    ACK_REFERENCE: {"20": "2000A", "21": "2000B", "19": "2000C", "PT": "2000D"},
}
HL_PARENT: dict[str, dict[str, str | None]] = {
    REQUEST_REFERENCE: {"20": None, "21": "20", "19": "21", "22": "19", "23": "22"},
    ACK_REFERENCE: {"20": None, "21": "20", "19": "21", "PT": "19"},
}

# Claim status category codes (STC01-1, STC10-1, STC11-1): structure of code source 507.
CATEGORY_CODES = frozenset(
    [f"A{n}" for n in range(9)]
    + ["D0"]
    + [f"E{n}" for n in range(5)]
    + [f"F{n}" for n in range(5)]
    + [f"P{n}" for n in range(6)]
    + [f"R{n}" for n in range(17)]
)
ACKNOWLEDGED = frozenset(f"A{n}" for n in range(9))  # A* acknowledgement categories
FINALIZED = frozenset(f"F{n}" for n in range(5))
PENDING = frozenset(f"P{n}" for n in range(6))

# REF qualifiers read into named properties.
PAYER_CLAIM_NUMBER = "1K"
PATIENT_ACCOUNT = "EJ"
SERVICE_DATE = "472"
