"""Load data files from `mappings/`: YAML with no duplicate keys, checked against a JSON Schema.

Every mapping file has `kind`, `id`, `version` and `source`; `mappings/schemas/<kind>.schema.json`
describes the rest. A file that breaks its schema is refused with the path of the bad element.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

from integration.paths import mappings_dir


class MappingError(ValueError):
    """A mapping file that can't be used, with where and what."""


@dataclass(frozen=True, slots=True)
class MappingDocument:
    path: Path
    kind: str
    id: str
    version: int
    data: dict[str, Any]


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader (libyaml's when installed) that refuses a mapping with the same key twice."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            first = seen[key].start_mark
            raise MappingError(
                f"line {key_node.start_mark.line + 1}: duplicate key {key!r} "
                f"(first at line {first.line + 1})"
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _schema_dir(root: Path) -> Path:
    return root / "schemas"


@cache
def _schema(schema_path: Path) -> dict[str, Any]:
    with schema_path.open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@cache
def _registry(schema_dir: Path) -> Registry:
    """All schemas in the folder, by their `$id`, so they can `$ref` each other."""
    resources = []
    for path in sorted(schema_dir.glob("*.schema.json")):
        schema = _schema(path)
        if "$id" in schema:
            resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def _where(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return "/".join(parts) if parts else "(top level)"


def load_document(path: Path, root: Path | None = None) -> MappingDocument:
    """Read one mapping file and check it against the schema of its kind."""
    base = root or mappings_dir()
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except MappingError as exc:
        raise MappingError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise MappingError(
            f"{path}: expected a mapping at the top level, got {type(data).__name__}"
        )
    for field in ("kind", "id", "version", "source"):
        if field not in data:
            raise MappingError(f"{path}: (top level): expected '{field}', got nothing")
    kind = data["kind"]
    schema_path = _schema_dir(base) / f"{kind}.schema.json"
    if not schema_path.is_file():
        raise MappingError(
            f"{path}: kind: expected a kind with a schema in {schema_path.parent}, got {kind!r}"
        )
    validator = jsonschema.Draft202012Validator(
        _schema(schema_path), registry=_registry(schema_path.parent)
    )
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        listed = "; ".join(f"{_where(e)}: {e.message}" for e in errors[:10])
        raise MappingError(f"{path}: {listed}")
    return MappingDocument(
        path=path, kind=kind, id=str(data["id"]), version=int(data["version"]), data=data
    )


def iter_documents(root: Path | None = None, kind: str | None = None) -> Iterator[MappingDocument]:
    """Every mapping file under `root` (default `mappings/`), optionally only one kind.

    An id may appear in several files only with different versions (payer rules keep every
    version of a policy)."""
    base = root or mappings_dir()
    seen_ids: dict[tuple[str, str, int], Path] = {}
    for path in sorted(base.rglob("*.yaml")):
        if _schema_dir(base) in path.parents:
            continue
        doc = load_document(path, base)
        key = (doc.kind, doc.id, doc.version)
        if key in seen_ids:
            raise MappingError(
                f"{path}: id: {doc.id!r} version {doc.version} is already used by {seen_ids[key]}"
            )
        seen_ids[key] = path
        if kind is None or doc.kind == kind:
            yield doc


def check_all(root: Path | None = None) -> list[MappingDocument]:
    """Load every mapping file; raises MappingError on the first bad one."""
    return list(iter_documents(root))
