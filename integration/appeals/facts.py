"""Evidence to `EvidenceFact`s: everything an appeal letter may state, each with its source.

Pure: the denial (its codes, amount and dates, read from the 835: source kind "x12", ref the
denial's `origin`), the chart's evidence (every measure value and date, every therapy's name,
weeks, sessions, dates and outcome, diagnoses with ICD-10 code and text, pathology, screening:
source kind "fhir", ref the resource) and the payer rule (title, criteria, policy citation:
source kind "rule") become `EvidenceFact`s, arranged in a tree the letter templates read
(`f.latest.PASI.value`, `f.therapies`, `f.denial.reason`, ...). A value the chart lacks is absent
from the tree (the template's sentence then goes to the letter's `missing`), never invented.

A payer criterion enters a letter as the payer would read it: its `letter_text` when the rule
file gives one, else its `text` without derm-rcm's [bracketed] notes (`letter_criterion_text`).
The rule's `text` may carry our own notes (what the chart can't show, how we read the policy):
those belong on the checklist, never in a letter to the payer.

Nothing here logs: the facts are PHI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from integration.appeals.factcheck import load_vocabulary
from integration.appeals.letter import AttachmentRef, EvidenceFact, SourceRef
from integration.denials.items import DenialItem
from integration.domain.evidence import (
    MEASURE_KEYS,
    ClinicalEvidence,
    Diagnosis,
    Measure,
    Outcome,
    Therapy,
)
from integration.domain.priorauth import Assessment, RuleRef, Status
from integration.mapping.loader import load_document
from integration.paths import mappings_dir

#: a fact tree: named facts, lists of fact trees, or nested trees
Tree = dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuthorizationFact:
    """An authorization the practice holds for the denied service (from the PA case)."""

    number: str
    source: SourceRef
    start: str | None = None
    end: str | None = None


@dataclass(slots=True)
class LetterFacts:
    """The facts of one letter: `tree` for the templates, `evidence` every fact in it (what the
    pre-sign check accepts), the attachments the chart offers and what it lacks."""

    tree: Tree
    evidence: list[EvidenceFact] = field(default_factory=list)
    attachments: list[AttachmentRef] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    rule_source: SourceRef | None = None

    def add(
        self, kind: str, value: str, label: str, source: SourceRef, when: str | None = None
    ) -> EvidenceFact:
        fact = EvidenceFact(kind=kind, value=value, label=label, source=source, date=when)
        if fact not in self.evidence:
            self.evidence.append(fact)
        return fact


def number_text(value: Decimal | int) -> str:
    """'15.6', '14' (no exponent, no trailing zeros)."""
    d = Decimal(value)
    if d == d.to_integral_value():
        return str(d.quantize(Decimal(1)))
    return format(d.normalize(), "f")


def money_text(value: Decimal) -> str:
    """'$1,250.00'."""
    return f"${value.quantize(Decimal('0.01')):,}"


def _fhir(ref: str, label: str) -> SourceRef:
    return SourceRef("fhir", ref, label)


def _measure_unit(m: Measure) -> str:
    return "%" if m.unit == "%" else (f" {m.unit}" if m.unit else "")


def _measure_tree(facts: LetterFacts, key: str, m: Measure) -> Tree:
    shown = f"{m.instrument} {number_text(m.value)}{_measure_unit(m)} on {m.date}"
    src = _fhir(m.source, shown)
    out: Tree = {
        "value": facts.add("number", number_text(m.value), key, src, m.date),
        "date": facts.add("date", m.date, f"{key} date", src, m.date),
        "instrument": facts.add("text", m.instrument, f"{key} instrument", src, m.date),
    }
    if m.text:
        out["text"] = facts.add("text", m.text, f"{key} text", src, m.date)
    return out


def _therapy_tree(facts: LetterFacts, t: Therapy) -> Tree:
    span = f"{t.start or '?'} to {t.end or 'ongoing'}"
    src = _fhir(t.source, f"{t.name}, {span}: {t.outcome.value}")
    out: Tree = {"name": facts.add("drug", t.name, "therapy", src, t.start)}
    if t.weeks is not None:
        out["weeks"] = facts.add("number", str(t.weeks), f"{t.name} weeks", src, t.start)
    if t.sessions is not None:
        out["sessions"] = facts.add("number", str(t.sessions), f"{t.name} sessions", src, t.start)
    if t.start:
        out["start"] = facts.add("date", t.start, f"{t.name} start", src, t.start)
    if t.end:
        out["end"] = facts.add("date", t.end, f"{t.name} end", src, t.end)
    if t.outcome not in (Outcome.UNKNOWN, Outcome.ONGOING):
        out["outcome"] = facts.add("text", t.outcome.value, f"{t.name} outcome", src, t.end)
    out["kind"] = t.kind.value
    return out


def _diagnosis_tree(facts: LetterFacts, d: Diagnosis) -> Tree:
    code = d.icd10 or (f"SNOMED CT {d.snomed}" if d.snomed else "no code")
    src = _fhir(d.source, f"{d.text} ({code})")
    out: Tree = {"text": facts.add("diagnosis", d.text, "diagnosis", src, d.onset)}
    if d.icd10:
        out["code"] = facts.add("diagnosis", d.icd10, "ICD-10-CM", src, d.onset)
    if d.onset:
        out["onset"] = facts.add("date", d.onset, "diagnosis onset", src, d.onset)
    return out


def _pick_diagnosis(evidence: ClinicalEvidence, prefixes: tuple[str, ...]) -> Diagnosis | None:
    active = [d for d in evidence.diagnoses if d.clinical_status in (None, "active", "recurrence")]
    pool = active or list(evidence.diagnoses)
    if prefixes:
        for d in pool:
            if d.icd10 and d.icd10.startswith(prefixes):
                return d
    # the skin's codes (mappings/letters/vocabulary.yaml) when the payer rule names none:
    # hypertension is not what a dermatology appeal argues
    skin = load_vocabulary().skin_prefixes
    for d in pool:
        if d.icd10 and d.icd10.startswith(skin):
            return d
    return pool[0] if pool else None


def rule_source(assessment: Assessment) -> SourceRef | None:
    """The payer rule as a source: its id and version, title, and the policy it cites."""
    rule = assessment.rule
    if rule is None:
        return None
    src = rule.source
    citation = " · ".join(
        str(src[k]) for k in ("title", "document_id", "url", "date") if src.get(k)
    )
    label = rule.title
    if not rule.verified:  # for the review screen; the letter's text quotes only the citation
        label += " (rule not yet verified against the payer's own document)"
    return SourceRef("rule", f"{rule.id} v{rule.version}", label, citation or None)


def _denial_tree(facts: LetterFacts, denial: DenialItem, code_labels: Mapping[str, str]) -> Tree:
    if denial.source == "835":
        src = SourceRef("x12", denial.origin, f"835 {denial.reason} ({denial.payer_name})")
    else:  # a denied prior authorization: the PA case and the payer's reference
        src = SourceRef("claim", denial.origin, f"PA denial {denial.reason} ({denial.payer_name})")
    out: Tree = {
        "reason": facts.add("code", denial.reason, "CARC", src),
        "carc": facts.add("code", denial.reason_code, "CARC code", src),
        "group": facts.add("code", denial.group_code, "CAS group", src),
        "rarcs": [facts.add("code", r, "RARC", src) for r in denial.rarcs],
        "amount": facts.add("amount", money_text(denial.amount), "amount at stake", src),
        "payer": facts.add("text", denial.payer_name, "payer", src),
        "modifiers": [facts.add("code", m, "modifier", src) for m in denial.modifiers],
    }
    if denial.payer_claim_number:
        out["claim_number"] = facts.add(
            "code", denial.payer_claim_number, "payer claim number", src
        )
    if denial.patient_control_number:
        out["account"] = facts.add(
            "code", denial.patient_control_number, "patient control number", src
        )
    if denial.procedure:
        out["procedure"] = facts.add("code", denial.procedure, "procedure code", src)
        label = code_labels.get(denial.procedure)
        if label:
            out["procedure_label"] = facts.add(
                "text",
                label,
                "procedure (our label)",
                SourceRef(
                    "claim", f"code {denial.procedure}", f"derm-rcm label for {denial.procedure}"
                ),
            )
    if denial.service_date:
        when = denial.service_date.isoformat()
        out["service_date"] = facts.add("date", when, "date of service", src, when)
    if denial.remit_date:
        when = denial.remit_date.isoformat()
        out["remit_date"] = facts.add("date", when, "remittance date", src, when)
    if denial.deadline:
        when = denial.deadline.isoformat()
        basis = SourceRef("rule", denial.deadline_basis, "appeal deadline", denial.deadline_basis)
        out["deadline"] = facts.add("date", when, "appeal deadline", basis, when)
    return out


#: a derm-rcm note inside a criterion's text: "[...]", or a parenthesis naming derm-rcm
_NOTES = re.compile(r"\s*\[[^\[\]]*\]|\s*\([^()]*\bderm-rcm\b[^()]*\)", re.IGNORECASE)

#: (rule id, version, criterion id, criterion text) -> the criterion's `letter_text`
LetterTexts = Mapping[tuple[str, int, str, str], str]


@cache
def payer_letter_texts() -> LetterTexts:
    """Every `letter_text` of the payer rules under `mappings/payers/` (read once), keyed by the
    rule version and the criterion's id and text (a reauthorization criterion may share an id)."""
    base = mappings_dir()
    out: dict[tuple[str, int, str, str], str] = {}
    for path in sorted((base / "payers").rglob("*.yaml")):
        doc = load_document(path, base)
        if doc.kind != "payer-rule":
            continue
        approval = doc.data.get("approval") or {}
        for group in (doc.data.get("criteria"), approval.get("reauth_criteria")):
            if not isinstance(group, list):
                continue
            for c in group:
                if "letter_text" in c:
                    out[(doc.id, doc.version, str(c["id"]), str(c["text"]))] = str(c["letter_text"])
    return out


def strip_notes(text: str) -> str:
    """`text` without derm-rcm's [bracketed] notes (or a parenthesis naming derm-rcm)."""
    plain_text = _NOTES.sub("", text)
    plain_text = re.sub(r"\s+([,.;:])", r"\1", re.sub(r"\s+", " ", plain_text)).strip()
    return plain_text.rstrip(" ,;:")


def letter_criterion_text(
    rule: RuleRef | None,
    criterion_id: str,
    text: str,
    letter_texts: LetterTexts | None = None,
) -> str:
    """What a letter says for a payer criterion: the rule's `letter_text` for it, else its
    `text` without derm-rcm's notes."""
    texts = payer_letter_texts() if letter_texts is None else letter_texts
    if rule is not None:
        found = texts.get((rule.id, rule.version, criterion_id, text))
        if found is not None:
            return found
    return strip_notes(text)


def _rule_tree(
    facts: LetterFacts,
    assessment: Assessment,
    src: SourceRef,
    letter_texts: LetterTexts | None = None,
) -> Tree:
    rule = assessment.rule
    assert rule is not None
    out: Tree = {
        "title": facts.add("text", rule.title, "payer rule", src),
        "citation": facts.add("text", src.citation or rule.title, "policy citation", src),
        "payer": facts.add("text", assessment.payer.name, "payer", src)
        if assessment.payer
        else None,
    }
    met: list[Tree] = []
    unmet: list[Tree] = []
    for c in assessment.criteria:
        said = letter_criterion_text(rule, c.id, c.text, letter_texts)
        item = {"text": facts.add("text", said, f"criterion {c.id}", src), "id": c.id}
        (met if c.status is Status.MET else unmet).append(item)
        if c.status is Status.MISSING:
            for what in c.missing or (c.detail,):
                facts.missing.append(f"payer criterion {c.id!r}: {what}")
        elif c.status is Status.UNMET:
            facts.missing.append(f"payer criterion {c.id!r} not met by the chart: {c.detail}")
    out["met"] = met
    out["not_met"] = unmet
    order = assessment.order
    out["service"] = facts.add(
        "drug" if order.kind == "medication" else "text",
        order.text,
        "service appealed",
        _fhir(order.source, f"order: {order.text}"),
    )
    return out


def build_facts(
    denial: DenialItem,
    evidence: ClinicalEvidence | None,
    *,
    assessment: Assessment | None = None,
    authorization: AuthorizationFact | None = None,
    code_labels: Mapping[str, str] | None = None,
    note_refs: Mapping[str, str] | None = None,
    letter_texts: LetterTexts | None = None,
) -> LetterFacts:
    """Every fact a letter for `denial` may state. `note_refs`: the chart's clinical notes
    ("DocumentReference/x" -> title) to attach; `code_labels`: our short labels by code;
    `letter_texts`: the payer criteria's letter wording (default: `payer_letter_texts()`)."""
    facts = LetterFacts(tree={})
    tree = facts.tree
    tree["denial"] = _denial_tree(facts, denial, code_labels or {})
    src = rule_source(assessment) if assessment is not None else None
    facts.rule_source = src
    prefixes: tuple[str, ...] = ()
    if assessment is not None and src is not None:
        tree["rule"] = _rule_tree(facts, assessment, src, letter_texts)
        tree["service"] = tree["rule"]["service"]
    if denial.remit_date is None and denial.service_date is None and denial.source == "835":
        facts.missing.append("the 835 gives no remittance or service date")
    if evidence is None:
        facts.missing.append("the chart was not read: no clinical facts")
        return facts
    if assessment is not None and assessment.rule is not None:
        prefixes = tuple(
            p
            for c in assessment.criteria
            if c.id == "diagnosis"
            for p in (
                d.icd10 for d in evidence.diagnoses if plain(d.source) in map(plain, c.evidence)
            )
            if p
        )
    if evidence.patient is not None:
        p = evidence.patient
        psrc = _fhir(p.source, "Patient")
        tree["patient"] = {
            "name": facts.add("text", p.name, "patient name", psrc) if p.name else None,
            "birth_date": facts.add("date", p.birth_date, "birth date", psrc, p.birth_date)
            if p.birth_date
            else None,
        }
    coverage = next((c for c in evidence.coverage if c.current), None)
    if coverage is not None:
        csrc = _fhir(
            coverage.source, f"Coverage: {coverage.payer or '?'} {coverage.plan or ''}".strip()
        )
        tree["coverage"] = {
            "payer": facts.add("text", coverage.payer, "payer", csrc) if coverage.payer else None,
            "plan": facts.add("text", coverage.plan, "plan", csrc) if coverage.plan else None,
            "member_id": facts.add("code", coverage.member_id, "member id", csrc)
            if coverage.member_id
            else None,
        }
    diagnosis = _pick_diagnosis(evidence, prefixes)
    tree["diagnoses"] = [_diagnosis_tree(facts, d) for d in evidence.diagnoses]
    tree["diagnosis"] = _diagnosis_tree(facts, diagnosis) if diagnosis is not None else None
    latest: Tree = {}
    baseline: Tree = {}
    for key in MEASURE_KEYS:
        series = sorted(evidence.measures.get(key, ()), key=lambda m: m.date)
        trees = [_measure_tree(facts, key, m) for m in series]
        if trees:
            latest[key] = trees[-1]
            baseline[key] = trees[0]
    tree["latest"] = latest
    tree["baseline"] = baseline
    prior = [t for t in evidence.therapies if t.outcome not in (Outcome.ONGOING, Outcome.UNKNOWN)]
    prior.sort(key=lambda t: t.start or "")
    tree["therapies"] = [_therapy_tree(facts, t) for t in prior]
    for t in evidence.therapies:
        if t not in prior:
            _therapy_tree(facts, t)  # the letter may mention it; not listed as a failed therapy
    tree["pathology"] = []
    for path in evidence.pathology:
        psrc = _fhir(path.source, f"pathology {path.date or ''}".strip())
        item: Tree = {"text": facts.add("text", path.text, "pathology", psrc, path.date)}
        if path.date:
            item["date"] = facts.add("date", path.date, "pathology date", psrc, path.date)
        item["codes"] = [
            facts.add("diagnosis", c, "pathology code", psrc, path.date) for c in path.codes
        ]
        tree["pathology"].append(item)
        facts.attachments.append(
            AttachmentRef("pathology", path.source, f"Pathology report {path.date or ''}".strip())
        )
    tree["screenings"] = []
    for sc in evidence.screenings:
        ssrc = _fhir(sc.source, f"{sc.name}: {sc.result or '?'}")
        entry: Tree = {"name": facts.add("text", sc.name, "screening", ssrc, sc.date)}
        if sc.date:
            entry["date"] = facts.add("date", sc.date, f"{sc.name} date", ssrc, sc.date)
        if sc.result:
            entry["result"] = facts.add("text", sc.result, f"{sc.name} result", ssrc, sc.date)
        tree["screenings"].append(entry)
    tree["photos"] = []
    for ph in evidence.photos:
        phsrc = _fhir(ph.source, f"photo {ph.date or ''} {ph.body_site or ''}".strip())
        entry = {
            "date": facts.add("date", ph.date, "photo date", phsrc, ph.date) if ph.date else None
        }
        tree["photos"].append(entry)
        title = " · ".join(x for x in ("Clinical photo", ph.date, ph.body_site) if x)
        facts.attachments.append(AttachmentRef("photo", ph.source, title))
    for ref, title in (note_refs or {}).items():
        facts.attachments.append(AttachmentRef("note", ref, title))
    if tree["therapies"]:
        facts.attachments.insert(
            0, AttachmentRef("therapy-table", "therapy-table", "Prior therapies")
        )
    if authorization is not None:
        a = authorization
        tree["authorization"] = {
            "number": facts.add("code", a.number, "authorization number", a.source),
            "start": facts.add("date", a.start, "authorization start", a.source, a.start)
            if a.start
            else None,
            "end": facts.add("date", a.end, "authorization end", a.source, a.end)
            if a.end
            else None,
        }
    kinds = {a.kind for a in facts.attachments}
    tree["attached"] = {
        "notes": "note" in kinds,
        "photos": "photo" in kinds,
        "pathology": "pathology" in kinds,
        "therapy_table": "therapy-table" in kinds,
    }
    for gap in evidence.missing:
        facts.missing.append(f"{gap.what}: {gap.detail} (owner: {gap.owner.value})")
    return facts


def plain(ref: str) -> str:
    """'Type/id' without '/_history/n'."""
    return ref.split("/_history/")[0]
