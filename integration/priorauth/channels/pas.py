"""Da Vinci PAS: a `Claim/$submit` request Bundle (the packet's PAS-style Claim, use
preauthorization) and the ClaimResponse that comes back.

The answer's outcome is the X12 306 review action code the PAS IG puts on
`ClaimResponse.item.adjudication` in the `extension-reviewAction` extension (sub-extension
`extension-reviewActionCode`), its authorization number in `preAuthRef` (or the review action's
`number`), its dates in `preAuthPeriod`; what a pend asks for is in `processNote`.
Source: HL7 Da Vinci Prior Authorization Support IG, STU 2 (2.1.0 / 2.2.1), StructureDefinitions
extension-reviewAction and extension-reviewActionCode, profile-claimresponse.

An appeal or a cancellation goes by the same `Claim/$submit` as a Claim update (see
`follow_up_bundle`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.claimresponse import ClaimResponse
from pydantic import ValidationError

from integration.domain.priorauth import FollowUp, Outcome, PayerResponse
from integration.priorauth.channels.transport import ChannelError

SUBMIT_PATH = "/fhir/Claim/$submit"
CONTENT_TYPE = "application/fhir+json"
REVIEW_ACTION = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewAction"
REVIEW_ACTION_CODE = (
    "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewActionCode"
)
X12_306 = "https://codesystem.x12.org/005010/306"
X12_886 = "https://codesystem.x12.org/external/886"
X12_1322 = "https://codesystem.x12.org/005010/1322"
PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
CLAIM_UPDATE_PROFILE = PAS_SD + "profile-claim-update"
CERTIFICATION_TYPE = PAS_SD + "extension-certificationType"
INFO_CANCELLED = PAS_SD + "modifierextension-infoCancelled"
PAS_TEMP_CODES = "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes"
#: item certificationType (X12 1322, as UM02 in the 278) for each follow-up
CERTIFICATION_TYPES = {FollowUp.APPEAL: "2", FollowUp.CANCEL: "3"}

#: X12 306 (HCR01) action codes -> our outcome
ACTIONS: Mapping[str, Outcome] = {
    "A1": Outcome.APPROVED,  # certified in total
    "A2": Outcome.APPROVED,  # certified, partial
    "A3": Outcome.DENIED,  # not certified
    "A4": Outcome.PENDED,  # pended
    "A6": Outcome.APPROVED,  # modified
    "C": Outcome.CLOSED,  # cancelled
    "CT": Outcome.MORE_INFO,  # contact payer
    "NA": Outcome.NOT_REQUIRED,  # no action required
}


def request_body(bundle: Mapping[str, Any]) -> bytes:
    return json.dumps(bundle, separators=(",", ":"), ensure_ascii=False).encode()


def follow_up_bundle(
    bundle: Mapping[str, Any], kind: FollowUp, *, reason: str, suffix: str
) -> dict[str, Any]:
    """The case's `$submit` Bundle turned into a PAS Claim update that appeals or cancels it.

    Which form: PAS STU 2.1 (2.1.0) has no separate cancel or appeal operation; a change to a
    request is a Claim on `profile-claim-update` sent by `Claim/$submit`, naming the original in
    `Claim.related` (relationship `prior`, the original's identifier). A cancellation sets
    `Claim.status` = `cancelled`, flags each item with the modifier extension
    `modifierextension-infoCancelled` = true, and gives each item `extension-certificationType`
    3 (cancel, X12 1322); an appeal keeps `status` active and gives each item
    certificationType 2 (appeal - standard) with the added documents in the Bundle. The reason
    is a `supportingInfo` of category `freeFormMessage` (PASTempCodes). The IG leaves appeals to
    the payer's process; certificationType 2 on a Claim update is this project's choice, as the
    278 carries it in UM02."""
    out: dict[str, Any] = json.loads(json.dumps(bundle))
    claim = out["entry"][0]["resource"]
    original = (claim.get("identifier") or [{}])[0]
    claim["id"] = f"{claim['id']}-{suffix}"[:64]
    claim["meta"] = {"profile": [CLAIM_UPDATE_PROFILE]}
    claim["identifier"] = [
        {"system": original.get("system"), "value": f"{original.get('value')}-{suffix}"}
    ]
    claim["related"] = [
        {
            "claim": {"identifier": original},
            "relationship": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/related-claim-relationship",
                        "code": "prior",
                    }
                ]
            },
        }
    ]
    certification = {
        "url": CERTIFICATION_TYPE,
        "valueCodeableConcept": {
            "coding": [{"system": X12_1322, "code": CERTIFICATION_TYPES[kind]}]
        },
    }
    for item in claim.get("item", []):
        item["extension"] = [
            e for e in item.get("extension", []) if e.get("url") != CERTIFICATION_TYPE
        ] + [certification]
        if kind is FollowUp.CANCEL:
            item["modifierExtension"] = [{"url": INFO_CANCELLED, "valueBoolean": True}]
    if kind is FollowUp.CANCEL:
        claim["status"] = "cancelled"
    info = claim.setdefault("supportingInfo", [])
    info.append(
        {
            "sequence": max((int(i.get("sequence", 0)) for i in info), default=0) + 1,
            "category": {"coding": [{"system": PAS_TEMP_CODES, "code": "freeFormMessage"}]},
            "valueString": reason,
        }
    )
    out["id"] = f"{out['id']}-{suffix}"[:64]
    return out


def follow_up_kind(claim: Mapping[str, Any]) -> FollowUp | None:
    """What a `$submit` Claim asks after the decision (read by the sandbox payer): None for a
    first request."""
    if claim.get("status") == "cancelled":
        return FollowUp.CANCEL
    for item in claim.get("item", []):
        for ext in _extensions(item, CERTIFICATION_TYPE):
            code = _code(ext.get("valueCodeableConcept"))
            if code == CERTIFICATION_TYPES[FollowUp.CANCEL]:
                return FollowUp.CANCEL
            if code in ("1", CERTIFICATION_TYPES[FollowUp.APPEAL]):
                return FollowUp.APPEAL
    return None


def _extensions(node: Mapping[str, Any], url: str) -> list[Mapping[str, Any]]:
    return [e for e in node.get("extension", []) if e.get("url") == url]


def _review_action(claim_response: Mapping[str, Any]) -> tuple[Mapping[str, Any], str] | None:
    for i, item in enumerate(claim_response.get("item", [])):
        for j, adjudication in enumerate(item.get("adjudication", [])):
            for action in _extensions(adjudication, REVIEW_ACTION):
                return action, f"ClaimResponse.item[{i}].adjudication[{j}].extension:reviewAction"
    return None


def _code(concept: Mapping[str, Any] | None) -> str | None:
    for coding in (concept or {}).get("coding", []):
        if coding.get("code"):
            return str(coding["code"])
    return None


def read_response(status: int, body: bytes) -> PayerResponse:
    """The payer's decision from a `$submit` answer; ChannelError (located) if it isn't one."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise ChannelError(f"$submit response: expected JSON, got {exc}") from None
    if not isinstance(doc, dict):
        raise ChannelError("$submit response: expected a JSON object")
    if doc.get("resourceType") == "OperationOutcome":
        said = "; ".join(str(i.get("diagnostics") or i.get("code")) for i in doc.get("issue", []))
        raise ChannelError(f"$submit: the payer refused the request (HTTP {status}): {said}")
    if doc.get("resourceType") != "Bundle":
        raise ChannelError(f"$submit response: expected a Bundle, got {doc.get('resourceType')!r}")
    entries = doc.get("entry") or []
    first = entries[0].get("resource", {}) if entries else {}
    if first.get("resourceType") != "ClaimResponse":
        raise ChannelError(
            "$submit response Bundle.entry[0]: expected a ClaimResponse, "
            f"got {first.get('resourceType')!r}"
        )
    try:
        ClaimResponse.model_validate(first)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise ChannelError(
            f"$submit response ClaimResponse.{where}: {exc.errors()[0]['msg']}"
        ) from None
    found = _review_action(first)
    action_code: str | None = None
    reason_code: str | None = None
    number: str | None = None
    where = "ClaimResponse.outcome"
    if found is not None:
        action, where = found
        for sub in action.get("extension", []):
            if sub.get("url") == REVIEW_ACTION_CODE:
                action_code = _code(sub.get("valueCodeableConcept"))
            elif sub.get("url") == "reasonCode":
                reason_code = _code(sub.get("valueCodeableConcept"))
            elif sub.get("url") == "number":
                number = sub.get("valueString")
    if action_code is None:
        # no review action: a queued answer is a pend, anything else can't be read as a decision
        if first.get("outcome") == "queued":
            action_code = "A4"
        else:
            raise ChannelError(
                "$submit response ClaimResponse.item.adjudication: expected a reviewAction "
                "extension with a review action code, found none"
            )
    outcome = ACTIONS.get(action_code)
    if outcome is None:
        raise ChannelError(
            f"$submit response {where}: expected one of {', '.join(ACTIONS)}, got {action_code!r}"
        )
    ask = tuple(str(n["text"]) for n in first.get("processNote", []) if n.get("text"))
    if outcome is Outcome.PENDED and ask:
        outcome = Outcome.MORE_INFO
    period = first.get("preAuthPeriod") or {}
    identifiers = [i.get("value") for i in first.get("identifier", []) if i.get("value")]
    return PayerResponse(
        outcome=outcome,
        reason=first.get("disposition"),
        reason_code=reason_code,
        auth_number=first.get("preAuthRef") or number,
        start=period.get("start"),
        end=period.get("end"),
        payer_reference=identifiers[0] if identifiers else first.get("id"),
        ask=ask,
        where=where,
    )
