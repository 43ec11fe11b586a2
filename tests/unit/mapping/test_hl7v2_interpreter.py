"""The map interpreter itself (integration/mapping/hl7v2.py), beyond what the shipped maps show.

Maps are compiled to closures at load, and a field path reads its segment directly rather than
through `Segment.value`; these tests pin what that must not change: values read exactly as
`Segment.value` reads them, errors located where the value is missing, and mapped resources
that share nothing with each other or with the map.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from integration.hl7v2.errors import ErrorCode, Hl7Error
from integration.hl7v2.message import parse_message
from integration.mapping.hl7v2 import Hl7Maps, MappingOptions, map_message
from integration.mapping.hl7v2_transforms import load_feed_maps
from integration.paths import mappings_dir

OPTIONS = MappingOptions(timezone="America/New_York")

# Escapes, HL7's explicit null, subcomponents, repetitions, empty and missing fields.
PROBED = "\r".join(
    [
        "MSH|^~\\&|APP|FAC|DERMRCM|DERMRCM|20250310093000||ZPR^Z01^ZPR_Z01|CTRL-1|P|2.5.1",
        'PID|1||A\\F\\B^x&y&&z^""^^&w~R2C1^R2C2\\S\\2^^^AUTH&1.2.3&ISO~~""||Doe^Jane\\.br\\Q^^^||'
        "19800101|F|||1 Elm^^Springfield^IL&&x~2 Oak",
        'OBX|1|TX|1234-5^Note^LN||line one\\E\\~\\X41\\ line two~""||||||F',
    ]
)
PATHS = [
    "MSH-1",
    "MSH-2",
    "MSH-9",
    "MSH-9.2",
    "MSH-9.3",
    "MSH-12",
    "MSH-30",
    "PID-1",
    "PID-2",
    "PID-3",
    "PID-3.1",
    "PID-3.2",
    "PID-3.2.1",
    "PID-3.2.2",
    "PID-3.2.3",
    "PID-3.2.4",
    "PID-3.2.5",
    "PID-3.3",
    "PID-3.5",
    "PID-3.5.2",
    "PID-3.9",
    "PID-3(2)",
    "PID-3(2).2",
    "PID-3(2).4.2",
    "PID-3(3)",
    "PID-3(4)",
    "PID-3(5)",
    "PID-5.1",
    "PID-5.2",
    "PID-5.4",
    "PID-7",
    "PID-11.4",
    "PID-11.4.3",
    "PID-11(2).1",
    "PID-40",
    "OBX-3.1",
    "OBX-5",
    "OBX-5(2)",
    "OBX-5(3)",
    "OBX-99.1",
    "NTE-3",
]


@pytest.fixture
def probe_root(tmp_path: Path) -> Path:
    """mappings/ with one more message map: every probed path as an extension of a Basic."""
    root = tmp_path / "mappings"
    shutil.copytree(mappings_dir(), root)
    extensions = "\n".join(
        f'      - {{url: "urn:probe:{i}", valueString: "{{{path}}}"}}'
        for i, path in enumerate(PATHS)
    )
    (root / "hl7v2" / "probe.yaml").write_text(
        "kind: hl7v2-message-map\n"
        "id: probe\n"
        "version: 1\n"
        "source: {title: 'field reads, as Segment.value reads them'}\n"
        'messages: ["ZPR^Z01"]\n'
        "resources:\n"
        "  - name: probe\n"
        "    type: Basic\n"
        '    id: "{MSH-10}"\n'
        "    body:\n"
        "      code: {text: probe}\n"
        "      extension:\n"
        f"{extensions}\n",
        encoding="utf-8",
    )
    return root


def test_a_field_path_reads_what_segment_value_reads(probe_root: Path) -> None:
    message = parse_message(PROBED)
    (resource,) = map_message(message, load_feed_maps(probe_root), OPTIONS)
    read = {e["url"]: e["valueString"] for e in resource.body["extension"]}
    for i, path in enumerate(PATHS):
        seg_id, _, rest = path.partition("-")
        field, _, parts = rest.partition(".")
        number, _, rep = field.rstrip(")").partition("(")
        numbers = [int(p) for p in parts.split(".")] if parts else []
        component, subcomponent = [*numbers, 1, 1][:2]
        segment = message.first(seg_id)
        expected = (
            segment.value(int(number), component, subcomponent, int(rep or 1)) if segment else ""
        )
        assert read.get(f"urn:probe:{i}", "") == expected, path


@pytest.fixture(scope="module")
def feed_maps() -> Hl7Maps:
    return load_feed_maps()


def adt(pid_3: str) -> str:
    return "\r".join(
        [
            "MSH|^~\\&|EPIC|DERMCLINIC|DERMRCM|DERMRCM|20250310093000||ADT^A04^ADT_A01|C-1|P|2.5.1",
            "EVN|A04|20250310093000",
            f"PID|1||{pid_3}||Okafor^Avery||19800101|F",
            "PV1|1|O|DERM^EXAM3^1^MAIN||||||||||||||||V0001",
        ]
    )


def test_a_required_value_missing_in_a_repetition_is_located_in_that_repetition(
    feed_maps: Hl7Maps,
) -> None:
    # PID-3 is iterated ($each): the second repetition has an authority but no id (.1).
    text = adt("MRN1^^^DERMCLINIC^MR~^^^SSA^SS")
    with pytest.raises(Hl7Error) as caught:
        map_message(parse_message(text), feed_maps, OPTIONS)
    assert caught.value.code is ErrorCode.REQUIRED_FIELD_MISSING
    assert caught.value.message == "PID-3(2).1 (segment 3): expected a value, got ''"


def test_an_id_from_a_segment_the_message_lacks_names_the_segment(feed_maps: Hl7Maps) -> None:
    text = adt("MRN1^^^DERMCLINIC^MR").replace("\rPID|1||MRN1^^^DERMCLINIC^MR||", "\rZZZ|1||")
    with pytest.raises(Hl7Error) as caught:
        map_message(parse_message(text), feed_maps, OPTIONS)
    assert caught.value.code is ErrorCode.SEGMENT_SEQUENCE
    assert caught.value.message == "PID: expected a PID segment (to identify the Patient)"


def test_mapped_resources_share_nothing_with_each_other_or_the_map(feed_maps: Hl7Maps) -> None:
    # Constant parts of a map (a coding's fixed system and code) are built once, at load:
    # each resource must still get its own copy.
    first = map_message(parse_message(adt("MRN1^^^DERMCLINIC^MR")), feed_maps, OPTIONS)
    patient = next(r.body for r in first if r.type == "Patient")
    patient["identifier"][0]["type"]["coding"][0]["system"] = "changed"
    encounter = next(r.body for r in first if r.type == "Encounter")
    encounter["class"]["system"] = "changed"
    again = map_message(parse_message(adt("MRN1^^^DERMCLINIC^MR")), feed_maps, OPTIONS)
    patient = next(r.body for r in again if r.type == "Patient")
    assert patient["identifier"][0]["type"]["coding"][0]["system"] == (
        "http://terminology.hl7.org/CodeSystem/v2-0203"
    )
    encounter = next(r.body for r in again if r.type == "Encounter")
    assert encounter["class"]["system"] == "http://terminology.hl7.org/CodeSystem/v3-ActCode"
