from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from integration.mapping.evidence_maps import load_evidence_maps
from integration.mapping.loader import MappingError, check_all, load_document
from integration.paths import mappings_dir


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of mappings/ to break."""
    target = tmp_path / "mappings"
    shutil.copytree(mappings_dir(), target)
    return target


def test_every_shipped_mapping_file_is_valid_and_cites_a_source() -> None:
    docs = check_all()
    assert {d.kind for d in docs} >= {
        "severity-map",
        "therapy-classes",
        "therapy-outcomes",
        "phototherapy-procedures",
        "screening-tests",
        "evidence-requirements",
        "pathology-reports",
    }
    for doc in docs:
        assert len(doc.data["source"]["title"]) > 10, doc.path
    load_evidence_maps()


def test_duplicate_yaml_key_is_refused_with_its_line(root: Path) -> None:
    path = root / "evidence" / "screening-tests.yaml"
    path.write_text(path.read_text() + "version: 2\n")
    with pytest.raises(
        MappingError, match=r"line \d+: duplicate key 'version' \(first at line \d+\)"
    ):
        load_document(path, root)


def test_schema_error_says_where(root: Path) -> None:
    path = root / "severity" / "ours.yaml"
    path.write_text(path.read_text().replace("target: dlqi", "target: ''"))
    with pytest.raises(MappingError, match=r"codes/2/target: '' is not one of"):
        load_document(path, root)


def test_empty_alias_list_is_refused(root: Path) -> None:
    path = root / "severity" / "display-text.yaml"
    text = path.read_text()
    start = text.index("aliases:", text.index("target: dlqi"))
    end = text.index("\n", start)
    path.write_text(text[:start] + "aliases: []" + text[end:])
    with pytest.raises(MappingError, match=r"texts/2/aliases: \[\] should be non-empty"):
        load_document(path, root)


def test_same_code_mapped_to_two_targets_is_refused(root: Path) -> None:
    (root / "severity" / "conflict.yaml").write_text(
        "kind: severity-map\nid: conflict\nversion: 1\nsource: {title: a test conflict}\n"
        'codes:\n  - {system: "urn:oid:1.2.840.114350.1.13.0.1.7.2.707679", code: "3040104370", target: easi}\n'
    )
    with pytest.raises(
        MappingError,
        match=r"'3040104370'\) maps to 'pasi' but conflict.yaml codes/0 maps it to 'easi'",
    ):
        load_evidence_maps(root)


def test_unknown_kind_and_missing_source(root: Path) -> None:
    (root / "x.yaml").write_text("kind: nothing\nid: x\nversion: 1\nsource: {title: test file}\n")
    with pytest.raises(MappingError, match="kind: expected a kind with a schema"):
        check_all(root)
    (root / "x.yaml").write_text("kind: screening-tests\nid: x\nversion: 1\n")
    with pytest.raises(MappingError, match="expected 'source'"):
        check_all(root)
