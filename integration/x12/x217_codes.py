"""Code lists the 278 (005010X217) codec checks, with where each comes from.

Sources: the X12 005010X217 TR3 segment and element lists as published by Stedi's X217 guides
(stedi.com/app/guides/view/hipaa/278, request and response) and X12's own 005010X217 examples
(x12.org/examples/005010x217); the licensed TR3 stays the authority. Only codes the codec branches
on or validates live here.
"""

from __future__ import annotations

IMPLEMENTATION_REFERENCE = "005010X217"
FUNCTIONAL_ID = "HI"  # GS01 for the 278

# BHT02 transaction set purpose code.
PURPOSE_REQUEST = "13"
PURPOSE_RESPONSE = "11"
PURPOSE_CANCELLATION = "01"  # a request that cancels an earlier one (with UM02 3)
REQUEST_PURPOSES = (PURPOSE_REQUEST, PURPOSE_CANCELLATION)

# HL03 hierarchical level code -> loop id, and the level(s) its HL02 parent must have.
HL_LOOPS: dict[str, str] = {
    "20": "2000A",  # utilization management organization (UMO)
    "21": "2000B",  # requester
    "22": "2000C",  # subscriber
    "23": "2000D",  # dependent
    "EV": "2000E",  # patient event
    "SS": "2000F",  # service
}
HL_PARENTS: dict[str, tuple[str, ...]] = {
    "20": (),
    "21": ("20",),
    "22": ("21",),
    "23": ("22",),
    "EV": ("22", "23"),
    "SS": ("EV",),
}
PARTY_LOOPS: dict[str, str] = {
    "2000A": "2010A",
    "2000B": "2010B",
    "2000C": "2010C",
    "2000D": "2010D",
    "2000E": "2010E",
    "2000F": "2010F",
}

# UM01 request category code (2000E: all three; 2000F: HS or SC).
REQUEST_CATEGORY: dict[str, str] = {
    "AR": "Admission Review",
    "HS": "Health Services Review",
    "SC": "Specialty Care Review",
}
SERVICE_REQUEST_CATEGORY: dict[str, str] = {
    "HS": "Health Services Review",
    "SC": "Specialty Care Review",
}

# UM02 certification type code.
CERTIFICATION_TYPE: dict[str, str] = {
    "1": "Appeal - Immediate",
    "2": "Appeal - Standard",
    "3": "Cancel",
    "4": "Extension",
    "I": "Initial",
    "R": "Renewal",
    "S": "Revised",
}

# HCR01 action code (response only).
ACTION_CODE: dict[str, str] = {
    "A1": "Certified in total",
    "A2": "Certified - partial",
    "A3": "Not Certified",
    "A4": "Pended",
    "A6": "Modified",
    "C": "Cancelled",
    "CT": "Contact Payer",
    "NA": "No Action Required",
}

# DTP01 qualifiers used at 2000E / 2000F.
DATE_EVENT = "AAH"
DATE_ADMISSION = "435"
DATE_DISCHARGE = "096"
DATE_SERVICE = "472"
DATE_CERTIFICATION_ISSUE = "102"
DATE_CERTIFICATION_EXPIRATION = "036"
DATE_CERTIFICATION_EFFECTIVE = "007"

# HI01-1 / HIxx-1 qualifiers: ICD-10-CM principal and other diagnosis.
DIAGNOSIS_ICD10_PRINCIPAL = "ABK"
DIAGNOSIS_ICD10_OTHER = "ABF"
MAX_DIAGNOSES = 12
MAX_MODIFIERS = 4
