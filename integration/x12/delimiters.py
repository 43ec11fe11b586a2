"""Delimiters read from the fixed-width ISA segment.

The ISA is 106 characters: the element separator is character 3, the repetition separator is
ISA11 (only from version 00501 on; older envelopes carry a standards id there, e.g. ``U``), the
component separator is ISA16 (character 104) and the segment terminator is character 105.
A byte-order mark and whitespace before the ISA are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from integration.x12.errors import Problem, X12Error

ISA_LENGTH = 106
# ISA01..ISA16 widths (X12 5010 control segments).
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str = "*"
    repetition: str | None = "^"
    component: str = ":"
    segment: str = "~"

    def characters(self) -> tuple[str, ...]:
        chars = [self.element, self.component, self.segment]
        if self.repetition is not None:
            chars.append(self.repetition)
        return tuple(chars)

    def check(self) -> None:
        chars = self.characters()
        if len(set(chars)) != len(chars) or any(len(c) != 1 or c.isalnum() for c in chars):
            raise X12Error(
                [
                    Problem(
                        message=f"expected four distinct non-alphanumeric delimiters, got {chars!r}"
                    )
                ]
            )


DEFAULT_DELIMITERS = Delimiters()


def strip_preamble(text: str) -> str:
    """Drop a byte-order mark and whitespace before the ISA."""
    return text.lstrip("\ufeff \t\r\n")


def read_delimiters(text: str) -> Delimiters:
    """Delimiters of the interchange starting `text` (after any BOM/whitespace); X12Error if the
    ISA is missing or not fixed width."""
    body = strip_preamble(text)
    if not body.startswith("ISA"):
        got = body[:3]
        raise X12Error(
            [
                Problem(
                    segment_index=0,
                    message=f"expected the interchange to start with ISA, got {got!r}",
                )
            ]
        )
    if len(body) < ISA_LENGTH:
        raise X12Error(
            [
                Problem(
                    segment_id="ISA",
                    segment_index=0,
                    message=f"expected a fixed-width ISA of {ISA_LENGTH} characters, got {len(body)}",
                )
            ]
        )
    element = body[3]
    fields = body[4:103].split(element)
    widths = tuple(len(f) for f in fields)
    if len(fields) != 15 or widths != ISA_WIDTHS[:15]:
        bad = _first_bad_field(fields)
        raise X12Error(
            [
                Problem(
                    segment_id="ISA",
                    segment_index=0,
                    element=bad,
                    message=(
                        f"expected a fixed-width ISA of {ISA_LENGTH} characters "
                        f"(ISA01..ISA16 widths {'/'.join(map(str, ISA_WIDTHS))}), "
                        f"got widths {'/'.join(map(str, widths))}"
                    ),
                )
            ]
        )
    if body[103] != element:
        raise X12Error(
            [
                Problem(
                    segment_id="ISA",
                    segment_index=0,
                    element="ISA16",
                    message=f"expected the element separator {element!r} before ISA16, got {body[103]!r}",
                )
            ]
        )
    isa11, isa12 = fields[10], fields[11]
    repetition: str | None = isa11
    if isa11.isalnum() or isa12 < "00501" or isa11 in (element, body[104], body[105]):
        repetition = None  # a standards id (before 00501), or unusable as a separator
    delims = Delimiters(
        element=element, repetition=repetition, component=body[104], segment=body[105]
    )
    try:
        delims.check()
    except X12Error as exc:
        raise X12Error(
            [Problem(segment_id="ISA", segment_index=0, message=p.message) for p in exc.problems]
        ) from exc
    return delims


def _first_bad_field(fields: list[str]) -> str:
    for i, (value, width) in enumerate(zip(fields, ISA_WIDTHS, strict=False), start=1):
        if len(value) != width:
            return f"ISA{i:02d}"
    return f"ISA{min(len(fields) + 1, 16):02d}"
