"""The read-only FHIR REST endpoint: discovery, CapabilityStatement, read, vread, search."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Sequence
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

import flask
from flask import Blueprint, Response, request

from integration.sandbox.elements import JsonObject
from integration.sandbox.outcome import FhirError, fhir_response
from integration.sandbox.resource_types import R4_RESOURCE_TYPES
from integration.sandbox.scopes import (
    IDENTITY_SCOPES,
    UNRESTRICTED,
    Access,
    InsufficientScopeError,
    Interaction,
    decide_access,
)
from integration.sandbox.search import SearchRequest, parse_search, run_search, search_bundle
from integration.sandbox.searchparams import SEARCHABLE_TYPES, TypeSpec, spec_for
from integration.sandbox.state import Sandbox
from integration.sandbox.store import StoredResource
from integration.sandbox.tokens import GrantContext

log = logging.getLogger(__name__)

SMART_CAPABILITIES = (
    "launch-ehr",
    "launch-standalone",
    "client-public",
    "client-confidential-asymmetric",
    "permission-user",
    "context-ehr-patient",
    "context-ehr-encounter",
    "context-standalone-patient",
    "permission-patient",
    "permission-v2",
    "permission-v1",
    "sso-openid-connect",
    "context-banner",
    "context-style",
)
OAUTH_URIS_EXTENSION = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
_FHIR_JSON_ACCEPT = ("application/fhir+json", "application/json", "application/json+fhir")


def fhir_blueprint(sandbox: Sandbox) -> Blueprint:
    """The FHIR routes, to be mounted at `config.fhir_path`."""
    bp = Blueprint("sandbox_fhir", __name__)
    store = sandbox.store
    config = sandbox.config

    def served_spec(resource_type: str) -> TypeSpec:
        if resource_type not in R4_RESOURCE_TYPES:
            raise FhirError(
                404,
                "not-supported",
                f"{resource_type}: not a FHIR R4 resource type; this server serves "
                f"{', '.join(served_types(sandbox))}",
            )
        return spec_for(resource_type)

    def current_grant() -> GrantContext | None:
        """The token's grant; None when auth is off. Raises 401 when there is no live token."""
        if not config.auth_enabled:
            return None
        header = request.headers.get("Authorization", "")
        if not header:
            raise _unauthorized("no Authorization header; send Authorization: Bearer <token>")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized(
                f"Authorization: expected 'Bearer <access token>', got scheme {scheme!r}"
            )
        record, why = sandbox.tokens.access_token(token.strip())
        if record is None:
            raise _unauthorized(why)
        return record.context

    def access_for(
        grant: GrantContext | None, resource_type: str, interaction: Interaction
    ) -> Access:
        if grant is None:
            return UNRESTRICTED
        try:
            return decide_access(grant.scope, grant.patient_id, resource_type, interaction)
        except InsufficientScopeError as denied:
            raise FhirError(
                403,
                "forbidden",
                str(denied),
                headers={"WWW-Authenticate": _bearer_challenge("insufficient_scope", str(denied))},
            ) from denied

    @bp.get("/.well-known/smart-configuration")
    def smart_configuration() -> Response:
        response = flask.jsonify(smart_configuration_document(sandbox))
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    @bp.get("/metadata")
    def metadata() -> Response:
        return fhir_response(capability_statement(sandbox))

    @bp.get("/<ftype:resource_type>")
    def search_get(resource_type: str) -> Response:
        return search(resource_type, list(request.args.items(multi=True)))

    @bp.post("/<ftype:resource_type>/_search")
    def search_post(resource_type: str) -> Response:
        params = list(request.args.items(multi=True)) + list(request.form.items(multi=True))
        return search(resource_type, params)

    def search(resource_type: str, params: Sequence[tuple[str, str]]) -> Response:
        spec = served_spec(resource_type)
        grant = current_grant()
        access = access_for(grant, resource_type, "search")
        parsed = parse_search(
            spec,
            params,
            default_count=config.default_page_size,
            max_count=config.max_page_size,
            support_include=config.support_include,
        )
        read_access: dict[str, Access | None] = {}

        def may_include(target: StoredResource) -> bool:
            if target.resource_type not in read_access:
                try:
                    read_access[target.resource_type] = access_for(
                        grant, target.resource_type, "read"
                    )
                except FhirError:
                    read_access[target.resource_type] = None
            allowed = read_access[target.resource_type]
            if allowed is None:
                return False
            return allowed.patient_id is None or target.patient_id in (None, allowed.patient_id)

        result = run_search(
            store,
            spec,
            parsed,
            access,
            scope_filters=_scope_filters(spec, access, config.max_page_size),
            may_include=may_include,
        )
        log.info(
            "search type=%s total=%d returned=%d included=%d ignored_params=%d",
            resource_type,
            result.total,
            len(result.page),
            len(result.included),
            len(parsed.notes),
        )
        bundle = search_bundle(
            parsed, result, fhir_base=sandbox.fhir_base, next_base=sandbox.next_link_base
        )
        return fhir_response(bundle)

    @bp.get("/<ftype:resource_type>/<fid:resource_id>")
    def read(resource_type: str, resource_id: str) -> Response:
        resource = readable(resource_type, resource_id)
        if resource_type == "Binary" and not _wants_fhir_json():
            raw = _binary_content(resource)
            if raw is not None:
                return raw
        return resource_response(resource)

    @bp.get("/<ftype:resource_type>/<fid:resource_id>/_history/<version_id>")
    def vread(resource_type: str, resource_id: str, version_id: str) -> Response:
        resource = readable(resource_type, resource_id)
        current = str(resource.body.get("meta", {}).get("versionId", "1"))
        if version_id != current:
            raise FhirError(
                404,
                "not-found",
                f"{resource.key}/_history/{version_id}: no such version; the sandbox keeps only "
                f"version {current}",
            )
        return resource_response(resource)

    def readable(resource_type: str, resource_id: str) -> StoredResource:
        served_spec(resource_type)
        grant = current_grant()
        access = access_for(grant, resource_type, "read")
        resource = store.get(resource_type, resource_id)
        if resource is None:
            raise FhirError(404, "not-found", f"{resource_type}/{resource_id}: not found")
        if access.patient_id is not None and resource.patient_id not in (None, access.patient_id):
            raise FhirError(
                403,
                "forbidden",
                f"{resource.key}: belongs to another patient; this token is limited to "
                f"Patient/{access.patient_id}",
            )
        filters = _scope_filters(spec_for(resource_type), access, config.max_page_size)
        if filters is not None and not any(f.matches(resource) for f in filters):
            raise FhirError(
                403,
                "forbidden",
                f"{resource.key}: outside the granted scope ({' or '.join(access.queries or ())})",
            )
        return resource

    def resource_response(resource: StoredResource) -> Response:
        meta = resource.body.get("meta", {})
        headers = {"ETag": f'W/"{meta.get("versionId", "1")}"'}
        if isinstance(meta.get("lastUpdated"), str):
            headers["Last-Modified"] = resource.last_updated.low.strftime(
                "%a, %d %b %Y %H:%M:%S GMT"
            )
        return fhir_response(resource.body, headers=headers)

    return bp


def served_types(sandbox: Sandbox) -> list[str]:
    """The registry's types, then any other type found in the data, alphabetically."""
    extra = sorted(sandbox.store.resource_types() - set(SEARCHABLE_TYPES))
    return [*SEARCHABLE_TYPES, *extra]


def smart_configuration_document(sandbox: Sandbox) -> dict[str, Any]:
    return {
        "issuer": sandbox.fhir_base,
        "jwks_uri": sandbox.url("/oauth2/jwks"),
        "authorization_endpoint": sandbox.url("/oauth2/authorize"),
        "token_endpoint": sandbox.url("/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "scopes_supported": [
            *IDENTITY_SCOPES,
            "patient/*.rs",
            "patient/*.read",
            "user/*.rs",
            "user/*.read",
            "system/*.rs",
            "system/*.read",
        ],
        "response_types_supported": ["code"],
        "capabilities": list(SMART_CAPABILITIES),
        "code_challenge_methods_supported": ["S256"],
    }


def capability_statement(sandbox: Sandbox) -> JsonObject:
    resources: list[JsonObject] = []
    for resource_type in served_types(sandbox):
        spec = spec_for(resource_type)
        entry: JsonObject = {
            "type": resource_type,
            "interaction": [{"code": "read"}, {"code": "vread"}, {"code": "search-type"}],
            "versioning": "versioned",
            "searchParam": [
                {"name": p.name, "type": "token" if p.name == "_id" else p.kind}
                for p in spec.param_by_name.values()
            ],
        }
        if spec.includes:
            entry["searchInclude"] = [include.label for include in spec.includes]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2024-01-01",
        "publisher": "derm-rcm",
        "kind": "instance",
        "software": {"name": "derm-rcm sandbox EHR"},
        "implementation": {
            "description": "Sandbox EHR for SMART on FHIR development (read-only)",
            "url": sandbox.fhir_base,
        },
        "fhirVersion": "4.0.1",
        "format": ["json", "application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": True,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "extension": [
                        {
                            "url": OAUTH_URIS_EXTENSION,
                            "extension": [
                                {
                                    "url": "authorize",
                                    "valueUri": sandbox.url("/oauth2/authorize"),
                                },
                                {"url": "token", "valueUri": sandbox.url("/oauth2/token")},
                            ],
                        }
                    ],
                },
                "resource": resources,
            }
        ],
    }


@cache
def _cached_filters(
    spec: TypeSpec, queries: tuple[str, ...], max_count: int
) -> tuple[SearchRequest, ...]:
    filters: list[SearchRequest] = []
    for query in queries:
        try:
            parsed = parse_search(
                spec,
                parse_qsl(query),
                default_count=max_count,
                max_count=max_count,
                support_include=False,
            )
        except FhirError:
            parsed = None
        if parsed is None or parsed.notes:
            # a restriction the sandbox can't evaluate admits nothing rather than everything
            parsed = SearchRequest(spec.resource_type, count=0, predicates=[lambda _r: False])
        filters.append(parsed)
    return tuple(filters)


def _scope_filters(
    spec: TypeSpec, access: Access, max_count: int
) -> Sequence[SearchRequest] | None:
    if access.queries is None:
        return None
    return _cached_filters(spec, access.queries, max_count)


def _wants_fhir_json() -> bool:
    accept = request.headers.get("Accept", "")
    fmt = request.args.get("_format", "")
    return any(kind in accept for kind in _FHIR_JSON_ACCEPT) or "json" in fmt


def _binary_content(resource: StoredResource) -> Response | None:
    data = resource.body.get("data")
    if not isinstance(data, str):
        return None
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise FhirError(
            500, "exception", f"{resource.key}.data: expected base64, the stored value is not"
        ) from error
    content_type = resource.body.get("contentType") or "application/octet-stream"
    return Response(raw, content_type=str(content_type))


def _bearer_challenge(error: str, description: str) -> str:
    cleaned = description.replace('"', "'").replace("\\", "/")
    return f'Bearer realm="sandbox", error="{error}", error_description="{cleaned}"'


def _unauthorized(description: str) -> FhirError:
    return FhirError(
        401,
        "login",
        description,
        headers={"WWW-Authenticate": _bearer_challenge("invalid_token", description)},
    )
