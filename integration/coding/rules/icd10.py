"""ICD-10-CM validity and specificity of the claim's diagnoses for the date of service.

Every diagnosis must be a billable (leaf) code of the code set in effect on the date of service
(the fiscal year from October 1 to September 30); a category with codes below it, or a code
the tabular list does not have, is an error. Every line's diagnosis pointers must point at a
diagnosis. An "unspecified" code pointed to by a procedure, where the same category has
specific codes, is a warning: the procedure note usually documents the detail. The scrubber never
picks a replacement code. The code set is the one of the installed simple-icd-10-cm (FY2026);
a date of service outside that year gets one info finding. Sources: diagnosis-validity.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from integration.coding.engine import Family, LoadContext
from integration.coding.icd10cm import CodeInfo, CodeSet, code_set
from integration.coding.model import RuleSource, WorkClaim
from integration.coding.rules.global_period import GlobalDays, load_global_days


@dataclass(frozen=True, slots=True)
class Icd10Rules:
    codes: CodeSet
    code_set_name: str
    fiscal_year: int
    valid_from: date
    valid_to: date
    marker: str
    not_unspecified: tuple[str, ...]
    exempt: frozenset[str]
    table: GlobalDays
    source: RuleSource
    rules: Mapping[str, RuleSource]

    def cite(self, rule: str) -> RuleSource:
        return self.rules.get(rule, self.source)

    def vagueness(self, info: CodeInfo) -> int:
        """How many times the title says "unspecified" (0 for an exempt code); the phrases that
        name a specific category ("unspecified behavior") do not count."""
        if info.code.replace(".", "") in self.exempt:
            return 0
        title = info.title.lower()
        for phrase in self.not_unspecified:
            title = title.replace(phrase, "")
        return title.count(self.marker)


def load(ctx: LoadContext) -> Icd10Rules:
    data = ctx.document("diagnosis-validity.yaml")
    cs = data["code_set"]
    unspecified = data["unspecified"]
    return Icd10Rules(
        codes=code_set(),
        code_set_name=cs["name"],
        fiscal_year=int(cs["fiscal_year"]),
        valid_from=date.fromisoformat(cs["valid_from"]),
        valid_to=date.fromisoformat(cs["valid_to"]),
        marker=unspecified["marker"].lower(),
        not_unspecified=tuple(p.lower() for p in unspecified["not_unspecified_phrases"]),
        exempt=frozenset(c.replace(".", "") for c in unspecified.get("exempt_codes", ())),
        table=load_global_days(ctx),
        source=RuleSource.from_json(data["source"]),
        rules={k: RuleSource.from_json(v) for k, v in data.get("rules", {}).items()},
    )


def fiscal_year(day: date) -> int:
    """The federal fiscal year of `day` (FY2026 runs 2025-10-01 through 2026-09-30)."""
    return day.year + 1 if day.month >= 10 else day.year


def _examples(codes: tuple[str, ...], n: int = 3) -> str:
    shown = ", ".join(codes[:n])
    return shown + (", ..." if len(codes) > n else "")


def check(work: WorkClaim, rules: Icd10Rules) -> None:
    day = work.service_date
    if day is not None and not rules.valid_from <= day <= rules.valid_to:
        work.add(
            "icd10.code-set-year",
            "info",
            f"The date of service {day.isoformat()} is in FY{fiscal_year(day)}; the diagnosis "
            f"codes were checked against {rules.code_set_name} (valid {rules.valid_from} to "
            f"{rules.valid_to}). Codes added, expanded or deleted for FY{fiscal_year(day)} are "
            "not known to the scrubber.",
            source=rules.cite("code-set-year"),
        )
    pointed: dict[int, list[int]] = {}  # diagnosis position -> lines pointing at it
    by_procedure: dict[int, list[int]] = {}  # the same, procedure lines only (not E/M)
    for line in work.lines:
        if not line.active:
            continue
        bad = [p for p in line.pointers if not 0 < p <= len(work.diagnoses)]
        if bad or not line.pointers:
            got = ", ".join(str(p) for p in bad) if bad else "no pointer"
            work.add(
                "icd10.pointer",
                "error",
                f"Line {line.origin}: {line.code} diagnosis pointer {got} points to no diagnosis; "
                f"the claim lists {len(work.diagnoses)} diagnosis code(s). Point the line to the "
                "diagnosis the documentation gives for it.",
                [line],
                source=rules.cite("pointer"),
            )
        for p in line.pointers:
            if 0 < p <= len(work.diagnoses) and line.origin is not None:
                pointed.setdefault(p, []).append(line.origin)
                if not rules.table.is_em(line.code):
                    by_procedure.setdefault(p, []).append(line.origin)
    for position, raw in enumerate(work.diagnoses, start=1):
        info = rules.codes.info(raw)
        lines = pointed.get(position, [])
        if info.status == "unknown":
            work.add(
                "icd10.unknown-code",
                "error",
                f"Diagnosis {position} ({raw}): {info.code} is not a code of "
                f"{rules.code_set_name}. Check the code against the documentation.",
                lines,
                source=rules.cite("unknown-code"),
            )
        elif info.status == "category":
            work.add(
                "icd10.not-billable",
                "error",
                f"Diagnosis {position}: {info.code} ({info.title}) is a category, not a billable "
                f"code; it has {len(info.billable_below)} billable code(s) below it (e.g. "
                f"{_examples(info.billable_below)}). Code to the highest level of detail the "
                "documentation supports.",
                lines,
                source=rules.cite("not-billable"),
            )
        elif by_procedure.get(position) and (vague := rules.vagueness(info)):
            specific = [s for s in rules.codes.siblings(raw) if rules.vagueness(s) < vague]
            if specific:
                work.add(
                    "icd10.unspecified",
                    "warning",
                    f"Diagnosis {position}: {info.code} ({info.title}) is an unspecified code "
                    f"supporting a procedure; {len(specific)} more specific code(s) exist beside "
                    f"it (e.g. {_examples(tuple(s.code for s in specific))}). Use the specific "
                    "code if the procedure note or pathology documents the detail.",
                    by_procedure[position],
                    source=rules.cite("unspecified"),
                )


FAMILY: Family[Icd10Rules] = Family("icd10", load, check)
