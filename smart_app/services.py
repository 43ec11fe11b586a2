"""What the views call: start and complete a launch, keep tokens fresh, read evidence."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from integration.domain.evidence import ClinicalEvidence
from integration.fhir.chart_evidence import chart_evidence
from integration.fhir.chart_reader import CHART_SEARCHES, ChartFetch
from integration.fhir.client import ClientOptions, FhirClient
from integration.fhir.errors import FhirForbidden, FhirHttpError
from integration.fhir.pa_check import PaCheck, pa_check, read_prescriber
from integration.fhir.scopes import missing as missing_scopes
from integration.mapping.evidence_maps import EvidenceMaps
from integration.priorauth.assess import assess
from integration.priorauth.order import OrderError, order_from_fhir
from integration.priorauth.references import PaReferences, load_pa_references
from integration.settings import Settings
from integration.store.feed_chart import FeedCharts, add_feed_resources
from integration.store.smart_sessions import LaunchedSession, PendingLaunch, SmartSessionStore
from smart_app import oauth
from smart_app.oauth import Discovery, LaunchError

log = logging.getLogger(__name__)

#: without these the evidence screen has nothing to stand on
ESSENTIAL_TYPES = ("Patient", "Condition", "Observation")


@dataclass(frozen=True, slots=True)
class EvidenceResult:
    evidence: ClinicalEvidence
    fetch: ChartFetch


#: the orders a PA screen lists, and the statuses that still need a decision
PA_ORDER_TYPES = ("MedicationRequest", "ServiceRequest")
PA_ORDER_STATUSES = frozenset({"active", "draft", "on-hold"})


@dataclass(frozen=True, slots=True)
class OrderCheck:
    """One order of the chart and its PA check, or why it could not be checked."""

    reference: str
    resource: dict[str, Any]
    check: PaCheck | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PaChecklist:
    orders: list[OrderCheck]
    not_read: list[str]  # why an order type was not read (no scope, server refused)


class AppServices:
    def __init__(
        self,
        settings: Settings,
        store: SmartSessionStore,
        maps: EvidenceMaps,
        feed: FeedCharts | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.maps = maps
        self.feed = feed
        self.discovery = Discovery(timeout=settings.fhir_timeout)

    @property
    def redirect_uri(self) -> str:
        return f"{self.settings.app_url}/callback"

    def issuers(self) -> dict[str, str]:
        return self.settings.issuer_clients()

    def frame_ancestors(self) -> list[str]:
        origins = {f"{urlsplit(iss).scheme}://{urlsplit(iss).netloc}" for iss in self.issuers()}
        return sorted(origins)

    # -- launch -------------------------------------------------------------------------------

    def start_launch(self, iss: str | None, launch: str | None) -> str:
        """The EHR's authorize URL to redirect to (EHR launch with `launch`, else standalone)."""
        if not iss:
            raise LaunchError(
                "missing-iss", "iss: expected the FHIR server's URL, got nothing", 400
            )
        iss = iss.rstrip("/")
        client_id = self.issuers().get(iss)
        if client_id is None:
            raise LaunchError(
                "unknown-iss",
                f"iss: expected one of the EHRs this app is registered with, got {iss!r}",
                400,
            )
        config = self.discovery.get(iss)
        kind = "ehr" if launch else "standalone"
        scopes = self.settings.scope.split()
        if kind == "standalone":
            scopes = ["launch/patient" if s == "launch" else s for s in scopes]
        pending = PendingLaunch(
            state=oauth.new_state(),
            iss=iss,
            client_id=client_id,
            token_endpoint=config.token_endpoint,
            code_verifier=oauth.new_code_verifier(),
            redirect_uri=self.redirect_uri,
            scope=" ".join(scopes),
            launch_kind=kind,
        )
        self.store.save_launch(pending)
        log.info("launch started kind=%s iss_host=%s", kind, urlsplit(iss).netloc)
        return oauth.authorize_url(
            config,
            client_id=client_id,
            redirect_uri=pending.redirect_uri,
            scope=pending.scope,
            state=pending.state,
            code_verifier=pending.code_verifier,
            launch=launch,
        )

    def complete_launch(self, args: dict[str, str]) -> LaunchedSession:
        """Check state, exchange the code (PKCE), check scopes, store the session server-side."""
        if args.get("error"):
            error, description = args["error"], args.get("error_description", "")
            if error == "access_denied":
                raise LaunchError(
                    "denied", description or "The user declined to authorize the app.", 403
                )
            raise LaunchError("authorization-error", f"{error}: {description}".strip(": "), 400)
        state, code = args.get("state"), args.get("code")
        if not state:
            raise LaunchError(
                "bad-callback", "state: expected the value sent to the EHR, got nothing", 400
            )
        pending = self.store.take_launch(state)
        if pending is None:
            raise LaunchError(
                "expired-session",
                "state: this launch is unknown, already used or more than 10 minutes old",
                400,
            )
        if not code:
            raise LaunchError(
                "bad-callback", "code: expected an authorization code, got nothing", 400
            )
        token = oauth.exchange_code(
            pending.token_endpoint,
            client_id=pending.client_id,
            redirect_uri=pending.redirect_uri,
            code=code,
            code_verifier=pending.code_verifier,
            timeout=self.settings.fhir_timeout,
        )
        if not token.patient:
            raise LaunchError(
                "no-patient", "token response: expected a patient in context, got none", 400
            )
        granted = token.scope.split()
        lacking = missing_scopes(granted, ESSENTIAL_TYPES)
        if lacking:
            raise LaunchError(
                "insufficient-scope",
                "The EHR did not grant read access to: "
                + ", ".join(lacking)
                + f" (granted: {token.scope or 'nothing'})",
                403,
            )
        fhir_user = None
        if token.id_token:
            config = self.discovery.get(pending.iss)
            fhir_user = oauth.fhir_user_from_id_token(
                token.id_token,
                keys=lambda refresh: self.discovery.keys(config.jwks_uri, refresh),
                issuer=pending.iss,
                client_id=pending.client_id,
            )
        now = datetime.now(UTC)
        session = LaunchedSession(
            id=secrets.token_urlsafe(32),
            iss=pending.iss,
            client_id=pending.client_id,
            token_endpoint=pending.token_endpoint,
            access_token=token.access_token,
            refresh_token=token.refresh_token,
            expires_at=datetime.fromtimestamp(token.expires_at, UTC),
            scope=token.scope,
            patient_id=token.patient,
            encounter_id=token.encounter,
            need_patient_banner=token.need_patient_banner,
            fhir_user=fhir_user,
            launch_kind=pending.launch_kind,
            refresh_count=0,
            ends_at=now + timedelta(hours=self.settings.session_hours),
        )
        self.store.create(session)
        log.info(
            "launch completed kind=%s refresh_token=%s",
            session.launch_kind,
            bool(session.refresh_token),
        )
        return session

    # -- tokens -------------------------------------------------------------------------------

    def session(self, session_id: str | None) -> LaunchedSession:
        session = self.store.get(session_id) if session_id else None
        if session is None:
            raise LaunchError(
                "expired-session", "This session has ended or was never started here.", 401
            )
        return session

    def refresh(self, session: LaunchedSession) -> LaunchedSession | None:
        if not session.refresh_token:
            return None
        token = oauth.refresh(
            session.token_endpoint,
            client_id=session.client_id,
            refresh_token=session.refresh_token,
            scope=session.scope,
            timeout=self.settings.fhir_timeout,
        )
        if token is None:
            return None
        expires = datetime.fromtimestamp(token.expires_at, UTC)
        self.store.update_tokens(session.id, token.access_token, token.refresh_token, expires)
        return self.store.get(session.id)

    def fresh(self, session: LaunchedSession) -> LaunchedSession:
        """The session with an access token valid for at least refresh_margin seconds."""
        margin = timedelta(seconds=self.settings.refresh_margin)
        if session.expires_at - margin > datetime.now(UTC):
            return session
        renewed = self.refresh(session)
        if renewed is None:
            if session.expires_at > datetime.now(UTC):
                return session
            raise LaunchError(
                "expired-session", "The EHR session has expired and could not be renewed.", 401
            )
        return renewed

    def client(self, session: LaunchedSession) -> FhirClient:
        """A FHIR client for this launch that refreshes its token once on a 401."""
        current = {"session": self.fresh(session)}

        def token() -> str:
            return current["session"].access_token

        def refresh() -> bool:
            renewed = self.refresh(current["session"])
            if renewed is None:
                return False
            current["session"] = renewed
            return True

        options = ClientOptions(
            timeout=self.settings.fhir_timeout,
            retries=self.settings.fhir_retries,
            concurrency=self.settings.fhir_concurrency,
            page_size=self.settings.fhir_page_size,
        )
        return FhirClient(session.iss, token=token, refresh=refresh, options=options)

    # -- evidence -----------------------------------------------------------------------------

    def evidence(self, session: LaunchedSession, as_of: date | None = None) -> EvidenceResult:
        if not session.patient_id:
            raise LaunchError("no-patient", "This session has no patient in context.", 400)
        skip = missing_scopes(session.scopes, CHART_SEARCHES)
        client = self.client(session)
        try:
            feed = self.feed
            evidence, fetch = chart_evidence(
                client,
                session.patient_id,
                self.maps,
                as_of or date.today(),
                skip,
                join=(lambda chart: add_feed_resources(chart, feed)) if feed else None,
            )
        finally:
            client.close()
        log.info(
            "evidence read round_trips=%d resources=%d ms=%.0f",
            fetch.round_trips,
            len(fetch.chart.resources),
            fetch.seconds * 1000,
        )
        return EvidenceResult(evidence=evidence, fetch=fetch)

    def read_resource(
        self, session: LaunchedSession, type_name: str, resource_id: str, version: str | None = None
    ) -> dict[str, Any]:
        """The resource as the EHR returns it; the given version where the server has vread."""
        client = self.client(session)
        try:
            if version:
                try:
                    return client.get_json(
                        client.url(f"{type_name}/{resource_id}/_history/{version}")
                    )
                except FhirHttpError:  # a server without vread: the current version
                    pass
            try:
                return client.read(type_name, resource_id)
            except FhirHttpError as exc:
                found = self._feed_resource(client, session, type_name, resource_id, exc)
                if found is None:
                    raise
                return found
        finally:
            client.close()

    def _feed_resource(
        self,
        client: FhirClient,
        session: LaunchedSession,
        type_name: str,
        resource_id: str,
        exc: FhirHttpError,
    ) -> dict[str, Any] | None:
        """A resource the EHR doesn't have but an HL7 feed wrote for this session's patient."""
        if self.feed is None or exc.status not in (404, 410) or not session.patient_id:
            return None
        patient = client.read("Patient", session.patient_id)
        identifiers = [
            (i.get("system"), str(i.get("value")))
            for i in patient.get("identifier") or []
            if i.get("value")
        ]
        return self.feed.resource(identifiers, type_name, resource_id)

    # -- prior authorization ------------------------------------------------------------------

    @cached_property
    def pa_references(self) -> PaReferences:
        """The payer-rule library and its vocabularies, loaded on first use."""
        return load_pa_references()

    def _patient(self, session: LaunchedSession) -> str:
        if not session.patient_id:
            raise LaunchError("no-patient", "This session has no patient in context.", 400)
        return session.patient_id

    def pa_order(
        self, session: LaunchedSession, type_name: str, resource_id: str
    ) -> dict[str, Any]:
        """The order `type_name/resource_id` as the EHR returns it, if it is the launched
        patient's; a not-found LaunchError otherwise."""
        patient_id = self._patient(session)
        if type_name not in PA_ORDER_TYPES:
            raise LaunchError(
                "not-found",
                f"order: expected a MedicationRequest or ServiceRequest, got {type_name!r}",
                404,
            )
        gone = LaunchError(
            "not-found",
            f"{type_name}/{resource_id}: not in this patient's chart (or not readable with "
            "this launch's access)",
            404,
        )
        try:
            resource = self.read_resource(session, type_name, resource_id)
        except FhirForbidden:
            raise gone from None
        except FhirHttpError as exc:
            if exc.status in (404, 410):
                raise gone from None
            raise
        subject = str((resource.get("subject") or {}).get("reference") or "")
        if subject.split("/_history/")[0].split("/")[-2:] != ["Patient", patient_id]:
            raise LaunchError(
                "not-found", f"{type_name}/{resource_id}: not an order of this patient", 404
            )
        return resource

    def pa_check(self, session: LaunchedSession, order: dict[str, Any], day: date) -> PaCheck:
        """What `dermrcm pa check` decides for the order (the chart's payer, `day`); LaunchError
        for an order that can't be assessed."""
        patient_id = self._patient(session)
        client = self.client(session)
        try:
            return pa_check(client, patient_id, order, day, self.pa_references, self.maps)
        except OrderError as exc:
            raise LaunchError("order-unassessable", str(exc), 422) from None
        finally:
            client.close()

    def pa_checklist(self, session: LaunchedSession, day: date) -> PaChecklist:
        """Every order of the chart still to be decided (active, draft, on hold), each checked
        as `pa_check` does, reading the chart once."""
        patient_id = self._patient(session)
        refs = self.pa_references
        not_read: list[str] = []
        client = self.client(session)
        try:
            resources: list[dict[str, Any]] = []
            for type_name in PA_ORDER_TYPES:
                if missing_scopes(session.scopes, [type_name]):
                    not_read.append(f"{type_name}: the launch was not granted a scope to read it")
                    continue
                try:
                    found = client.search(type_name, {"patient": patient_id})
                except FhirForbidden:
                    not_read.append(f"{type_name}: the EHR refused the search (403)")
                    continue
                except FhirHttpError as exc:
                    if exc.status not in (400, 403, 404, 405, 501):
                        raise
                    not_read.append(f"{type_name}: the EHR refused the search ({exc.status})")
                    continue
                resources.extend(r for r in found.matches if r.get("status") in PA_ORDER_STATUSES)
            if not resources:
                return PaChecklist([], not_read)
            evidence, _fetch = chart_evidence(client, patient_id, self.maps, day)
            out = []
            for resource in resources:
                reference = f"{resource.get('resourceType')}/{resource.get('id')}"
                try:
                    order = order_from_fhir(resource, where=reference)
                except OrderError as exc:
                    out.append(OrderCheck(reference, resource, None, str(exc)))
                    continue
                prescriber = read_prescriber(client, order, refs)
                assessment = assess(
                    evidence, order, refs.library, refs.lookups, day, prescriber=prescriber
                )
                out.append(
                    OrderCheck(
                        reference, resource, PaCheck(assessment, evidence, order, prescriber)
                    )
                )
        finally:
            client.close()
        log.info("pa checklist orders=%d not_read=%d", len(out), len(not_read))
        return PaChecklist(out, not_read)
