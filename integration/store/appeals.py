"""Appeals in the database: every version of the letter kept (who wrote it: the system's draft, a
person's edit or signature, a language model's polish), stale edits refused, signing only after
the pre-sign fact check, submission, outcome, and a second-level appeal when the first is upheld.

State of an appeal: draft -> signed -> submitted -> decided. An edit of a signed letter voids the
signature (back to draft: it must be checked and signed again). An outcome can be recorded once
the letter is signed (it may have been sent outside derm-rcm). The denial item follows: opening an
appeal makes it "appealing", an overturned appeal "closed", an upheld or partial one "open" again
(next: a second-level appeal or a write-off); each change is a `denial_event`.

Dashboard figures (`dashboard`) are computed by `integration.denials.dashboard` from plain rows
this store reads.

No PHI in logs: appeal ids, denial ids, levels, outcomes and counts only.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from integration.appeals.letter import Letter
from integration.denials.dashboard import (
    AppealRow,
    Dashboard,
    DenialRow,
    RemittedLine,
    compute_dashboard,
)
from integration.denials.deadlines import Deadline, next_level_deadline
from integration.store.models import (
    Appeal,
    AppealDocument,
    AppealVersion,
    DenialEvent,
    DenialItem,
    RemittanceClaimPosting,
    RemittanceLinePosting,
    RemittancePayment,
)

log = logging.getLogger(__name__)

STATUSES: tuple[str, ...] = ("draft", "signed", "submitted", "decided")
OUTCOMES: tuple[str, ...] = ("overturned", "upheld", "partial")
#: version kind -> who wrote it
ORIGIN_OF_KIND: dict[str, str] = {
    "draft": "system",
    "edit": "person",
    "polish": "llm",
    "sign": "person",
}
#: denial status after each outcome (upheld/partial: back on the worklist for the next step)
DENIAL_STATUS_AFTER: dict[str, str] = {"overturned": "closed", "upheld": "open", "partial": "open"}
#: denial states an appeal may be opened from
APPEALABLE_DENIAL_STATES: tuple[str, ...] = ("open", "appealing")


class AppealError(Exception):
    """An appeal operation refused; the message says where and what."""


class UnknownAppeal(AppealError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown appeal"


class StaleVersion(AppealError):
    """The letter was changed since the version the edit (or signature) started from."""

    def __init__(self, appeal_id: str, base_version: int, latest: int) -> None:
        super().__init__(
            f"appeal {appeal_id}: expected edits on version {latest} (the latest), got version "
            f"{base_version}; reload the letter and edit again"
        )
        self.base_version = base_version
        self.latest = latest


class CheckRefused(AppealError):
    """The pre-sign check found a statement the evidence doesn't support."""

    def __init__(self, appeal_id: str, version: int, problems: Sequence[dict[str, Any]]) -> None:
        found = "; ".join(
            f"sentence {p.get('sentence_id')}: {p.get('span')!r}: {p.get('message')}"
            for p in problems
        )
        super().__init__(
            f"appeal {appeal_id} version {version}: not signed, the check found "
            f"{len(problems)} unsupported statement(s): {found}"
        )
        self.problems = list(problems)


class CheckResultLike(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def problems(self) -> Any: ...


#: the pre-sign check: `integration.appeals.factcheck.check_letter`
CheckLetter = Callable[..., CheckResultLike]


#: (the previous level's deadline basis, its decision date, the new level) -> the new level's
#: deadline: `integration.denials.deadlines.next_level_deadline`
LevelDeadlineRule = Callable[[str, date, int], Deadline]


@dataclass(frozen=True, slots=True)
class AppealView:
    id: str
    denial_id: int
    level: int
    previous_id: str | None
    template_id: str
    status: str
    deadline: date | None
    deadline_basis: str
    opened_at: datetime
    signed_at: datetime | None
    signed_by: str | None
    submitted_at: datetime | None
    channel: str | None
    outcome: str | None
    recovered: Decimal | None
    decided_on: date | None
    latest_version: int
    patient_ref: str | None = None
    payer_reference: str | None = None  # the payer's id for the appeal, when it gave one
    remit_date: date | None = None  # of the denial (the 835's date)

    @property
    def days_to_submission(self) -> int | None:
        """Days from the denial (remittance date) to sending the appeal."""
        if self.remit_date is None or self.submitted_at is None:
            return None
        return (self.submitted_at.date() - self.remit_date).days

    @property
    def days_to_decision(self) -> int | None:
        """Days from the denial (remittance date) to the payer's decision."""
        if self.remit_date is None or self.decided_on is None:
            return None
        return (self.decided_on - self.remit_date).days

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "denial_id": self.denial_id,
            "level": self.level,
            "previous_id": self.previous_id,
            "template_id": self.template_id,
            "status": self.status,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "deadline_basis": self.deadline_basis,
            "opened_at": self.opened_at.isoformat(),
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
            "signed_by": self.signed_by,
            "submitted_at": self.submitted_at.isoformat() if self.submitted_at else None,
            "channel": self.channel,
            "payer_reference": self.payer_reference,
            "outcome": self.outcome,
            "recovered": str(self.recovered) if self.recovered is not None else None,
            "decided_on": self.decided_on.isoformat() if self.decided_on else None,
            "latest_version": self.latest_version,
            "patient": self.patient_ref,
            "denial_remit_date": self.remit_date.isoformat() if self.remit_date else None,
            "days_to_submission": self.days_to_submission,
            "days_to_decision": self.days_to_decision,
        }


@dataclass(frozen=True, slots=True)
class Changes:
    """Sentence ids changed between two versions of a letter."""

    edited: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def ids(self) -> tuple[str, ...]:
        return (*self.edited, *self.added, *self.removed)

    def note(self) -> str:
        parts = [
            f"{what} {', '.join(ids)}"
            for what, ids in (
                ("edited", self.edited),
                ("added", self.added),
                ("removed", self.removed),
            )
            if ids
        ]
        return "; ".join(parts) or "no sentence changed"

    def to_json(self) -> dict[str, list[str]]:
        return {
            "edited": list(self.edited),
            "added": list(self.added),
            "removed": list(self.removed),
        }


def changes_between(before: Letter | None, after: Letter) -> Changes:
    if before is None:
        return Changes(added=tuple(s.id for s in after.sentences))
    old = {s.id: s for s in before.sentences}
    new_ids = {s.id for s in after.sentences}
    edited = tuple(s.id for s in after.sentences if s.id in old and old[s.id].text != s.text)
    added = tuple(s.id for s in after.sentences if s.id not in old)
    removed = tuple(s.id for s in before.sentences if s.id not in new_ids)
    return Changes(edited, added, removed)


@dataclass(frozen=True, slots=True)
class VersionView:
    version: int
    kind: str  # draft | edit | polish | sign
    origin: str  # system | person | llm
    actor: str
    at: datetime
    note: str
    letter: Letter
    check: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "kind": self.kind,
            "origin": self.origin,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "note": self.note,
            "check": self.check,
            "letter": self.letter.to_json(),
        }


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One version in the audit trail: who, when, system/person/llm, which sentences changed,
    and which sentences of the letter at that version are whose (template, clinician, polish)."""

    version: int
    kind: str
    origin: str
    actor: str
    at: datetime
    changes: Changes
    note: str
    sentence_origins: dict[str, str]
    check_ok: bool | None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "kind": self.kind,
            "origin": self.origin,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "changed": self.changes.to_json(),
            "note": self.note,
            "sentence_origins": self.sentence_origins,
            "check_ok": self.check_ok,
        }


@dataclass(frozen=True, slots=True)
class DocumentView:
    id: int
    appeal_id: str
    version: int
    kind: str
    sha256: str
    size: int
    at: datetime


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _aware(value: datetime) -> datetime:
    """SQLite gives naive datetimes back: they were stored as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _check_json(result: CheckResultLike, confirmed: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The check's own JSON (problems, and the problems the clinician confirmed) and the
    (sentence id, span) pairs they confirmed."""
    to_json = getattr(result, "to_json", None)
    data: dict[str, Any] = (
        dict(to_json())
        if callable(to_json)
        else {
            "ok": bool(result.ok),
            "problems": [_problem_json(p) for p in (result.problems or ())],
        }
    )
    data["confirmed_spans"] = [{"sentence_id": s, "span": span} for s, span in confirmed]
    return data


def _problem_json(problem: Any) -> dict[str, Any]:
    to_json = getattr(problem, "to_json", None)
    if callable(to_json):
        data: dict[str, Any] = to_json()
        return data
    return {key: getattr(problem, key, None) for key in ("sentence_id", "span", "kind", "message")}


def _default_check() -> CheckLetter:
    from integration.appeals.factcheck import check_letter

    found: CheckLetter = check_letter
    return found


class AppealStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        check: CheckLetter | None = None,
        level_deadline: LevelDeadlineRule | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self._check = check
        self._level_deadline = level_deadline or next_level_deadline

    # -- opening --

    def open(self, denial_id: int, letter: Letter, actor: str, opened_at: datetime) -> str:
        """A new appeal of the denial in draft, version 1 the system's draft; returns its id.

        Level 1 takes the denial's deadline; a later level needs the previous level decided
        upheld or partial and takes its deadline from the level's rule, counted from that
        decision. The denial becomes "appealing"."""
        now = self.clock()
        appeal_id = str(uuid.uuid4())
        with self.sessions.begin() as session:
            denial = session.get(DenialItem, denial_id, with_for_update=True)
            if denial is None:
                raise AppealError(f"denial {denial_id}: no such denial item")
            if denial.status not in APPEALABLE_DENIAL_STATES:
                raise AppealError(
                    f"denial {denial_id}: expected status open or appealing to appeal, "
                    f"got {denial.status!r}"
                )
            if letter.level < 1:
                raise AppealError(f"appeal level: expected 1 or more, got {letter.level}")
            if letter.denial_id is not None and letter.denial_id != denial_id:
                raise AppealError(
                    f"letter: expected denial {denial_id}, got a letter for denial "
                    f"{letter.denial_id}"
                )
            appeals = list(
                session.scalars(
                    select(Appeal).where(Appeal.denial_id == denial_id).order_by(Appeal.level)
                )
            )
            pending = [a for a in appeals if a.status != "decided"]
            if pending:
                raise AppealError(
                    f"denial {denial_id}: appeal {pending[0].id} (level {pending[0].level}) is "
                    f"still {pending[0].status}; record its outcome first"
                )
            previous_id: str | None = None
            if letter.level == 1:
                if appeals:
                    raise AppealError(
                        f"denial {denial_id}: a level-1 appeal exists ({appeals[0].id}); "
                        "a new appeal must be level 2 or higher"
                    )
                deadline = denial.deadline
                basis = denial.deadline_basis
            else:
                previous = next((a for a in appeals if a.level == letter.level - 1), None)
                if previous is None or previous.outcome not in ("upheld", "partial"):
                    got = (
                        "none"
                        if previous is None
                        else f"appeal {previous.id} {previous.outcome or previous.status}"
                    )
                    raise AppealError(
                        f"denial {denial_id}: a level-{letter.level} appeal needs level "
                        f"{letter.level - 1} decided upheld or partial, got {got}"
                    )
                if any(a.level >= letter.level for a in appeals):
                    raise AppealError(
                        f"denial {denial_id}: a level-{letter.level} appeal exists already"
                    )
                assert previous.decided_on is not None
                found = self._level_deadline(
                    previous.deadline_basis, date.fromisoformat(previous.decided_on), letter.level
                )
                deadline = found.due.isoformat() if found.due else None
                basis = found.basis
                previous_id = previous.id
            session.add(
                Appeal(
                    id=appeal_id,
                    denial_id=denial_id,
                    level=letter.level,
                    previous_id=previous_id,
                    template_id=letter.template_id[:100],
                    status="draft",
                    deadline=deadline,
                    deadline_basis=basis,
                    opened_at=opened_at,
                    created_at=now,
                    updated_at=now,
                )
            )
            session.flush()
            stored = replace(letter, denial_id=denial_id)
            self._add_version(
                session,
                appeal_id,
                1,
                "draft",
                actor,
                stored,
                None,
                now,
                changes_between(None, stored),
            )
            self._denial_status(
                session, denial, "appealing", actor, now, f"appeal {appeal_id} level {letter.level}"
            )
        log.info(
            "appeal opened",
            extra={"appeal_id": appeal_id, "denial_id": denial_id, "level": letter.level},
        )
        return appeal_id

    def open_second_level(
        self, appeal_id: str, letter: Letter, actor: str, opened_at: datetime
    ) -> str:
        """The next level's appeal after `appeal_id` was upheld (or partly), with its own deadline
        counted from that decision; the letter is stored as of the next level."""
        with self.sessions() as session:
            previous = session.get(Appeal, appeal_id)
            if previous is None:
                raise UnknownAppeal(f"appeal {appeal_id}: no such appeal")
            denial_id, level = previous.denial_id, previous.level
        if letter.level != level + 1:
            letter = replace(letter, level=level + 1)
        return self.open(denial_id, letter, actor, opened_at)

    # -- versions --

    def save_edit(self, appeal_id: str, letter: Letter, actor: str, base_version: int) -> int:
        """A person's edit as a new version; returns its number. Refused when the letter changed
        since `base_version`, after submission, or when the edit changes the evidence (facts
        are fixed when drafted; a clinician confirms their own statement when signing).
        Sentences whose text changed (or that are new) become the clinician's."""
        return self._save(appeal_id, letter, actor, base_version, "edit", "clinician")

    def save_polish(
        self,
        appeal_id: str,
        letter: Letter,
        actor: str,
        base_version: int,
        model: str | None = None,
    ) -> int:
        """A language model's rewording (already checked by `integration.appeals.polish`) as a
        new version of origin llm; `actor` is who asked for it, `model` goes into the note."""
        suffix = f" (model {model})" if model else ""
        return self._save(appeal_id, letter, actor, base_version, "polish", "polish", suffix)

    def _save(
        self,
        appeal_id: str,
        letter: Letter,
        actor: str,
        base_version: int,
        kind: str,
        sentence_origin: str,
        note_suffix: str = "",
    ) -> int:
        now = self.clock()
        try:
            with self.sessions.begin() as session:
                appeal = self._locked(session, appeal_id)
                if appeal.status not in ("draft", "signed"):
                    raise AppealError(
                        f"appeal {appeal_id}: expected a draft or signed letter to change, got "
                        f"{appeal.status}"
                    )
                latest = self._latest(session, appeal_id)
                if base_version != latest.version:
                    raise StaleVersion(appeal_id, base_version, latest.version)
                before = Letter.from_json(json.loads(latest.letter_json))
                if [f.to_json() for f in letter.evidence] != [f.to_json() for f in before.evidence]:
                    raise AppealError(
                        f"appeal {appeal_id}: an {kind} may not change the letter's evidence (it is "
                        "read from the chart when drafted); confirm a statement when signing instead"
                    )
                found = changes_between(before, letter)
                touched = set(found.edited) | set(found.added)
                stored = replace(
                    letter,
                    denial_id=appeal.denial_id,
                    level=appeal.level,
                    sentences=tuple(
                        replace(s, origin=sentence_origin) if s.id in touched else s
                        for s in letter.sentences
                    ),
                )
                version = latest.version + 1
                note = found.note() + note_suffix
                if appeal.status == "signed":
                    note += f"; signature of version {latest.version} voided"
                    appeal.status = "draft"
                    appeal.signed_at = None
                    appeal.signed_by = None
                self._add_version(
                    session, appeal_id, version, kind, actor, stored, None, now, found, note
                )
                appeal.updated_at = now
        except IntegrityError:
            # a concurrent writer stored the next version first (the unique appeal/version)
            raise StaleVersion(appeal_id, base_version, base_version + 1) from None
        log.info("appeal %s", kind, extra={"appeal_id": appeal_id, "version": version})
        return version

    def sign(
        self,
        appeal_id: str,
        actor_fhir_user: str,
        confirmed: Iterable[tuple[str, str]] = (),
        *,
        base_version: int | None = None,
    ) -> int:
        """Run the pre-sign check on the latest version; CheckRefused (with the problems, also
        kept on that version) when it fails, else a new "sign" version and the appeal signed by
        the clinician's fhirUser. `confirmed` are (sentence id, span) the clinician states as
        their own; `base_version`, if given, must be the latest (what the clinician read)."""
        confirmed = tuple((str(s), str(span)) for s, span in confirmed)
        check = self._check or _default_check()
        now = self.clock()
        try:
            with self.sessions.begin() as session:
                appeal = self._locked(session, appeal_id)
                if appeal.status != "draft":
                    raise AppealError(
                        f"appeal {appeal_id}: expected a draft to sign, got {appeal.status}"
                    )
                latest = self._latest(session, appeal_id)
                if base_version is not None and base_version != latest.version:
                    raise StaleVersion(appeal_id, base_version, latest.version)
                letter = Letter.from_json(json.loads(latest.letter_json))
                result = check(letter, confirmed=confirmed)
                checked = _check_json(result, confirmed)
                if not result.ok:
                    latest.check_json = _dumps(checked)
                    refused = CheckRefused(appeal_id, latest.version, checked["problems"])
                else:
                    refused = None
                    version = latest.version + 1
                    note = "signed" + (
                        "; confirmed as the clinician's own: "
                        + ", ".join(f"{s} {span!r}" for s, span in confirmed)
                        if confirmed
                        else ""
                    )
                    self._add_version(
                        session,
                        appeal_id,
                        version,
                        "sign",
                        actor_fhir_user,
                        letter,
                        checked,
                        now,
                        Changes(),
                        note,
                    )
                    appeal.status = "signed"
                    appeal.signed_at = now
                    appeal.signed_by = actor_fhir_user[:200]
                    appeal.updated_at = now
        except IntegrityError:
            raise AppealError(
                f"appeal {appeal_id}: another version was stored while signing; reload the "
                "letter and sign again"
            ) from None
        if refused is not None:
            log.info(
                "appeal sign refused",
                extra={"appeal_id": appeal_id, "problems": len(refused.problems)},
            )
            raise refused
        log.info("appeal signed", extra={"appeal_id": appeal_id, "version": version})
        return version

    # -- documents, submission, outcome --

    def store_document(
        self, appeal_id: str, version: int, pdf_bytes: bytes, kind: str = "pdf"
    ) -> int:
        """Keep the rendered package of one version; returns the document id."""
        now = self.clock()
        with self.sessions.begin() as session:
            self._locked(session, appeal_id)
            exists = session.scalar(
                select(AppealVersion.id).where(
                    AppealVersion.appeal_id == appeal_id, AppealVersion.version == version
                )
            )
            if exists is None:
                raise AppealError(f"appeal {appeal_id}: no version {version}")
            row = AppealDocument(
                appeal_id=appeal_id,
                version=version,
                kind=kind,
                sha256=hashlib.sha256(pdf_bytes).hexdigest(),
                content=pdf_bytes,
                created_at=now,
            )
            session.add(row)
            session.flush()
            doc_id = row.id
        return doc_id

    def documents(self, appeal_id: str) -> builtins.list[DocumentView]:
        with self.sessions() as session:
            rows = session.execute(
                select(
                    AppealDocument.id,
                    AppealDocument.version,
                    AppealDocument.kind,
                    AppealDocument.sha256,
                    func.length(AppealDocument.content),
                    AppealDocument.created_at,
                )
                .where(AppealDocument.appeal_id == appeal_id)
                .order_by(AppealDocument.id)
            ).all()
            return [
                DocumentView(r[0], appeal_id, r[1], r[2], r[3], int(r[4]), _aware(r[5]))
                for r in rows
            ]

    def document(self, document_id: int) -> bytes | None:
        with self.sessions() as session:
            row = session.get(AppealDocument, document_id)
            return None if row is None else bytes(row.content)

    def submit(self, appeal_id: str, channel: str, payer_reference: str | None = None) -> None:
        """Record that the signed appeal was sent (fax, portal, mail, x12-275, ...), with the
        payer's id for it when the payer answered with one."""
        if not channel or len(channel) > 20:
            raise AppealError(f"channel: expected 1-20 characters, got {channel!r}")
        now = self.clock()
        with self.sessions.begin() as session:
            appeal = self._locked(session, appeal_id)
            if appeal.status != "signed":
                raise AppealError(
                    f"appeal {appeal_id}: expected a signed letter to submit, got {appeal.status}"
                )
            appeal.status = "submitted"
            appeal.submitted_at = now
            appeal.channel = channel
            appeal.payer_reference = payer_reference
            appeal.updated_at = now
        log.info("appeal submitted", extra={"appeal_id": appeal_id, "channel": channel})

    def record_outcome(
        self,
        appeal_id: str,
        outcome: str,
        recovered: Decimal,
        decided_on: date,
        actor: str,
    ) -> None:
        """The payer's decision: overturned (denial closed), upheld or partial (denial open
        again: a second level with `open_second_level`, or a write-off)."""
        if outcome not in OUTCOMES:
            raise AppealError(f"outcome: expected one of {', '.join(OUTCOMES)}, got {outcome!r}")
        if recovered < 0:
            raise AppealError(f"recovered: expected 0 or more, got {recovered}")
        if outcome == "upheld" and recovered != 0:
            raise AppealError(f"recovered: an upheld appeal recovers 0, got {recovered}")
        now = self.clock()
        with self.sessions.begin() as session:
            appeal = self._locked(session, appeal_id)
            if appeal.status not in ("signed", "submitted"):
                raise AppealError(
                    f"appeal {appeal_id}: expected a signed or submitted appeal to decide, got "
                    f"{appeal.status}"
                )
            if decided_on < _aware(appeal.opened_at).date():
                raise AppealError(
                    f"decided on: expected on or after the appeal was opened "
                    f"({_aware(appeal.opened_at).date()}), got {decided_on}"
                )
            appeal.status = "decided"
            appeal.outcome = outcome
            appeal.recovered_cents = _cents(recovered)
            appeal.decided_on = decided_on.isoformat()
            appeal.updated_at = now
            denial = session.get(DenialItem, appeal.denial_id, with_for_update=True)
            assert denial is not None
            self._denial_status(
                session,
                denial,
                DENIAL_STATUS_AFTER[outcome],
                actor,
                now,
                f"appeal {appeal_id} level {appeal.level} {outcome}",
            )
        log.info(
            "appeal decided",
            extra={"appeal_id": appeal_id, "outcome": outcome, "level": appeal.level},
        )

    # -- reading --

    def get(self, appeal_id: str) -> AppealView | None:
        with self.sessions() as session:
            appeal = session.get(Appeal, appeal_id)
            if appeal is None:
                return None
            return self._view(session, appeal)

    def list(
        self,
        *,
        denial_id: int | None = None,
        status: str | Iterable[str] | None = None,
        patient_ref: str | None = None,
    ) -> builtins.list[AppealView]:
        """Appeals, soonest deadline first (unknown last): of a denial, in a state (e.g.
        "draft": awaiting signature), of a patient ("Patient/<id>")."""
        query = select(Appeal)
        if denial_id is not None:
            query = query.where(Appeal.denial_id == denial_id)
        if status is not None:
            states = [status] if isinstance(status, str) else list(status)
            query = query.where(Appeal.status.in_(states))
        if patient_ref is not None:
            query = query.join(DenialItem, DenialItem.id == Appeal.denial_id).where(
                DenialItem.patient_ref == patient_ref
            )
        with self.sessions() as session:
            rows = list(session.scalars(query.order_by(Appeal.opened_at, Appeal.id)))
            views = [self._view(session, a) for a in rows]
        return sorted(views, key=lambda v: (v.deadline is None, v.deadline or date.max))

    def versions(self, appeal_id: str) -> builtins.list[VersionView]:
        with self.sessions() as session:
            rows = session.scalars(
                select(AppealVersion)
                .where(AppealVersion.appeal_id == appeal_id)
                .order_by(AppealVersion.version)
            )
            return [
                VersionView(
                    r.version,
                    r.kind,
                    r.origin,
                    r.actor,
                    _aware(r.created_at),
                    r.note,
                    Letter.from_json(json.loads(r.letter_json)),
                    json.loads(r.check_json) if r.check_json else None,
                )
                for r in rows
            ]

    def latest(self, appeal_id: str) -> VersionView:
        versions = self.versions(appeal_id)
        if not versions:
            raise UnknownAppeal(f"appeal {appeal_id}: no such appeal")
        return versions[-1]

    def audit(self, appeal_id: str) -> builtins.list[AuditEntry]:
        """Each version: who, when, system/person/llm, which sentences changed, and whose each
        sentence is at that version (what was drafted automatically and what a person wrote)."""
        out: builtins.list[AuditEntry] = []
        before: Letter | None = None
        for v in self.versions(appeal_id):
            out.append(
                AuditEntry(
                    version=v.version,
                    kind=v.kind,
                    origin=v.origin,
                    actor=v.actor,
                    at=v.at,
                    changes=changes_between(before, v.letter) if v.kind != "sign" else Changes(),
                    note=v.note,
                    sentence_origins={s.id: s.origin for s in v.letter.sentences},
                    check_ok=None if v.check is None else bool(v.check.get("ok")),
                )
            )
            before = v.letter
        return out

    def dashboard(self, as_of: date) -> Dashboard:
        """The denial and appeal figures (`integration.denials.dashboard`) as of a day."""
        with self.sessions() as session:
            lines = [
                RemittedLine(r[0], r[1], r[2], r[3])
                for r in session.execute(
                    select(
                        RemittanceLinePosting.id,
                        RemittanceClaimPosting.id,
                        RemittancePayment.payer_id,
                        RemittancePayment.payer_name,
                    )
                    .join(
                        RemittanceClaimPosting,
                        RemittanceClaimPosting.id == RemittanceLinePosting.claim_posting_id,
                    )
                    .join(
                        RemittancePayment,
                        RemittancePayment.id == RemittanceClaimPosting.payment_id,
                    )
                    .where(RemittanceClaimPosting.reverses_id.is_(None))
                )
            ]
            lineless = [
                RemittedLine(None, r[0], r[1], r[2])
                for r in session.execute(
                    select(
                        RemittanceClaimPosting.id,
                        RemittancePayment.payer_id,
                        RemittancePayment.payer_name,
                    )
                    .join(
                        RemittancePayment,
                        RemittancePayment.id == RemittanceClaimPosting.payment_id,
                    )
                    .where(RemittanceClaimPosting.reverses_id.is_(None))
                    .where(
                        ~select(RemittanceLinePosting.id)
                        .where(RemittanceLinePosting.claim_posting_id == RemittanceClaimPosting.id)
                        .exists()
                    )
                )
            ]
            denials = [
                DenialRow(
                    id=d.id,
                    source=d.source,
                    category=d.category,
                    payer_id=d.payer_id,
                    payer_name=d.payer_name,
                    claim_posting_id=d.claim_posting_id,
                    line_posting_id=d.line_posting_id,
                    amount_cents=d.amount_cents,
                    remit_date=date.fromisoformat(d.remit_date) if d.remit_date else None,
                    status=d.status,
                )
                for d in session.scalars(select(DenialItem).order_by(DenialItem.id))
            ]
            appeals = [
                AppealRow(
                    id=a.id,
                    denial_id=a.denial_id,
                    level=a.level,
                    status=a.status,
                    deadline=date.fromisoformat(a.deadline) if a.deadline else None,
                    opened_at=_aware(a.opened_at),
                    signed_at=_aware(a.signed_at) if a.signed_at else None,
                    submitted_at=_aware(a.submitted_at) if a.submitted_at else None,
                    outcome=a.outcome,
                    recovered_cents=a.recovered_cents,
                    decided_on=date.fromisoformat(a.decided_on) if a.decided_on else None,
                )
                for a in session.scalars(select(Appeal).order_by(Appeal.opened_at, Appeal.id))
            ]
        return compute_dashboard([*lines, *lineless], denials, appeals, as_of)

    # -- helpers --

    def _locked(self, session: Session, appeal_id: str) -> Appeal:
        appeal = session.get(Appeal, appeal_id, with_for_update=True)
        if appeal is None:
            raise UnknownAppeal(f"appeal {appeal_id}: no such appeal")
        return appeal

    def _latest(self, session: Session, appeal_id: str) -> AppealVersion:
        row = session.scalars(
            select(AppealVersion)
            .where(AppealVersion.appeal_id == appeal_id)
            .order_by(AppealVersion.version.desc())
            .limit(1)
        ).first()
        if row is None:
            raise UnknownAppeal(f"appeal {appeal_id}: no versions")
        return row

    def _view(self, session: Session, appeal: Appeal) -> AppealView:
        latest = session.scalar(
            select(func.max(AppealVersion.version)).where(AppealVersion.appeal_id == appeal.id)
        )
        denial = session.execute(
            select(DenialItem.patient_ref, DenialItem.remit_date).where(
                DenialItem.id == appeal.denial_id
            )
        ).one()
        return AppealView(
            id=appeal.id,
            denial_id=appeal.denial_id,
            level=appeal.level,
            previous_id=appeal.previous_id,
            template_id=appeal.template_id,
            status=appeal.status,
            deadline=date.fromisoformat(appeal.deadline) if appeal.deadline else None,
            deadline_basis=appeal.deadline_basis,
            opened_at=_aware(appeal.opened_at),
            signed_at=_aware(appeal.signed_at) if appeal.signed_at else None,
            signed_by=appeal.signed_by,
            submitted_at=_aware(appeal.submitted_at) if appeal.submitted_at else None,
            channel=appeal.channel,
            payer_reference=appeal.payer_reference,
            outcome=appeal.outcome,
            recovered=(
                Decimal(appeal.recovered_cents).scaleb(-2)
                if appeal.recovered_cents is not None
                else None
            ),
            decided_on=date.fromisoformat(appeal.decided_on) if appeal.decided_on else None,
            latest_version=int(latest or 0),
            patient_ref=denial[0],
            remit_date=date.fromisoformat(denial[1]) if denial[1] else None,
        )

    def _add_version(
        self,
        session: Session,
        appeal_id: str,
        version: int,
        kind: str,
        actor: str,
        letter: Letter,
        check: dict[str, Any] | None,
        now: datetime,
        found: Changes,
        note: str | None = None,
    ) -> None:
        session.add(
            AppealVersion(
                appeal_id=appeal_id,
                version=version,
                kind=kind,
                origin=ORIGIN_OF_KIND[kind],
                actor=actor[:200],
                letter_json=_dumps(letter.to_json()),
                check_json=_dumps(check) if check is not None else None,
                note=note if note is not None else found.note(),
                created_at=now,
            )
        )

    def _denial_status(
        self,
        session: Session,
        denial: DenialItem,
        status: str,
        actor: str,
        now: datetime,
        why: str,
    ) -> None:
        if denial.status == status:
            return
        session.add(
            DenialEvent(
                denial_id=denial.id,
                at=now,
                actor=actor[:200],
                kind="status",
                detail=f"status {denial.status} -> {status}: {why}",
            )
        )
        denial.status = status
        denial.updated_at = now
