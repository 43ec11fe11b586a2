"""Choose procedure codes from what the documentation says: biopsy, destruction, shave removal,
excision, repair, adjacent tissue transfer and Mohs surgery.

`choose_codes` is pure: from the procedures a note (or a coder) mentions, each with its
`LineFacts`, it returns the claim lines they code to and the documentation gaps that keep a
mention from being coded. It never guesses: a mention missing a fact its code needs yields a
`Gap` naming that `LineFacts` field, and no line for it. The rule families of the scrubber use the
same helpers (`excision_code`, `repair_codes`, ...) to check lines a claim already has.

Conventions (AMA CPT Professional 2026, Integumentary guidelines, paraphrased; CMS NCCI Policy
Manual, Chapter III):
- A mention is one lesion unless its `lesion_count` says more (biopsy, excision, shave, malignant
  destruction). Destruction of premalignant or benign lesions needs the count: the code depends
  on it.
- Biopsies: one primary code per encounter, of the highest technique performed (incisional >
  punch > tangential); every other biopsied lesion is an add-on of its own technique.
- Excision: the excised diameter is the documented one, else the lesion diameter plus twice the
  narrowest margin; malignant pathology codes 116xx, benign or premalignant 114xx; pending or
  uncertain pathology is a gap.
- Repairs of the same complexity in the same anatomic group are added up and coded once. A
  simple repair of an excision, shave, biopsy or destruction defect at the same site is part of
  that procedure and is not coded. Adjacent tissue transfer includes the excision and any repair
  at its site.
- Mohs: each mention is one stage (`mohs_stage` 1 = first); stage 1 codes the first-stage code of
  the site's family (17311 head/neck/hands/feet/genitalia, 17313 trunk/arms/legs), each later
  stage the family's additional-stage code, and every block beyond 5 in a stage 17315.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from integration.coding.model import LineFacts, RuleSource, WorkClaim, WorkLine
from integration.coding.sites import (
    SITES_FILE,
    Site,
    SiteTable,
    site_table,
    site_table_from_json,
)
from integration.mapping.loader import load_document
from integration.paths import mappings_dir

if TYPE_CHECKING:
    from integration.coding.engine import LoadContext

CODES_FILE = "procedure-codes.yaml"

MENTION_KINDS: tuple[str, ...] = (
    "biopsy",
    "destruction-premalignant",
    "destruction-benign",
    "destruction-malignant",
    "excision",
    "repair",
    "adjacent-tissue-transfer",
    "mohs",
    "shave-removal",
)


@dataclass(frozen=True, slots=True)
class Mention:
    """One procedure the documentation mentions, with its facts."""

    kind: str  # one of MENTION_KINDS
    facts: LineFacts


@dataclass(frozen=True, slots=True)
class CodedLine:
    """A claim line the mentions code to; `mentions` are indexes into the input it rests on."""

    code: str
    units: int
    modifiers: tuple[str, ...]
    mentions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Gap:
    """A mention that can't be (fully) coded: `needs` is the LineFacts field that is missing."""

    mention: int
    needs: str
    message: str


# -- the tables ----------------------------------------------------------------------------------

Bands = tuple[Decimal | None, ...]


@dataclass(frozen=True, slots=True)
class BandedCodes:
    bands: Bands
    codes: Mapping[str, tuple[str, ...]]  # group -> one code per band


@dataclass(frozen=True, slots=True)
class CodeTables:
    """mappings/coding/procedure-codes.yaml with the site table, parsed once."""

    sites: SiteTable
    biopsy: tuple[tuple[str, str, str], ...]  # (technique, primary, add-on), highest first
    premalignant: tuple[str, str, int, str]  # first, add-on, add-on up to N lesions, 15 or more
    benign: tuple[str, str, int]  # up to 14, 15 or more, threshold
    skin_tags: tuple[str, int, str, int, tuple[str, ...]]
    malignant_destruction: BandedCodes
    shave: BandedCodes
    excision_benign: BandedCodes
    excision_malignant: BandedCodes
    repair: Mapping[str, Mapping[str, tuple[Bands, tuple[str, ...]]]]  # complexity->group->bands
    complex_minimum: Decimal
    complex_step: Decimal
    complex_groups: Mapping[str, tuple[str, str, str]]  # group -> first, second, add-on
    att_groups: Mapping[str, tuple[str, str]]
    att_any_site: tuple[str, str, Decimal]
    mohs_families: Mapping[str, tuple[str, str]]  # group -> first stage, additional stage
    mohs_blocks_per_stage: int
    mohs_block_addon: str
    mohs_pathology: tuple[str, ...]
    mohs_excluded_lesions: tuple[str, ...]
    raw: Mapping[str, Any]

    # code -> role lookups for the rule families (built once by `index_roles`)
    roles: Mapping[str, Mapping[str, tuple[Any, ...]]] = field(default_factory=dict)

    def _role(self, family: str, code: str) -> tuple[Any, ...] | None:
        return self.roles.get(family, {}).get(code)

    def biopsy_role(self, code: str) -> tuple[str, bool] | None:
        """(technique, is_primary) of a biopsy code."""
        return self._role("biopsy", code)

    def biopsy_codes(self, technique: str) -> tuple[str, str] | None:
        for tech, primary, addon in self.biopsy:
            if tech == technique:
                return primary, addon
        return None

    def biopsy_rank(self, technique: str) -> int:
        for i, (tech, _p, _a) in enumerate(self.biopsy):
            if tech == technique:
                return i
        return len(self.biopsy)

    def excision_role(self, code: str) -> tuple[bool, str] | None:
        """(malignant, excision group) of an excision code."""
        return self._role("excision", code)

    def repair_role(self, code: str) -> tuple[str, str, bool] | None:
        """(complexity, repair group, is complex add-on) of a repair code."""
        return self._role("repair", code)

    def att_codes_all(self) -> set[str]:
        out = {c for pair in self.att_groups.values() for c in pair}
        out.update(self.att_any_site[:2])
        return out

    def mohs_role(self, code: str) -> tuple[str, str] | None:
        """(Mohs group, "first" | "additional" | "block") of a Mohs code."""
        return self._role("mohs", code)

    def malignant_destruction_role(self, code: str) -> str | None:
        role = self._role("malignant-destruction", code)
        return None if role is None else str(role[0])

    def is_shave(self, code: str) -> bool:
        return self._role("shave", code) is not None


def index_roles(t: CodeTables) -> dict[str, dict[str, tuple[Any, ...]]]:
    """Every code of the tables by family, with its role, for constant-time lookups."""
    roles: dict[str, dict[str, tuple[Any, ...]]] = {
        k: {} for k in ("biopsy", "excision", "repair", "mohs", "malignant-destruction", "shave")
    }
    for technique, primary, addon in t.biopsy:
        roles["biopsy"][primary] = (technique, True)
        roles["biopsy"][addon] = (technique, False)
    for malignant, table in ((False, t.excision_benign), (True, t.excision_malignant)):
        for group, codes in table.codes.items():
            for code in codes:
                roles["excision"][code] = (malignant, group)
    for complexity, groups in t.repair.items():
        for group, (_bands, codes) in groups.items():
            for code in codes:
                roles["repair"][code] = (complexity, group, False)
    for group, (first, second, addon) in t.complex_groups.items():
        roles["repair"][first] = roles["repair"][second] = ("complex", group, False)
        roles["repair"][addon] = ("complex", group, True)
    for group, (first, additional) in t.mohs_families.items():
        roles["mohs"][first] = (group, "first")
        roles["mohs"][additional] = (group, "additional")
    roles["mohs"][t.mohs_block_addon] = ("", "block")
    for group, codes in t.malignant_destruction.codes.items():
        for code in codes:
            roles["malignant-destruction"][code] = (group,)
    for group, codes in t.shave.codes.items():
        for code in codes:
            roles["shave"][code] = (group,)
    return roles


def _bands(raw: Sequence[Any]) -> Bands:
    return tuple(None if b is None else Decimal(str(b)) for b in raw)


def _banded(raw: Mapping[str, Any]) -> BandedCodes:
    bands = _bands(raw["bands_cm"])
    codes = {g: tuple(c) for g, c in raw["codes"].items()}
    for group, cs in codes.items():
        if len(cs) != len(bands):
            raise ValueError(f"{group}: expected {len(bands)} codes (one per band), got {len(cs)}")
    return BandedCodes(bands, codes)


def tables_from_json(data: Mapping[str, Any], sites: SiteTable) -> CodeTables:
    d = data["destruction"]
    pm, bn, st = d["premalignant"], d["benign"], d["skin_tags"]
    repair: dict[str, dict[str, tuple[Bands, tuple[str, ...]]]] = {}
    for complexity in ("simple", "intermediate"):
        repair[complexity] = {}
        for group, raw in data["repair"][complexity].items():
            bands, codes = _bands(raw["bands_cm"]), tuple(raw["codes"])
            if len(bands) != len(codes):
                raise ValueError(f"repair/{complexity}/{group}: one code per band expected")
            repair[complexity][group] = (bands, codes)
    cx = data["repair"]["complex"]
    att = data["adjacent_tissue_transfer"]
    mohs = data["mohs"]
    exc = data["excision"]
    tables = CodeTables(
        sites=sites,
        biopsy=tuple(
            (h["technique"], h["primary"], h["addon"]) for h in data["biopsy"]["hierarchy"]
        ),
        premalignant=(
            pm["first"],
            pm["addon"],
            int(pm["addon_max_lesions"]),
            pm["fifteen_or_more"],
        ),
        benign=(bn["up_to_14"], bn["fifteen_or_more"], int(bn["threshold"])),
        skin_tags=(
            st["first"],
            int(st["first_covers"]),
            st["addon"],
            int(st["addon_covers"]),
            tuple(st["lesion_types"]),
        ),
        malignant_destruction=_banded(d["malignant"]),
        shave=_banded(data["shave"]),
        excision_benign=_banded({"bands_cm": exc["bands_cm"], "codes": exc["benign"]}),
        excision_malignant=_banded({"bands_cm": exc["bands_cm"], "codes": exc["malignant"]}),
        repair=repair,
        complex_minimum=Decimal(str(cx["minimum_cm"])),
        complex_step=Decimal(str(cx["add_on_step_cm"])),
        complex_groups={g: (v["first"], v["second"], v["addon"]) for g, v in cx["groups"].items()},
        att_groups={g: (v["up_to_10"], v["up_to_30"]) for g, v in att["groups"].items()},
        att_any_site=(
            att["any_site"]["up_to_60"],
            att["any_site"]["addon"],
            Decimal(str(att["any_site"]["addon_step_sq_cm"])),
        ),
        mohs_families={g: (v["first"], v["additional"]) for g, v in mohs["families"].items()},
        mohs_blocks_per_stage=int(mohs["blocks_included_per_stage"]),
        mohs_block_addon=mohs["block_addon"],
        mohs_pathology=tuple(mohs["surgical_pathology"]),
        mohs_excluded_lesions=tuple(mohs["excluded_lesion_types"]),
        raw=data,
    )
    return replace(tables, roles=index_roles(tables))


@cache
def _tables(root: Path) -> CodeTables:
    sites = site_table(root)
    data = load_document(root / "coding" / CODES_FILE, root).data
    return tables_from_json(data, sites)


def code_tables(root: Path | None = None) -> CodeTables:
    """The code tables of `mappings/` (read once)."""
    return _tables(root or mappings_dir())


def load_tables(document: Mapping[str, Any], sites_document: Mapping[str, Any]) -> CodeTables:
    """Tables from already-loaded mapping documents (the scrubber's LoadContext)."""
    return tables_from_json(document, site_table_from_json(sites_document))


def procedure_tables(ctx: LoadContext) -> CodeTables:
    """The code tables for a scrubber being loaded: built once and shared by the biopsy,
    destruction, excision/repair and Mohs families."""
    return ctx.shared(
        "procedure-code-tables",
        lambda: load_tables(ctx.document(CODES_FILE), ctx.document(SITES_FILE)),
    )


# -- pure code choice helpers --------------------------------------------------------------------


def band_index(value: Decimal, bands: Bands) -> int:
    """The band a size falls in: bands are inclusive upper bounds, None = over the last."""
    for i, upper in enumerate(bands):
        if upper is None or value <= upper:
            return i
    return len(bands) - 1


def cm(value: Decimal) -> str:
    """A size as a coder reads it: 2.0 cm, 0.45 cm."""
    text = format(value.normalize(), "f")
    return text + ".0" if "." not in text else text


def excised_diameter(facts: LineFacts) -> tuple[Decimal | None, str | None]:
    """The excised diameter (documented, else lesion + 2 x narrowest margin) and, when it can't
    be had, the LineFacts field that is missing."""
    if facts.excised_diameter_cm is not None:
        return facts.excised_diameter_cm, None
    if facts.lesion_diameter_cm is None:
        return None, "lesion_diameter_cm"
    if facts.margin_cm is None:
        return None, "margin_cm"
    return facts.lesion_diameter_cm + 2 * facts.margin_cm, None


def excision_code(tables: CodeTables, site: Site, diameter: Decimal, malignant: bool) -> str:
    table = tables.excision_malignant if malignant else tables.excision_benign
    return table.codes[site.excision_group][band_index(diameter, table.bands)]


def shave_code(tables: CodeTables, site: Site, diameter: Decimal) -> str:
    return tables.shave.codes[site.excision_group][band_index(diameter, tables.shave.bands)]


def malignant_destruction_code(tables: CodeTables, site: Site, diameter: Decimal) -> str:
    table = tables.malignant_destruction
    return table.codes[site.excision_group][band_index(diameter, table.bands)]


def premalignant_destruction_codes(tables: CodeTables, lesions: int) -> list[tuple[str, int]]:
    """17000 x1 (+ 17003 x(n-1) up to 14 lesions), or 17004 x1 alone for 15 or more."""
    first, addon, max_with_addon, fifteen = tables.premalignant
    if lesions <= 0:
        return []
    if lesions > max_with_addon:
        return [(fifteen, 1)]
    return [(first, 1)] + ([(addon, lesions - 1)] if lesions > 1 else [])


def benign_destruction_codes(tables: CodeTables, lesions: int) -> list[tuple[str, int]]:
    up_to, fifteen, threshold = tables.benign
    if lesions <= 0:
        return []
    return [(fifteen if lesions >= threshold else up_to, 1)]


def skin_tag_codes(tables: CodeTables, lesions: int) -> list[tuple[str, int]]:
    first, covers, addon, addon_covers, _types = tables.skin_tags
    if lesions <= 0:
        return []
    extra = max(0, lesions - covers)
    return [(first, 1)] + ([(addon, math.ceil(extra / addon_covers))] if extra else [])


def repair_group(site: Site, complexity: str) -> str | None:
    if complexity == "simple":
        return site.repair_simple_group
    if complexity == "intermediate":
        return site.repair_intermediate_group
    if complexity == "complex":
        return site.repair_complex_group
    return None


def repair_codes(
    tables: CodeTables, complexity: str, group: str, length: Decimal
) -> list[tuple[str, int]] | None:
    """The codes for a repair of `length` cm (the sum for one group); None for a complex repair
    shorter than complex codes start (1.1 cm)."""
    if complexity == "complex":
        first, second, addon = tables.complex_groups[group]
        if length < tables.complex_minimum:
            return None
        if length <= Decimal("2.5"):
            return [(first, 1)]
        if length <= Decimal("7.5"):
            return [(second, 1)]
        extra = math.ceil((length - Decimal("7.5")) / tables.complex_step)
        return [(second, 1), (addon, extra)]
    bands, codes = tables.repair[complexity][group]
    return [(codes[band_index(length, bands)], 1)]


def att_codes(tables: CodeTables, group: str, area: Decimal) -> list[tuple[str, int]]:
    up_to_10, up_to_30 = tables.att_groups[group]
    if area <= 10:
        return [(up_to_10, 1)]
    if area <= 30:
        return [(up_to_30, 1)]
    first, addon, step = tables.att_any_site
    if area <= 60:
        return [(first, 1)]
    return [(first, 1), (addon, math.ceil((area - 60) / step))]


def label_of_group(tables: CodeTables, family: str, group: str) -> str:
    return tables.sites.group_label(family, group)


# -- choose_codes --------------------------------------------------------------------------------


class _Out:
    def __init__(self) -> None:
        self.lines: list[tuple[tuple[int, int], CodedLine]] = []
        self.gaps: list[Gap] = []

    def line(self, order: tuple[int, int], code: str, units: int, mentions: Sequence[int]) -> None:
        if units > 0:
            self.lines.append((order, CodedLine(code, units, (), tuple(sorted(mentions)))))

    def gap(self, mention: int, needs: str, message: str) -> None:
        self.gaps.append(Gap(mention, needs, message))


def _count(facts: LineFacts) -> int:
    return 1 if facts.lesion_count is None else facts.lesion_count


def _site(tables: CodeTables, out: _Out, i: int, m: Mention, what: str) -> Site | None:
    if m.facts.site is None:
        out.gap(i, "site", f"{what}: the note does not say where; the code depends on the site")
        return None
    site = tables.sites.site(m.facts.site)
    if site is None:
        out.gap(i, "site", f"{what}: site {m.facts.site!r} is not one the coding tables know")
    return site


def _biopsies(tables: CodeTables, out: _Out, items: list[tuple[int, Mention]]) -> None:
    by_tech: dict[str, list[tuple[int, int]]] = {}
    for i, m in items:
        tech = m.facts.technique
        if tech is None or tables.biopsy_codes(tech) is None:
            needs = "the technique (tangential, punch or incisional)"
            got = "" if tech is None else f", got {tech!r}"
            out.gap(i, "technique", f"Biopsy: the note must document {needs}{got}")
            continue
        if _count(m.facts) > 0:
            by_tech.setdefault(tech, []).append((i, _count(m.facts)))
    if not by_tech:
        return
    start = min(i for i, _m in items)
    top = min(by_tech, key=tables.biopsy_rank)
    primary, top_addon = tables.biopsy_codes(top) or ("", "")
    top_items = by_tech[top]
    out.line((start, 0), primary, 1, [top_items[0][0]])
    rest = sum(n for _i, n in top_items) - 1
    out.line((start, 1), top_addon, rest, [i for i, _n in top_items if rest] if rest else [])
    for tech in sorted(by_tech, key=tables.biopsy_rank):
        if tech == top:
            continue
        _p, addon = tables.biopsy_codes(tech) or ("", "")
        group = by_tech[tech]
        out.line(
            (start, 1 + tables.biopsy_rank(tech)),
            addon,
            sum(n for _i, n in group),
            [i for i, _n in group],
        )


def _lesion_total(out: _Out, items: list[tuple[int, Mention]], what: str) -> tuple[int, list[int]]:
    total, used = 0, []
    for i, m in items:
        if m.facts.lesion_count is None:
            out.gap(i, "lesion_count", f"{what}: the note must say how many lesions were destroyed")
            continue
        total += m.facts.lesion_count
        used.append(i)
    return total, used


def _destructions(
    tables: CodeTables, out: _Out, kind: str, items: list[tuple[int, Mention]]
) -> None:
    start = min(i for i, _m in items)
    if kind == "destruction-premalignant":
        total, used = _lesion_total(out, items, "Destruction of premalignant lesions")
        for rank, (code, units) in enumerate(premalignant_destruction_codes(tables, total)):
            out.line((start, rank), code, units, used)
        return
    if kind == "destruction-benign":
        tag_types = tables.skin_tags[4]
        tags = [(i, m) for i, m in items if (m.facts.lesion_type or "") in tag_types]
        others = [(i, m) for i, m in items if (m.facts.lesion_type or "") not in tag_types]
        if tags:
            total, used = _lesion_total(out, tags, "Removal of skin tags")
            for rank, (code, units) in enumerate(skin_tag_codes(tables, total)):
                out.line((min(i for i, _m in tags), rank), code, units, used)
        if others:
            total, used = _lesion_total(out, others, "Destruction of benign lesions")
            for code, units in benign_destruction_codes(tables, total):
                out.line((min(i for i, _m in others), 0), code, units, used)
        return
    # malignant: one code per lesion by site group and lesion diameter
    merged: dict[str, tuple[int, list[int]]] = {}
    for i, m in items:
        site = _site(tables, out, i, m, "Destruction of a malignant lesion")
        if m.facts.lesion_diameter_cm is None:
            out.gap(
                i,
                "lesion_diameter_cm",
                "Destruction of a malignant lesion: the note must give the lesion diameter",
            )
            continue
        if site is None:
            continue
        code = malignant_destruction_code(tables, site, m.facts.lesion_diameter_cm)
        units, idx = merged.get(code, (0, []))
        merged[code] = (units + _count(m.facts), [*idx, i])
    for code, (units, idx) in merged.items():
        out.line((start, min(idx)), code, units, idx)


def _excision_or_shave(tables: CodeTables, out: _Out, i: int, m: Mention, skip: set[int]) -> None:
    if i in skip:
        return
    if m.kind == "shave-removal":
        site = _site(tables, out, i, m, "Shave removal")
        if m.facts.lesion_diameter_cm is None:
            out.gap(
                i, "lesion_diameter_cm", "Shave removal: the note must give the lesion diameter"
            )
            return
        if site is not None:
            out.line(
                (i, 0), shave_code(tables, site, m.facts.lesion_diameter_cm), _count(m.facts), [i]
            )
        return
    site = _site(tables, out, i, m, "Excision")
    diameter, missing = excised_diameter(m.facts)
    if missing == "lesion_diameter_cm":
        out.gap(
            i,
            missing,
            "Excision: the note must give the lesion diameter (or the excised diameter); the code depends on it",
        )
    elif missing == "margin_cm":
        out.gap(
            i,
            missing,
            "Excision: the note gives the lesion size but not the narrowest margin, so the excised diameter (lesion + 2 x margin) is unknown",
        )
    pathology = m.facts.pathology
    if pathology not in ("benign", "premalignant", "malignant"):
        state = "pending" if pathology is None else pathology
        out.gap(
            i,
            "pathology",
            f"Excision: pathology is {state}; benign (114xx) vs malignant (116xx) codes wait for the final report",
        )
        return
    if site is None or diameter is None:
        return
    out.line(
        (i, 0),
        excision_code(tables, site, diameter, pathology == "malignant"),
        _count(m.facts),
        [i],
    )


def _repairs(
    tables: CodeTables, out: _Out, items: list[tuple[int, Mention]], included_sites: set[str]
) -> None:
    sums: dict[tuple[str, str], tuple[Decimal, list[int]]] = {}
    for i, m in items:
        complexity = m.facts.repair_type
        if complexity not in ("simple", "intermediate", "complex"):
            got = "nothing" if complexity is None else repr(complexity)
            out.gap(
                i,
                "repair_type",
                f"Repair: the note must say whether the repair was simple, intermediate or complex, got {got}",
            )
            continue
        site = _site(tables, out, i, m, "Repair")
        if site is None:
            continue
        if complexity == "simple" and site.key in included_sites:
            continue  # part of the excision/shave/biopsy/destruction at that site
        group = repair_group(site, complexity)
        if group is None:
            out.gap(
                i,
                "site",
                f"Repair: {site.label} is not specific enough for a {complexity} repair code (which part of the face?)",
            )
            continue
        if m.facts.repair_length_cm is None:
            out.gap(
                i,
                "repair_length_cm",
                f"Repair: the note must give the length of the {complexity} repair in cm",
            )
            continue
        total, idx = sums.get((complexity, group), (Decimal(0), []))
        sums[(complexity, group)] = (total + m.facts.repair_length_cm, [*idx, i])
    for (complexity, group), (total, idx) in sums.items():
        codes = repair_codes(tables, complexity, group, total)
        if codes is None:
            for i in idx:
                out.gap(
                    i,
                    "repair_type",
                    f"Repair: a complex repair of {cm(total)} cm is below the 1.1 cm where complex repair codes start; the provider must say which repair code applies",
                )
            continue
        for rank, (code, units) in enumerate(codes):
            out.line((min(idx), rank), code, units, idx)


def _atts(tables: CodeTables, out: _Out, items: list[tuple[int, Mention]]) -> None:
    for i, m in items:
        site = _site(tables, out, i, m, "Adjacent tissue transfer")
        if site is not None and site.repair_complex_group is None:
            out.gap(
                i,
                "site",
                f"Adjacent tissue transfer: {site.label} is not specific enough for the code (which part of the face?)",
            )
            site = None
        if m.facts.defect_area_sq_cm is None:
            out.gap(
                i,
                "defect_area_sq_cm",
                "Adjacent tissue transfer: the note must give the defect area in sq cm (primary plus secondary defect)",
            )
            continue
        if site is None or site.repair_complex_group is None:
            continue
        for rank, (code, units) in enumerate(
            att_codes(tables, site.repair_complex_group, m.facts.defect_area_sq_cm)
        ):
            out.line((i, rank), code, units, [i])


def _mohs(tables: CodeTables, out: _Out, items: list[tuple[int, Mention]]) -> None:
    by_group: dict[str, list[tuple[int, Mention]]] = {}
    for i, m in items:
        site = _site(tables, out, i, m, "Mohs surgery")
        if m.facts.mohs_stage is None or m.facts.mohs_stage < 1:
            out.gap(
                i, "mohs_stage", "Mohs surgery: the note must number the stage (1 for the first)"
            )
            continue
        if site is not None:
            by_group.setdefault(site.mohs_group, []).append((i, m))
    per_stage = tables.mohs_blocks_per_stage
    for group, stages in by_group.items():
        first, additional = tables.mohs_families[group]
        firsts = [i for i, m in stages if m.facts.mohs_stage == 1]
        later = [i for i, m in stages if (m.facts.mohs_stage or 0) > 1]
        start = min(i for i, _m in stages)
        if later and not firsts:
            for i in later:
                out.gap(
                    i,
                    "mohs_stage",
                    f"Mohs surgery: a later stage is documented without a first stage; {additional} is billed only with {first}",
                )
            continue
        out.line((start, 0), first, len(firsts), firsts)
        out.line((start, 1), additional, len(later), later)
        extra, used = 0, []
        for i, m in stages:
            if m.facts.mohs_blocks is None:
                out.gap(
                    i,
                    "mohs_blocks",
                    f"Mohs surgery: the note must give the number of tissue blocks in stage {m.facts.mohs_stage}; blocks beyond {per_stage} add {tables.mohs_block_addon}",
                )
            elif m.facts.mohs_blocks > per_stage:
                extra += m.facts.mohs_blocks - per_stage
                used.append(i)
        out.line((start, 2), tables.mohs_block_addon, extra, used)


def choose_codes(
    mentions: Sequence[Mention], tables: CodeTables | None = None
) -> tuple[list[CodedLine], list[Gap]]:
    """The claim lines the mentions code to, in the order they are mentioned (add-ons after their
    primary), and the documentation gaps (no code guessed for a mention missing a fact)."""
    t = tables or code_tables()
    out = _Out()
    by_kind: dict[str, list[tuple[int, Mention]]] = {}
    for i, m in enumerate(mentions):
        if m.kind not in MENTION_KINDS:
            raise ValueError(f"mention {i}: expected a kind in {MENTION_KINDS}, got {m.kind!r}")
        by_kind.setdefault(m.kind, []).append((i, m))
    att_sites = {
        m.facts.site for _i, m in by_kind.get("adjacent-tissue-transfer", []) if m.facts.site
    }
    # the excision of the lesion an adjacent tissue transfer closes is part of the transfer
    skip = {i for i, m in by_kind.get("excision", []) if m.facts.site in att_sites}
    included_sites = {
        m.facts.site
        for kind in (
            "excision",
            "shave-removal",
            "biopsy",
            "destruction-premalignant",
            "destruction-benign",
            "destruction-malignant",
        )
        for _i, m in by_kind.get(kind, [])
        if m.facts.site
    } | att_sites
    repairs = [
        (i, m)
        for i, m in by_kind.get("repair", [])
        if m.facts.site not in att_sites or m.facts.site is None
    ]
    # a repair mention tagged as a tissue transfer is coded as one
    atts = by_kind.get("adjacent-tissue-transfer", []) + [
        (i, m) for i, m in repairs if m.facts.repair_type == "adjacent-tissue-transfer"
    ]
    repairs = [(i, m) for i, m in repairs if m.facts.repair_type != "adjacent-tissue-transfer"]
    if by_kind.get("biopsy"):
        _biopsies(t, out, by_kind["biopsy"])
    for kind in ("destruction-premalignant", "destruction-benign", "destruction-malignant"):
        if by_kind.get(kind):
            _destructions(t, out, kind, by_kind[kind])
    for kind in ("excision", "shave-removal"):
        for i, m in by_kind.get(kind, []):
            _excision_or_shave(t, out, i, m, skip)
    if repairs:
        _repairs(t, out, repairs, {s for s in included_sites if s is not None})
    if atts:
        _atts(t, out, sorted(atts))
    if by_kind.get("mohs"):
        _mohs(t, out, by_kind["mohs"])
    lines = [line for _order, line in sorted(out.lines, key=lambda item: item[0])]
    gaps = sorted(out.gaps, key=lambda g: (g.mention, g.needs))
    return lines, gaps


# -- helpers for the scrubber's rule families ----------------------------------------------------


def rule_source(tables: CodeTables, rule: str) -> RuleSource:
    """The citation of a rule of procedure-codes.yaml (its source, with the second one in the
    note)."""
    entry = tables.raw["rules"].get(rule)
    sources = tables.raw["sources"]
    if entry is None:
        return RuleSource.from_json(tables.raw["source"])
    main = dict(sources[entry["source"]])
    notes = [str(main.get("note", ""))] if main.get("note") else []
    if entry.get("also"):
        notes.append(f"also: {sources[entry['also']]['title']}")
    if entry.get("note"):
        notes.append(str(entry["note"]))
    return RuleSource(
        title=str(main["title"]),
        url=str(main.get("url", "")),
        document_id=str(main.get("document_id", "")),
        note="; ".join(notes),
    )


def recode(work: WorkClaim, line: WorkLine, code: str, units: Decimal | None = None) -> None:
    """Change a line's code (and units), repricing it from the practice's fee schedule (or in
    proportion to its old charge when the schedule has no fee for the new code)."""
    new_units = line.units if units is None else units
    if code in work.fees:
        line.charge = work.fee(code, new_units)
    elif line.units and new_units != line.units:
        line.charge = (line.charge * new_units / line.units).quantize(Decimal("0.01"))
    line.code = code
    line.units = new_units


def add_line(work: WorkClaim, like: WorkLine, code: str, units: Decimal) -> WorkLine:
    """A line a rule adds after `like`, priced from the fee schedule (0.00 when it has none)."""
    return work.new_line(like, code, units, work.fee(code, units))


def ordered(lines: Sequence[WorkLine]) -> list[WorkLine]:
    """Lines in claim order (LX01), each once; lines a rule added last."""
    seen: list[WorkLine] = []
    for ln in lines:
        if not any(ln is s for s in seen):
            seen.append(ln)
    return sorted(seen, key=lambda ln: (ln.origin is None, ln.origin or 0))


def line_numbers(lines: Sequence[WorkLine]) -> str:
    """ "Line 2", "Lines 1 and 3", "Lines 1, 2 and 4" (added lines have no number)."""
    nums = [str(ln.origin) for ln in ordered(lines) if ln.origin is not None]
    if not nums:
        return "A line added by the scrubber"
    if len(nums) == 1:
        return f"Line {nums[0]}"
    return f"Lines {', '.join(nums[:-1])} and {nums[-1]}"


def units_text(units: Decimal) -> str:
    return format(units.normalize(), "f")


def has_facts(facts: LineFacts) -> bool:
    return facts != LineFacts()
