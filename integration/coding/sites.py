"""Anatomic sites for procedure coding (mappings/coding/anatomic-sites.yaml).

Each site key ("nose", "back", "hand", ...) names its group in every code family that is defined
by anatomy: excision/shave/malignant destruction, simple, intermediate and complex repair (the
complex group is also the adjacent tissue transfer group), the Mohs first-stage family (17311 vs
17313), and its Mohs appropriate-use area. `terms` are the words a procedure note uses for the
site; `site_for_term` finds the site a phrase names (the longest term wins: "nasal tip" before
"tip"-less matches, "dorsum of the hand" before "hand").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from integration.mapping.loader import load_document
from integration.paths import mappings_dir

SITES_FILE = "anatomic-sites.yaml"


@dataclass(frozen=True, slots=True)
class Site:
    key: str
    label: str
    excision_group: str  # also shave removal and malignant destruction
    repair_simple_group: str
    repair_intermediate_group: str
    repair_complex_group: str | None  # also adjacent tissue transfer; None: site too vague
    mohs_group: str
    mohs_auc_area: str | None  # H, M or L; None when the site is too vague
    mohs_min_size_cm: Decimal | None  # below this size Mohs is questioned (secondary source)
    terms: tuple[str, ...]
    unverified: bool = False


@dataclass(frozen=True, slots=True)
class SiteTable:
    sites: Mapping[str, Site]
    group_labels: Mapping[str, Mapping[str, str]]  # family -> group key -> plain label
    _terms: tuple[tuple[str, str], ...]  # (term, site key), longest term first

    def site(self, key: str | None) -> Site | None:
        return None if key is None else self.sites.get(key.strip().lower())

    def for_term(self, text: str) -> Site | None:
        words = " " + re.sub(r"[^a-z0-9']+", " ", text.lower()).strip() + " "
        for term, key in self._terms:
            if f" {term} " in words:
                return self.sites[key]
        return None

    def group_label(self, family: str, group: str) -> str:
        return self.group_labels.get(family, {}).get(group, group)


def site_table_from_json(data: Mapping[str, Any]) -> SiteTable:
    groups = {fam: dict(items) for fam, items in data["groups"].items()}
    sites: dict[str, Site] = {}
    terms: list[tuple[str, str]] = []
    for key, raw in data["sites"].items():
        for family, field in (
            ("excision", "excision"),
            ("repair_simple", "repair_simple"),
            ("repair_intermediate", "repair_intermediate"),
            ("repair_complex", "repair_complex"),
            ("mohs", "mohs"),
        ):
            value = raw.get(field)
            if value is not None and value not in groups[family]:
                raise ValueError(f"sites/{key}/{field}: expected a {family} group, got {value!r}")
        size = raw.get("mohs_min_size_cm")
        site = Site(
            key=key,
            label=str(raw["label"]),
            excision_group=raw["excision"],
            repair_simple_group=raw["repair_simple"],
            repair_intermediate_group=raw["repair_intermediate"],
            repair_complex_group=raw.get("repair_complex"),
            mohs_group=raw["mohs"],
            mohs_auc_area=raw.get("mohs_auc_area"),
            mohs_min_size_cm=None if size is None else Decimal(str(size)),
            terms=tuple(raw["terms"]),
            unverified=bool(raw.get("unverified", False)),
        )
        sites[key] = site
        for term in (key.replace("-", " "), *site.terms):
            if any(t == term and k != key for t, k in terms):
                raise ValueError(f"sites/{key}/terms: {term!r} already names another site")
            if (term, key) not in terms:
                terms.append((term, key))
    terms.sort(key=lambda item: (-len(item[0]), item[0]))
    return SiteTable(sites=sites, group_labels=groups, _terms=tuple(terms))


@cache
def _table(root: Path) -> SiteTable:
    return site_table_from_json(load_document(root / "coding" / SITES_FILE, root).data)


def site_table(root: Path | None = None) -> SiteTable:
    """The site table of `mappings/` (read once)."""
    return _table(root or mappings_dir())


def site_of(key: str | None) -> Site | None:
    """The site with this key (e.g. "nose"), or None for no or an unknown key."""
    return site_table().site(key)


def site_for_term(text: str) -> Site | None:
    """The site a phrase of a note names ("left nasal ala" -> nose), or None."""
    return site_table().for_term(text)
