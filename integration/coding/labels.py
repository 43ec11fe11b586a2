"""Our own short labels for the dermatology code set (mappings/coding/code-labels.yaml).

CPT descriptors are AMA copyright: messages and the app show a code number with these labels,
written for derm-rcm, never the official descriptor. A key "FIRST-LAST" labels a range of numeric
codes with one label; the loader expands it (an explicit code's own label wins).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from integration.mapping.loader import load_document
from integration.paths import mappings_dir

LABELS_FILE = "code-labels.yaml"


def labels_from_json(data: Mapping[str, Any]) -> dict[str, str]:
    explicit: dict[str, str] = {}
    ranged: dict[str, str] = {}
    for key, label in data["codes"].items():
        if "-" in key:
            first, last = key.split("-", 1)
            if not (first.isdigit() and last.isdigit()) or int(first) > int(last):
                raise ValueError(f"codes/{key}: expected a numeric range FIRST-LAST")
            for n in range(int(first), int(last) + 1):
                ranged[f"{n:05d}"] = str(label)
        else:
            explicit[key] = str(label)
    return {**ranged, **explicit}


@cache
def _labels(root: Path) -> Mapping[str, str]:
    return labels_from_json(load_document(root / "coding" / LABELS_FILE, root).data)


def code_labels(root: Path | None = None) -> Mapping[str, str]:
    """Every labelled code (read once)."""
    return _labels(root or mappings_dir())


def code_label(code: str) -> str:
    """Our short label for a code, or "" for a code outside the dermatology code set."""
    return code_labels().get(code, "")


def describe(code: str) -> str:
    """A code as messages show it: "11104 (Skin biopsy, punch, first lesion)", or the bare code."""
    label = code_label(code)
    return f"{code} ({label})" if label else code
