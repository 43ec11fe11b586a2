"""Code lists the 270/271 (005010X279A1) codecs check or branch on, with where they come from.

Sources: the X12 005010X279A1 TR3 element lists as published by Stedi's X279 guides
(stedi.com/app/guides/view/hipaa/health-care-eligibility-benefit-inquiry and -response) and the
public LinuxForHealth/x12 270/271 models; the licensed TR3 stays the authority. Values only.
Service type codes (EQ01, EB03) are checked for their form (1 or 2 letters/digits), not against
the full list.
"""

from __future__ import annotations

IMPLEMENTATION_REFERENCE = "005010X279A1"
READABLE_REFERENCES = ("005010X279", "005010X279A1")  # ST03 we read (the A1 errata and before)
FUNCTIONAL_ID_270 = "HS"
FUNCTIONAL_ID_271 = "HB"
BHT_STRUCTURE = "0022"
PURPOSE_REQUEST = "13"  # BHT02 in a 270
PURPOSE_RESPONSE = "11"  # BHT02 in a 271

# HL03 -> loop id, and the level its HL02 parent must have.
HL_LOOPS: dict[str, str] = {"20": "2000A", "21": "2000B", "22": "2000C", "23": "2000D"}
HL_PARENT: dict[str, str | None] = {"20": None, "21": "20", "22": "21", "23": "22"}
NAME_LOOPS: dict[str, str] = {"20": "2100A", "21": "2100B", "22": "2100C", "23": "2100D"}
BENEFIT_LOOPS: dict[str, str] = {"22": "2110C", "23": "2110D"}

GENERAL_SERVICE_TYPE = "30"  # health benefit plan coverage: the default inquiry

# EB01 eligibility or benefit information codes.
BENEFIT_INFO_CODES = frozenset(
    {"1", "2", "3", "4", "5", "6", "7", "8"} | set("ABCDEFGHIJKLMNOPQRSTUVWXY") | {"CB", "MC"}
)
ACTIVE_CODES = frozenset({"1", "2", "3", "4", "5"})
INACTIVE_CODES = frozenset({"6", "7", "8"})
COINSURANCE = "A"
COPAYMENT = "B"
DEDUCTIBLE = "C"
OUT_OF_POCKET = "G"

# EB02 coverage level codes.
COVERAGE_LEVELS = frozenset({"CHD", "DEP", "ECH", "EMP", "ESP", "FAM", "IND", "SPC", "SPO", "TWO"})

# EB06 time period qualifiers; 29 and 33 mark remaining amounts.
TIME_PERIODS = frozenset(
    {"6", "7", "13", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31", "32", "33"}
    | {"34", "35", "36"}
)
REMAINING_PERIODS = frozenset({"29", "33"})

# EB11 authorization or certification indicator, EB12 in plan network indicator.
AUTHORIZATION_INDICATORS = frozenset({"N", "U", "Y"})
NETWORK_INDICATORS = frozenset({"N", "U", "W", "Y"})

# AAA01 valid request indicator.
YES_NO = frozenset({"N", "Y"})
