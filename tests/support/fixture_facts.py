"""Check evidence JSON against a fixture's hand-written facts file (fixtures/patients/*.facts.json).

The facts are written from each chart's scenario, not computed by the evidence code, so this
is an independent check beside the golden files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integration.paths import fixtures_dir

PATIENTS = fixtures_dir() / "patients"
MEASURE_NEEDS = {
    "PASI": "pasi-recent",
    "BSA": "bsa-recent",
    "EASI": "severity-recent",
    "IGA": "severity-recent",
}


@dataclass(frozen=True)
class FixtureChart:
    bundle: Path
    facts: dict[str, Any]

    @property
    def name(self) -> str:
        return self.bundle.stem

    @property
    def patient_id(self) -> str:
        return str(self.facts["patient"]).split("/", 1)[1]

    @property
    def golden(self) -> Path:
        return self.bundle.with_name(f"{self.bundle.stem}.evidence.json")


def fixture_charts() -> list[FixtureChart]:
    out = []
    for facts_path in sorted(PATIENTS.rglob("*.facts.json")):
        bundle = facts_path.with_name(facts_path.name.replace(".facts.json", ".json"))
        out.append(FixtureChart(bundle, json.loads(facts_path.read_text(encoding="utf-8"))))
    return out


def plain(source: str | None) -> str | None:
    """'Type/id' without '/_history/n' (servers number versions differently)."""
    return source.split("/_history/")[0] if source else source


def all_sources(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("source", "payer_source") and isinstance(value, str):
                yield plain(value) or ""
            elif key in ("sources", "see") and isinstance(value, list):
                yield from (plain(v) or "" for v in value)
            else:
                yield from all_sources(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_sources(item)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(float(a) - float(b)) < 1e-9
    return bool(a == b)


def check_facts(evidence: dict[str, Any], facts: dict[str, Any]) -> list[str]:
    """Every fact that the evidence contradicts or lacks, as readable lines (empty = all good)."""
    errors: list[str] = []
    measures = evidence["measures"]
    missing_ids = {m["id"] for m in evidence["missing"]}
    facts_sources = set(
        all_sources({k: v for k, v in evidence.items() if k not in ("missing", "problems")})
    )
    for fact in facts["expect"]:
        kind = fact["kind"]
        what = json.dumps(fact)
        if kind == "measure":
            hits = [m for m in measures[fact["measure"]] if plain(m["source"]) == fact["source"]]
            if (
                not hits
                or hits[0]["date"] != fact["date"]
                or not _close(hits[0]["value"], fact["value"])
            ):
                errors.append(f"{what}: got {hits}")
        elif kind == "latest_measure":
            latest = measures[fact["measure"]][:1]
            if (
                not latest
                or latest[0]["date"] != fact["date"]
                or not _close(latest[0]["value"], fact["value"])
            ):
                errors.append(f"{what}: got {latest}")
        elif kind == "measure_count":
            if len(measures[fact["measure"]]) != fact["count"]:
                errors.append(f"{what}: got {len(measures[fact['measure']])}")
        elif kind == "not_a_fact":
            if fact["source"] in facts_sources:
                errors.append(f"{what}: it is used as a fact")
        elif kind == "stale":
            dates = [m["date"] for m in measures[fact["measure"]]]
            need = f"/{MEASURE_NEEDS[fact['measure']]}"
            if (
                not dates
                or max(dates) != fact["latest_date"]
                or not any(i.endswith(need) for i in missing_ids)
            ):
                errors.append(f"{what}: dates {dates}, missing {sorted(missing_ids)}")
        elif kind == "region_area":
            hits = [m for m in measures["REGION_AREA"] if plain(m["source"]) == fact["source"]]
            if (
                not hits
                or hits[0]["region"] != fact["region"]
                or not _close(hits[0]["value"], fact["value"])
            ):
                errors.append(f"{what}: got {hits}")
        elif kind == "therapy":
            errors.extend(_therapy(evidence["therapies"], fact))
        elif kind == "diagnosis":
            hits = [d for d in evidence["diagnoses"] if plain(d["source"]) == fact["source"]]
            if (
                not hits
                or hits[0]["icd10"] != fact.get("icd10")
                or ("snomed" in fact and fact["snomed"] and hits[0]["snomed"] != fact["snomed"])
            ):
                errors.append(f"{what}: got {hits}")
        elif kind == "photo":
            if fact["source"] not in {plain(p["source"]) for p in evidence["photos"]}:
                errors.append(f"{what}: not among the photos")
        elif kind == "coverage":
            hits = [c for c in evidence["coverage"] if plain(c["source"]) == fact["source"]]
            want = (fact["payer"], fact["member_id"], fact["plan"], fact["current"])
            if (
                not hits
                or (hits[0]["payer"], hits[0]["member_id"], hits[0]["plan"], hits[0]["current"])
                != want
            ):
                errors.append(f"{what}: got {hits}")
        elif kind == "pathology":
            hits = [p for p in evidence["pathology"] if plain(p["source"]) == fact["source"]]
            if (
                not hits
                or fact["text_contains"].lower() not in hits[0]["text"].lower()
                or hits[0]["date"] != fact["date"]
            ):
                errors.append(f"{what}: got {hits}")
        elif kind == "screening":
            hits = [s for s in evidence["screenings"] if plain(s["source"]) == fact["source"]]
            if (
                not hits
                or hits[0]["date"] != fact["date"]
                or hits[0]["result"] != fact["result"]
                or hits[0]["test"] != fact["test"]
            ):
                errors.append(f"{what}: got {hits}")
        elif kind == "order":
            hits = [
                t
                for t in evidence["therapies"]
                if fact["source"] in {plain(t["source"]), *map(plain, t.get("sources", []))}
            ]
            if fact["status"] == "draft" and hits:
                errors.append(f"{what}: a draft order is reported as a therapy")
            if hits and hits[0]["recorded_as"] != "order":
                errors.append(f"{what}: reported as {hits[0]['recorded_as']}, not as an order")
        elif kind == "missing":
            errors.extend(_missing(evidence, fact, missing_ids))
        elif kind in ("lab", "note", "procedure"):
            if fact["source"] in {plain(m["source"]) for key in measures for m in measures[key]}:
                errors.append(f"{what}: used as a severity score")
        else:
            errors.append(f"{what}: unknown fact kind")
    return errors


def _therapy(therapies: list[dict[str, Any]], fact: dict[str, Any]) -> list[str]:
    def matches(t: dict[str, Any]) -> bool:
        sources = {plain(t["source"]), *map(plain, t.get("sources", []))}
        return fact["source"] in sources

    hits = [t for t in therapies if matches(t)]
    if not hits:
        return [f"{json.dumps(fact)}: no therapy from that source"]
    t = hits[0]
    got = (
        fact["name_contains"].lower() in t["name"].lower(),
        t["kind"],
        t["start"],
        t["end"],
        t["outcome"],
    )
    want = (True, fact["kind_of"], fact["start"], fact["end"], fact["outcome"])
    errors = [] if got == want else [f"{json.dumps(fact)}: got {got}"]
    if "first_source" in fact and plain(t["source"]) != fact["first_source"]:
        errors.append(f"{json.dumps(fact)}: course starts at {t['source']}")
    if "sessions" in fact and t.get("sessions") != fact["sessions"]:
        errors.append(f"{json.dumps(fact)}: sessions {t.get('sessions')}")
    return errors


def _missing(evidence: dict[str, Any], fact: dict[str, Any], missing_ids: set[str]) -> list[str]:
    what = fact["what"]
    text = json.dumps(fact)
    if what in evidence["measures"]:
        ok = not evidence["measures"][what]
    elif what == "coverage":
        ok = not any(c["current"] for c in evidence["coverage"]) and "coverage" in missing_ids
    elif what == "photo":
        ok = not evidence["photos"]
    elif what == "tb_screening":
        ok = not [s for s in evidence["screenings"] if s["test"] == "tuberculosis"]
    elif what == "icd10":
        ok = not any(
            d["icd10"]
            for d in evidence["diagnoses"]
            if d["clinical_status"] in (None, "active", "recurrence", "relapse")
        )
    else:
        return [f"{text}: unknown missing item"]
    return [] if ok else [f"{text}: the evidence has it"]
