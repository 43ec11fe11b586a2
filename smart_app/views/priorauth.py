"""Prior-authorization screens for the launched patient: the PA checklist of each order (and its
JSON, the same as `dermrcm pa check`), a work queue per role, and a case with its checklist,
audit trail, tasks and the clinician's review (narrative, attestations, signature, versions,
the packet PDF of each version).

Every fact is shown with the FHIR reference it came from, linked to /source. Form posts are
checked to come from our own pages (Sec-Fetch-Site, else Origin). Attesting and signing need
the signed-in user's verified fhirUser to be a Practitioner. Logs carry case ids, versions,
criterion ids and routes, never names, birth dates, member ids or the narrative."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, date, datetime
from typing import Any, NoReturn

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request
from flask import url_for as flask_url_for
from werkzeug.wrappers import Response as Redirect

from integration.domain.evidence import ClinicalEvidence, Owner, from_json
from integration.domain.priorauth import Assessment, Channel
from integration.priorauth.cases import CaseState, TransitionError
from integration.priorauth.channels.transport import ChannelError, PayerTransport
from integration.priorauth.packet import Attestation, ClinicianReview, render_packet_pdf
from integration.priorauth.submit import Attachment, Practice, Submitter, UnansweredError
from integration.store.models import PaCase
from integration.store.pa_cases import PaCaseStore
from integration.store.pa_reviews import PacketVersion, PaReviewStore, ReviewError, UnknownCase
from integration.store.pa_submissions import SUBMITTABLE, PaSubmissionStore, SubmissionError
from integration.store.smart_sessions import LaunchedSession
from smart_app.access import clinician_ref, posted_from_another_site
from smart_app.oauth import LaunchError
from smart_app.views.context import launched, services

log = logging.getLogger(__name__)

bp = Blueprint("priorauth", __name__)

#: the roles a work queue is shown for: query value -> owner role stored on tasks
ROLES: dict[str, str] = {
    "clinician": Owner.CLINICIAN.value,
    "coordinator": Owner.COORDINATOR.value,
    "front-desk": Owner.FRONT_DESK.value,
}
_ORDER_REF = re.compile(r"^(MedicationRequest|ServiceRequest)/([A-Za-z0-9\-.]{1,64})$")
_CASE_ID = re.compile(r"^[0-9a-f\-]{36}$")
_CLOSED = frozenset({CaseState.CLOSED.value})
#: channels derm-rcm sends itself; the others (portal, fax) are sent by a person
_SENT_HERE = frozenset({Channel.NCPDP_EPA.value, Channel.X12_278.value, Channel.PAS.value})
#: an attachment added on the case screen (what the payer asked for)
_MAX_ATTACHMENT = 10 * 1024 * 1024


# ---------------------------------------------------------------- plumbing


def case_store() -> PaCaseStore:
    found = current_app.extensions["dermrcm.pa_cases"]
    assert isinstance(found, PaCaseStore)
    return found


def review_store() -> PaReviewStore:
    found = current_app.extensions["dermrcm.pa_reviews"]
    assert isinstance(found, PaReviewStore)
    return found


def submission_store() -> PaSubmissionStore:
    found = current_app.extensions["dermrcm.pa_submissions"]
    assert isinstance(found, PaSubmissionStore)
    return found


def _fail(detail: str, status: int = 400, kind: str = "http-error") -> NoReturn:
    raise LaunchError(kind, detail, status)


def _same_origin_post() -> None:
    """CSRF: a form post must come from one of our own pages."""
    if posted_from_another_site():
        _fail("That form was posted from another site; it was ignored.", 403, "cross-site")


def _actor(session: LaunchedSession) -> str:
    return clinician_ref(session) or session.fhir_user or f"smart-launch:{session.launch_kind}"


def _order_ref(value: str | None) -> tuple[str, str]:
    match = _ORDER_REF.match(value or "")
    if not match:
        _fail(
            "order: expected MedicationRequest/<id> or ServiceRequest/<id>, "
            f"got {(value or '')[:80]!r}"
        )
    return match.group(1), match.group(2)


def _patient_case(session: LaunchedSession, case_id: str) -> PaCase:
    """The case, if it is the launched patient's (other patients' cases open from their chart)."""
    case = case_store().case(case_id) if _CASE_ID.match(case_id) else None
    if case is None:
        _fail(f"case: there is no prior-authorization case {case_id[:40]!r}", 404, "not-found")
    if case.patient_id != session.patient_id:
        _fail(
            f"case {case_id}: is not a case of the patient launched here; "
            "launch derm-rcm from that patient's chart to open it",
            404,
            "not-found",
        )
    return case


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def when(value: datetime | None) -> str:
    return _utc(value).strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _open_cases_by_order(patient_id: str | None) -> dict[str, PaCase]:
    out: dict[str, PaCase] = {}
    for case in case_store().cases():
        if case.patient_id == patient_id and case.state not in _CLOSED:
            out[case.order_ref] = case  # the newest wins (cases are oldest first)
    return out


def _common(key: str, session: LaunchedSession) -> dict[str, Any]:
    return {
        "key": key,
        "session": session,
        "source_base": f"{request.script_root}/source/{key}",
        "when": when,
        "roles": ROLES,
        "is_clinician": clinician_ref(session) is not None,
    }


# ---------------------------------------------------------------- checklist and its JSON


@bp.get("/pa/<key>")
def checklist(key: str) -> str:
    key, session = launched(key)
    day = date.today()
    found = services().pa_checklist(session, day)
    orders = []
    for item in found.orders:
        orders.append(
            {
                "reference": item.reference,
                "resource": item.resource,
                "assessment": item.check.assessment.to_json() if item.check else None,
                "error": item.error,
            }
        )
    return render_template(
        "pa_checklist.html",
        day=day.isoformat(),
        orders=orders,
        not_read=found.not_read,
        cases=_open_cases_by_order(session.patient_id),
        **_common(key, session),
    )


@bp.get("/api/pa/check")
def api_check() -> Response:
    """`dermrcm pa check` JSON for one order of the launched patient (?order=Type/id)."""
    _key, session = launched(request.args.get("key"))
    type_name, resource_id = _order_ref(request.args.get("order"))
    order = services().pa_order(session, type_name, resource_id)
    result = services().pa_check(session, order, date.today())
    return jsonify(result.assessment.to_json())


@bp.post("/pa/<key>/open")
def open_case(key: str) -> Redirect:
    """Check the order now and open a draft case for it (or go to its open case)."""
    _same_origin_post()
    key, session = launched(key)
    type_name, resource_id = _order_ref(request.form.get("order"))
    existing = _open_cases_by_order(session.patient_id).get(f"{type_name}/{resource_id}")
    if existing is not None:
        return redirect(flask_url_for("priorauth.case", key=key, case_id=existing.id), code=303)
    order = services().pa_order(session, type_name, resource_id)
    result = services().pa_check(session, order, date.today())
    assert session.patient_id is not None  # pa_order checked it
    case_id = case_store().open_case(
        patient_id=session.patient_id,
        order=order,
        assessment=result.assessment,
        evidence=result.evidence,
        prescriber=result.prescriber,
        actor=_actor(session),
        now=datetime.now(UTC),
    )
    log.info("pa case opened from the app case_id=%s order_type=%s", case_id, type_name)
    return redirect(flask_url_for("priorauth.case", key=key, case_id=case_id), code=303)


# ---------------------------------------------------------------- work queue


@bp.get("/pa/queue/<key>")
def queue(key: str) -> str:
    key, session = launched(key)
    role = request.args.get("role") or "clinician"
    if role not in ROLES:
        _fail(f"role: expected one of {', '.join(ROLES)}, got {role[:30]!r}")
    store = case_store()
    cases = store.cases()
    by_id = {c.id: c for c in cases}
    tasks = store.tasks(owner_role=ROLES[role])
    return render_template(
        "pa_queue.html",
        role=role,
        tasks=[(t, by_id.get(t.case_id)) for t in tasks],
        cases=sorted(cases, key=lambda c: (c.flag is None, c.state in _CLOSED, c.created_at)),
        **_common(key, session),
    )


# ---------------------------------------------------------------- one case


@bp.get("/pa/case/<key>/<case_id>")
def case(key: str, case_id: str) -> str:
    key, session = launched(key)
    found = _patient_case(session, case_id)
    reviews = review_store()
    versions = reviews.versions(case_id)
    signed = next((v for v in reversed(versions) if v.is_signed), None)
    latest = versions[-1] if versions else None
    context = json.loads(found.context_json)
    return render_template(
        "pa_case.html",
        case=found,
        assessment=json.loads(found.assessment_json),
        events=case_store().events(case_id),
        tasks=case_store().tasks(case_id=case_id),
        versions=list(reversed(versions)),
        latest=latest,
        signed=signed,
        signed_intact=reviews.verify(case_id, signed.version) if signed else None,
        attestable=reviews.attestation_criteria(found),
        attested=context.get("attested") or {},
        clinician=clinician_ref(session),
        messages=submission_store().messages(case_id),
        channel=found.channel or assessment_channel(found),
        can_send=_sendable(found, signed is not None),
        payer_configured=bool(services().settings.payer_url),
        **_common(key, session),
    )


def assessment_channel(found: PaCase) -> str | None:
    channel = json.loads(found.assessment_json).get("channel")
    return str(channel) if channel else None


def _sendable(found: PaCase, signed: bool) -> bool:
    """The case can go to the payer from this screen: signed, in a sendable state, by a
    channel derm-rcm sends itself."""
    channel = found.channel or assessment_channel(found)
    return signed and found.state in {s.value for s in SUBMITTABLE} and channel in _SENT_HERE


def _form_attestations(attestable: dict[str, str]) -> dict[str, str]:
    chosen = request.form.getlist("attest")
    unknown = [c for c in chosen if c not in attestable]
    if unknown:
        _fail(
            f"attest: expected criteria of this case's checklist ({', '.join(attestable)}), "
            f"got {', '.join(repr(u[:40]) for u in unknown)}"
        )
    return {c: request.form.get(f"note-{c}", "").strip() for c in attestable if c in chosen}


@bp.post("/pa/case/<key>/<case_id>/review")
def save_review(key: str, case_id: str) -> Redirect:
    """Save the narrative and attestation notes as a new version; attest what was ticked."""
    _same_origin_post()
    key, session = launched(key)
    found = _patient_case(session, case_id)
    reviews = review_store()
    attestable = reviews.attestation_criteria(found)
    attestations = _form_attestations(attestable)
    clinician = clinician_ref(session)
    already = json.loads(found.context_json).get("attested") or {}
    new = [c for c in attestations if not already.get(c)]
    if new and clinician is None:
        _fail(
            "Only a clinician can attest criteria: the signed-in user's fhirUser "
            f"is {session.fhir_user or 'not given'}, not a Practitioner.",
            403,
            "clinician-only",
        )
    narrative = request.form.get("narrative", "").replace("\r\n", "\n")
    now = datetime.now(UTC)
    try:
        version = reviews.save_version(case_id, narrative, attestations, _actor(session), now)
        for criterion_id in new:
            assert clinician is not None
            reviews.attest(case_id, criterion_id, clinician, clinician, now)
    except UnknownCase as exc:
        _fail(str(exc), 404, "not-found")
    except ReviewError as exc:
        _fail(str(exc), 422)
    log.info("pa review saved case_id=%s version=%d attested=%d", case_id, version, len(new))
    target = flask_url_for("priorauth.case", key=key, case_id=case_id)
    return redirect(f"{target}#review", code=303)


@bp.post("/pa/case/<key>/<case_id>/sign")
def sign(key: str, case_id: str) -> Redirect:
    _same_origin_post()
    key, session = launched(key)
    _patient_case(session, case_id)
    clinician = clinician_ref(session)
    if clinician is None:
        _fail(
            "Only a clinician can sign: the signed-in user's fhirUser is "
            f"{session.fhir_user or 'not given'}, not a Practitioner.",
            403,
            "clinician-only",
        )
    raw = request.form.get("version", "")
    if not (raw.isascii() and raw.isdigit()):
        _fail(f"version: expected a version number, got {raw[:20]!r}")
    try:
        review_store().sign(case_id, int(raw), clinician, datetime.now(UTC))
    except UnknownCase as exc:
        _fail(str(exc), 404, "not-found")
    except (ReviewError, TransitionError) as exc:
        _fail(str(exc), 409, "not-now")
    target = flask_url_for("priorauth.case", key=key, case_id=case_id)
    return redirect(f"{target}#review", code=303)


@bp.get("/pa/case/<key>/<case_id>/packet/<int:version>.pdf")
def packet(key: str, case_id: str, version: int) -> Response:
    """The packet PDF with this version's narrative and attestation notes, signed or not."""
    key, session = launched(key)
    found = _patient_case(session, case_id)
    chosen: PacketVersion | None = review_store().version(case_id, version)
    if chosen is None:
        _fail(f"case {case_id}: there is no review version {version}", 404, "not-found")
    assessment: Assessment = from_json(Assessment, json.loads(found.assessment_json))
    evidence: ClinicalEvidence = from_json(ClinicalEvidence, json.loads(found.evidence_json))
    on_checklist = {c.id for c in assessment.criteria}
    review = ClinicianReview(
        narrative=chosen.narrative,
        attestations={k: v for k, v in chosen.attestations.items() if k in on_checklist},
        version=chosen.version,
    )
    attestation = None
    if chosen.signed_by and chosen.signed_at:
        attestation = Attestation(
            clinician=chosen.signed_by,
            signed=_utc(chosen.signed_at).date(),
            practitioner_ref=chosen.signed_by,
        )
    created = _utc(chosen.signed_at) if chosen.signed_at else datetime.now(UTC)
    pdf = render_packet_pdf(
        assessment,
        evidence,
        attestation=attestation,
        created=created,
        packet_id=f"{case_id[:8]}-v{chosen.version}",
        review=review,
    )
    log.info("pa packet rendered case_id=%s version=%d", case_id, chosen.version)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="pa-packet-{case_id[:8]}-v{chosen.version}.pdf"'
    )
    return response


def _uploaded() -> list[Attachment]:
    documents: list[Attachment] = []
    for upload in request.files.getlist("attach"):
        if not upload.filename:
            continue
        data = upload.read(_MAX_ATTACHMENT + 1)
        if len(data) > _MAX_ATTACHMENT:
            _fail(
                f"attach: {upload.filename[:80]!r} is larger than "
                f"{_MAX_ATTACHMENT // (1024 * 1024)} MB; send it by portal or fax",
                413,
            )
        if not data:
            _fail(f"attach: {upload.filename[:80]!r} is empty")
        kind = upload.mimetype or "application/octet-stream"
        documents.append(Attachment(upload.filename[:200], kind, data))
    return documents


@bp.post("/pa/case/<key>/<case_id>/submit")
def submit(key: str, case_id: str) -> Redirect:
    """Send the signed case to the payer by its channel and apply the answer, as
    `dermrcm pa submit` does; the outcome shows on the case (state, decision, messages)."""
    _same_origin_post()
    key, session = launched(key)
    _patient_case(session, case_id)
    settings = services().settings
    if not settings.payer_url:
        _fail(
            "No payer endpoint is configured (setting DERMRCM_PAYER_URL): send the signed "
            "packet by portal or fax and record the payer's answer with `dermrcm pa decide`.",
            409,
            "no-payer-endpoint",
        )
    submitter = Submitter(
        submission_store(),
        PayerTransport(settings.payer_timeout),
        settings.payer_url,
        Practice(settings.practice_name, settings.practice_npi),
        ncpdp_xsd=settings.ncpdp_xsd,
    )
    try:
        done = submitter.submit(
            case_id,
            actor=_actor(session),
            now=datetime.now(UTC),
            attachments=_uploaded(),
            allow_unanswered=request.form.get("allow_unanswered") == "yes",
        )
    except UnansweredError as exc:
        _fail(str(exc), 409, "unanswered-questions")
    except SubmissionError as exc:
        _fail(str(exc), 409, "not-now")
    except ChannelError as exc:
        _fail(f"{exc}. The failure is recorded on the case; send again.", 502, "payer-unreachable")
    log.info("pa case submitted case_id=%s channel=%s state=%s", case_id, done.channel, done.state)
    target = flask_url_for("priorauth.case", key=key, case_id=case_id)
    return redirect(f"{target}#payer", code=303)
