"""Appeal letter templates: `mappings/letters/*.yaml` (kind `letter-template`, schema
`mappings/schemas/letter-template.schema.json`), each a list of paragraphs of Jinja2 sentences
with an optional `when` condition.

Sentences render in a sandboxed Jinja2 environment with strict undefined names: a template reads
values only through the fact objects the drafter passes (`f.*`) and its own sourced constants
(`c.*`); attributes starting with "_" are out of reach, so a fact's value can't be read without
recording its source (see `integration.appeals.draft`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from integration.mapping.loader import MappingError, load_document
from integration.paths import mappings_dir


@cache
def environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        autoescape=False,  # plain text; the PDF escapes it as HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


@dataclass(frozen=True, slots=True)
class SentenceTemplate:
    id: str
    paragraph: int
    text: jinja2.Template
    source_text: str
    when: Any | None  # a compiled Jinja2 expression
    needs: str | None
    argument: bool
    each_name: str | None = None  # for_each "t in f.therapies": "t"
    each_path: tuple[str, ...] = ()  # ("therapies",)


@dataclass(frozen=True, slots=True)
class Constant:
    value: str
    label: str
    kind: str
    citation: str


@dataclass(frozen=True, slots=True)
class LetterTemplate:
    id: str
    version: int
    title: str
    source: Mapping[str, Any]
    path: Path
    categories: tuple[str, ...]
    service: str  # biologic | procedure | any
    levels: tuple[int, ...]  # empty: any level
    payers: tuple[str, ...]  # empty: any payer
    constants: Mapping[str, Constant]
    addressee: str | None
    headings: tuple[str | None, ...]
    sentences: tuple[SentenceTemplate, ...]
    requires: tuple[tuple[Any, str], ...] = ()  # (compiled expression, what is missing)

    def fits(self, category: str, service: str, level: int, payer_id: str) -> bool:
        return (
            category in self.categories
            and (self.service in ("any", service))
            and (not self.levels or level in self.levels)
            and (not self.payers or payer_id in self.payers)
        )

    def specificity(self) -> tuple[int, int, int]:
        """Payer-specific beats generic, a given level beats any, a given service beats any."""
        return (bool(self.payers), bool(self.levels), self.service != "any")


def _compile(doc_path: Path, data: Mapping[str, Any]) -> LetterTemplate:
    env = environment()
    sentences: list[SentenceTemplate] = []
    headings: list[str | None] = []
    seen: set[str] = set()
    for p_index, paragraph in enumerate(data["paragraphs"]):
        headings.append(paragraph.get("heading"))
        for s_index, s in enumerate(paragraph["sentences"]):
            where = f"{doc_path}: paragraphs/{p_index}/sentences/{s_index}"
            if s["id"] in seen:
                raise MappingError(
                    f"{where}/id: expected a unique sentence id, got {s['id']!r} again"
                )
            seen.add(s["id"])
            each: tuple[str, tuple[str, ...]] | None = None
            if "for_each" in s:
                name, _in, path = s["for_each"].split(" ", 2)
                each = (name, tuple(path.split(".")[1:]))
            try:
                text = env.from_string(s["text"])
                when = env.compile_expression(s["when"]) if "when" in s else None
            except jinja2.TemplateSyntaxError as exc:
                raise MappingError(f"{where}: not valid Jinja2: {exc.message}") from None
            sentences.append(
                SentenceTemplate(
                    id=s["id"],
                    paragraph=p_index,
                    text=text,
                    source_text=s["text"],
                    when=when,
                    needs=s.get("needs"),
                    argument=bool(s.get("argument", False)),
                    each_name=each[0] if each else None,
                    each_path=each[1] if each else (),
                )
            )
    applies = data["applies_to"]
    constants = {
        name: Constant(c["value"], c["label"], c.get("kind", "text"), c["citation"])
        for name, c in (data.get("constants") or {}).items()
    }
    requires = []
    for r_index, r in enumerate(data.get("requires") or []):
        try:
            requires.append((env.compile_expression(r["expr"]), str(r["needs"])))
        except jinja2.TemplateSyntaxError as exc:
            raise MappingError(
                f"{doc_path}: requires/{r_index}/expr: not valid Jinja2: {exc.message}"
            ) from None
    return LetterTemplate(
        id=str(data["id"]),
        version=int(data["version"]),
        title=str(data["title"]),
        source=data["source"],
        path=doc_path,
        categories=tuple(applies["categories"]),
        service=str(applies.get("service", "any")),
        levels=tuple(applies.get("levels", ())),
        payers=tuple(applies.get("payers", ())),
        constants=constants,
        addressee=data.get("addressee"),
        headings=tuple(headings),
        sentences=tuple(sentences),
        requires=tuple(requires),
    )


@dataclass(frozen=True, slots=True)
class TemplateLibrary:
    templates: tuple[LetterTemplate, ...]

    def get(self, template_id: str) -> LetterTemplate:
        for t in self.templates:
            if t.id == template_id:
                return t
        known = ", ".join(t.id for t in self.templates)
        raise KeyError(f"template: expected one of {known}, got {template_id!r}")

    def choose(
        self, category: str, service: str, level: int, payer_id: str
    ) -> LetterTemplate | None:
        """The most specific template for the denial, or None when no template answers it."""
        fitting = [t for t in self.templates if t.fits(category, service, level, payer_id)]
        if not fitting and level > 1:
            fitting = [t for t in self.templates if t.fits(category, service, 1, payer_id)]
        if not fitting:
            return None
        return max(fitting, key=lambda t: t.specificity())


def load_templates(root: Path | None = None) -> TemplateLibrary:
    """Every `letter-template` under `mappings/` (schema-checked), compiled."""
    base = root or mappings_dir()
    out: list[LetterTemplate] = []
    for path in sorted((base / "letters").glob("*.yaml")):
        doc = load_document(path, base)
        if doc.kind != "letter-template":
            continue
        if any(t.id == doc.id for t in out):
            raise MappingError(f"{path}: id: expected a unique template id, got {doc.id!r} again")
        out.append(_compile(path, doc.data))
    return TemplateLibrary(tuple(out))


@cache
def default_templates() -> TemplateLibrary:
    return load_templates()
