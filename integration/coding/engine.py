"""The claim scrubber: rule families run in a fixed order over a working copy of the claim.

Each family is a module of `integration.coding.rules` exposing `FAMILY`: a name, a `load`
that reads its tables from `mappings/coding/` (and, for NCCI and MUE, the imported CMS tables)
once, and a `check` that records findings on a `WorkClaim` and makes the corrections it proposes.
Order matters and is fixed here: diagnosis codes first, then the procedure families choose and
count codes, cosmetic lines leave the claim, then the E/M and modifier rules, the NCCI and MUE
edits on what is left, and last the LCD diagnosis-procedure pairing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from integration.coding.model import (
    ScrubRequest,
    ScrubResult,
    SelfPayLine,
    WorkClaim,
    corrected_claim,
    work_claim,
)
from integration.mapping.loader import MappingError, load_document
from integration.paths import mappings_dir

T = TypeVar("T")

FAMILY_MODULES: tuple[str, ...] = (
    "icd10",  # diagnosis code validity and specificity for the date of service
    "biopsy",  # 11102-11107
    "destruction",  # 17000-17286
    "excision_repair",  # 11400-11646, 12001-13160, 14000-14302
    "mohs",  # 17311-17315, 88305
    "cosmetic",  # cosmetic vs medical; self-pay
    "em_procedure",  # E/M on a procedure day: modifier 25
    "global_period",  # 58 / 78 / 79 in an earlier procedure's global period
    "modifiers",  # 59 / XE / XS / XP / XU, LT / RT / 50
    "ncci_ptp",  # NCCI procedure-to-procedure edits
    "mue",  # medically unlikely edits
    "lcd",  # LCD diagnosis-procedure pairing
)


@dataclass(frozen=True, slots=True)
class LoadContext:
    """What a family's `load` may read: the mapping folder and the imported reference tables
    (by name: "ncci-ptp", "mue"; absent when not imported). Within one `Scrubber.load`, a
    mapping file is read and schema-checked once, and `shared` builds a table several families
    use (the procedure code tables) once."""

    mappings_root: Path
    reference: Mapping[str, Any] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def document(self, relative: str) -> dict[str, Any]:
        """A mapping file under `mappings/coding/`, schema-checked."""
        key = f"document:{relative}"
        if key not in self._cache:
            path = self.mappings_root / "coding" / relative
            self._cache[key] = load_document(path, self.mappings_root).data
        data: dict[str, Any] = self._cache[key]
        return data

    def shared(self, name: str, build: Callable[[], T]) -> T:
        """`build()` the first time `name` is asked for, the same object afterwards."""
        key = f"shared:{name}"
        if key not in self._cache:
            self._cache[key] = build()
        value: T = self._cache[key]
        return value


@dataclass(frozen=True, slots=True)
class Family(Generic[T]):
    name: str
    load: Callable[[LoadContext], T]
    check: Callable[[WorkClaim, T], None]


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """The practice's fees: for lines a rule adds, and the cosmetic (self-pay) fees."""

    insurance: Mapping[str, Decimal]
    cosmetic: Mapping[str, Decimal]


def load_fees(ctx: LoadContext) -> FeeSchedule:
    data = ctx.document("fee-schedule.yaml")
    return FeeSchedule(
        insurance={str(k): Decimal(str(v)) for k, v in data["insurance"].items()},
        cosmetic={str(k): Decimal(str(v)) for k, v in data["cosmetic"].items()},
    )


@dataclass(frozen=True, slots=True)
class _Loaded:
    family: Family[Any]
    data: Any


class Scrubber:
    """All rule families with their tables loaded; `scrub` is pure and thread-safe."""

    def __init__(self, loaded: Iterable[_Loaded], fees: FeeSchedule) -> None:
        self._loaded = tuple(loaded)
        self.fees = fees

    @classmethod
    def load(
        cls,
        mappings_root: Path | None = None,
        reference: Mapping[str, Any] | None = None,
        families: Iterable[str] = FAMILY_MODULES,
    ) -> Scrubber:
        ctx = LoadContext(mappings_root or mappings_dir(), reference or {})
        loaded = []
        for name in families:
            module = importlib.import_module(f"integration.coding.rules.{name}")
            family: Family[Any] = module.FAMILY
            try:
                loaded.append(_Loaded(family, family.load(ctx)))
            except MappingError:
                raise
            except (KeyError, ValueError, TypeError) as exc:
                raise MappingError(f"coding rules {name!r}: {exc}") from exc
        return cls(loaded, load_fees(ctx))

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(item.family.name for item in self._loaded)

    def work(self, request: ScrubRequest) -> WorkClaim:
        """The working claim after every rule family: its findings, and its lines with their
        original LX numbers (`origin`) and what each rule changed (what `scrub` summarizes)."""
        work = work_claim(request)
        work.fees = self.fees.insurance
        for item in self._loaded:
            item.family.check(work, item.data)
        return work

    def self_pay(self, work: WorkClaim) -> tuple[SelfPayLine, ...]:
        """The worked claim's lines moved to the patient's statement, at the cosmetic fees."""
        return tuple(
            SelfPayLine(
                origin=ln.origin,
                code=ln.code,
                units=ln.units,
                fee=(
                    self.fees.cosmetic[ln.code] * ln.units
                    if ln.code in self.fees.cosmetic
                    else None
                ),
                reason=ln.self_pay_reason,
            )
            for ln in work.lines
            if ln.self_pay and not ln.removed
        )

    def scrub(self, request: ScrubRequest) -> ScrubResult:
        work = self.work(request)
        return ScrubResult(
            claim_id=request.claim.patient_control_number,
            findings=tuple(work.findings),
            corrected=corrected_claim(work),
            self_pay=self.self_pay(work),
        )


@cache
def default_scrubber() -> Scrubber:
    """The scrubber over `mappings/` and the NCCI/MUE tables imported into the database (none
    imported: those two families find nothing and say so once per claim)."""
    from integration.coding.reference import load_reference

    return Scrubber.load(reference=load_reference())
