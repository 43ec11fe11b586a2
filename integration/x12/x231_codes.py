"""Code lists the 999 (005010X231A1) and TA1 codecs check or branch on, with where they come from.

Sources: the code values (only the values, no descriptions) are those of pyx12's
`map/999.5010X231.A1.xml` (azoner/pyx12, BSD-3-Clause), which follows the X12 005010X231A1 TR3;
the licensed TR3 stays the authority. Names of the constants are our own short labels.

`ELEMENT_CODE_RULES` / `SEGMENT_CODE_RULES` / `ENVELOPE_CODE_RULES` map our located `Problem`s to
999/TA1 error codes when a problem carries no `code` of its own (the envelope and the readers set
`Problem.code`/`level` where they know it, and `t999_005010x231a1.classify` takes that first).
The fallback classifies by where the problem is (segment id, element) and by the wording of its
message: the rules are data, read in order, first match wins.
"""

from __future__ import annotations

IMPLEMENTATION_REFERENCE = "005010X231A1"
READABLE_REFERENCES = ("005010X231", "005010X231A1")  # ST03 / GS08 we read
FUNCTIONAL_ID = "FA"  # GS01 of a 999

# AK901 functional group and IK501 transaction set acknowledgment codes.
GROUP_ACK_CODES = frozenset({"A", "E", "M", "P", "R", "W", "X"})
TRANSACTION_ACK_CODES = frozenset({"A", "E", "M", "R", "W", "X"})
ACCEPTED = "A"
ACCEPTED_WITH_ERRORS = "E"
PARTIALLY_ACCEPTED = "P"
REJECTED = "R"
ACCEPTED_STATUSES = frozenset({ACCEPTED, ACCEPTED_WITH_ERRORS})

# IK304 segment syntax error codes.
SEGMENT_ERROR_CODES = frozenset(
    {"1", "2", "3", "4", "5", "6", "7", "8", "I4", "I6", "I7", "I8", "I9"}
)
SEGMENT_UNRECOGNIZED = "1"
SEGMENT_UNEXPECTED = "2"
SEGMENT_REQUIRED_MISSING = "3"
SEGMENT_LOOP_OVER_MAXIMUM = "4"
SEGMENT_HAS_ELEMENT_ERRORS = "8"

# IK403 data element syntax error codes.
ELEMENT_ERROR_CODES = frozenset(
    {
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",
        "8",
        "9",
        "10",
        "12",
        "13",
        "I10",
        "I11",
        "I12",
        "I13",
        "I6",
        "I9",
    }
)
ELEMENT_REQUIRED_MISSING = "1"
ELEMENT_INVALID_CHARACTER = "6"
ELEMENT_INVALID_CODE = "7"
ELEMENT_INVALID_DATE = "8"
ELEMENT_INVALID_TIME = "9"

# IK502..IK506 transaction set syntax error codes.
TRANSACTION_ERROR_CODES = frozenset(
    {
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",
        "8",
        "9",
        "10",
        "11",
        "12",
        "13",
        "15",
        "16",
        "17",
        "18",
        "19",
        "23",
        "24",
        "25",
        "26",
        "27",
        "I5",
        "I6",
    }
)
TRANSACTION_TRAILER_MISSING = "2"
TRANSACTION_CONTROL_MISMATCH = "3"
TRANSACTION_COUNT_MISMATCH = "4"
TRANSACTION_SEGMENTS_IN_ERROR = "5"
TRANSACTION_BAD_SET_ID = "6"
TRANSACTION_BAD_CONTROL_NUMBER = "7"
TRANSACTION_BAD_CONVENTION = "19"
TRANSACTION_NOT_UNIQUE = "23"

# AK905..AK909 functional group syntax error codes.
GROUP_ERROR_CODES = frozenset(
    {
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "10",
        "11",
        "12",
        "13",
        "14",
        "15",
        "16",
        "17",
        "18",
        "19",
        "23",
        "24",
        "25",
        "26",
    }
)
GROUP_NOT_SUPPORTED = "1"
GROUP_VERSION_NOT_SUPPORTED = "2"
GROUP_TRAILER_MISSING = "3"
GROUP_CONTROL_MISMATCH = "4"
GROUP_COUNT_MISMATCH = "5"
GROUP_BAD_CONTROL_NUMBER = "6"

# TA104 interchange acknowledgment codes and TA105 interchange note codes.
INTERCHANGE_ACK_CODES = frozenset({"A", "E", "R"})
INTERCHANGE_NOTE_CODES = frozenset(f"{n:03d}" for n in range(32))
NOTE_NO_ERROR = "000"
NOTE_CONTROL_MISMATCH = "001"
NOTE_GROUP_COUNT = "021"
NOTE_CONTROL_STRUCTURE = "022"
NOTE_PREMATURE_END = "023"
NOTE_INVALID_CONTENT = "024"
NOTE_ELEMENT_SEPARATOR = "026"
NOTE_COMPONENT_SEPARATOR = "027"
# An ISA element in error -> its TA105 note code.
ISA_ELEMENT_NOTES: dict[str, str] = {
    "ISA01": "010",
    "ISA02": "011",
    "ISA03": "012",
    "ISA04": "013",
    "ISA05": "005",
    "ISA06": "006",
    "ISA07": "007",
    "ISA08": "008",
    "ISA09": "014",
    "ISA10": "015",
    "ISA11": "016",
    "ISA12": "017",
    "ISA13": "018",
    "ISA14": "019",
    "ISA15": "020",
    "ISA16": "027",
}

# -- classifying our Problems ------------------------------------------------------------------
# (level, segment id or "", element or "", message substring or "", code): first match wins.
# level: "interchange" -> TA105, "group" -> AK905, "transaction" -> IK502.
ENVELOPE_CODE_RULES: tuple[tuple[str, str, str, str, str], ...] = (
    ("interchange", "IEA", "IEA01", "", NOTE_GROUP_COUNT),
    ("interchange", "IEA", "IEA02", "", NOTE_CONTROL_MISMATCH),
    ("interchange", "", "", "expected IEA at the end", NOTE_PREMATURE_END),
    ("interchange", "", "", "expected IEA before", NOTE_CONTROL_STRUCTURE),
    ("interchange", "", "", "expected the interchange to start with ISA", NOTE_CONTROL_STRUCTURE),
    ("interchange", "", "", "expected ISA, got", NOTE_CONTROL_STRUCTURE),
    ("interchange", "", "", "expected GS, got", NOTE_INVALID_CONTENT),
    ("interchange", "ISA", "", "distinct non-alphanumeric delimiters", NOTE_ELEMENT_SEPARATOR),
    ("interchange", "ISA", "", "", NOTE_CONTROL_STRUCTURE),  # element-specific: ISA_ELEMENT_NOTES
    ("group", "GE", "GE01", "", GROUP_COUNT_MISMATCH),
    ("group", "GE", "GE02", "", GROUP_CONTROL_MISMATCH),
    ("group", "", "", "expected GE before", GROUP_TRAILER_MISSING),
    ("group", "GS", "GS01", "", GROUP_NOT_SUPPORTED),
    ("group", "GS", "GS06", "", GROUP_BAD_CONTROL_NUMBER),
    ("transaction", "SE", "SE01", "", TRANSACTION_COUNT_MISMATCH),
    ("transaction", "SE", "SE02", "", TRANSACTION_CONTROL_MISMATCH),
    ("transaction", "", "", "expected SE before", TRANSACTION_TRAILER_MISSING),
    ("transaction", "", "", "expected ST before SE", TRANSACTION_TRAILER_MISSING),
    ("transaction", "ST", "ST01", "", TRANSACTION_BAD_SET_ID),
    ("transaction", "ST", "ST02", "", TRANSACTION_BAD_CONTROL_NUMBER),
    ("transaction", "ST", "ST03", "", TRANSACTION_BAD_CONVENTION),
    ("transaction", "GS", "GS08", "", TRANSACTION_BAD_CONVENTION),
)

# (message substring, IK403 code) for a problem located at an element; default ELEMENT_INVALID_CODE.
ELEMENT_CODE_RULES: tuple[tuple[str, str], ...] = (
    ("got ''", ELEMENT_REQUIRED_MISSING),
    ("expected a date", ELEMENT_INVALID_DATE),
    ("CCYYMMDD", ELEMENT_INVALID_DATE),
    ("expected HHMM", ELEMENT_INVALID_TIME),
    ("expected a number", ELEMENT_INVALID_CHARACTER),
    ("without the", ELEMENT_INVALID_CHARACTER),
    ("expected one of", ELEMENT_INVALID_CODE),
)

# (message substring, IK304 code) for a problem located at a segment only; default
# SEGMENT_UNEXPECTED.
SEGMENT_CODE_RULES: tuple[tuple[str, str], ...] = (
    ("got none", SEGMENT_REQUIRED_MISSING),
    ("got another", SEGMENT_LOOP_OVER_MAXIMUM),
    ("unknown segment", SEGMENT_UNRECOGNIZED),
)
