"""Letter templates are data: every file passes its schema, compiles, and states no value of its
own (numbers, dates and codes enter a sentence only through facts or sourced constants)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from integration.appeals.templates import load_templates
from integration.mapping.loader import MappingError, load_document
from integration.paths import mappings_dir

LETTERS = sorted((mappings_dir() / "letters").glob("*.yaml"))
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


@pytest.mark.parametrize("path", LETTERS, ids=lambda p: p.name)
def test_every_letter_file_passes_its_schema(path: Path) -> None:
    doc = load_document(path)
    assert doc.kind in ("letter-template", "letter-vocabulary")


def test_the_library_answers_every_category_the_issue_names() -> None:
    lib = load_templates()
    ids = {t.id for t in lib.templates}
    assert {
        "medical-necessity-biologic",
        "medical-necessity-biologic-level2",
        "medical-necessity-procedure",
        "authorization",
        "bundling",
        "missing-information",
        "medicare-redetermination",
    } <= ids
    assert (
        lib.choose("medical-necessity", "biologic", 1, "cigna").id == "medical-necessity-biologic"
    )  # type: ignore[union-attr]
    assert (
        lib.choose("medical-necessity", "biologic", 2, "cigna").id
        == "medical-necessity-biologic-level2"
    )  # type: ignore[union-attr]
    assert (
        lib.choose("medical-necessity", "procedure", 1, "medicare-part-b").id
        == "medicare-redetermination"
    )  # type: ignore[union-attr]
    assert (
        lib.choose("medical-necessity", "procedure", 1, "aetna").id == "medical-necessity-procedure"
    )  # type: ignore[union-attr]
    assert lib.choose("duplicate", "procedure", 1, "aetna") is None


@pytest.mark.parametrize(
    "path", [p for p in LETTERS if p.name != "vocabulary.yaml"], ids=lambda p: p.name
)
def test_template_text_states_no_number_of_its_own(path: Path) -> None:
    """Outside Jinja2 expressions, no digit: every number comes from a fact with a source. That
    also keeps CPT codes (and so any descriptor beside them) out of the templates."""
    data = yaml.safe_load(path.read_text())
    for paragraph in data["paragraphs"]:
        for sentence in paragraph["sentences"]:
            literal = JINJA.sub(" ", sentence["text"])
            assert not re.search(r"\d", literal), f"{path.name} {sentence['id']}: {literal!r}"


def one_sentence_library(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "mappings"
    (root / "letters").mkdir(parents=True)
    (root / "schemas").mkdir()
    for schema in ("letter-template", "source"):
        src = mappings_dir() / "schemas" / f"{schema}.schema.json"
        (root / "schemas" / src.name).write_text(src.read_text())
    (root / "letters" / "one.yaml").write_text(
        yaml.safe_dump(
            {
                "kind": "letter-template",
                "id": "one",
                "version": 1,
                "source": {"title": "test"},
                "title": "One",
                "applies_to": {"categories": ["bundling"]},
                "paragraphs": [{"sentences": [{"id": "one", "text": text}]}],
            }
        )
    )
    return root


def test_a_template_with_a_bad_expression_is_refused_with_where(tmp_path: Path) -> None:
    root = one_sentence_library(tmp_path, "{{ f.denial.reason ")
    with pytest.raises(MappingError, match=r"one.yaml: paragraphs/0/sentences/0: not valid Jinja2"):
        load_templates(root)


def test_a_template_cannot_read_a_value_without_its_source(tmp_path: Path) -> None:
    """The fact's value is reachable only by printing the fact (which records its source)."""
    from integration.appeals.draft import DraftError, draft_letter
    from tests.unit.appeals.support import TODAY, make_denial

    library = load_templates(one_sentence_library(tmp_path, "{{ f.denial.amount._fact.value }}"))
    with pytest.raises(DraftError, match="one v1 sentence one"):
        draft_letter(make_denial(category="bundling"), None, templates=library, today=TODAY)
    library = load_templates(one_sentence_library(tmp_path / "b", "Amount {{ f.denial.amount }}."))
    letter = draft_letter(make_denial(category="bundling"), None, templates=library, today=TODAY)
    (sentence,) = letter.sentences
    assert sentence.text == "Amount $1,250.00." and sentence.sources[0].kind == "x12"
