"""The clinician's review of a prior-authorization case: the packet's free text (the medical
necessity statement) and attestation notes, kept as versions that are only ever added, the
attestation of `attestation` criteria (which re-assesses the case), and the signature.

What is signed is fixed by its hash: the SHA-256 of the canonical JSON of the version's
narrative and attestations and the case's checklist (Assessment JSON) at the moment of
signing. A signed version is never changed; editing afterwards adds a new, unsigned version.

The narrative and notes are PHI: nothing here logs them (only case ids, versions, criterion
ids and FHIR references of clinicians)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from integration.domain.evidence import ClinicalEvidence, from_json
from integration.domain.priorauth import Prescriber
from integration.priorauth.assess import assess
from integration.priorauth.cases import CaseState, check_transition
from integration.priorauth.order import order_from_fhir
from integration.priorauth.references import PaReferences
from integration.rules.language import Attestation as AttestationNode
from integration.rules.library import Criterion, PayerRule
from integration.store.models import PaCase, PaCaseEvent, PaPacketVersion, PaTask

log = logging.getLogger(__name__)

#: a FHIR user reference of a practitioner: relative, or absolute on the EHR's FHIR base
PRACTITIONER_REF = re.compile(r"^(?:https?://[^\s?#]+/)?Practitioner/[A-Za-z0-9\-.]{1,64}$")
MAX_NARRATIVE = 20_000
MAX_NOTE = 2_000


class ReviewError(ValueError):
    """A review action the case does not allow, with where and what."""


class UnknownCase(ReviewError):
    """No case with that id."""


@dataclass(frozen=True, slots=True)
class PacketVersion:
    case_id: str
    version: int
    narrative: str
    attestations: Mapping[str, str]
    author: str
    created_at: datetime
    signed_by: str | None
    signed_at: datetime | None
    content_sha256: str | None

    @property
    def is_signed(self) -> bool:
        return self.signed_by is not None


def is_practitioner(reference: str | None) -> bool:
    return bool(reference) and PRACTITIONER_REF.fullmatch(reference or "") is not None


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def content_hash(
    narrative: str, attestations: Mapping[str, str], assessment: Mapping[str, Any]
) -> str:
    """SHA-256 (hex) of what a signature covers: narrative, attestations and the checklist."""
    signed = {
        "narrative": narrative,
        "attestations": dict(attestations),
        "assessment": assessment,
    }
    return hashlib.sha256(canonical_json(signed)).hexdigest()


def _has_attestation(node: Any) -> bool:
    if isinstance(node, AttestationNode):
        return True
    return any(_has_attestation(part) for part in getattr(node, "parts", ()))


def attestation_criteria(rule: PayerRule | None, assessment: Mapping[str, Any]) -> dict[str, str]:
    """{criterion id: text} of the checklist's criteria that a clinician can attest (their rule
    has an `attestation`), in checklist order."""
    if rule is None:
        return {}
    compiled: dict[str, Criterion] = {
        c.id: c for c in (*(rule.criteria or ()), *(rule.reauth_criteria or ()))
    }
    out: dict[str, str] = {}
    for item in assessment.get("criteria") or []:
        criterion = compiled.get(item["id"])
        if criterion is not None and _has_attestation(criterion.node):
            out[item["id"]] = str(item["text"])
    return out


def _aware(value: datetime) -> datetime:
    # SQLite gives back naive datetimes; the store writes UTC
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _row(row: PaPacketVersion) -> PacketVersion:
    return PacketVersion(
        case_id=row.case_id,
        version=row.version,
        narrative=row.narrative,
        attestations=json.loads(row.attestations_json),
        author=row.author,
        created_at=_aware(row.created_at),
        signed_by=row.signed_by,
        signed_at=_aware(row.signed_at) if row.signed_at else None,
        content_sha256=row.content_sha256,
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


class PaReviewStore:
    """`references` gives the rule library the cases were assessed with (called when needed,
    so an app can load it on first use)."""

    def __init__(
        self, sessions: sessionmaker[Session], references: Callable[[], PaReferences]
    ) -> None:
        self._sessions = sessions
        self._references = references

    # -- reading ------------------------------------------------------------------------------

    def versions(self, case_id: str) -> list[PacketVersion]:
        """Every version of the case's packet review, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(PaPacketVersion)
                .where(PaPacketVersion.case_id == case_id)
                .order_by(PaPacketVersion.version)
            )
            return [_row(r) for r in rows]

    def version(self, case_id: str, version: int) -> PacketVersion | None:
        with self._sessions() as session:
            row = session.scalars(
                select(PaPacketVersion)
                .where(PaPacketVersion.case_id == case_id)
                .where(PaPacketVersion.version == version)
            ).first()
            return _row(row) if row else None

    def latest(self, case_id: str) -> PacketVersion | None:
        with self._sessions() as session:
            row = session.scalars(
                select(PaPacketVersion)
                .where(PaPacketVersion.case_id == case_id)
                .order_by(PaPacketVersion.version.desc())
                .limit(1)
            ).first()
            return _row(row) if row else None

    def signed(self, case_id: str) -> PacketVersion | None:
        """The latest signed version, or None."""
        with self._sessions() as session:
            row = session.scalars(
                select(PaPacketVersion)
                .where(PaPacketVersion.case_id == case_id)
                .where(PaPacketVersion.signed_by.is_not(None))
                .order_by(PaPacketVersion.version.desc())
                .limit(1)
            ).first()
            return _row(row) if row else None

    def rule_of(self, case: PaCase) -> PayerRule | None:
        """The rule version the case was assessed with (None when no rule applied)."""
        if case.rule_id is None or case.rule_version is None:
            return None
        for rule in self._references().library.rules.get(case.rule_id, []):
            if rule.version == case.rule_version:
                return rule
        raise ReviewError(
            f"case {case.id}: rule {case.rule_id} v{case.rule_version} is not in the rule library"
        )

    def attestation_criteria(self, case: PaCase) -> dict[str, str]:
        """{criterion id: text} the clinician can attest on this case."""
        return attestation_criteria(self.rule_of(case), json.loads(case.assessment_json))

    def verify(self, case_id: str, version: int) -> bool | None:
        """Whether a signed version's hash still matches its content and the case's current
        checklist (False once the checklist changed after signing); None if not signed."""
        with self._sessions() as session:
            case = session.get(PaCase, case_id)
            row = session.scalars(
                select(PaPacketVersion)
                .where(PaPacketVersion.case_id == case_id)
                .where(PaPacketVersion.version == version)
            ).first()
            if case is None or row is None or row.content_sha256 is None:
                return None
            found = content_hash(
                row.narrative,
                json.loads(row.attestations_json),
                json.loads(case.assessment_json),
            )
            return found == row.content_sha256

    # -- writing ------------------------------------------------------------------------------

    def _locked_case(self, session: Session, case_id: str) -> PaCase:
        case = session.get(PaCase, case_id, with_for_update=True)
        if case is None:
            raise UnknownCase(f"case: no case {case_id!r}")
        return case

    def save_version(
        self,
        case_id: str,
        narrative: str,
        attestations: Mapping[str, str],
        author: str,
        now: datetime,
    ) -> int:
        """Add version n+1 (unsigned) with the narrative and the attestation notes
        ({criterion id: note} for the case's attestation criteria); returns n+1."""
        if len(narrative) > MAX_NARRATIVE:
            raise ReviewError(
                f"narrative: expected at most {MAX_NARRATIVE} characters, got {len(narrative)}"
            )
        if not author:
            raise ReviewError("author: expected who wrote this version, got nothing")
        with self._sessions.begin() as session:
            case = self._locked_case(session, case_id)
            allowed = self.attestation_criteria(case)
            for criterion_id, note in attestations.items():
                if criterion_id not in allowed:
                    raise ReviewError(self._not_attestable(criterion_id, allowed))
                if len(note) > MAX_NOTE:
                    raise ReviewError(
                        f"attestations.{criterion_id}: expected at most {MAX_NOTE} characters, "
                        f"got {len(note)}"
                    )
            current = session.scalars(
                select(PaPacketVersion.version)
                .where(PaPacketVersion.case_id == case_id)
                .order_by(PaPacketVersion.version.desc())
                .limit(1)
            ).first()
            version = (current or 0) + 1
            session.add(
                PaPacketVersion(
                    case_id=case_id,
                    version=version,
                    narrative=narrative,
                    attestations_json=_dumps({k: attestations[k] for k in sorted(attestations)}),
                    author=author,
                    created_at=now,
                    signed_by=None,
                    signed_at=None,
                    content_sha256=None,
                )
            )
            session.add(
                PaCaseEvent(
                    case_id=case_id,
                    at=now,
                    actor=author,
                    kind="packet-saved",
                    from_state=case.state,
                    to_state=case.state,
                    reason=f"packet review version {version} saved",
                    detail_json=_dumps({"version": version, "attested": sorted(attestations)}),
                )
            )
            case.updated_at = now
        log.info("pa case %s: packet review version %d saved", case_id, version)
        return version

    @staticmethod
    def _not_attestable(criterion_id: str, allowed: Mapping[str, str]) -> str:
        known = ", ".join(allowed) or "none: this case's checklist has no attestation criterion"
        return (
            f"criterion: expected one of the case's attestation criteria ({known}), "
            f"got {criterion_id!r}"
        )

    def attest(
        self, case_id: str, criterion_id: str, clinician_ref: str, actor: str, now: datetime
    ) -> bool:
        """Record that `clinician_ref` (a Practitioner) attests the criterion, re-assess the
        case with the rule version it was opened with, and close the criterion's open task.
        Returns False when the criterion was already attested (nothing changes)."""
        if not is_practitioner(clinician_ref):
            raise ReviewError(
                f"clinician: expected a FHIR Practitioner reference, got {clinician_ref!r}"
            )
        refs = self._references()
        with self._sessions.begin() as session:
            case = self._locked_case(session, case_id)
            rule = self.rule_of(case)
            allowed = attestation_criteria(rule, json.loads(case.assessment_json))
            if criterion_id not in allowed or rule is None:
                raise ReviewError(self._not_attestable(criterion_id, allowed))
            context = json.loads(case.context_json)
            attested: dict[str, str] = dict(context.get("attested") or {})
            if attested.get(criterion_id):
                return False
            attested[criterion_id] = clinician_ref
            prescriber = context.get("prescriber")
            after = assess(
                from_json(ClinicalEvidence, json.loads(case.evidence_json)),
                order_from_fhir(json.loads(case.order_json)),
                refs.library,
                refs.lookups,
                date.fromisoformat(case.service_date),
                prescriber=from_json(Prescriber, prescriber) if prescriber else None,
                attested=attested,
                payer_id=case.payer_id or rule.payer,
                rule=rule,
            ).to_json()
            before = json.loads(case.assessment_json)
            status_before = _status(before, criterion_id)
            status_after = _status(after, criterion_id)
            context["attested"] = attested
            case.context_json = _dumps(context)
            case.assessment_json = _dumps(after)
            case.updated_at = now
            closed = 0
            if status_after != "missing":
                tasks = session.scalars(
                    select(PaTask)
                    .where(PaTask.case_id == case_id)
                    .where(PaTask.criterion_id == criterion_id)
                    .where(PaTask.status == "open")
                )
                for task in tasks:
                    task.status = "done"
                    closed += 1
            session.add(
                PaCaseEvent(
                    case_id=case_id,
                    at=now,
                    actor=actor,
                    kind="attested",
                    from_state=case.state,
                    to_state=case.state,
                    reason=(
                        f"criterion {criterion_id} attested by {clinician_ref}: "
                        f"{status_before} -> {status_after}"
                    ),
                    detail_json=_dumps(
                        {
                            "criterion": criterion_id,
                            "clinician": clinician_ref,
                            "before": status_before,
                            "after": status_after,
                            "tasks_closed": closed,
                        }
                    ),
                )
            )
        log.info(
            "pa case %s: criterion %s attested (%s -> %s), %d task(s) closed",
            case_id,
            criterion_id,
            status_before,
            status_after,
            closed,
        )
        return True

    def sign(self, case_id: str, version: int, signer: str, now: datetime) -> PacketVersion:
        """Sign the latest version (once, by a Practitioner): store who, when, and the hash of
        what was signed; a case in draft moves to ready-for-review."""
        if not is_practitioner(signer):
            raise ReviewError(
                f"signer: expected the signed-in clinician's FHIR Practitioner reference, "
                f"got {signer!r}"
            )
        with self._sessions.begin() as session:
            case = self._locked_case(session, case_id)
            row = session.scalars(
                select(PaPacketVersion)
                .where(PaPacketVersion.case_id == case_id)
                .order_by(PaPacketVersion.version.desc())
                .limit(1)
                .with_for_update()
            ).first()
            if row is None:
                raise ReviewError(f"case {case_id}: there is no packet review version to sign")
            if version != row.version:
                raise ReviewError(
                    f"version: only the latest version ({row.version}) can be signed, got {version}"
                )
            if row.signed_by is not None:
                when = _aware(row.signed_at).isoformat() if row.signed_at else "?"
                raise ReviewError(
                    f"version {row.version}: already signed by {row.signed_by} at {when}; "
                    "save a new version to change it"
                )
            if not row.narrative.strip():
                raise ReviewError(
                    f"version {row.version}: narrative: expected the medical necessity "
                    "statement, got nothing"
                )
            row.signed_by = signer
            row.signed_at = now
            row.content_sha256 = content_hash(
                row.narrative, json.loads(row.attestations_json), json.loads(case.assessment_json)
            )
            session.add(
                PaCaseEvent(
                    case_id=case_id,
                    at=now,
                    actor=signer,
                    kind="signed",
                    from_state=case.state,
                    to_state=case.state,
                    reason=f"packet review version {row.version} signed",
                    detail_json=_dumps(
                        {"version": row.version, "content_sha256": row.content_sha256}
                    ),
                )
            )
            if case.state == CaseState.DRAFT.value:
                check_transition(CaseState.DRAFT, CaseState.READY_FOR_REVIEW)
                session.add(
                    PaCaseEvent(
                        case_id=case_id,
                        at=now,
                        actor=signer,
                        kind="transition",
                        from_state=case.state,
                        to_state=CaseState.READY_FOR_REVIEW.value,
                        reason=f"packet review version {row.version} signed by {signer}",
                        detail_json=None,
                    )
                )
                case.state = CaseState.READY_FOR_REVIEW.value
            case.updated_at = now
            signed = _row(row)
        log.info("pa case %s: packet review version %d signed", case_id, signed.version)
        return signed


def _status(assessment: Mapping[str, Any], criterion_id: str) -> str | None:
    for item in assessment.get("criteria") or []:
        if item["id"] == criterion_id:
            return str(item["status"])
    return None
