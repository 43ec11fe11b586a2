"""Blank lines of a pathology report or a note stay paragraph breaks (`$blank_when`).

A report sent one line per OBX marks a paragraph break with an OBX that carries nothing in
OBX-5 (usually of type TX, sometimes with no OBX-2 at all, which HL7 allows when OBX-5 is
empty). The conclusion and the note's text keep those breaks; a blank line is not an
Observation; blank lines before the first line and after the last are left out.
Fixture (synthetic): fixtures/hl7/oru-r01-pathology-report-paragraphs.hl7.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import pytest

from integration.hl7v2.message import parse_message
from integration.mapping.hl7v2 import (
    Hl7Maps,
    MappedResource,
    MappingError,
    MappingOptions,
    map_message,
)
from integration.mapping.hl7v2_transforms import load_feed_maps
from integration.paths import fixtures_dir, mappings_dir

OPTIONS = MappingOptions(timezone="America/Chicago")
DX = "22637-3^Pathology report final diagnosis Narrative^LN"


@pytest.fixture(scope="module")
def feed_maps() -> Hl7Maps:
    return load_feed_maps()


def fixture(name: str) -> str:
    return (fixtures_dir() / "hl7" / f"{name}.hl7").read_text("utf-8")


def mapped(text: str, feed_maps: Hl7Maps) -> list[MappedResource]:
    return map_message(parse_message(text), feed_maps, OPTIONS)


def of_type(resources: list[MappedResource], type_: str) -> list[dict[str, Any]]:
    return [r.body for r in resources if r.type == type_]


def segments(text: str) -> list[str]:
    return [s for s in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s]


def with_segments(text: str, replace: dict[str, list[str]]) -> str:
    """The message with each segment starting with a key replaced by the listed segments."""
    out: list[str] = []
    for segment in segments(text):
        hit = next((key for key in replace if segment.startswith(key)), None)
        out.extend(replace[hit] if hit is not None else [segment] if segment else [])
    return "\r".join(out) + "\r"


def test_the_conclusion_keeps_paragraph_breaks_and_no_edge_blank_lines(
    feed_maps: Hl7Maps,
) -> None:
    [report] = of_type(
        mapped(fixture("oru-r01-pathology-report-paragraphs"), feed_maps), "DiagnosticReport"
    )
    assert report["conclusion"] == (
        "A. Skin, left upper back, shave biopsy:\n"
        "- Dysplastic compound nevus with moderate atypia.\n"
        "- Peripheral margin involved.\n"
        "\n"
        "B. Skin, right shin, punch biopsy:\n"
        "- Lichen planus.\n"
        "\n"  # OBX 8 has no OBX-2: still a blank line of the report
        "Comment: Re-excision of A with 2-3 mm margins is suggested."
    )


def test_a_blank_line_is_not_an_observation_and_the_report_points_at_no_blank(
    feed_maps: Hl7Maps,
) -> None:
    resources = mapped(fixture("oru-r01-pathology-report-paragraphs"), feed_maps)
    observations = of_type(resources, "Observation")
    assert [o["valueString"] for o in observations] == [
        "A. Skin, left upper back, shave biopsy:",
        "- Dysplastic compound nevus with moderate atypia.",
        "- Peripheral margin involved.",
        "B. Skin, right shin, punch biopsy:",
        "- Lichen planus.",
        "Comment: Re-excision of A with 2-3 mm margins is suggested.",
    ]
    [report] = of_type(resources, "DiagnosticReport")
    assert [r["reference"] for r in report["result"]] == [
        f"Observation/{o['id']}" for o in observations
    ]


def test_an_empty_result_that_says_why_is_still_an_observation(feed_maps: Hl7Maps) -> None:
    """OBX-11 X (the result cannot be obtained) with nothing in OBX-5 is a result, not a gap."""
    text = with_segments(
        fixture("oru-r01-pathology-report-paragraphs"),
        {"OBX|5|": ["OBX|5|TX|" + DX + "|5|||||||X"]},
    )
    resources = mapped(text, feed_maps)
    assert len(of_type(resources, "Observation")) == 7
    [report] = of_type(resources, "DiagnosticReport")
    assert len(report["result"]) == 7


def test_without_final_diagnosis_lines_every_text_line_keeps_its_breaks_but_not_a_blank_number(
    feed_maps: Hl7Maps,
) -> None:
    """The conclusion's second reading (every TX/FT line): a blank NM line is not a paragraph."""
    text = fixture("oru-r01-pathology-report-paragraphs").replace(DX, "REPORT^Report^L")
    text = with_segments(
        text,
        {
            "OBX|5|": ["OBX|5|TX|REPORT^Report^L|5|||||||F"],
            "OBX|8|": ["OBX|8|NM|TUMOR-MM^Depth^L|8|||||||F"],
        },
    )
    [report] = of_type(mapped(text, feed_maps), "DiagnosticReport")
    paragraphs = report["conclusion"].split("\n\n")
    assert paragraphs == [
        "A. Skin, left upper back, shave biopsy:\n"
        "- Dysplastic compound nevus with moderate atypia.\n"
        "- Peripheral margin involved.",
        "B. Skin, right shin, punch biopsy:\n"
        "- Lichen planus.\n"
        "Comment: Re-excision of A with 2-3 mm margins is suggested.",
    ]


def test_a_note_keeps_its_blank_lines(feed_maps: Hl7Maps) -> None:
    blank = "OBX|6|TX|11506-3^Progress note^LN|6|||||||F"
    text = fixture("mdm-t02-progress-note")
    line = {s[:6]: s for s in segments(text) if s.startswith("OBX|")}
    text = with_segments(
        text,
        {
            "OBX|1|": ["OBX|0|TX|11506-3^Progress note^LN|0|||||||F", line["OBX|1|"], blank],
            "OBX|5|": [line["OBX|5|"], blank],
        },
    )
    [document] = of_type(mapped(text, feed_maps), "DocumentReference")
    note = base64.b64decode(document["content"][0]["attachment"]["data"]).decode("utf-8")
    lines = note.split("\n")
    assert lines[0].startswith("CHIEF COMPLAINT:")  # the blank first line left out
    assert lines[1] == ""  # the blank line after it kept
    assert lines[2].startswith("EXAM:")
    assert lines[-1].startswith("PLAN:")  # the blank last line left out


def test_a_blank_line_rule_needs_a_join(tmp_path: Path) -> None:
    root = tmp_path / "mappings"
    shutil.copytree(mappings_dir(), root)
    oru = root / "hl7v2" / "oru.yaml"
    text = oru.read_text("utf-8")
    assert text.count('$join: "\\n"\n            $blank_when:') >= 1
    oru.write_text(
        text.replace('$join: "\\n"\n            $blank_when:', "$blank_when:", 1), "utf-8"
    )
    with pytest.raises(MappingError, match=r"oru\.yaml: resources/2/body/conclusion"):
        load_feed_maps(root)
