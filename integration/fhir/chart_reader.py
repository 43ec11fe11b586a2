"""Read one patient's chart: the searches evidence needs, in parallel, then what they reference."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.resource import Resource

from integration.domain.evidence import Problem
from integration.evidence.chart import ChartData
from integration.evidence.fhir_json import parse_resources
from integration.fhir.client import FhirClient, SearchResult
from integration.fhir.errors import FhirForbidden, FhirHttpError

log = logging.getLogger(__name__)

#: resource type -> extra search parameters. Every search is by `patient`.
CHART_SEARCHES: dict[str, dict[str, str]] = {
    "Coverage": {"_include": "Coverage:payor"},
    "Condition": {},
    "Observation": {},
    "MedicationStatement": {"_include": "MedicationStatement:medication"},
    "MedicationRequest": {"_include": "MedicationRequest:medication"},
    "Media": {},
    "DocumentReference": {},
    "Procedure": {},
    "DiagnosticReport": {},
    # orders: evidence reads none, but an appeal for a procedure (Mohs) finds its payer rule
    # from the chart's ServiceRequest, as a biologic's does from its MedicationRequest
    "ServiceRequest": {},
}

#: statuses meaning "this server doesn't do that search": reported, not fatal
UNSUPPORTED = frozenset({400, 404, 405, 501})

#: searches the evidence itself doesn't need: a token without their scope (403, e.g. a CDS Hooks
#: fhirAuthorization scoped to the evidence types) reads the rest, the refusal reported
OPTIONAL_SEARCHES = frozenset({"ServiceRequest"})


@dataclass(slots=True)
class ChartFetch:
    chart: ChartData
    round_trips: int
    pages: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    fetched: int = 0


#: where each searched type names its patient
PATIENT_FIELDS = ("subject", "patient", "beneficiary")


def _belongs_to(raw: dict[str, Any], patient_id: str) -> bool:
    """True unless the resource names another patient (guards against a server ignoring `patient`)."""
    for name in PATIENT_FIELDS:
        ref = raw.get(name)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            tail = ref["reference"].split("/_history/")[0].rstrip("/").split("/")
            return bool(tail[-2:] == ["Patient", patient_id])
    return True


def _references(raws: list[dict[str, Any]]) -> set[str]:
    """Organization and Medication references the evidence will want to resolve."""
    wanted: set[str] = set()
    for raw in raws:
        kind = raw.get("resourceType")
        if kind == "Coverage":
            for payor in raw.get("payor") or []:
                ref = payor.get("reference") or ""
                if ref.startswith("Organization/"):
                    wanted.add(ref.split("/_history/")[0])
        elif kind in ("MedicationStatement", "MedicationRequest"):
            ref = (raw.get("medicationReference") or {}).get("reference") or ""
            if ref.startswith("Medication/"):
                wanted.add(ref.split("/_history/")[0])
    return wanted


Json = dict[str, Any]
Select = Callable[[Json], bool]


@dataclass(slots=True)
class _Read:
    """One type's search, done in its worker thread: fetched, checked, validated."""

    models: list[Resource] = field(default_factory=list)
    pooled: list[Json] = field(default_factory=list)
    raws: list[Json] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    fetched: int = 0
    pages: int = 0


def _take(raws: list[Json], select: Select | None, out: _Read) -> None:
    """Validate what `select` keeps (in this thread, while other searches download); pool the rest."""
    kept = []
    for raw in raws:
        if select is None or select(raw):
            kept.append(raw)
        else:
            out.pooled.append(raw)
    models, invalid = parse_resources(kept)
    out.models.extend(models)
    out.problems.extend(invalid)
    out.raws.extend(kept)
    out.fetched += len(raws)


def read_chart(
    client: FhirClient,
    patient_id: str,
    skip: Iterable[str] = (),
    select: Select | None = None,
) -> ChartFetch:
    """Patient, the chart searches and the references they need: few round trips, all pages.

    Types in `skip` (e.g. not granted by the launch's scopes) are not searched and are
    reported as problems, so the evidence says what it could not see. `select` picks the
    resources worth validating now (see integration.evidence.relevance); the others are kept
    raw and validated only if something resolves a reference to them.
    """
    started = time.perf_counter()
    before = client.round_trips
    count = str(client.options.page_size)
    skipped = set(skip)
    types = [t for t in CHART_SEARCHES if t not in skipped]
    jobs: dict[str, Callable[[], Any]] = {"Patient": _patient_job(client, patient_id)}
    for type_name in types:
        params = {"patient": patient_id, "_count": count, **CHART_SEARCHES[type_name]}
        jobs[type_name] = _search_job(client, type_name, params, patient_id, select)
    results: dict[str, _Read] = client.parallel(jobs)

    problems: list[Problem] = [
        Problem(t, f"not read: the launch was not granted a scope to search {t}")
        for t in CHART_SEARCHES
        if t in skipped
    ]
    read = _Read()
    pages: dict[str, int] = {}
    for name, part in results.items():
        read.models.extend(part.models)
        read.pooled.extend(part.pooled)
        read.raws.extend(part.raws)
        problems.extend(part.problems)
        read.fetched += part.fetched
        if name != "Patient" and part.pages:
            pages[name] = part.pages

    have = {f"{r.get('resourceType')}/{r.get('id')}" for r in read.raws}
    missing_refs = sorted(_references(read.raws) - have)
    if missing_refs:
        reads = {ref: _read_job(client, ref) for ref in missing_refs}
        found: list[Json] = []
        for ref, outcome in client.parallel(reads).items():
            if isinstance(outcome, FhirHttpError):
                problems.append(Problem(ref, f"could not be read: {outcome}"))
            else:
                found.append(outcome)
        _take(found, None, read)

    chart = ChartData(
        patient_id=patient_id, resources=read.models, problems=problems + read.problems
    )
    chart.pool(read.pooled)
    return ChartFetch(
        chart=chart,
        round_trips=client.round_trips - before,
        pages=pages,
        seconds=time.perf_counter() - started,
        fetched=read.fetched,
    )


def _patient_job(client: FhirClient, patient_id: str) -> Callable[[], _Read]:
    def run() -> _Read:
        out = _Read()
        _take([client.read("Patient", patient_id)], None, out)
        return out

    return run


def _search_job(
    client: FhirClient,
    type_name: str,
    params: dict[str, str],
    patient_id: str,
    select: Select | None,
) -> Callable[[], _Read]:
    def search() -> SearchResult | FhirHttpError | FhirForbidden:
        try:
            return client.search(type_name, params)
        except FhirForbidden as exc:
            if type_name in OPTIONAL_SEARCHES:
                return exc
            raise
        except FhirHttpError as exc:
            if exc.status == 400 and "_include" in params:
                # a strict server that refuses the _include: the references are read afterwards
                plain = {k: v for k, v in params.items() if k != "_include"}
                try:
                    return client.search(type_name, plain)
                except FhirHttpError as again:
                    exc = again
            if exc.status in UNSUPPORTED:
                return exc
            raise

    def run() -> _Read:
        out = _Read()
        result = search()
        if isinstance(result, FhirForbidden):
            out.problems.append(
                Problem(type_name, f"not read: the token may not search {type_name}")
            )
            return out
        if isinstance(result, FhirHttpError):
            out.problems.append(
                Problem(type_name, f"search not available on this server: {result}")
            )
            return out
        out.pages = result.pages
        for text in result.outcomes:
            log.info("server note on %s search: %s", type_name, text)
        mine = []
        for raw in result.matches:
            if _belongs_to(raw, patient_id):
                mine.append(raw)
            else:
                where = f"{raw.get('resourceType')}/{raw.get('id')}"
                out.problems.append(
                    Problem(
                        where,
                        f"returned by the {type_name} search but not about Patient/{patient_id}; not used",
                    )
                )
        _take(mine, select, out)
        _take(result.included, None, out)
        return out

    return run


def _read_job(client: FhirClient, ref: str) -> Callable[[], Any]:
    type_name, resource_id = ref.split("/", 1)

    def run() -> dict[str, Any] | FhirHttpError:
        try:
            return client.read(type_name, resource_id)
        except FhirHttpError as exc:
            if exc.status in UNSUPPORTED or exc.status == 410:
                return exc
            raise

    return run
