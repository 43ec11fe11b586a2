"""A FHIR R4 REST client: pooled session, searches in parallel, every page followed,
timeouts, and retries with backoff on 429 and 5xx."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from threading import Lock
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from integration.fhir.errors import (
    FhirBadResponse,
    FhirError,
    FhirForbidden,
    FhirHttpError,
    FhirTimeout,
    FhirUnauthorized,
    FhirUnavailable,
)

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_PAGES = 2000


@dataclass(frozen=True, slots=True)
class ClientOptions:
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.25
    max_retry_after: float = 5.0
    concurrency: int = 8
    page_size: int = 1000


@dataclass(slots=True)
class SearchResult:
    matches: list[dict[str, Any]] = field(default_factory=list)
    included: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    pages: int = 0


def _path_only(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _diagnostics(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        texts = [
            i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code", "")
            for i in body.get("issue", [])
        ]
        return "; ".join(t for t in texts if t) or response.reason
    if isinstance(body, dict) and "error" in body:
        return str(body.get("error_description") or body["error"])
    return response.reason


class FhirClient:
    """One pooled HTTP session per launch. `token` returns the current access token (or None);
    `refresh` is called once on a 401 and returns True if a new token was obtained."""

    def __init__(
        self,
        base_url: str,
        *,
        token: Callable[[], str | None] = lambda: None,
        refresh: Callable[[], bool] = lambda: False,
        options: ClientOptions | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.options = options or ClientOptions()
        self._token = token
        self._refresh = refresh
        self._refresh_lock = Lock()
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(self.options.concurrency, 4))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._count_lock = Lock()
        self.round_trips = 0

    def close(self) -> None:
        self.session.close()

    # -- HTTP -------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": FHIR_JSON}
        token = self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _retry_after(self, response: requests.Response, attempt: int) -> float:
        header = response.headers.get("Retry-After")
        delay = self.options.backoff * (2**attempt)
        if header:
            try:
                delay = float(header)
            except ValueError:
                with suppress(TypeError, ValueError):
                    delay = parsedate_to_datetime(header).timestamp() - time.time()
        return float(max(0.0, min(delay, self.options.max_retry_after)))

    def get_json(self, url: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """GET with retries on 429/5xx and one token refresh on 401; returns the JSON object."""
        refreshed = False
        attempt = 0
        where = _path_only(url)
        while True:
            started = time.perf_counter()
            try:
                response = self.session.get(
                    url, params=params, headers=self._headers(), timeout=self.options.timeout
                )
            except requests.Timeout:
                raise FhirTimeout(
                    f"{where}: expected an answer within {self.options.timeout:g} s, got none",
                    where,
                ) from None
            except requests.ConnectionError as exc:
                raise FhirUnavailable(
                    f"{where}: could not connect ({type(exc).__name__})", where
                ) from None
            finally:
                with self._count_lock:
                    self.round_trips += 1
            status = response.status_code
            log.debug(
                "fhir request path=%s status=%s ms=%.1f",
                urlsplit(where).path,
                status,
                (time.perf_counter() - started) * 1000,
            )
            if status == 401 and not refreshed:
                refreshed = True
                with self._refresh_lock:
                    if self._refresh():
                        continue
                raise FhirUnauthorized(
                    f"{where}: token refused (401): {_diagnostics(response)}", where
                )
            if status == 401:
                raise FhirUnauthorized(
                    f"{where}: token refused after refresh (401): {_diagnostics(response)}", where
                )
            if status in RETRY_STATUSES and attempt < self.options.retries:
                delay = self._retry_after(response, attempt)
                log.info(
                    "fhir retry path=%s status=%s attempt=%d delay=%.2f",
                    urlsplit(where).path,
                    status,
                    attempt + 1,
                    delay,
                )
                attempt += 1
                time.sleep(delay)
                continue
            if status == 403:
                raise FhirForbidden(
                    f"{where}: not permitted (403): {_diagnostics(response)}", where
                )
            if status >= 400:
                raise FhirHttpError(
                    f"{where}: HTTP {status}: {_diagnostics(response)}", where, status
                )
            try:
                body = response.json()
            except ValueError:
                ctype = response.headers.get("Content-Type", "?")
                raise FhirBadResponse(
                    f"{where}: expected FHIR JSON, got {ctype!r}", where
                ) from None
            if not isinstance(body, dict):
                raise FhirBadResponse(
                    f"{where}: expected a JSON object, got {type(body).__name__}", where
                )
            return body

    # -- FHIR interactions --------------------------------------------------------------------

    def url(self, relative: str) -> str:
        return urljoin(self.base_url, relative.lstrip("/"))

    def read(self, type_name: str, resource_id: str) -> dict[str, Any]:
        body = self.get_json(self.url(f"{type_name}/{resource_id}"))
        if body.get("resourceType") != type_name:
            raise FhirBadResponse(
                f"{type_name}/{resource_id}: expected a {type_name}, got {body.get('resourceType')!r}",
                self.url(type_name),
            )
        return body

    def search(self, type_name: str, params: Mapping[str, str]) -> SearchResult:
        """Search and follow every `next` link (absolute, possibly on another host) to the end."""
        result = SearchResult()
        url: str | None = self.url(type_name)
        query: Mapping[str, str] | None = params
        seen: set[str] = set()
        while url is not None:
            body = self.get_json(url, query)
            result.pages += 1
            if body.get("resourceType") != "Bundle":
                raise FhirBadResponse(
                    f"{type_name} search page {result.pages}: expected a Bundle, got {body.get('resourceType')!r}",
                    _path_only(url),
                )
            for index, entry in enumerate(body.get("entry") or []):
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if not isinstance(resource, dict):
                    raise FhirBadResponse(
                        f"{type_name} search page {result.pages} entry {index}: expected a resource, got none",
                        _path_only(url),
                    )
                mode = (entry.get("search") or {}).get("mode", "match")
                if mode == "outcome" or resource.get("resourceType") == "OperationOutcome":
                    for issue in resource.get("issue", []):
                        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
                        if text:
                            result.outcomes.append(f"{type_name} search: {text}")
                elif mode == "include" or resource.get("resourceType") != type_name:
                    result.included.append(resource)
                else:
                    result.matches.append(resource)
            next_url = next(
                (
                    link.get("url")
                    for link in body.get("link") or []
                    if link.get("relation") == "next"
                ),
                None,
            )
            if next_url:
                next_url = urljoin(url, next_url)
                if next_url in seen:
                    raise FhirBadResponse(
                        f"{type_name} search page {result.pages}: the next link repeats an earlier page (paging loop)",
                        _path_only(url),
                    )
                if result.pages >= MAX_PAGES:
                    raise FhirBadResponse(
                        f"{type_name} search: more than {MAX_PAGES} pages", _path_only(url)
                    )
                seen.add(next_url)
            url, query = next_url, None
        return result

    def parallel(self, jobs: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
        """Run named jobs on a pool; the first FhirError is raised after all have finished."""
        results: dict[str, Any] = {}
        errors: list[FhirError] = []
        with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            futures = {name: pool.submit(job) for name, job in jobs.items()}
            for name, future in futures.items():
                try:
                    results[name] = future.result()
                except FhirError as exc:
                    errors.append(exc)
        if errors:
            raise _most_telling(errors)
        return results


def _most_telling(errors: list[FhirError]) -> FhirError:
    """Report the error that explains the others: unreachable, then auth, then the rest."""
    order = (FhirUnavailable, FhirTimeout, FhirUnauthorized, FhirForbidden)
    for cls in order:
        for error in errors:
            if isinstance(error, cls):
                return error
    return errors[0]
