"""Claim histories for the denial-risk model: a seeded synthetic one for the demo, JSON Lines
files, and the practice's real one joined from the database.

`generate(n, seed)` draws dermatology claims (E/M 99212-99215, biopsies 11102-11107, destruction
17000/17003/17004/17110, excisions 11400-11646 with repairs 12001-13160, Mohs 17311-17315,
J-codes) over a date range, each denied or not by the drivers in `DRIVERS` (each fires on its
own; a claim is denied when any fires). Identifiers are synthetic (`SYN...`), no names.

A history file has one JSON object per line: {"denied", "carc", "model"}, where "model" is an
837P transaction as `claim_to_json` writes it (empty lists and nulls left out), holding one
claim; so any line can be given to `dermrcm coding risk score` or `dermrcm claims submit`.

`load_from_database(sessions)` joins our submitted claims (the 837P file stored with each, else
the ledger's claim lines) to their 835 postings.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from integration.coding.denial_risk import Example, claims_of, date_of_service
from integration.store.models import (
    Claim as ClaimRow,
)
from integration.store.models import (
    ClaimFile,
    ClaimLine,
    ClaimSubmission,
    RemittanceAdjustment,
    RemittanceClaimPosting,
    RemittanceLinePosting,
)
from integration.store.remittances import money
from integration.x12.t837_005010x222a1 import (
    BillingProvider,
    Claim,
    Claim837Transaction,
    DatePeriod,
    Diagnosis,
    Header837,
    Party,
    Procedure,
    Reference,
    ServiceLine,
    SubscriberInfo,
    SubscriberLoop,
    claim_from_json,
    claim_to_json,
    read_837p,
)

DATE_SERVICE = "472"
PRIOR_AUTH = "G1"

# -- synthetic drivers --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Driver:
    """One cause of denial in the synthetic history: when it applies, how often it denies."""

    name: str
    carc: str
    probability: float
    when: str
    why: str


DRIVERS: tuple[Driver, ...] = (
    Driver(
        "em-no-25",
        "CO-97",
        0.70,
        "E/M billed beside a same-day minor procedure without modifier 25",
        "NCCI: a same-day E/M is part of the procedure unless significant and separate (modifier 25)",
    ),
    Driver(
        "em-25-notes",
        "CO-97",
        0.35,
        "E/M with modifier 25 beside a procedure at SYN-COM2 from the policy date",
        "time drift: a commercial payer starts asking for notes on modifier 25 E/M (2/3 into the range)",
    ),
    Driver(
        "em-25",
        "CO-97",
        0.05,
        "E/M with modifier 25 beside a procedure (any payer)",
        "some modifier 25 claims are still bundled on review",
    ),
    Driver(
        "17004-with-17000",
        "CO-97",
        0.85,
        "17004 on the same claim as 17000 or 17003",
        "CPT: 17004 (15+ lesions) is reported instead of 17000/17003, not with them",
    ),
    Driver(
        "sk-cosmetic",
        "CO-96",
        0.55,
        "destruction for seborrheic keratosis coded L82.1 (not inflamed)",
        "payers treat removal of non-inflamed SK as cosmetic",
    ),
    Driver(
        "simple-repair",
        "CO-97",
        0.75,
        "simple repair 12001-12021 with an excision",
        "CPT: simple repair is included in the excision",
    ),
    Driver(
        "malignant-benign-dx",
        "CO-11",
        0.60,
        "malignant excision 116xx pointing to a benign diagnosis",
        "diagnosis inconsistent with the procedure",
    ),
    Driver(
        "biopsy-excision-no-59",
        "CO-97",
        0.60,
        "biopsy and excision on one claim without 59/XS",
        "NCCI: a biopsy of the lesion excised the same day is bundled unless a separate site",
    ),
    Driver(
        "biologic-no-auth",
        "CO-197",
        0.85,
        "biologic J-code (J3357, J1745, J2357) without a prior-authorization number",
        "payers require prior authorization for in-office biologics",
    ),
    Driver(
        "mohs-no-auth",
        "CO-197",
        0.70,
        "Mohs at SYN-MCD or SYN-MA without a prior-authorization number",
        "Medicaid-like and Medicare Advantage-like payers in this demo require authorization for Mohs",
    ),
    Driver(
        "mohs-benign-dx",
        "CO-11",
        0.60,
        "Mohs pointing to a non-malignant diagnosis",
        "Mohs is covered for skin cancer",
    ),
    Driver(
        "99215-necessity",
        "CO-50",
        0.08,
        "99215",
        "high-level visits are audited for medical necessity",
    ),
    Driver(
        "january-eligibility",
        "CO-27",
        0.06,
        "service in January",
        "plan-year changes: coverage not yet updated at the practice",
    ),
    Driver(
        "missing-information",
        "CO-16",
        0.03,
        "any claim",
        "background: information missing or wrong",
    ),
)
_DRIVER = {d.name: d for d in DRIVERS}


@dataclass(frozen=True, slots=True)
class SyntheticPayer:
    id: str
    kind: str
    share: float
    strictness: float  # multiplies every driver's probability (capped at 0.97)


PAYERS: tuple[SyntheticPayer, ...] = (
    SyntheticPayer("SYN-MCR", "Medicare-like", 0.35, 1.0),
    SyntheticPayer("SYN-COM1", "commercial, lenient", 0.25, 0.7),
    SyntheticPayer("SYN-COM2", "commercial, modifier-25 policy from 2/3 of the range", 0.20, 1.1),
    SyntheticPayer("SYN-MCD", "Medicaid-like, strict", 0.12, 1.5),
    SyntheticPayer("SYN-MA", "Medicare Advantage-like", 0.08, 1.2),
)
_AUTH_FOR_MOHS = frozenset({"SYN-MCD", "SYN-MA"})
_BIOLOGICS = frozenset({"J3357", "J1745", "J2357"})

_FEES: dict[str, int] = {
    "99212": 90,
    "99213": 130,
    "99214": 190,
    "99215": 260,
    "11102": 150,
    "11103": 80,
    "11104": 180,
    "11105": 90,
    "11106": 210,
    "11107": 100,
    "17000": 110,
    "17003": 15,
    "17004": 330,
    "17110": 160,
    "11401": 250,
    "11402": 290,
    "11403": 330,
    "11441": 300,
    "11442": 340,
    "11601": 380,
    "11602": 420,
    "11603": 480,
    "11641": 500,
    "11642": 560,
    "11643": 620,
    "12001": 150,
    "12002": 190,
    "12032": 420,
    "12051": 440,
    "13131": 650,
    "13132": 720,
    "13151": 700,
    "13160": 1400,
    "17311": 900,
    "17312": 500,
    "17313": 850,
    "17314": 480,
    "17315": 150,
    "11900": 90,
    "96372": 40,
    "J3301": 6,
    "J3357": 290,
    "J1745": 120,
    "J2357": 70,
}
_INFLAMMATORY = ("L309", "L400", "L700", "L209", "L219", "L500", "L710")
_MALIGNANT = ("C44319", "C4441", "C44519", "C4461", "C439", "D039", "C44329")
_BENIGN = ("D225", "D223", "D235", "L721", "L821")


@dataclass(slots=True)
class _Draft:
    lines: list[tuple[str, tuple[str, ...], int, int]] = field(default_factory=list)
    diagnoses: list[str] = field(default_factory=list)
    pos: str = "11"
    prior_auth: bool = False

    def add(self, code: str, *mods: str, units: int = 1, dx: int = 1) -> None:
        self.lines.append((code, tuple(mods), units, dx))


def _em(rng: random.Random) -> str:
    return rng.choices(("99212", "99213", "99214", "99215"), (0.15, 0.45, 0.32, 0.08))[0]


def _encounter(rng: random.Random, progress: float) -> _Draft:
    """One visit's codes; `progress` (0..1 through the range) lowers coding slips over time."""
    d = _Draft()
    slip = 0.25 - 0.12 * progress  # how often a modifier the claim needs is left off
    kind = rng.choices(
        ("em", "em+minor", "destruction", "biopsy", "excision", "mohs", "drug"),
        (0.30, 0.22, 0.10, 0.10, 0.12, 0.08, 0.08),
    )[0]
    if kind == "em":
        d.diagnoses = [rng.choice(_INFLAMMATORY)]
        d.add(_em(rng))
        d.pos = "10" if rng.random() < 0.05 else "11"
    elif kind == "em+minor":
        minor = rng.choice(("11102", "11104", "17000", "17110", "11900"))
        em_mods = () if rng.random() < slip else ("25",)
        d.diagnoses = [
            rng.choice(_INFLAMMATORY),
            "L570" if minor == "17000" else rng.choice(_BENIGN[:3]),
        ]
        d.add(_em(rng), *em_mods, dx=1)
        d.add(minor, dx=2)
        if minor == "17000" and rng.random() < 0.4:
            d.add("17003", units=rng.randint(1, 8), dx=2)
    elif kind == "destruction":
        roll = rng.random()
        if roll < 0.55:  # actinic keratoses
            d.diagnoses = ["L570"]
            many = rng.random() < 0.3
            if many:
                d.add("17004")
                if rng.random() < 0.3:  # the coding error: 17000 billed too
                    d.add("17000")
            else:
                d.add("17000")
                d.add("17003", units=rng.randint(1, 12))
        elif roll < 0.8:  # seborrheic keratoses
            d.diagnoses = [rng.choice(("L821", "L820"))]
            d.add("17110" if rng.random() < 0.5 else "17000")
        else:  # warts
            d.diagnoses = ["B078"]
            d.add("17110")
    elif kind == "biopsy":
        d.diagnoses = [rng.choice((*_BENIGN[:3], "D485", "L989"))]
        first = rng.choice(("11102", "11104", "11106"))
        d.add(first)
        if rng.random() < 0.35:
            d.add(str(int(first) + 1), units=rng.randint(1, 3))
    elif kind == "excision":
        malignant = rng.random() < 0.55
        if malignant:
            code = rng.choice(("11601", "11602", "11603", "11641", "11642", "11643"))
            wrong_dx = rng.random() < 0.08
            d.diagnoses = [rng.choice(_BENIGN[:3]) if wrong_dx else rng.choice(_MALIGNANT)]
        else:
            code = rng.choice(("11401", "11402", "11403", "11441", "11442"))
            d.diagnoses = [rng.choice(_BENIGN)]
        d.add(code)
        if rng.random() < 0.5:
            repair = rng.choices(
                ("12001", "12002", "12032", "12051", "13131", "13132"),
                (0.08, 0.07, 0.35, 0.2, 0.15, 0.15),
            )[0]
            d.add(repair)
        if rng.random() < 0.2:
            d.diagnoses.append(rng.choice(_BENIGN[:3]))
            mods = () if rng.random() < slip * 2 else (rng.choice(("59", "XS")),)
            d.add(rng.choice(("11102", "11104")), *mods, dx=2)
        roll = rng.random()
        d.pos = "24" if roll < 0.10 else "22" if roll < 0.15 else "11"
    elif kind == "mohs":
        benign = rng.random() < 0.06
        d.diagnoses = [rng.choice(_BENIGN[:3]) if benign else rng.choice(_MALIGNANT[:5])]
        first = "17311" if rng.random() < 0.7 else "17313"
        d.add(first)
        if rng.random() < 0.4:
            d.add(str(int(first) + 1))
        if rng.random() < 0.6:
            d.add(rng.choice(("12032", "13131", "13132", "13151", "13160")))
        d.prior_auth = rng.random() < 0.6
    else:
        if rng.random() < 0.45:
            d.diagnoses = [rng.choice(("L910", "L732", "L638"))]
            d.add("11900")
            d.add("J3301", units=rng.randint(1, 4))
            d.prior_auth = False
        else:
            drug = rng.choice(sorted(_BIOLOGICS))
            d.diagnoses = ["L500" if drug == "J2357" else "L400"]
            d.add("96372" if drug != "J1745" else "96413")
            units = {"J3357": 45, "J1745": 40, "J2357": 60}[drug]
            d.add(drug, units=units)
            d.prior_auth = rng.random() < 0.78
    return d


def _fired(draft: _Draft, payer: str, day: date, policy_day: date) -> list[str]:
    """The names of the drivers that apply to this claim (see DRIVERS)."""
    codes = {c for c, _, _, _ in draft.lines}
    mods = {m for _, ms, _, _ in draft.lines for m in ms}
    em = [(c, ms) for c, ms, _, _ in draft.lines if c.startswith("992")]
    procedures = [c for c in codes if not c.startswith("992") and not c.startswith("J")]
    fired = ["missing-information"]
    if em and procedures:
        if "25" in em[0][1]:
            fired.append("em-25")
            if payer == "SYN-COM2" and day >= policy_day:
                fired.append("em-25-notes")
        else:
            fired.append("em-no-25")
    if "17004" in codes and codes & {"17000", "17003"}:
        fired.append("17004-with-17000")
    if codes & {"17000", "17110"} and "L821" in draft.diagnoses:
        fired.append("sk-cosmetic")
    excision = any(c.startswith(("114", "116")) for c in codes)
    if excision and codes & {"12001", "12002"}:
        fired.append("simple-repair")
    if any(c.startswith("116") for c in codes) and draft.diagnoses[0] in _BENIGN:
        fired.append("malignant-benign-dx")
    if excision and codes & {"11102", "11104"} and not mods & {"59", "XS"}:
        fired.append("biopsy-excision-no-59")
    if codes & _BIOLOGICS and not draft.prior_auth:
        fired.append("biologic-no-auth")
    mohs = any(c.startswith("1731") for c in codes)
    if mohs and payer in _AUTH_FOR_MOHS and not draft.prior_auth:
        fired.append("mohs-no-auth")
    if mohs and draft.diagnoses[0] in _BENIGN:
        fired.append("mohs-benign-dx")
    if "99215" in codes:
        fired.append("99215-necessity")
    if day.month == 1:
        fired.append("january-eligibility")
    return fired


def _money(rng: random.Random, fee: int, units: int) -> Decimal:
    return (Decimal(fee * units) * Decimal(rng.uniform(0.9, 1.1))).quantize(Decimal("0.01"))


def _claim(draft: _Draft, pcn: str, day: date, rng: random.Random) -> Claim:
    lines = tuple(
        ServiceLine(
            line_number=i,
            procedure=Procedure.hcpcs(code, *mods),
            charge=_money(rng, _FEES.get(code, 100), units),
            quantity=Decimal(units),
            pointers=(dx,),
            dates=(DatePeriod(DATE_SERVICE, day),),
        )
        for i, (code, mods, units, dx) in enumerate(draft.lines, start=1)
    )
    diagnoses = tuple(
        Diagnosis.principal(c) if i == 0 else Diagnosis.other(c)
        for i, c in enumerate(draft.diagnoses)
    )
    refs = (Reference(PRIOR_AUTH, f"SYNPA{rng.randrange(10**8):08d}"),) if draft.prior_auth else ()
    return Claim(
        patient_control_number=pcn,
        total_charge=sum((line.charge for line in lines), Decimal("0.00")),
        facility_code=draft.pos,
        references=refs,
        diagnoses=diagnoses,
        services=lines,
    )


def generate(
    n: int, seed: int, start: date = date(2024, 1, 1), end: date = date(2025, 12, 31)
) -> list[Example]:
    """`n` synthetic claims between `start` and `end` (weekdays), in date order; the same
    `n`, `seed` and range give the same claims and outcomes."""
    if n < 1 or end < start:
        raise ValueError(f"generate: expected n ≥ 1 and start ≤ end, got n={n}, {start}..{end}")
    rng = random.Random(seed)
    span = (end - start).days
    policy_day = start + timedelta(days=span * 2 // 3)
    weights = [p.share for p in PAYERS]
    out: list[tuple[date, Example]] = []
    for i in range(n):
        day = start + timedelta(days=rng.randint(0, span))
        while day.weekday() >= 5 and day > start:
            day -= timedelta(days=1)
        payer = rng.choices(PAYERS, weights)[0]
        draft = _encounter(rng, (day - start).days / max(span, 1))
        fired = _fired(draft, payer.id, day, policy_day)
        carcs = [
            _DRIVER[name].carc
            for name in fired
            if rng.random() < min(0.97, _DRIVER[name].probability * payer.strictness)
        ]
        claim = _claim(draft, f"SYN{seed}-{i:07d}", day, rng)
        out.append((day, Example(claim, payer.id, day, bool(carcs), carcs[0] if carcs else "")))
    out.sort(key=lambda de: (de[0], de[1].claim.patient_control_number))
    return [e for _, e in out]


# -- history files ------------------------------------------------------------------------------

_SUBMITTER = Party(
    entity_code="41",
    entity_type="2",
    last_or_organization="SYNTHETIC DERM PRACTICE",
    id_qualifier="46",
    id="SYNDERM",
)
_RECEIVER = Party(
    entity_code="40",
    entity_type="2",
    last_or_organization="SYNTHETIC CLEARINGHOUSE",
    id_qualifier="46",
    id="SYNCH",
)
_BILLING = Party(
    entity_code="85",
    entity_type="2",
    last_or_organization="SYNTHETIC DERM PRACTICE",
    id_qualifier="XX",
    id="0000000000",
)


def _compact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v not in ([], None)}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def to_transaction(example: Example) -> Claim837Transaction:
    """The example's claim in a one-claim 837P transaction (synthetic parties, its payer id)."""
    subscriber = Party(
        entity_code="IL",
        entity_type="1",
        last_or_organization="SYNTHETIC",
        first="PATIENT",
        id_qualifier="MI",
        id=example.claim.patient_control_number,
    )
    payer = Party(
        entity_code="PR",
        entity_type="2",
        last_or_organization="SYNTHETIC PAYER",
        id_qualifier="PI",
        id=example.payer_id,
    )
    loop = SubscriberLoop(
        info=SubscriberInfo(payer_responsibility="P", relationship="18", claim_filing="CI"),
        subscriber=subscriber,
        payer=payer,
        claims=(example.claim,),
    )
    return Claim837Transaction(
        header=Header837(
            reference_id=example.claim.patient_control_number[-30:],
            created=datetime.combine(example.date_of_service, datetime.min.time()),
        ),
        submitter=_SUBMITTER,
        receiver=_RECEIVER,
        billing_providers=(BillingProvider(provider=_BILLING, subscribers=(loop,)),),
    )


def example_to_json(example: Example) -> dict[str, Any]:
    return {
        "denied": example.denied,
        "carc": example.carc,
        "model": _compact(claim_to_json(to_transaction(example))),
    }


def example_from_json(data: dict[str, Any], where: str = "$") -> Example:
    """One history line back; ValueError naming the line and field of a bad one."""
    denied = data.get("denied")
    if not isinstance(denied, bool):
        raise ValueError(f"{where}.denied: expected true or false, got {denied!r}")
    try:
        model = claim_from_json(data.get("model") or {})
    except ValueError as exc:
        raise ValueError(f"{where}.model: {exc}") from None
    found = claims_of(model)
    if len(found) != 1:
        raise ValueError(f"{where}.model: expected one claim, got {len(found)}")
    claim, payer, day = found[0]
    if day is None:
        raise ValueError(f"{where}.model: expected a date of service (DTP*472), got none")
    return Example(claim, payer, day, denied, str(data.get("carc") or ""))


def write_history(examples: Iterable[Example], path: Path) -> int:
    """Write a history file; the number of claims written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for e in examples:
            out.write(json.dumps(example_to_json(e), separators=(",", ":")) + "\n")
            count += 1
    return count


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8") as source:
        for number, line in enumerate(source, start=1):
            if line.strip():
                yield number, line


def read_history(path: Path) -> list[Example]:
    """A history file's claims; ValueError at the first bad line (`FILE:LINE.field: ...`)."""
    out: list[Example] = []
    for number, line in _lines(path):
        where = f"{path.name}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{where}: expected a JSON object, got invalid JSON ({exc.msg})"
            ) from None
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
        out.append(example_from_json(data, where))
    return out


# -- the practice's own history -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DatabaseHistory:
    """Training examples joined from the database, and how many claims were left out, why."""

    examples: tuple[Example, ...]
    skipped: dict[str, int]
    from_ledger_lines: int  # claims with no stored 837P: codes, modifiers, units and charges only


def _denial_adjustment(category: str | None) -> bool:
    return category is not None and category != "patient-responsibility"


def _outcome(
    posting: RemittanceClaimPosting,
    lines: Sequence[RemittanceLinePosting],
    adjustments: Sequence[RemittanceAdjustment],
) -> tuple[bool, str]:
    """Denied (the claim, or a line paid nothing with a denial CARC) and the first such CARC."""
    denials = [a for a in adjustments if _denial_adjustment(a.category)]
    first = f"{denials[0].group_code}-{denials[0].reason_code}" if denials else ""
    if posting.status_code == "4":
        return True, first
    zero_lines = {line.id for line in lines if line.paid_cents == 0 and line.charge_cents > 0}
    for a in denials:
        if a.line_posting_id in zero_lines:
            return True, f"{a.group_code}-{a.reason_code}"
        if a.line_posting_id is None and posting.paid_cents == 0 and posting.charge_cents > 0:
            return True, f"{a.group_code}-{a.reason_code}"
    return False, ""


def _from_ledger(row: ClaimRow, lines: Sequence[ClaimLine]) -> Claim:
    services = tuple(
        ServiceLine(
            line_number=line.line_number,
            procedure=Procedure.hcpcs(line.procedure, *(m for m in line.modifiers.split(",") if m)),
            charge=money(line.charge_cents),
            quantity=Decimal(line.units or "1"),
            dates=(DatePeriod(DATE_SERVICE, date.fromisoformat(line.service_date)),),
        )
        for line in lines
    )
    return Claim(
        patient_control_number=row.patient_control_number,
        total_charge=money(row.total_charge_cents),
        facility_code="",
        services=services,
    )


def load_from_database(sessions: sessionmaker[Session]) -> DatabaseHistory:
    """Our submitted claims with an 835 posted, each labelled from its latest posting that is
    neither a reversal nor reversed. The claim is read from the 837P file it was sent in (all
    features); a claim recorded without a file is rebuilt from its ledger lines (no diagnoses,
    place of service or prior authorization). Claims with no posting yet are skipped."""
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    with sessions() as session:
        claims = session.scalars(select(ClaimRow).order_by(ClaimRow.id)).all()
        files = {
            claim_id: file_id
            for claim_id, file_id in session.execute(
                select(ClaimSubmission.claim_id, ClaimSubmission.claim_file_id)
            )
        }
        postings: dict[int, RemittanceClaimPosting] = {}
        for p in session.scalars(
            select(RemittanceClaimPosting)
            .where(
                RemittanceClaimPosting.claim_id.is_not(None),
                RemittanceClaimPosting.status_code != "22",
                RemittanceClaimPosting.reversed.is_(False),
            )
            .order_by(RemittanceClaimPosting.id)
        ):
            assert p.claim_id is not None
            postings[p.claim_id] = p  # the latest wins
        posting_ids = [p.id for p in postings.values()]
        line_postings: dict[int, list[RemittanceLinePosting]] = {}
        adjustments: dict[int, list[RemittanceAdjustment]] = {}
        for chunk in _chunks(posting_ids, 500):
            for lp in session.scalars(
                select(RemittanceLinePosting).where(
                    RemittanceLinePosting.claim_posting_id.in_(chunk)
                )
            ):
                line_postings.setdefault(lp.claim_posting_id, []).append(lp)
            for adj in session.scalars(
                select(RemittanceAdjustment).where(RemittanceAdjustment.claim_posting_id.in_(chunk))
            ):
                adjustments.setdefault(adj.claim_posting_id, []).append(adj)
        parsed: dict[int, dict[str, tuple[Claim, str]]] = {}
        examples: list[Example] = []
        from_ledger = 0
        for row in claims:
            posting = postings.get(row.id)
            if posting is None:
                skip("no 835 posted (or only reversed postings)")
                continue
            denied, carc = _outcome(
                posting, line_postings.get(posting.id, []), adjustments.get(posting.id, [])
            )
            file_id = files.get(row.id)
            found: tuple[Claim, str] | None = None
            if file_id is not None:
                if file_id not in parsed:
                    parsed[file_id] = _claims_in_file(session, file_id)
                found = parsed[file_id].get(row.patient_control_number)
            if found is None:
                lines = session.scalars(
                    select(ClaimLine)
                    .where(ClaimLine.claim_id == row.id)
                    .order_by(ClaimLine.line_number)
                ).all()
                if not lines:
                    skip("no stored 837P and no ledger lines")
                    continue
                found = (_from_ledger(row, lines), row.payer_id)
                from_ledger += 1
            claim, payer = found
            day = date_of_service(claim)
            if day is None:
                skip("no date of service")
                continue
            examples.append(Example(claim, row.payer_id or payer, day, denied, carc))
    examples.sort(key=lambda e: e.date_of_service)
    return DatabaseHistory(tuple(examples), skipped, from_ledger)


def _chunks(values: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _claims_in_file(session: Session, file_id: int) -> dict[str, tuple[Claim, str]]:
    row = session.get(ClaimFile, file_id)
    if row is None:
        return {}
    models, _problems = read_837p(row.raw)
    return {
        claim.patient_control_number: (claim, payer)
        for model in models
        for claim, payer, _day in claims_of(model)
    }
