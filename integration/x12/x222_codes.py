"""Code lists the 837P module (005010X222A1) branches on or validates.

Sources: ASC X12N 005010X222A1 TR3 (Health Care Claim: Professional), sections 2.3/2.4 (loop
and segment tables, HL levels, CLM05 and SV101 code notes), the public example claims in the
TR3's section 3 (reproduced by LinuxForHealth/x12 and Inteligenz/X12Parser test files), and
pyx12's map 837.5010.X222.A1.xml (BSD-3-Clause). Codes only, no descriptors of CPT codes.
"""

from __future__ import annotations

TRANSACTION_SET_ID = "837"
IMPLEMENTATION_REFERENCE = "005010X222A1"
# The base guide and its later errata keep the same loop structure; they are read alike.
ACCEPTED_REFERENCES = ("005010X222", "005010X222A1", "005010X222A2")
FUNCTIONAL_ID = "HC"
HIERARCHICAL_STRUCTURE = "0019"  # BHT01

BHT_PURPOSE = {"00": "Original", "18": "Reissue"}
BHT_CLAIM_TYPE = {"31": "Subrogation demand", "CH": "Chargeable", "RP": "Reporting"}

# HL03 -> loop, and the levels a parent may have.
HL_LOOPS = {"20": "2000A", "22": "2000B", "23": "2000C"}
HL_PARENTS: dict[str, tuple[str, ...]] = {"20": (), "22": ("20",), "23": ("22",)}

# NM101 entity identifier -> name loop, per enclosing loop.
HEADER_PARTIES = {"41": "1000A", "40": "1000B"}
BILLING_PARTIES = {"85": "2010AA", "87": "2010AB", "PE": "2010AC"}
SUBSCRIBER_PARTIES = {"IL": "2010BA", "PR": "2010BB"}
PATIENT_PARTIES = {"QC": "2010CA"}
CLAIM_PARTIES = {
    "DN": "2310A",
    "P3": "2310A",
    "82": "2310B",
    "77": "2310C",
    "DQ": "2310D",
    "PW": "2310E",
    "45": "2310F",
}
OTHER_PAYER_PARTIES = {
    "IL": "2330A",
    "PR": "2330B",
    "DN": "2330C",
    "P3": "2330C",
    "82": "2330D",
    "77": "2330E",
    "DQ": "2330F",
    "85": "2330G",
}
LINE_PARTIES = {
    "82": "2420A",
    "QB": "2420B",
    "77": "2420C",
    "DQ": "2420D",
    "DK": "2420E",
    "DN": "2420F",
    "P3": "2420F",
    "PW": "2420G",
    "45": "2420H",
}

ENTITY_TYPE = {"1": "Person", "2": "Non-person entity"}  # NM102

# Segments each loop may hold (its name loops included), TR3 section 2.4.
LOOP_SEGMENTS: dict[str, frozenset[str]] = {
    "1000": frozenset({"BHT", "NM1", "PER"}),
    "2000A": frozenset({"PRV", "CUR", "NM1", "N3", "N4", "REF", "PER"}),
    "2000B": frozenset({"SBR", "PAT", "NM1", "N3", "N4", "DMG", "REF", "PER"}),
    "2000C": frozenset({"PAT", "NM1", "N3", "N4", "DMG", "REF", "PER"}),
    "2300": frozenset(
        {"CLM", "DTP", "PWK", "CN1", "AMT", "REF", "K3", "NTE", "CR1", "CR2", "CRC", "HI"}
        | {"HCP", "NM1", "PRV", "N3", "N4", "PER"}
    ),
    "2320": frozenset({"SBR", "CAS", "AMT", "OI", "MOA", "NM1", "N3", "N4", "REF", "DTP"}),
    "2400": frozenset(
        {"LX", "SV1", "SV5", "PWK", "CR1", "CR3", "CRC", "DTP", "QTY", "MEA", "CN1", "REF"}
        | {"AMT", "K3", "NTE", "PS1", "HCP", "LIN", "CTP", "NM1", "PRV", "N3", "N4", "PER"}
    ),
    "2430": frozenset({"SVD", "CAS", "DTP", "AMT"}),
    "2440": frozenset({"LQ", "FRM"}),
}

# CLM05-3 claim frequency type (code source 235) as used in 837P.
CLAIM_FREQUENCY = {
    "1": "Original claim",
    "6": "Corrected claim",
    "7": "Replacement of prior claim",
    "8": "Void or cancel of prior claim",
}
FREQUENCIES_NEEDING_ORIGINAL = ("7", "8")  # REF*F8 payer claim control number required
FACILITY_QUALIFIER = "B"  # CLM05-2: place of service codes for professional services

# SBR01 payer responsibility sequence.
PAYER_RESPONSIBILITY = {
    "A": "Payer responsibility four",
    "B": "Payer responsibility five",
    "C": "Payer responsibility six",
    "D": "Payer responsibility seven",
    "E": "Payer responsibility eight",
    "F": "Payer responsibility nine",
    "G": "Payer responsibility ten",
    "H": "Payer responsibility eleven",
    "P": "Primary",
    "S": "Secondary",
    "T": "Tertiary",
    "U": "Unknown",
}

# HI: ICD-10-CM (ABK principal, ABF other) and ICD-9-CM (BK, BF).
DIAGNOSIS_PRINCIPAL = ("ABK", "BK")
DIAGNOSIS_OTHER = ("ABF", "BF")
NON_DIAGNOSIS_HI = ("BP", "BO", "BG")  # anesthesia procedures, condition information
DIAGNOSIS_ICD10_PRINCIPAL = "ABK"
DIAGNOSIS_ICD10_OTHER = "ABF"
MAX_DIAGNOSES = 12
MAX_POINTERS = 4  # SV107
MAX_MODIFIERS = 4

# SV101-1 product/service id qualifier.
SV1_PROCEDURE_QUALIFIERS = {
    "ER": "Jurisdiction specific procedure code",
    "HC": "HCPCS / CPT codes",
    "IV": "Home infusion EDI coalition codes",
    "WK": "Advanced billing concepts codes",
}
SV1_UNITS = {"MJ": "Minutes", "UN": "Unit"}

# CAS01 claim adjustment group.
ADJUSTMENT_GROUP = {
    "CO": "Contractual obligations",
    "OA": "Other adjustments",
    "PI": "Payer initiated reductions",
    "PR": "Patient responsibility",
}
MAX_ADJUSTMENT_REASONS = 6  # CAS02..CAS19 triplets

DATE_SERVICE = "472"
DATE_ADJUDICATION = "573"
TAX_ID_QUALIFIERS = ("EI", "SY")  # 2010AA REF01: employer id, social security number
REF_PRIOR_AUTHORIZATION = "G1"
REF_PAYER_CLAIM_CONTROL = "F8"
AMT_PAYER_PAID = "D"
NDC_QUALIFIER = "N4"
