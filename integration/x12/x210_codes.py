"""Code values the 275 (005010X210) codec writes and checks, each with where it comes from.

The X12 TR3 itself is licensed (x12.org); what we could read publicly, and cite:

- [stedi-x210] Stedi, "EDI 275 X210 - Patient Information" (stedi.com/edi/hipaa/transaction-set/
  275-A9): heading ST, BGN; loop 1000A Payer Name (NM1, PER only when BGN01 is 11 and the 277
  carried one); 1000B Submitter Information; 1000C (provider); 1000D (patient).
- [stedi-bin] Stedi, X12 BIN segment (stedi.com/edi/x12-005020/segment/BIN): BIN01 "Length of
  Binary Data", N0 1/15, "the length in integral octets of the binary data"; BIN02 "Binary Data",
  type B, "a string of octets which can assume any binary pattern from hexadecimal 00 to FF".
- [dw-275] A public FHIR-to-X12 DataWeave mapping for "v005010X210" 275 (x12SegmentQualifiers.dwl
  "275Submit" with its 275 submit map): BGN01 02; NM1 PR/2/PI (1000A), 41/2/46 (1000B), 1P/XX
  (1000C), QC/1/MI (1000D); 1000D REF EJ (patient control number), EA (medical record), D9;
  DTP 472 D8/RD8 claim service date; 2000A LX 1 and TRN 1 "Payer Claim Control Number / Provider
  Attachment Control Number"; DTP 368 D8 additional information submission date and CAT (2100B);
  EFI 05 and BIN (2110B).
- [optum-275] Optum / Change Healthcare Attachment Submissions JSON-to-EDI mapping
  (developer.optum.com/eligibilityandclaims/docs/attachment-submissions-json-to-edi-mapping and
  .../attach-multiple-files-in-one-transaction): 1000B NM103/NM109 ETIN (NM108 46), 1000C NPI
  (NM108 XX); an unsolicited attachment needs a unique provider attachment control number per
  document, a solicited one carries the payer claim control number.
- [uhc-esmd] Public test of a 275 builder citing the UHC and CMS esMD companion guides (006020X314,
  the successor of X210): BGN01 02 for an unsolicited attachment, 11 when answering a 277; TRN01 1
  with the claim's PWK06 when unsolicited, TRN01 2 with the 277's TRN02 when solicited; DTP 472
  claim service date; DTP 368 submission date; CAT01 AE with CAT02 IA for an image (unstructured
  document), HL for an HL7 document.
- GS01 "PI" (Patient Information) and ST03/GS08 005010X210: public X210 samples (GS*PI*...*X*
  005010X210~ ST*275*0001*005010X210~).

Not confirmed from a public source (written only when known, named in the module docstring):
REF 1K (payer claim control number, the qualifier the 277 X212/X214 uses in 2200D) in 1000D.
"""

from __future__ import annotations

IMPLEMENTATION_REFERENCE = "005010X210"  # ST03 / GS08 (public X210 samples)
FUNCTIONAL_ID = "PI"  # GS01 Patient Information (public X210 samples)
TRANSACTION_SET_ID = "275"

# BGN01 transaction set purpose [uhc-esmd], [dw-275]
PURPOSE_UNSOLICITED = "02"  # add: an unsolicited attachment
PURPOSE_RESPONSE = "11"  # response to a 277 request for additional information
PURPOSES = {PURPOSE_UNSOLICITED: "unsolicited (add)", PURPOSE_RESPONSE: "response to a 277"}

# NM1 entity, entity type and id qualifier per heading loop [stedi-x210], [dw-275], [optum-275]
PAYER = "PR"
SUBMITTER = "41"
PROVIDER = "1P"
PATIENT = "QC"
LOOPS = {PAYER: "1000A", SUBMITTER: "1000B", PROVIDER: "1000C", PATIENT: "1000D"}
ENTITY_NAMES = {PAYER: "payer", SUBMITTER: "submitter", PROVIDER: "provider", PATIENT: "patient"}
ID_QUALIFIERS = {PAYER: "PI", SUBMITTER: "46", PROVIDER: "XX", PATIENT: "MI"}
ENTITY_TYPES = {"1": "person", "2": "non-person entity"}

# 1000D REF qualifiers [dw-275]; 1K see the module docstring
REF_PATIENT_CONTROL_NUMBER = "EJ"  # our CLM01 (the 837's patient control number)
REF_MEDICAL_RECORD = "EA"
REF_CLEARINGHOUSE_CLAIM = "D9"
REF_PAYER_CLAIM_NUMBER = "1K"  # the 835's CLP07
PATIENT_REFERENCES = {
    REF_PATIENT_CONTROL_NUMBER: "patient control number",
    REF_MEDICAL_RECORD: "medical record number",
    REF_CLEARINGHOUSE_CLAIM: "clearinghouse claim number",
    REF_PAYER_CLAIM_NUMBER: "payer claim control number",
}

# DTP qualifiers [dw-275], [uhc-esmd]
DTP_SERVICE = "472"  # claim service date (1000D)
DTP_SUBMITTED = "368"  # additional information submission date (2100B)
DATE_FORMATS = {"D8": "date", "RD8": "date range"}

# TRN01 [uhc-esmd]
TRACE_UNSOLICITED = "1"  # TRN02 = the provider attachment control number (the claim's PWK06)
TRACE_SOLICITED = "2"  # TRN02 = the 277's TRN02
TRACE_TYPES = {
    TRACE_UNSOLICITED: "provider attachment control number",
    TRACE_SOLICITED: "277 trace",
}

# CAT [uhc-esmd], [dw-275]
CATEGORY_ATTACHMENT = "AE"
FORMAT_IMAGE = "IA"  # an unstructured document (image, PDF)
FORMAT_HL7 = "HL"  # an HL7 (CDA) document
CATEGORIES = {CATEGORY_ATTACHMENT: "attachment"}
FORMATS = {FORMAT_IMAGE: "image / unstructured document (PDF)", FORMAT_HL7: "HL7 document"}

# EFI01 [dw-275]
EFI_DEFAULT = "05"

# The loops of the detail [dw-275]
LOOP_DOCUMENT = "2000A"  # LX, TRN
LOOP_SUBMISSION = "2100B"  # DTP 368, CAT
LOOP_BINARY = "2110B"  # EFI, BIN
