"""mappings/denials/carc-categories.yaml: valid against its schema, every code it names exists
in the refdata CARC/RARC list, and every one of our twelve categories is used."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from integration.denials.categories import load_categories

REFDATA = Path("/work/shared/refdata/carc_rarc_codes_only_2024-06.csv")


def test_categories_load_and_cover_the_twelve() -> None:
    cats = load_categories()
    assert len(cats.descriptions) == 12
    assert set(cats.carc.values()) | set(cats.rarc.values()) == set(cats.descriptions)
    assert cats.of_carc("197") == "authorization"
    assert cats.of_carc("45") is None  # contractual, not a denial


@pytest.mark.skipif(not REFDATA.exists(), reason="refdata CARC/RARC list not available")
def test_every_code_is_in_the_published_list() -> None:
    with REFDATA.open(encoding="utf-8") as handle:
        known = {(row["list"], row["code"]) for row in csv.DictReader(handle)}
    cats = load_categories()
    assert [c for c in cats.carc if ("CARC", c) not in known] == []
    assert [c for c in cats.rarc if ("RARC", c) not in known] == []
