"""Third-party servers that derm-rcm's tests talk to (see medplum_peer.py)."""
