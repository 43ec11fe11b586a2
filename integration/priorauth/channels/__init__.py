"""Sending a case to the payer by its channel (NCPDP SCRIPT ePA, X12 278, Da Vinci PAS) and
reading the answer. The codecs are pure; `transport` is the only module that does I/O."""
