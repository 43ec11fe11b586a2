"""CDS Hooks 1.0 `order-sign` service (https://cds-hooks.hl7.org/1.0/): while a clinician signs
an order, say whether the patient's payer needs prior authorization for it, what the chart is
missing and who owns each gap, and link to the case in the SMART app.

- `GET /cds-services`: discovery, one service (`derm-rcm-prior-auth`).
- `POST /cds-services/derm-rcm-prior-auth`: one card per draft MedicationRequest or
  ServiceRequest; other draft orders are skipped.

A CDS service must never block ordering: when the chart can't be read or an order can't be
assessed, the answer is still 200, with an `info` card saying so. Only a request that is not a
CDS Hooks order-sign call is refused: 400 (not JSON, a field missing or of the wrong type, another
hook), 403 (a fhirServer this deployment does not trust), 412 (no fhirServer to read the chart
from), each as JSON `{"code", "description"}` with the description in *where: expected, got*.

The chart is read from `fhirServer` with `fhirAuthorization.access_token` as the bearer token; the
server must be one of the issuers in the settings (`DERMRCM_ISSUERS`), so a caller can't make
derm-rcm fetch arbitrary URLs. Logs carry the hookInstance and error classes only: never
patient ids, names or order text.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, NoReturn
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from integration.domain.evidence import ClinicalEvidence
from integration.domain.priorauth import Assessment, Channel, CriterionResult, OrderFact, Status
from integration.fhir.chart_evidence import chart_evidence
from integration.fhir.client import ClientOptions, FhirClient
from integration.fhir.errors import FhirError
from integration.fhir.pa_check import check_order
from integration.mapping.evidence_maps import EvidenceMaps
from integration.priorauth.order import ORDER_TYPES, OrderError, order_from_fhir
from integration.priorauth.references import PaReferences, load_pa_references
from integration.settings import Settings

log = logging.getLogger(__name__)

SERVICE_ID = "derm-rcm-prior-auth"
HOOK = "order-sign"
#: where create_blueprint() keeps the service on the app (tests set its clock there)
EXTENSION = "dermrcm.cds_hooks"
SUMMARY_MAX = 140
MAX_BODY = 2 * 1024 * 1024
CARD_SOURCE_LABEL = "derm-rcm"
LINK_LABEL = "Open the prior-authorization case"

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
#: a UUID in practice; anything else that is safe to log is accepted
_HOOK_INSTANCE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")

SERVICE: dict[str, Any] = {
    "hook": HOOK,
    "id": SERVICE_ID,
    "title": "derm-rcm prior authorization",
    "description": (
        "When a biologic or a dermatologic procedure is signed, says whether the patient's "
        "payer requires prior authorization, which of the payer's criteria the chart meets, "
        "what is missing and who should supply it, and links to the case in derm-rcm."
    ),
    "prefetch": {
        "patient": "Patient/{{context.patientId}}",
        "coverage": "Coverage?patient={{context.patientId}}",
    },
}

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "86400",
}

CHANNEL_LABELS = {
    Channel.NCPDP_EPA: "NCPDP SCRIPT ePA",
    Channel.X12_278: "X12 278",
    Channel.PAS: "Da Vinci PAS",
    Channel.PORTAL: "the payer's portal",
    Channel.FAX: "fax",
}
STATUS_LABELS = {Status.MISSING: "Missing", Status.UNMET: "Not met", Status.MET: "Met"}
STATUS_ORDER = (Status.MISSING, Status.UNMET, Status.MET)


class CdsProblem(Exception):
    """A request this service refuses, rendered as JSON `{"code", "description"}`."""

    def __init__(self, code: str, description: str, status: int) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


def _refuse(code: str, description: str, status: int = 400) -> NoReturn:
    raise CdsProblem(code, description, status)


# ---------------------------------------------------------------- the request


@dataclass(frozen=True, slots=True)
class OrderSignCall:
    """What an order-sign call asks about, checked."""

    hook_instance: str
    fhir_server: str
    access_token: str | None
    patient_id: str
    orders: tuple[Mapping[str, Any], ...]
    """The draft MedicationRequests and ServiceRequests, in the order sent."""
    skipped: int
    """Draft orders of other types (NutritionOrder, VisionPrescription, ...)."""


def _shown(value: Any) -> str:
    """A received value for an error message: its JSON type for containers, a short repr else."""
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _draft_orders(value: Any, problems: list[str]) -> tuple[list[Mapping[str, Any]], int]:
    where = "context.draftOrders"
    if not isinstance(value, Mapping):
        problems.append(
            f"{where}: expected a FHIR Bundle of the orders being signed, got {_shown(value)}"
        )
        return [], 0
    if value.get("resourceType") != "Bundle":
        problems.append(
            f"{where}.resourceType: expected 'Bundle', got {_shown(value.get('resourceType'))}"
        )
        return [], 0
    entries = value.get("entry", [])
    if not isinstance(entries, list):
        problems.append(f"{where}.entry: expected a JSON array, got {_shown(entries)}")
        return [], 0
    orders: list[Mapping[str, Any]] = []
    skipped = 0
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            problems.append(
                f"{where}.entry[{index}].resource: expected a FHIR resource, got {_shown(resource)}"
            )
        elif resource.get("resourceType") in ORDER_TYPES:
            orders.append(resource)
        else:
            skipped += 1
    return orders, skipped


def _access_token(value: Any, problems: list[str]) -> str | None:
    if value is None:
        return None
    where = "fhirAuthorization"
    if not isinstance(value, Mapping):
        problems.append(f"{where}: expected a JSON object, got {_shown(value)}")
        return None
    token = value.get("access_token")
    if not isinstance(token, str) or not token:
        got = "an empty string" if token == "" else _shown(token)
        problems.append(
            f"{where}.access_token: expected the bearer token for fhirServer, got {got}"
        )
        return None
    token_type = value.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        problems.append(f"{where}.token_type: expected 'Bearer', got {_shown(token_type)}")
        return None
    return token


def parse_order_sign(body: Any, trusted_servers: Collection[str]) -> OrderSignCall:
    """Check a decoded request body; CdsProblem says every field that is wrong and how."""
    if not isinstance(body, Mapping):
        _refuse(
            "bad-request", f"body: expected a JSON object (a CDS Hooks request), got {_shown(body)}"
        )
    hook = body.get("hook")
    if isinstance(hook, str) and hook and hook != HOOK:
        _refuse(
            "unsupported-hook",
            f"hook: expected {HOOK!r} (service {SERVICE_ID} answers only that hook), got {hook!r}",
        )
    problems: list[str] = []
    if hook is None or not isinstance(hook, str) or not hook:
        problems.append(f"hook: expected {HOOK!r}, got {_shown(hook)}")
    hook_instance = body.get("hookInstance")
    if not isinstance(hook_instance, str) or not _HOOK_INSTANCE.fullmatch(hook_instance):
        problems.append(
            "hookInstance: expected a UUID identifying this call, got "
            + ("an empty string" if hook_instance == "" else _shown(hook_instance))
        )
    context = body.get("context")
    patient_id: Any = None
    orders: list[Mapping[str, Any]] = []
    skipped = 0
    if not isinstance(context, Mapping):
        problems.append(
            f"context: expected a JSON object with patientId and draftOrders, got {_shown(context)}"
        )
    else:
        patient_id = context.get("patientId")
        if not isinstance(patient_id, str) or not _FHIR_ID.fullmatch(patient_id):
            problems.append(
                "context.patientId: expected the FHIR id of the patient (1-64 letters, digits, "
                f"'-' or '.'), got {'an empty string' if patient_id == '' else _shown(patient_id)}"
            )
        orders, skipped = _draft_orders(context.get("draftOrders"), problems)
    access_token = _access_token(body.get("fhirAuthorization"), problems)
    fhir_server = body.get("fhirServer")
    if fhir_server is not None and (
        not isinstance(fhir_server, str)
        or urlsplit(fhir_server).scheme not in ("http", "https")
        or not urlsplit(fhir_server).netloc
    ):
        problems.append(f"fhirServer: expected an http(s) FHIR base URL, got {_shown(fhir_server)}")
    if problems:
        _refuse("bad-request", "; ".join(problems))
    if not fhir_server:
        _refuse(
            "fhir-server-required",
            "fhirServer: expected the FHIR base URL of the chart (derm-rcm reads the chart to "
            "assess the order; prefetch alone is not enough), got nothing",
            412,
        )
    assert isinstance(fhir_server, str) and isinstance(hook_instance, str)
    assert isinstance(patient_id, str)
    server = fhir_server.rstrip("/")
    if server not in trusted_servers:
        _refuse(
            "untrusted-fhir-server",
            f"fhirServer: expected one of the FHIR servers this deployment trusts "
            f"(DERMRCM_ISSUERS), got {server!r}",
            403,
        )
    return OrderSignCall(
        hook_instance=hook_instance,
        fhir_server=server,
        access_token=access_token,
        patient_id=patient_id,
        orders=tuple(orders),
        skipped=skipped,
    )


# ---------------------------------------------------------------- cards


def _md(text: str) -> str:
    """Text from the chart or a rule file, safe inside Markdown."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _fit(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _summary(prefix: str, label: str, suffix: str = "") -> str:
    """`prefix + label + suffix` within 140 characters, shortening the label first."""
    room = SUMMARY_MAX - len(prefix) - len(suffix)
    if room >= 12:
        return prefix + _fit(label, room) + suffix
    return _fit(prefix + label + suffix, SUMMARY_MAX)


def order_label(order: OrderFact) -> str:
    return order.text or ", ".join(c.code for c in order.codes) or order.source


def _http_url(value: Any) -> str | None:
    if isinstance(value, str) and urlsplit(value).scheme in ("http", "https"):
        return value
    return None


def _source(assessment: Assessment) -> dict[str, Any]:
    source: dict[str, Any] = {"label": CARD_SOURCE_LABEL}
    url = _http_url(assessment.rule.source.get("url")) if assessment.rule else None
    if url:
        source["url"] = url
    return source


def _rule_lines(assessment: Assessment, *, channel: bool = True) -> list[str]:
    rule = assessment.rule
    if rule is None:
        return []
    policy = _md(str(rule.source.get("title") or rule.title))
    url = _http_url(rule.source.get("url"))
    cited = f"[{policy}]({url})" if url else policy
    lines = [
        f"Rule: {_md(rule.title)} (`{rule.id}` version {rule.version}, in force from "
        f"{rule.effective_from}); policy: {cited}."
    ]
    if channel and assessment.channel is not None:
        benefit = f" ({assessment.benefit} benefit)" if assessment.benefit else ""
        via = CHANNEL_LABELS.get(assessment.channel, assessment.channel.value)
        lines.append(f"Submit through {via}{benefit}.")
    return lines


def _criterion_line(result: CriterionResult) -> str:
    owner = f" (owner: {result.owner.value})" if result.owner is not None else ""
    line = f"- **{STATUS_LABELS[result.status]}**{owner}: {_md(result.text)}"
    if result.status is Status.MISSING and result.missing:
        line += f". Missing: {_md('; '.join(result.missing))}."
    elif result.detail:
        line += f" ({_md(result.detail)})"
    return line


def _checklist(assessment: Assessment) -> list[str]:
    if not assessment.criteria_known:
        return ["The payer's criteria are not in derm-rcm's rule library yet: check the policy."]
    if not assessment.criteria:
        return ["The rule lists no clinical criteria."]
    counts = {s: sum(1 for c in assessment.criteria if c.status is s) for s in STATUS_ORDER}
    lines = [
        f"**Checklist**: {counts[Status.MET]} of {len(assessment.criteria)} criteria met, "
        f"{counts[Status.UNMET]} not met, {counts[Status.MISSING]} missing.",
        "",
    ]
    for status in STATUS_ORDER:
        lines.extend(_criterion_line(c) for c in assessment.criteria if c.status is status)
    return lines


def _bullets(title: str, items: Iterable[str]) -> list[str]:
    shown = [f"- {_md(item)}" for item in items]
    return [f"**{title}**:", "", *shown] if shown else []


def _detail(*blocks: list[str]) -> str:
    return "\n\n".join("\n".join(block) for block in blocks if block)


def launch_link(app_url: str, assessment: Assessment) -> dict[str, Any]:
    """A SMART link: the EHR launches the app with `appContext` naming the order and rule."""
    context = {"order": assessment.order.source}
    if assessment.rule is not None:
        context["rule"] = assessment.rule.id
    return {
        "label": LINK_LABEL,
        "url": f"{app_url.rstrip('/')}/launch",
        "type": "smart",
        "appContext": urlencode(context, safe="/"),
    }


def assessment_card(assessment: Assessment, app_url: str) -> dict[str, Any]:
    """The card for one order: warning when PA is required, info when not or unknown."""
    label = order_label(assessment.order)
    payer = assessment.payer.name if assessment.payer else None
    in_payer = f" ({payer})" if payer else ""
    notes = _bullets("Notes", assessment.notes)
    if assessment.pa_required is True:
        return {
            "uuid": str(uuid.uuid4()),
            "summary": _summary("Prior authorization needed: ", label, in_payer),
            "indicator": "warning",
            "detail": _detail(
                [f"{_md(assessment.reason)}."],
                _rule_lines(assessment),
                _checklist(assessment),
                _bullets("Documentation to attach", assessment.documentation),
                notes,
            ),
            "source": _source(assessment),
            "links": [launch_link(app_url, assessment)],
        }
    if assessment.pa_required is False:
        return {
            "uuid": str(uuid.uuid4()),
            "summary": _summary("No prior authorization needed for ", label, in_payer),
            "indicator": "info",
            "detail": _detail(
                [f"{_md(assessment.reason)}."],
                _rule_lines(assessment, channel=False),
                _bullets("Documentation to keep on file", assessment.documentation),
                notes,
            ),
            "source": _source(assessment),
        }
    return {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(
            "derm-rcm can't tell whether prior authorization is needed for ", label, in_payer
        ),
        "indicator": "info",
        "detail": _detail(
            [
                f"Why: {_md(assessment.reason)}.",
                "",
                "derm-rcm does not know whether this order needs prior authorization: check "
                "with the payer before relying on either answer.",
            ],
            _rule_lines(assessment, channel=False),
            notes,
        ),
        "source": _source(assessment),
    }


def chart_error_card(error: FhirError) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "summary": "derm-rcm couldn't read the chart, so prior authorization was not checked",
        "indicator": "info",
        "detail": _detail(
            [
                f"The EHR's FHIR server did not answer as expected ({error.kind}): {_md(str(error))}."
            ],
            ["Ordering is not affected. Open derm-rcm later to check prior authorization."],
        ),
        "source": {"label": CARD_SOURCE_LABEL},
    }


def order_error_card(error: OrderError) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "summary": "derm-rcm couldn't read this order, so prior authorization was not checked",
        "indicator": "info",
        "detail": f"{_md(str(error))}.",
        "source": {"label": CARD_SOURCE_LABEL},
    }


def failure_card() -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "summary": "derm-rcm failed to check prior authorization for this order",
        "indicator": "info",
        "detail": "The error is logged. Ordering is not affected.",
        "source": {"label": CARD_SOURCE_LABEL},
    }


# ---------------------------------------------------------------- the service


class CdsHooksService:
    """The order-sign service of one app: its settings, references loaded once, and a clock
    (`today`: the date of service; tests fix it)."""

    def __init__(
        self,
        settings: Settings,
        maps: EvidenceMaps,
        refs: PaReferences,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.settings = settings
        self.maps = maps
        self.refs = refs
        self.today = today
        self.options = ClientOptions(
            timeout=settings.fhir_timeout,
            retries=settings.fhir_retries,
            concurrency=settings.fhir_concurrency,
            page_size=settings.fhir_page_size,
        )

    def trusted_servers(self) -> frozenset[str]:
        return frozenset(self.settings.issuer_clients())

    def order_sign(self, call: OrderSignCall) -> list[dict[str, Any]]:
        """One card per draft order. A chart that can't be read ends the call with a card
        saying so (every order needs the chart); an order that can't be read gets its own."""
        log.info(
            "cds order-sign call hook_instance=%s orders=%d skipped=%d",
            call.hook_instance,
            len(call.orders),
            call.skipped,
        )
        token = call.access_token
        client = FhirClient(call.fhir_server, token=lambda: token, options=self.options)
        day = self.today()
        cards: list[dict[str, Any]] = []
        chart: list[ClinicalEvidence] = []  # read once, when the first order needs it
        try:
            for index, resource in enumerate(call.orders):
                try:
                    order = order_from_fhir(resource)
                    if not self._any_rule_covers(order):
                        log.info(
                            "cds order-sign no rule hook_instance=%s order=%d",
                            call.hook_instance,
                            index,
                        )
                        continue  # no payer has a rule for it: a card on every order is noise
                    if not chart:
                        chart.append(chart_evidence(client, call.patient_id, self.maps, day)[0])
                    check = check_order(client, order, chart[0], day, self.refs)
                except OrderError as exc:
                    self._log_failure("order not assessable", call, index, exc)
                    cards.append(order_error_card(exc))
                    continue
                except FhirError:
                    raise
                except Exception as exc:  # a fault of ours must not block ordering
                    self._log_failure("failed", call, index, exc)
                    cards.append(failure_card())
                    continue
                cards.append(assessment_card(check.assessment, self.settings.app_url))
                log.info(
                    "cds order-sign assessed hook_instance=%s order=%d pa_required=%s rule=%s",
                    call.hook_instance,
                    index,
                    check.assessment.pa_required,
                    check.assessment.rule.id if check.assessment.rule else None,
                )
        except FhirError as exc:
            self._log_failure("chart unreadable", call, len(cards), exc)
            cards.append(chart_error_card(exc))
        finally:
            client.close()
        return cards

    def _any_rule_covers(self, order: OrderFact) -> bool:
        return any(rule.covers(order) for rule in self.refs.library.all_rules())

    @staticmethod
    def _log_failure(what: str, call: OrderSignCall, index: int, exc: Exception) -> None:
        """The hookInstance and the error's class only: messages may quote the chart."""
        log.warning(
            "cds order-sign %s hook_instance=%s order=%d error=%s",
            what,
            call.hook_instance,
            index,
            type(exc).__name__,
        )


# ---------------------------------------------------------------- Flask


def _service() -> CdsHooksService:
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, CdsHooksService)
    return found


def _json(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def create_blueprint(
    settings: Settings,
    maps: EvidenceMaps,
    *,
    refs: PaReferences | None = None,
    today: Callable[[], date] = date.today,
) -> Blueprint:
    """The CDS Hooks endpoints. The payer rules are loaded here, once per app."""
    service = CdsHooksService(settings, maps, refs or load_pa_references(), today)
    bp = Blueprint("cds_hooks", __name__, url_prefix="/cds-services")

    @bp.record_once
    def _keep(state: Any) -> None:
        app: Flask = state.app
        app.extensions[EXTENSION] = service

    @bp.after_request
    def _cors(response: Response) -> Response:
        response.headers.update(CORS_HEADERS)
        return response

    @bp.errorhandler(CdsProblem)
    def _problem(problem: CdsProblem) -> Response:
        log.info("cds request refused code=%s status=%d", problem.code, problem.status)
        return _json({"code": problem.code, "description": problem.description}, problem.status)

    @bp.route("", methods=["GET", "OPTIONS"], provide_automatic_options=False)
    def discovery() -> Response:
        if request.method == "OPTIONS":
            return Response(status=204)
        return _json({"services": [SERVICE]})

    @bp.route("/<service_id>", methods=["POST", "OPTIONS"], provide_automatic_options=False)
    def call(service_id: str) -> Response:
        if service_id != SERVICE_ID:
            _refuse(
                "unknown-service",
                f"service: expected {SERVICE_ID!r} (see GET /cds-services), got {service_id[:64]!r}",
                404,
            )
        if request.method == "OPTIONS":
            return Response(status=204)
        if (request.content_length or 0) > MAX_BODY:
            _refuse(
                "too-large",
                f"body: expected at most {MAX_BODY} bytes, got {request.content_length}",
                413,
            )
        raw = request.get_data(cache=False)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            where = (
                f" at line {exc.lineno} column {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else ""
            )
            _refuse(
                "bad-request", f"body: expected JSON (a CDS Hooks request), got invalid JSON{where}"
            )
        active = _service()
        order_sign = parse_order_sign(body, active.trusted_servers())
        cards = active.order_sign(order_sign)
        return _json({"cards": cards})

    return bp
