"""Settings of one sandbox EHR: where its data is, where it is reachable, which apps it knows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class SandboxClient:
    """An app registered with the sandbox (a public client: PKCE, no secret)."""

    client_id: str
    redirect_uris: tuple[str, ...]
    """Exact match; a redirect_uri not listed is refused."""
    launch_url: str | None = None
    """Where the "Launch app" button sends the browser (EHR launch)."""

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ValueError("SandboxClient.client_id: expected a non-empty string, got ''")
        if isinstance(self.redirect_uris, str):
            raise ValueError(
                f"SandboxClient.redirect_uris ({self.client_id}): expected a tuple of URLs, "
                f"got the string {self.redirect_uris!r}"
            )


@dataclass(frozen=True, slots=True)
class BackendClient:
    """A backend service registered with the sandbox (SMART Backend Services): it
    authenticates with a JWT signed by its private key (`private_key_jwt`, RS384 or ES384)
    and gets `system/` scopes, no user and no patient in context."""

    client_id: str
    jwks: dict[str, Any]
    """The client's public keys (a JWK Set), as registered with the EHR."""

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ValueError("BackendClient.client_id: expected a non-empty string, got ''")
        keys = self.jwks.get("keys") if isinstance(self.jwks, dict) else None
        if not isinstance(keys, list) or not keys:
            raise ValueError(
                f"BackendClient.jwks ({self.client_id}): expected a JWK Set "
                '{"keys": [...]} with at least one public key'
            )


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    data_dir: Path
    """Folder of FHIR JSON files (Bundles of any type, or single resources), read recursively."""
    base_url: str
    """External origin, e.g. "http://127.0.0.1:8081" (no trailing slash)."""
    fhir_path: str = "/fhir"
    """FHIR base path; "" serves FHIR at the root (auth endpoints stay under /oauth2/...)."""
    clients: tuple[SandboxClient, ...] = ()
    backend_clients: tuple[BackendClient, ...] = ()
    auth_enabled: bool = True
    """False = --no-auth: FHIR without tokens."""
    access_token_lifetime: int = 300
    refresh_token_lifetime: int = 86400
    default_page_size: int = 50
    max_page_size: int = 1000
    auto_approve: bool = False
    """Skip the consent screen (benchmarks); by default it is shown."""
    support_include: bool = True
    """False: ignore _include (like servers that don't support it)."""
    next_link_base: str | None = None
    """If set, absolute `next` links use this origin instead of base_url."""
    opaque_launch_tokens: bool = True
    """False: launch tokens are readable base64url JSON (like the SMART launcher's)."""
    launch_token_lifetime: int = 600
    """Seconds a launch token stays usable."""

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")) or self.base_url.endswith("/"):
            raise ValueError(
                "SandboxConfig.base_url: expected an origin such as 'http://127.0.0.1:8081' "
                f"(no trailing slash), got {self.base_url!r}"
            )
        if self.fhir_path and (not self.fhir_path.startswith("/") or self.fhir_path.endswith("/")):
            raise ValueError(
                "SandboxConfig.fhir_path: expected '' or a path such as '/fhir' "
                f"(leading slash, no trailing slash), got {self.fhir_path!r}"
            )
        if self.next_link_base is not None and (
            not self.next_link_base.startswith(("http://", "https://"))
            or self.next_link_base.endswith("/")
        ):
            raise ValueError(
                "SandboxConfig.next_link_base: expected an origin such as 'http://localhost:8081' "
                f"(no trailing slash), got {self.next_link_base!r}"
            )
        for name in (
            "access_token_lifetime",
            "refresh_token_lifetime",
            "default_page_size",
            "max_page_size",
            "launch_token_lifetime",
        ):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"SandboxConfig.{name}: expected a positive integer, got {value}")
        if self.default_page_size > self.max_page_size:
            raise ValueError(
                f"SandboxConfig.default_page_size: expected at most max_page_size "
                f"({self.max_page_size}), got {self.default_page_size}"
            )
        seen: set[str] = set()
        ids = [c.client_id for c in self.clients] + [b.client_id for b in self.backend_clients]
        for client_id in ids:
            if client_id in seen:
                raise ValueError(f"SandboxConfig.clients: client_id {client_id!r} twice")
            seen.add(client_id)

    def client(self, client_id: str) -> SandboxClient | None:
        for client in self.clients:
            if client.client_id == client_id:
                return client
        return None


def fhir_base(config: SandboxConfig) -> str:
    """The FHIR base URL apps use as `iss` and `aud`."""
    return config.base_url + config.fhir_path
