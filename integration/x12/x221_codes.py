"""Code lists the 835 (005010X221A1) codec branches on or validates, with where each comes from.

Sources: the X12 005010X221A1 TR3 segment and element lists as published by Stedi's X221 guide
(stedi.com/app/guides/view/hipaa/health-care-claim-payment-advice-x221a1) and X12's own
005010X221A1 examples (x12.org/examples/005010x221); pyx12's map 835.5010.X221.A1.xml carries the
same ID lists. The licensed TR3 stays the authority. CARC/RARC code values themselves are not
here: the codec only checks their shape; their categories live in mappings/denials.

Balancing (TR3 section 1.10.2.1, quoted by X12 RFI 2601,
x12.org/resources/requests-for-interpretation/rfi-2601-claim-line-balancing-relationship-charged-allowed,
and summarised at ediacademy.com/blog/835):
  service line: SVC02 - sum(2110 CAS amounts) = SVC03
  claim:        CLP03 - sum(2100 and 2110 CAS amounts) = CLP04
  transaction:  sum(CLP04) - sum(PLB04/06/08/10/12/14) = BPR02
"""

from __future__ import annotations

from enum import StrEnum

IMPLEMENTATION_REFERENCE = "005010X221A1"
FUNCTIONAL_ID = "HP"  # GS01 for the 835
TRANSACTION_SET_ID = "835"

# BPR01 transaction handling code.
HANDLING_CODES: dict[str, str] = {
    "C": "Payment accompanies remittance advice",
    "D": "Make payment only",
    "H": "Notification only",
    "I": "Remittance information only",
    "P": "Prenotification of future transfers",
    "U": "Split payment and remittance",
    "X": "Handling party's option to split payment and remittance",
}

# BPR03 credit/debit flag.
CREDIT_DEBIT: dict[str, str] = {"C": "Credit", "D": "Debit"}

# BPR04 payment method code.
PAYMENT_METHODS: dict[str, str] = {
    "ACH": "Automated Clearing House (ACH)",
    "BOP": "Financial institution option",
    "CHK": "Check",
    "FWT": "Federal Reserve funds/wire transfer - nonrepetitive",
    "NON": "Non-payment data",
}


class ClaimStatus(StrEnum):
    """CLP02 claim status code (the posting ledger branches on reversals and denials)."""

    PRIMARY = "1"
    SECONDARY = "2"
    TERTIARY = "3"
    DENIED = "4"
    PRIMARY_FORWARDED = "19"
    SECONDARY_FORWARDED = "20"
    TERTIARY_FORWARDED = "21"
    REVERSAL = "22"
    NOT_OUR_CLAIM_FORWARDED = "23"
    PREDETERMINATION = "25"


CLAIM_STATUSES: dict[str, str] = {
    "1": "Processed as primary",
    "2": "Processed as secondary",
    "3": "Processed as tertiary",
    "4": "Denied",
    "19": "Processed as primary, forwarded to additional payer(s)",
    "20": "Processed as secondary, forwarded to additional payer(s)",
    "21": "Processed as tertiary, forwarded to additional payer(s)",
    "22": "Reversal of previous payment",
    "23": "Not our claim, forwarded to additional payer(s)",
    "25": "Predetermination pricing only - no payment",
}


class AdjustmentGroup(StrEnum):
    """CAS01 claim adjustment group code (5010 dropped CR)."""

    CONTRACTUAL = "CO"
    OTHER = "OA"
    PAYER_INITIATED = "PI"
    PATIENT_RESPONSIBILITY = "PR"


ADJUSTMENT_GROUPS: dict[str, str] = {
    "CO": "Contractual obligations",
    "OA": "Other adjustments",
    "PI": "Payor initiated reductions",
    "PR": "Patient responsibility",
}
MAX_CAS_TRIPLETS = 6  # CAS02..CAS19

# CLP06 claim filing indicator code.
FILING_INDICATORS: dict[str, str] = {
    "12": "Preferred provider organization (PPO)",
    "13": "Point of service (POS)",
    "14": "Exclusive provider organization (EPO)",
    "15": "Indemnity insurance",
    "16": "Health maintenance organization (HMO) Medicare risk",
    "17": "Dental maintenance organization",
    "AM": "Automobile medical",
    "CH": "Champus",
    "DS": "Disability",
    "HM": "Health maintenance organization",
    "LM": "Liability medical",
    "MA": "Medicare part A",
    "MB": "Medicare part B",
    "MC": "Medicaid",
    "OF": "Other federal program",
    "TV": "Title V",
    "VA": "Veterans affairs plan",
    "WC": "Workers' compensation health claim",
    "ZZ": "Mutually defined",
}

# SVC01-1 / SVC06-1 product or service id qualifier.
SERVICE_QUALIFIERS: dict[str, str] = {
    "AD": "American Dental Association codes",
    "ER": "Jurisdiction specific procedure and supply codes",
    "HC": "HCPCS / CPT codes",
    "HP": "Health insurance prospective payment system (HIPPS) skilled nursing facility rate code",
    "IV": "Home infusion EDI coalition (HIEC) product/service code",
    "N4": "National drug code in 5-4-2 format",
    "NU": "National uniform billing committee (NUBC) UB92 codes",
    "WK": "Advanced billing concepts (ABC) codes",
}
MAX_MODIFIERS = 4

# LQ01 code list qualifier (2110 health care remark codes).
REMARK_QUALIFIERS: dict[str, str] = {
    "HE": "Claim payment remark codes (RARC)",
    "RX": "National council for prescription drug programs reject/payment codes",
}

# 2100 NM1 entity identifier codes.
CLAIM_ENTITIES: dict[str, str] = {
    "QC": "Patient",
    "IL": "Insured or subscriber",
    "74": "Corrected insured",
    "82": "Rendering provider",
    "TT": "Transfer to (crossover carrier)",
    "PR": "Corrected priority payer",
    "GB": "Other subscriber",
}

# DTM01 qualifiers by loop.
HEADER_DATES = {"405": "Production date"}
CLAIM_DATES = {
    "036": "Coverage expiration",
    "050": "Claim received",
    "232": "Claim statement period start",
    "233": "Claim statement period end",
}
SERVICE_DATES = {"150": "Service period start", "151": "Service period end", "472": "Service"}

# N1 entity identifier codes of the 1000A/1000B loops.
PAYER_ENTITY = "PR"
PAYEE_ENTITY = "PE"
PAYEE_ID_QUALIFIERS: dict[str, str] = {
    "FI": "Federal taxpayer's identification number",
    "XV": "Centers for Medicare and Medicaid Services PlanID",
    "XX": "Centers for Medicare and Medicaid Services National Provider Identifier",
}

# PLB03-1 .. PLB13-1 provider adjustment reason codes.
PLB_REASONS: dict[str, str] = {
    "50": "Late charge",
    "51": "Interest penalty charge",
    "72": "Authorized return",
    "90": "Early payment allowance",
    "AH": "Origination fee",
    "AM": "Applied to borrower's account",
    "AP": "Acceleration of benefits",
    "B2": "Rebate",
    "B3": "Recovery allowance",
    "BD": "Bad debt adjustment",
    "BN": "Bonus",
    "C5": "Temporary allowance",
    "CR": "Capitation interest",
    "CS": "Adjustment",
    "CT": "Capitation payment",
    "CV": "Capital passthru",
    "CW": "Certified registered nurse anesthetist passthru",
    "DM": "Direct medical education passthru",
    "E3": "Withholding",
    "FB": "Forwarding balance",
    "FC": "Fund allocation",
    "GO": "Graduate medical education passthru",
    "HM": "Hemophilia clotting factor supplement",
    "IP": "Incentive premium payment",
    "IR": "Internal revenue service withholding",
    "IS": "Interim settlement",
    "J1": "Nonreimbursable",
    "L3": "Penalty",
    "L6": "Interest owed",
    "LE": "Levy",
    "LS": "Lump sum",
    "OA": "Organ acquisition passthru",
    "OB": "Offset for affiliated providers",
    "PI": "Periodic interim payment",
    "PL": "Payment final",
    "RA": "Retro-activity adjustment",
    "RE": "Return on equity",
    "SL": "Student loan repayment",
    "TL": "Third party liability",
    "WO": "Overpayment recovery",
    "WU": "Unspecified recovery",
}
MAX_PLB_PAIRS = 6  # PLB03/04 .. PLB13/14
