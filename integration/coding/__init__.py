"""Coding: claim scrubbing rules, NCCI/MUE reference tables, notes to codes, denial risk."""
