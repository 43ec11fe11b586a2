"""What the claim scrubber reads and writes.

A `ScrubRequest` is one professional claim (the 2300 loop of the 837P model, exactly what `dermrcm
x12 parse` prints under `billing_providers[].subscribers[].claims[]`) with what the scrubber needs
around it: the payer, what the documentation says about each line (`LineFacts`, from the
procedure note, the pathology report or the coder), the encounter (`EncounterFacts`), and the
patient's earlier procedures (`PriorProcedure`, for global periods).

Rules work on a `WorkClaim`: a mutable copy of the claim's lines that each rule may correct, with
the findings it records. The engine turns it back into a corrected 837P `Claim` and a self-pay
statement for cosmetic lines. Facts the request does not give are `None`: a rule that needs one
reports the gap, it never assumes a value.

fhir_profiles/scrub-request.schema.json describes the JSON; `request_from_json` reads it and
names the path of a bad field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from integration.x12 import x222_codes
from integration.x12.t837_005010x222a1 import (
    Claim,
    Claim837Transaction,
    Diagnosis,
    Procedure,
    ServiceLine,
    json_to_model,
    model_to_json,
)

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")

JsonDict = dict[str, Any]


# -- the request ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LineFacts:
    """What the documentation says about the service on one claim line. Every field is optional:
    None means the documentation given does not say (a rule that needs it reports a gap)."""

    site: str | None = None  # an anatomic site key of mappings/coding/anatomic-sites.yaml
    laterality: str | None = None  # left, right, bilateral, midline
    lesion_type: str | None = None  # e.g. seborrheic-keratosis, actinic-keratosis, wart, nevus
    lesion_count: int | None = None
    technique: str | None = None  # biopsy: tangential, punch, incisional
    lesion_diameter_cm: Decimal | None = None
    margin_cm: Decimal | None = None  # narrowest margin, each side
    excised_diameter_cm: Decimal | None = None  # lesion + margins, as documented
    pathology: str | None = None  # benign, malignant, premalignant, uncertain
    repair_type: str | None = None  # simple, intermediate, complex, adjacent-tissue-transfer
    repair_length_cm: Decimal | None = None
    defect_area_sq_cm: Decimal | None = None
    mohs_stage: int | None = None  # 1 first stage, 2 second, ...
    mohs_blocks: int | None = None  # tissue blocks in this stage
    #: bleeding, itching, pain, inflammation, obstruction, ...; documented none is ["none"] or
    #: ["asymptomatic"] (an empty list means the documentation given does not say)
    indications: tuple[str, ...] = ()
    cosmetic_request: bool | None = None  # the patient asked for removal for appearance
    #: why a procedure is done again inside an earlier procedure's global period: "staged"
    #: (planned, more extensive, or therapy after a diagnostic procedure: 58),
    #: "related-complication" (a complication needing a return to the procedure room: 78) or
    #: "unrelated" (an unrelated procedure: 79)
    return_reason: str | None = None
    #: a biopsy on the day of Mohs: True when the lesion already had a pathology diagnosis
    #: (then the biopsy is not separately billable), False when this biopsy made the diagnosis
    prior_pathology: bool | None = None
    evidence: tuple[str, ...] = ()  # where the facts come from: FHIR references or note quotes


@dataclass(frozen=True, slots=True, kw_only=True)
class EncounterFacts:
    """What the documentation says about the encounter as a whole."""

    separately_identifiable_em: bool | None = None  # significant, separately identifiable E/M
    em_evidence: tuple[str, ...] = ()
    #: an E/M inside a global period: True when documented as for a problem unrelated to the
    #: surgery (modifier 24), False when it is the surgery's follow-up; None: not documented
    em_unrelated_to_surgery: bool | None = None
    mohs_surgeon_is_pathologist: bool | None = None
    abn_signed: bool | None = None  # advance beneficiary notice (Medicare) on file
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PriorProcedure:
    """A procedure the patient had before this claim (for global periods and frequency)."""

    service_date: date
    code: str
    modifiers: tuple[str, ...] = ()
    same_provider: bool = True  # same physician or same group and specialty
    reference: str = ""  # claim number or FHIR Procedure reference


@dataclass(frozen=True, slots=True, kw_only=True)
class Payer:
    id: str = ""  # 2010BB NM109
    name: str = ""
    claim_filing: str = ""  # SBR09: MB Medicare Part B, CI commercial, MC Medicaid, ...

    @property
    def is_medicare(self) -> bool:
        return self.claim_filing == "MB"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScrubRequest:
    claim: Claim
    payer: Payer = field(default_factory=Payer)
    line_facts: Mapping[int, LineFacts] = field(default_factory=dict)  # by LX01 line number
    encounter: EncounterFacts = field(default_factory=EncounterFacts)
    history: tuple[PriorProcedure, ...] = ()


# -- the result ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleSource:
    """Where a rule comes from: the mapping file's `source`, or a rule's own citation."""

    title: str
    url: str = ""
    document_id: str = ""
    note: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleSource:
        return cls(
            title=str(data["title"]),
            url=str(data.get("url", "")),
            document_id=str(data.get("document_id", "")),
            note=str(data.get("note", "")),
        )

    def to_json(self) -> JsonDict:
        out: JsonDict = {"title": self.title}
        if self.url:
            out["url"] = self.url
        if self.document_id:
            out["document_id"] = self.document_id
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One thing the scrubber found: which rule, how bad, what and why in plain words, the claim
    lines it is about (original LX01 numbers), the rule's source, and the fix it proposes (applied
    in the corrected claim) or None when a person has to decide."""

    rule: str
    severity: Severity
    message: str
    lines: tuple[int, ...]
    source: RuleSource
    fix: str | None = None

    def to_json(self) -> JsonDict:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "lines": list(self.lines),
            "source": self.source.to_json(),
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfPayLine:
    """A cosmetic service moved off the insurance claim to the patient's statement."""

    origin: int | None
    code: str
    units: Decimal
    fee: Decimal | None  # the practice's cosmetic fee; None when its schedule has none
    reason: str

    def to_json(self) -> JsonDict:
        return {
            "line": self.origin,
            "code": self.code,
            "units": format(self.units, "f"),
            "fee": None if self.fee is None else format(self.fee, "f"),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ScrubResult:
    claim_id: str
    findings: tuple[Finding, ...]
    corrected: Claim
    self_pay: tuple[SelfPayLine, ...] = ()

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    def to_json(self) -> JsonDict:
        return {
            "claim_id": self.claim_id,
            "findings": [f.to_json() for f in self.findings],
            "corrected": claim_json(self.corrected),
            "self_pay": [s.to_json() for s in self.self_pay],
            "summary": {
                "errors": self.errors,
                "warnings": self.warnings,
                "info": len(self.findings) - self.errors - self.warnings,
            },
        }


# -- the working copy rules edit -----------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class WorkLine:
    """A claim line as the rules see and correct it. `origin` is the LX01 number it came from
    (None for a line a rule added); `facts` are the documentation's facts for that line."""

    origin: int | None
    code: str
    modifiers: list[str]
    units: Decimal
    charge: Decimal
    pointers: tuple[int, ...]
    service_date: date | None
    facts: LineFacts
    source_line: ServiceLine | None = None
    removed: bool = False  # dropped from the claim by a rule (its finding says why)
    self_pay: bool = False  # moved to the patient's self-pay statement
    self_pay_reason: str = ""

    @property
    def active(self) -> bool:
        return not self.removed and not self.self_pay

    def has_modifier(self, *mods: str) -> bool:
        return any(m in self.modifiers for m in mods)

    def add_modifier(self, mod: str) -> bool:
        """Add `mod` if absent and there is room (4 at most); True when added."""
        if mod in self.modifiers or len(self.modifiers) >= 4:
            return False
        self.modifiers.append(mod)
        return True

    def drop_modifier(self, mod: str) -> bool:
        if mod in self.modifiers:
            self.modifiers.remove(mod)
            return True
        return False


@dataclass(slots=True, kw_only=True)
class WorkClaim:
    request: ScrubRequest
    lines: list[WorkLine]
    diagnoses: list[str]  # ICD-10-CM without the dot, HI order (pointer 1 = diagnoses[0])
    findings: list[Finding] = field(default_factory=list)
    fees: Mapping[str, Decimal] = field(default_factory=dict)  # the practice's insurance fees

    def fee(self, code: str, units: Decimal) -> Decimal:
        """The practice's fee for `units` of `code` (a line a rule adds); 0.00 when its fee
        schedule has none (the finding that added the line should say so)."""
        each = self.fees.get(code)
        return Decimal("0.00") if each is None else (each * units).quantize(Decimal("0.01"))

    @property
    def payer(self) -> Payer:
        return self.request.payer

    @property
    def encounter(self) -> EncounterFacts:
        return self.request.encounter

    @property
    def service_date(self) -> date | None:
        """The claim's first date of service (line dates, else the claim's DTP*472)."""
        days = [ln.service_date for ln in self.lines if ln.service_date is not None]
        return min(days) if days else None

    def active(self) -> Iterator[WorkLine]:
        return (ln for ln in self.lines if ln.active)

    def with_code(self, *codes: str) -> list[WorkLine]:
        return [ln for ln in self.lines if ln.active and ln.code in codes]

    def diagnoses_of(self, line: WorkLine) -> list[str]:
        return [self.diagnoses[p - 1] for p in line.pointers if 0 < p <= len(self.diagnoses)]

    def add(
        self,
        rule: str,
        severity: Severity,
        message: str,
        lines: Sequence[WorkLine] | Sequence[int] = (),
        *,
        source: RuleSource,
        fix: str | None = None,
    ) -> None:
        numbers: list[int] = []
        for item in lines:
            number = item if isinstance(item, int) else item.origin
            if number is not None and number not in numbers:
                numbers.append(number)
        self.findings.append(
            Finding(
                rule=rule,
                severity=severity,
                message=message,
                lines=tuple(numbers),
                source=source,
                fix=fix,
            )
        )

    def new_line(self, like: WorkLine, code: str, units: Decimal, charge: Decimal) -> WorkLine:
        """A line a rule adds next to `like` (same date, pointers and facts)."""
        line = WorkLine(
            origin=None,
            code=code,
            modifiers=[],
            units=units,
            charge=charge,
            pointers=like.pointers,
            service_date=like.service_date,
            facts=like.facts,
        )
        self.lines.insert(self.lines.index(like) + 1, line)
        return line


def _line_date(line: ServiceLine, claim: Claim) -> date | None:
    period = line.service_date
    if period is not None:
        return period.start
    for d in claim.dates:
        if d.qualifier == x222_codes.DATE_SERVICE:
            return d.start
    return None


def work_claim(request: ScrubRequest) -> WorkClaim:
    claim = request.claim
    lines = [
        WorkLine(
            origin=sl.line_number,
            code=sl.procedure.code,
            modifiers=list(sl.procedure.modifiers),
            units=sl.quantity,
            charge=sl.charge,
            pointers=sl.pointers,
            service_date=_line_date(sl, claim),
            facts=request.line_facts.get(sl.line_number, LineFacts()),
            source_line=sl,
        )
        for sl in claim.services
    ]
    return WorkClaim(request=request, lines=lines, diagnoses=[d.code for d in claim.diagnoses])


def corrected_claim(work: WorkClaim) -> Claim:
    """The claim with the rules' corrections: active lines renumbered 1..n, diagnoses as the
    rules left them (pointers kept valid), CLM02 the sum of the line charges."""
    from dataclasses import replace

    from integration.x12.t278_005010x217 import DatePeriod

    original = work.request.claim
    by_code = {d.code: d for d in original.diagnoses}
    diagnoses = tuple(
        by_code.get(code) or (Diagnosis.principal(code) if i == 0 else Diagnosis.other(code))
        for i, code in enumerate(work.diagnoses)
    )
    if diagnoses:  # the first is the principal (ABK), the rest other (ABF)
        first = diagnoses[0]
        fixed = [replace(first, qualifier=x222_codes.DIAGNOSIS_ICD10_PRINCIPAL)] + [
            replace(d, qualifier=x222_codes.DIAGNOSIS_ICD10_OTHER) for d in diagnoses[1:]
        ]
        diagnoses = tuple(fixed)
    services: list[ServiceLine] = []
    for line in work.active():
        template = line.source_line
        pointers = tuple(p for p in line.pointers if 0 < p <= len(diagnoses)) or (1,)
        procedure = Procedure(
            template.procedure.qualifier if template else "HC",
            line.code,
            tuple(line.modifiers),
        )
        number = len(services) + 1
        if template is not None:
            services.append(
                replace(
                    template,
                    line_number=number,
                    procedure=procedure,
                    charge=line.charge,
                    quantity=line.units,
                    pointers=pointers,
                )
            )
        else:
            dates = (
                (DatePeriod(x222_codes.DATE_SERVICE, line.service_date),)
                if line.service_date
                else ()
            )
            services.append(
                ServiceLine(
                    line_number=number,
                    procedure=procedure,
                    charge=line.charge,
                    quantity=line.units,
                    pointers=pointers,
                    dates=dates,
                )
            )
    total = sum((s.charge for s in services), Decimal("0"))
    return replace(original, services=tuple(services), diagnoses=diagnoses, total_charge=total)


# -- JSON ----------------------------------------------------------------------------------------


def claim_json(claim: Claim) -> JsonDict:
    data = model_to_json(claim)
    assert isinstance(data, dict)
    return data


def _decimal(value: Any, path: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{path}: expected a number, got {value!r}")
    try:
        out = Decimal(str(value))
    except ArithmeticError as exc:
        raise ValueError(f"{path}: expected a number, got {value!r}") from exc
    if not out.is_finite() or out < 0:
        raise ValueError(f"{path}: expected a number >= 0, got {value!r}")
    return out


def _int(value: Any, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{path}: expected a whole number >= 0, got {value!r}")
    return value


def _str(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{path}: expected a string, got {value!r}")
    return value


def _bool(value: Any, path: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ValueError(f"{path}: expected true or false, got {value!r}")
    return value


def _strings(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{path}: expected a list of strings, got {value!r}")
    return tuple(value)


def _object(value: Any, path: str, allowed: Sequence[str]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected an object, got {type(value).__name__}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValueError(f"{path}: unexpected field {unknown[0]!r}")
    return value


_LINE_FIELDS = (
    "site",
    "laterality",
    "lesion_type",
    "lesion_count",
    "technique",
    "lesion_diameter_cm",
    "margin_cm",
    "excised_diameter_cm",
    "pathology",
    "repair_type",
    "repair_length_cm",
    "defect_area_sq_cm",
    "mohs_stage",
    "mohs_blocks",
    "indications",
    "cosmetic_request",
    "return_reason",
    "prior_pathology",
    "evidence",
)
RETURN_REASONS: dict[str, str] = {"staged": "58", "related-complication": "78", "unrelated": "79"}
_DECIMAL_FIELDS = {
    "lesion_diameter_cm",
    "margin_cm",
    "excised_diameter_cm",
    "repair_length_cm",
    "defect_area_sq_cm",
}
_INT_FIELDS = {"lesion_count", "mohs_stage", "mohs_blocks"}


def line_facts_from_json(data: Any, path: str) -> LineFacts:
    raw = _object(data, path, _LINE_FIELDS)
    values: dict[str, Any] = {}
    for name, value in raw.items():
        where = f"{path}.{name}"
        if name in _DECIMAL_FIELDS:
            values[name] = _decimal(value, where)
        elif name in _INT_FIELDS:
            values[name] = _int(value, where)
        elif name in ("indications", "evidence"):
            values[name] = _strings(value, where)
        elif name in ("cosmetic_request", "prior_pathology"):
            values[name] = _bool(value, where)
        elif name == "return_reason":
            reason = _str(value, where)
            if reason is not None and reason not in RETURN_REASONS:
                raise ValueError(
                    f"{where}: expected one of {', '.join(RETURN_REASONS)}, got {reason!r}"
                )
            values[name] = reason
        else:
            values[name] = _str(value, where)
    return LineFacts(**values)


def line_facts_to_json(facts: LineFacts) -> JsonDict:
    out: JsonDict = {}
    for name in _LINE_FIELDS:
        value = getattr(facts, name)
        if value is None or value == ():
            continue
        if isinstance(value, Decimal):
            out[name] = format(value, "f")
        elif isinstance(value, tuple):
            out[name] = list(value)
        else:
            out[name] = value
    return out


def request_from_json(data: Any) -> ScrubRequest:
    """One scrub request from its JSON (fhir_profiles/scrub-request.schema.json); ValueError
    naming the path of a bad field."""
    top = _object(data, "$", ("claim", "payer", "facts", "history"))
    if "claim" not in top:
        raise ValueError("$: expected 'claim', got nothing")
    claim = json_to_model(Claim, top["claim"], "$.claim")
    payer_raw = _object(top.get("payer"), "$.payer", ("id", "name", "claim_filing"))
    payer = Payer(
        id=_str(payer_raw.get("id"), "$.payer.id") or "",
        name=_str(payer_raw.get("name"), "$.payer.name") or "",
        claim_filing=_str(payer_raw.get("claim_filing"), "$.payer.claim_filing") or "",
    )
    facts = _object(top.get("facts"), "$.facts", ("lines", "encounter"))
    lines_raw = facts.get("lines") or {}
    if not isinstance(lines_raw, dict):
        raise ValueError("$.facts.lines: expected an object keyed by line number")
    numbers = {sl.line_number for sl in claim.services}
    line_facts: dict[int, LineFacts] = {}
    for key, value in lines_raw.items():
        where = f"$.facts.lines.{key}"
        if not str(key).isdigit() or int(key) not in numbers:
            raise ValueError(f"{where}: expected the number of a claim line, got {key!r}")
        line_facts[int(key)] = line_facts_from_json(value, where)
    enc = _object(
        facts.get("encounter"),
        "$.facts.encounter",
        (
            "separately_identifiable_em",
            "em_evidence",
            "em_unrelated_to_surgery",
            "mohs_surgeon_is_pathologist",
            "abn_signed",
            "evidence",
        ),
    )
    encounter = EncounterFacts(
        separately_identifiable_em=_bool(
            enc.get("separately_identifiable_em"), "$.facts.encounter.separately_identifiable_em"
        ),
        em_evidence=_strings(enc.get("em_evidence"), "$.facts.encounter.em_evidence"),
        em_unrelated_to_surgery=_bool(
            enc.get("em_unrelated_to_surgery"), "$.facts.encounter.em_unrelated_to_surgery"
        ),
        mohs_surgeon_is_pathologist=_bool(
            enc.get("mohs_surgeon_is_pathologist"),
            "$.facts.encounter.mohs_surgeon_is_pathologist",
        ),
        abn_signed=_bool(enc.get("abn_signed"), "$.facts.encounter.abn_signed"),
        evidence=_strings(enc.get("evidence"), "$.facts.encounter.evidence"),
    )
    history_raw = top.get("history") or []
    if not isinstance(history_raw, list):
        raise ValueError("$.history: expected a list")
    history: list[PriorProcedure] = []
    for i, item in enumerate(history_raw):
        where = f"$.history[{i}]"
        h = _object(
            item, where, ("service_date", "code", "modifiers", "same_provider", "reference")
        )
        day = _str(h.get("service_date"), f"{where}.service_date")
        code = _str(h.get("code"), f"{where}.code")
        if not day or not code:
            raise ValueError(f"{where}: expected 'service_date' and 'code'")
        try:
            parsed = date.fromisoformat(day)
        except ValueError as exc:
            raise ValueError(f"{where}.service_date: expected YYYY-MM-DD, got {day!r}") from exc
        same = _bool(h.get("same_provider"), f"{where}.same_provider")
        history.append(
            PriorProcedure(
                service_date=parsed,
                code=code,
                modifiers=_strings(h.get("modifiers"), f"{where}.modifiers"),
                same_provider=True if same is None else same,
                reference=_str(h.get("reference"), f"{where}.reference") or "",
            )
        )
    return ScrubRequest(
        claim=claim,
        payer=payer,
        line_facts=line_facts,
        encounter=encounter,
        history=tuple(history),
    )


def request_to_json(request: ScrubRequest) -> JsonDict:
    payer = {
        k: v
        for k, v in (
            ("id", request.payer.id),
            ("name", request.payer.name),
            ("claim_filing", request.payer.claim_filing),
        )
        if v
    }
    enc = request.encounter
    encounter: JsonDict = {}
    for name in (
        "separately_identifiable_em",
        "em_unrelated_to_surgery",
        "mohs_surgeon_is_pathologist",
        "abn_signed",
    ):
        if getattr(enc, name) is not None:
            encounter[name] = getattr(enc, name)
    if enc.em_evidence:
        encounter["em_evidence"] = list(enc.em_evidence)
    if enc.evidence:
        encounter["evidence"] = list(enc.evidence)
    return {
        "claim": claim_json(request.claim),
        "payer": payer,
        "facts": {
            "lines": {str(k): line_facts_to_json(v) for k, v in sorted(request.line_facts.items())},
            "encounter": encounter,
        },
        "history": [
            {
                "service_date": h.service_date.isoformat(),
                "code": h.code,
                "modifiers": list(h.modifiers),
                "same_provider": h.same_provider,
                **({"reference": h.reference} if h.reference else {}),
            }
            for h in request.history
        ],
    }


def requests_from_transaction(model: Claim837Transaction) -> list[ScrubRequest]:
    """One request per claim of an 837P transaction (as `dermrcm x12 parse` prints it), the payer
    from its subscriber loop; no documentation facts or history (rules that need them say so)."""
    out: list[ScrubRequest] = []
    for bp in model.billing_providers:
        for sub in bp.subscribers:
            payer = Payer(
                id=sub.payer.id,
                name=sub.payer.last_or_organization,
                claim_filing=sub.info.claim_filing,
            )
            claims = list(sub.claims) + [c for pat in sub.patients for c in pat.claims]
            out.extend(ScrubRequest(claim=c, payer=payer) for c in claims)
    return out


def requests_from_document(data: Any) -> list[ScrubRequest]:
    """A scrub request, or an 837P transaction document (`dermrcm x12 parse` output), as
    requests."""
    if isinstance(data, dict) and "billing_providers" in data:
        model = json_to_model(Claim837Transaction, data, "$")
        return requests_from_transaction(model)
    return [request_from_json(data)]
