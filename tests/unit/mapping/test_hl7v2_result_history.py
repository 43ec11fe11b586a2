"""ORU/MDM ids that keep history, and date-only stamps where FHIR wants an instant.

Fixtures (synthetic): fixtures/hl7/oru-r01-severity-history.hl7 (a January and an April PASI
without order numbers, then the April one corrected), oru-r01-pathology-orders-in-orc.hl7 (two
biopsies of one visit whose order numbers are only in ORC-2/3) and
mdm-t02-date-only-origination.hl7 (TXA-6 a date alone).
"""

from __future__ import annotations

from typing import Any

import pytest

from integration.hl7v2.errors import ErrorCode, Hl7Error, Location
from integration.hl7v2.message import parse_message
from integration.mapping.hl7v2 import Hl7Maps, MappedResource, MappingOptions, convert, map_message
from integration.mapping.hl7v2_transforms import load_feed_maps
from integration.paths import fixtures_dir
from tests.support.hl7_messages import fixture_messages, held_after

OPTIONS = MappingOptions(timezone="America/New_York")


@pytest.fixture(scope="module")
def feed_maps() -> Hl7Maps:
    return load_feed_maps()


def messages(name: str, feed_maps: Hl7Maps) -> list[list[MappedResource]]:
    return fixture_messages(name, feed_maps, OPTIONS)


def of_type(resources: list[MappedResource] | dict[str, Any], type_: str) -> list[dict[str, Any]]:
    bodies = resources.values() if isinstance(resources, dict) else [r.body for r in resources]
    return [b for b in bodies if b["resourceType"] == type_]


def coded(observations: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [o for o in observations if any(c["code"] == code for c in o["code"]["coding"])]


# ---------------------------------------------------------------- ORU ids


def test_a_later_score_without_order_numbers_does_not_replace_the_earlier_one(
    feed_maps: Hl7Maps,
) -> None:
    january, april, _ = messages("oru-r01-severity-history", feed_maps)
    held = held_after(january, april)
    pasi = sorted(
        (o["effectiveDateTime"], o["valueQuantity"]["value"])
        for o in coded(of_type(held, "Observation"), "pasi")
    )
    assert pasi == [("2025-01-14T10:05:00-05:00", 18.2), ("2025-04-15T09:10:00-04:00", 6.1)]
    assert len(of_type(held, "DiagnosticReport")) == 2


def test_a_corrected_score_updates_the_same_observation_and_report(feed_maps: Hl7Maps) -> None:
    january, april, corrected = messages("oru-r01-severity-history", feed_maps)
    assert {r.reference for r in april} == {r.reference for r in corrected}
    held = held_after(january, april, corrected)
    bsa = sorted(
        (o["effectiveDateTime"], o["status"], o["valueQuantity"]["value"])
        for o in coded(of_type(held, "Observation"), "bsa-pct")
    )
    assert bsa == [
        ("2025-01-14T10:05:00-05:00", "final", 22),
        ("2025-04-15T09:10:00-04:00", "corrected", 4),
    ]
    reports = {r["status"] for r in of_type(held, "DiagnosticReport")}
    assert reports == {"final", "corrected"}


def test_order_numbers_sent_only_in_orc_keep_two_same_time_biopsies_apart(
    feed_maps: Hl7Maps,
) -> None:
    forearm, temple = messages("oru-r01-pathology-orders-in-orc", feed_maps)
    held = held_after(forearm, temple)
    reports = of_type(held, "DiagnosticReport")
    assert sorted(r["conclusion"].splitlines()[0] for r in reports) == [
        "Skin, left temple, shave biopsy:",
        "Skin, right forearm, shave biopsy:",
    ]
    assert sorted(i["value"] for r in reports for i in r["identifier"]) == [
        "ORD-55301",
        "ORD-55302",
        "SP25-01144",
        "SP25-01145",
    ]
    assert len(of_type(held, "Observation")) == 4


def test_a_correction_that_moves_the_times_of_an_ordered_result_still_replaces_it(
    feed_maps: Hl7Maps,
) -> None:
    """With an order number, the order is the id: a correction that also changes OBR-7 and
    OBX-14 replaces the result it corrects (no retracted value left standing as final)."""
    final = fixture_messages("oru-r01-pathology-bcc", feed_maps, OPTIONS)[0]
    text = (fixtures_dir() / "hl7" / "oru-r01-pathology-bcc.hl7").read_text(encoding="utf-8")
    obr = next(line for line in text.splitlines() if line.startswith("OBR|"))
    fields = obr.split("|")
    assert fields[3], "the fixture sends a filler order number"
    fields[7] = "20250305120000"  # a new observation date/time
    fields[25] = "C"
    moved = text.replace(obr, "|".join(fields))
    corrected = map_message(parse_message(moved), feed_maps, OPTIONS)
    assert {r.reference for r in corrected} == {r.reference for r in final}
    held = held_after(final, corrected)
    (report,) = of_type(held, "DiagnosticReport")
    assert report["status"] == "corrected"


# ---------------------------------------------------------------- date-only instants


def test_a_date_only_report_time_leaves_issued_out_and_keeps_the_report(
    feed_maps: Hl7Maps,
) -> None:
    _, april, corrected = messages("oru-r01-severity-history", feed_maps)  # OBR-22 20250415
    [report] = of_type(april, "DiagnosticReport")
    assert "issued" not in report
    assert report["effectiveDateTime"] == "2025-04-15T09:10:00-04:00"  # OBR-7, untouched
    assert len(report["result"]) == 2
    [fixed] = of_type(corrected, "DiagnosticReport")
    assert fixed["issued"] == "2025-04-16T08:30:00-04:00"


def test_a_date_only_origination_keeps_the_note_and_its_date(feed_maps: Hl7Maps) -> None:
    [resources] = messages("mdm-t02-date-only-origination", feed_maps)
    [document] = of_type(resources, "DocumentReference")
    assert "date" not in document  # an instant: TXA-6 20090315 has no time
    [content] = document["content"]
    assert content["attachment"]["creation"] == "2009-03-15"
    assert document["context"]["period"]["start"] == "2009-03-15"
    assert document["docStatus"] == "final"


HERE = Location(segment_id="OBR", segment_index=4, field=22)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20250314", None),
        ("202503", None),
        ("2025031409", None),  # an hour alone: no minutes to write
        ("20250314-0500", None),
        ("202503140930", "2025-03-14T09:30:00-04:00"),  # the feed's zone
        ("202503140930-0500", "2025-03-14T09:30:00-05:00"),
        ("20250314093015.25+0000", "2025-03-14T09:30:15.25+00:00"),
    ],
)
def test_an_instant_needs_a_time_to_the_minute(value: str, expected: str | None) -> None:
    assert convert(value, "instant", HERE, OPTIONS) == expected


def test_a_date_only_value_is_still_a_date_time_and_a_bad_one_is_still_refused() -> None:
    assert convert("20250314", "dateTime", HERE, OPTIONS) == "2025-03-14"
    with pytest.raises(Hl7Error, match="real calendar date"):
        convert("20250231", "instant", HERE, OPTIONS)
    with pytest.raises(Hl7Error, match="date/time"):
        convert("2025-03-14", "instant", HERE, OPTIONS)


# ---------------------------------------------------------------- MDM ids


def test_a_document_number_without_its_number_is_refused(feed_maps: Hl7Maps) -> None:
    """TXA-12 with only its namespace would give every document of the feed one id."""
    text = (fixtures_dir() / "hl7" / "mdm-t02-date-only-origination.hl7").read_text("utf-8")
    text = text.replace("DOC090315-0002^DERMEHR", "^DERMEHR")
    with pytest.raises(Hl7Error) as raised:
        map_message(parse_message(text), feed_maps, OPTIONS)
    assert raised.value.code == ErrorCode.REQUIRED_FIELD_MISSING
    assert (raised.value.where.segment_id, raised.value.where.field) == ("TXA", 12)
