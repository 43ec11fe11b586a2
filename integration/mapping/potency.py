"""Topical corticosteroid potency from a medication name (mappings/evidence/tcs-potency.yaml).

A name is classified only when the table decides it: one known molecule, its strength, and a
vehicle the table lists for that strength (or no vehicle, when every listed vehicle gives the
same class). Anything else (an unknown molecule or strength, a combination product, a vehicle
the table doesn't list, two vehicles with different classes) is None: the rule engine then
reports the potency as missing, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from integration.mapping.loader import MappingDocument, MappingError, iter_documents
from integration.mapping.text import normalize

#: the rule language's potency groups, weakest first
GROUP_ORDER: tuple[str, ...] = ("low", "medium", "high", "super-high")

# "0.05%", "0.05 %", ".05%", "10 mg/g", "10 MG/ML" (RxNorm writes 1% cream as 10 MG/ML)
_STRENGTH = re.compile(
    r"(?<![0-9.])(\d+(?:\.\d+)?|\.\d+)\s*(%|mg\s*/\s*(?:g|gm|gram|ml)\b)", re.IGNORECASE
)
# after the strengths are taken out, any of these means more than one active ingredient
_COMBINATION = re.compile(r"[/+&]|\b(?:and|with)\b", re.IGNORECASE)
# a salt or ester word right after a molecule name makes it another molecule
# ("hydrocortisone acetate" is not "hydrocortisone")
_ESTER_WORDS = frozenset(
    {
        "acetate",
        "aceponate",
        "acetonide",
        "benzoate",
        "buteprate",
        "butyrate",
        "cypionate",
        "diacetate",
        "dipropionate",
        "furoate",
        "hexacetonide",
        "phosphate",
        "pivalate",
        "probutate",
        "propionate",
        "sodium",
        "succinate",
        "valerate",
    }
)


@dataclass(frozen=True, slots=True)
class PotencyMatch:
    """What the table says about one name.

    `potency_class` is the class (1 most potent ... 7 least) when the source gives one, None
    when it gives a range (`classes`, e.g. (4, 5) for "class IV and V"). `group` is the weakest
    group the preparation certainly belongs to; `groups` every group it may belong to (class III
    is "medium- to high-potency": ("medium", "high")). `matched` is what was recognised.
    """

    potency_class: int | None
    classes: tuple[int, ...]
    group: str
    groups: tuple[str, ...]
    matched: str


@dataclass(frozen=True, slots=True)
class _Entry:
    molecule: str
    strengths: frozenset[Decimal]
    vehicles: frozenset[str] | None  # None: any vehicle
    classes: tuple[int, ...]


def group_at_least(group: str, minimum: str) -> bool:
    """Whether potency group `group` is `minimum` or stronger (low < medium < high < super-high)."""
    for name in (group, minimum):
        if name not in GROUP_ORDER:
            raise ValueError(f"potency group: expected one of {list(GROUP_ORDER)}, got {name!r}")
    return GROUP_ORDER.index(group) >= GROUP_ORDER.index(minimum)


def _percent(number: str, unit: str) -> Decimal | None:
    try:
        value = Decimal(number)
    except InvalidOperation:
        return None
    if unit != "%":  # mg per g or per mL: 10 mg/g = 1%
        value = value / 10
    return value.normalize()


def _phrases(words: Iterable[str]) -> list[tuple[str, ...]]:
    return [tuple(normalize(w).split()) for w in words if normalize(w)]


class PotencyTable:
    """The potency table: `classify(name)` and group comparisons."""

    def __init__(
        self,
        entries: list[_Entry],
        molecules: dict[str, list[tuple[str, ...]]],
        vehicles: dict[str, list[tuple[str, ...]]],
        class_groups: dict[int, tuple[str, ...]],
    ) -> None:
        self._entries = entries
        self._class_groups = class_groups
        # (phrase tokens, id), longest phrase first so "augmented betamethasone dipropionate"
        # wins over "betamethasone dipropionate"
        self._molecule_phrases = sorted(
            ((p, m) for m, phrases in molecules.items() for p in phrases),
            key=lambda item: len(item[0]),
            reverse=True,
        )
        self._vehicle_phrases = sorted(
            ((p, v) for v, phrases in vehicles.items() for p in phrases),
            key=lambda item: len(item[0]),
            reverse=True,
        )

    @classmethod
    def from_document(cls, doc: MappingDocument) -> PotencyTable:
        data = doc.data
        where = doc.path.name
        class_groups: dict[int, list[str]] = {}
        for group in data["groups"]:
            for number in group["classes"]:
                class_groups.setdefault(int(number), []).append(str(group["id"]))
        missing = sorted(set(range(1, 8)) - set(class_groups))
        if missing:
            raise MappingError(
                f"{where}: groups: expected every class 1-7 in a group, missing {missing}"
            )
        ordered = {
            number: tuple(sorted(groups, key=GROUP_ORDER.index))
            for number, groups in class_groups.items()
        }
        molecules = {str(m): _phrases(names) for m, names in data["molecules"].items()}
        vehicles = {str(v): _phrases(names) for v, names in data["vehicles"].items()}
        entries: list[_Entry] = []
        for i, entry in enumerate(data["entries"]):
            if entry["molecule"] not in molecules:
                raise MappingError(
                    f"{where}: entries/{i}/molecule: expected one of the molecules, "
                    f"got {entry['molecule']!r}"
                )
            listed = entry["vehicles"]
            if listed != "any":
                unknown = sorted(set(listed) - set(vehicles))
                if unknown:
                    raise MappingError(
                        f"{where}: entries/{i}/vehicles: expected vehicle ids, got {unknown[0]!r}"
                    )
            entries.append(
                _Entry(
                    molecule=str(entry["molecule"]),
                    strengths=frozenset(Decimal(s).normalize() for s in entry["strengths"]),
                    vehicles=None if listed == "any" else frozenset(listed),
                    classes=tuple(sorted(int(c) for c in entry["classes"])),
                )
            )
        return cls(entries, molecules, vehicles, ordered)

    # --- the rule engine's PotencyLookup -------------------------------------------------

    def potency_group(self, name: str) -> str | None:
        """The weakest group the named preparation certainly belongs to, or None."""
        match = self.classify(name)
        return match.group if match else None

    def at_least(self, group: str, minimum: str) -> bool:
        return group_at_least(group, minimum)

    def meets(self, name: str, minimum: str) -> bool | None:
        """Whether the named preparation is `minimum` potency or stronger: None when the name
        can't be classified or the source's range straddles `minimum` (class III vs "high")."""
        match = self.classify(name)
        if match is None:
            return None
        if group_at_least(match.group, minimum):
            return True
        if not group_at_least(match.groups[-1], minimum):
            return False
        return None

    # --- classification ------------------------------------------------------------------

    def classify(self, name: str) -> PotencyMatch | None:
        """Potency of a topical corticosteroid named as in a chart, or None when not decided."""
        strengths = {
            value
            for value in (_percent(m.group(1), m.group(2)) for m in _STRENGTH.finditer(name))
            if value is not None
        }
        if len(strengths) != 1:
            return None  # no strength, or two (a combination product)
        if _COMBINATION.search(_STRENGTH.sub(" ", name)):
            return None
        (strength,) = strengths
        tokens = tuple(normalize(name).split())
        molecule, molecule_text = self._molecule(tokens)
        if molecule is None:
            return None
        vehicles = self._vehicles(tokens)
        candidates = [
            e for e in self._entries if e.molecule == molecule and strength in e.strengths
        ]
        if not candidates:
            return None
        if vehicles:
            found: set[tuple[int, ...]] = set()
            for vehicle in vehicles:
                for_vehicle = {
                    e.classes for e in candidates if e.vehicles is None or vehicle in e.vehicles
                }
                if len(for_vehicle) != 1:
                    return None  # vehicle not listed for this strength
                found |= for_vehicle
        else:
            found = {e.classes for e in candidates}
        if len(found) != 1:
            return None  # the class depends on a vehicle the name doesn't settle
        (classes,) = found
        return self._match(classes, molecule_text, strength, vehicles)

    def _molecule(self, tokens: tuple[str, ...]) -> tuple[str | None, str]:
        found: dict[str, str] = {}
        i = 0
        while i < len(tokens):
            for phrase, molecule in self._molecule_phrases:
                end = i + len(phrase)
                if tokens[i:end] == phrase:
                    if end < len(tokens) and tokens[end] in _ESTER_WORDS:
                        return None, ""  # another salt or ester of the molecule
                    found.setdefault(molecule, " ".join(phrase))
                    i = end
                    break
            else:
                i += 1
        if len(found) != 1:
            return None, ""
        ((molecule, text),) = found.items()
        return molecule, text

    def _vehicles(self, tokens: tuple[str, ...]) -> tuple[str, ...]:
        found: list[str] = []
        i = 0
        while i < len(tokens):
            for phrase, vehicle in self._vehicle_phrases:
                end = i + len(phrase)
                if tokens[i:end] == phrase:
                    if vehicle not in found:
                        found.append(vehicle)
                    i = end
                    break
            else:
                i += 1
        return tuple(found)

    def _match(
        self, classes: tuple[int, ...], molecule: str, strength: Decimal, vehicles: tuple[str, ...]
    ) -> PotencyMatch:
        possible = sorted(
            {g for c in classes for g in self._class_groups[c]}, key=GROUP_ORDER.index
        )
        # the group the preparation certainly reaches: the weakest of each class's weakest group
        certain = min((self._class_groups[c][0] for c in classes), key=GROUP_ORDER.index)
        matched = " ".join([molecule, f"{strength:f}%", *vehicles])
        return PotencyMatch(
            potency_class=classes[0] if len(classes) == 1 else None,
            classes=classes,
            group=certain,
            groups=tuple(possible),
            matched=matched,
        )


def load_potency_table(root: Path | None = None) -> PotencyTable:
    """The one `kind: tcs-potency` file under `root` (default mappings/)."""
    docs = list(iter_documents(root, kind="tcs-potency"))
    if len(docs) != 1:
        raise MappingError(f"kind tcs-potency: expected exactly one file, got {len(docs)}")
    return PotencyTable.from_document(docs[0])
