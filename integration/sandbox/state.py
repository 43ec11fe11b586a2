"""Everything one sandbox app holds, built once in `create_sandbox_app` and passed to its views."""

from __future__ import annotations

from dataclasses import dataclass

from integration.sandbox.config import SandboxConfig, fhir_base
from integration.sandbox.store import ResourceStore
from integration.sandbox.tokens import IdTokenSigner, TokenStore


@dataclass(frozen=True, slots=True)
class Sandbox:
    config: SandboxConfig
    store: ResourceStore
    tokens: TokenStore
    signer: IdTokenSigner

    @property
    def fhir_base(self) -> str:
        return fhir_base(self.config)

    @property
    def next_link_base(self) -> str:
        """The FHIR base as written in `next` links (another origin when configured)."""
        origin = self.config.next_link_base or self.config.base_url
        return origin + self.config.fhir_path

    def url(self, path: str) -> str:
        """An absolute URL at the sandbox's origin; `path` starts with a slash."""
        return self.config.base_url + path
