"""derm-rcm's integration server: HL7 v2, X12, FHIR, claims and prior authorizations."""

import os

if os.environ.get("DERMRCM_NATIVE") == "0":  # the mypyc-compiled modules as Python
    from integration.native import run_as_python

    run_as_python()
