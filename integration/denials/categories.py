"""Our denial categories for CARC and RARC codes, from mappings/denials/carc-categories.yaml
(codes only, our own wording; see the file's source)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from integration.mapping.loader import load_document
from integration.paths import mappings_dir


@dataclass(frozen=True, slots=True)
class DenialCategories:
    descriptions: dict[str, str]
    carc: dict[str, str]
    rarc: dict[str, str]

    def of_carc(self, code: str) -> str | None:
        return self.carc.get(code)

    def of_rarc(self, code: str) -> str | None:
        return self.rarc.get(code)


def load_categories(path: Path | None = None) -> DenialCategories:
    doc = load_document(path or mappings_dir() / "denials" / "carc-categories.yaml")
    data = doc.data
    return DenialCategories(
        descriptions={str(k): str(v) for k, v in data["categories"].items()},
        carc={str(k): str(v) for k, v in data["carc"].items()},
        rarc={str(k): str(v) for k, v in data.get("rarc", {}).items()},
    )


@cache
def default_categories() -> DenialCategories:
    return load_categories()
