"""HL7 v2: MLLP framing, parsing, acknowledgements, listener."""
