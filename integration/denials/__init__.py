"""Denials: posting 835 remittances against our claims (`remittance`), the CARC/RARC categories
(`categories`) and the `dermrcm era` command (`cli`)."""
