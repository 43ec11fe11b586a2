"""Settings: one object, built from environment variables in create_app() / main() and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from integration.paths import project_root


def default_database_url() -> str:
    return f"sqlite:///{project_root() / 'var' / 'dermrcm.db'}"


class Settings(BaseSettings):
    """Every setting, its environment variable and default (see the README's table)."""

    model_config = SettingsConfigDict(env_prefix="DERMRCM_", extra="ignore", frozen=True)

    database_url: str = Field(
        default_factory=default_database_url,
        validation_alias=AliasChoices("DATABASE_URL", "DERMRCM_DATABASE_URL"),
        description="SQLAlchemy URL; sqlite:///var/dermrcm.db by default, postgresql+psycopg://... for PostgreSQL",
    )
    secret_key: str | None = Field(
        default=None,
        description="Signs session cookies and encrypts stored tokens; generated into var/secret_key when unset",
    )
    host: str = Field(default="127.0.0.1", description="Address the app listens on")
    port: int = Field(default=8080, description="Port of the SMART app and API")
    public_url: str | None = Field(
        default=None,
        description="The app's external URL (for redirect_uri); http://HOST:PORT when unset",
    )
    sandbox_port: int = Field(
        default=8081, description="Port of the sandbox EHR started by `dermrcm run`"
    )
    sandbox_data: Path | None = Field(
        default=None,
        description="Folder of FHIR bundles for the sandbox EHR; fixtures/patients when unset",
    )
    client_id: str = Field(
        default="derm-rcm", description="SMART client_id registered with the EHR"
    )
    issuers: str = Field(
        default="",
        description="Comma-separated FHIR base URLs (iss) the app accepts, each optionally `URL=client_id`; `dermrcm run` adds its sandbox",
    )
    scope: str = Field(
        default=(
            "launch openid fhirUser offline_access patient/Patient.rs patient/Coverage.rs "
            "patient/Condition.rs patient/Observation.rs patient/MedicationStatement.rs "
            "patient/MedicationRequest.rs patient/Medication.rs patient/Media.rs "
            "patient/DocumentReference.rs patient/Procedure.rs patient/DiagnosticReport.rs "
            "patient/Organization.rs patient/Binary.r patient/ServiceRequest.rs "
            "user/Practitioner.rs user/PractitionerRole.rs"
        ),
        description="Scopes asked for in an EHR launch (a standalone launch asks launch/patient instead of launch)",
    )
    fhir_timeout: float = Field(default=10.0, description="Seconds to wait for one FHIR response")
    fhir_retries: int = Field(default=3, description="Retries on 429 and 5xx, with backoff")
    fhir_concurrency: int = Field(default=8, description="Parallel FHIR requests per launch")
    fhir_page_size: int = Field(
        default=1000, description="_count asked for in searches (the server may give fewer)"
    )
    refresh_margin: int = Field(
        default=60, description="Refresh the access token this many seconds before it expires"
    )
    session_hours: float = Field(default=8.0, description="How long a launched session lasts")
    log_level: str = Field(default="INFO", description="Python logging level")
    hl7_host: str = Field(default="127.0.0.1", description="Address the MLLP listener binds")
    hl7_port: int = Field(
        default=2575, description="Port of the MLLP listener (0: don't start it in `dermrcm run`)"
    )
    hl7_max_frame: int = Field(
        default=4 * 1024 * 1024, description="Largest MLLP frame accepted, in bytes (larger: AR)"
    )
    hl7_idle_timeout: float = Field(
        default=300.0, description="Seconds an MLLP connection may stay silent before it is closed"
    )
    hl7_timezone: str = Field(
        default="UTC",
        description="IANA timezone of HL7 times sent without an offset (the EHR's local time), e.g. America/Chicago",
    )
    hl7_batch_size: int = Field(
        default=64, description="Most messages committed in one transaction (group commit)"
    )
    hl7_group_wait_ms: float = Field(
        default=2.0,
        description="Longest a group waits for the other connections that are sending (0: take what has arrived)",
    )
    admin_token: str | None = Field(
        default=None,
        description="Bearer/Basic token for the interface-engineer screens (/interfaces); unset: only requests from loopback may see them",
    )

    payer_url: str | None = Field(
        default=None,
        description="Base URL of the payer (or clearinghouse) PA endpoints: {base}/ncpdp (NCPDP SCRIPT ePA), {base}/x12/278, {base}/fhir/Claim/$submit (Da Vinci PAS); `dermrcm run` points it at the sandbox payer",
    )
    payer_timeout: float = Field(
        default=30.0, description="Seconds to wait for a payer's answer to one PA message"
    )
    ncpdp_xsd: Path | None = Field(
        default=None,
        description="NCPDP SCRIPT transport XSD (licensed; you supply it): every ePA message is validated against it before it is sent; unset: not validated",
    )
    practice_name: str = Field(
        default="Sandbox Dermatology", description="The requesting practice's name on 278s"
    )
    practice_npi: str = Field(
        default="1999999984",
        description="The requesting practice's (group) NPI on 278s and ePA messages",
    )

    backend_client_id: str = Field(
        default="derm-rcm-backend",
        description="client_id of derm-rcm as a SMART backend service (the reauthorization watcher), registered with the EHR with the public key `dermrcm backend jwks` prints",
    )
    backend_key_file: Path | None = Field(
        default=None,
        description="Private key (PEM, P-384) that signs derm-rcm's backend-services client assertions; generated once into var/backend_key.pem when unset",
    )
    backend_scope: str = Field(
        default=(
            "system/Patient.rs system/Coverage.rs system/Organization.rs system/Condition.rs "
            "system/Observation.rs system/MedicationStatement.rs system/MedicationRequest.rs "
            "system/Medication.rs system/Media.rs system/DocumentReference.rs "
            "system/Procedure.rs system/DiagnosticReport.rs system/ServiceRequest.rs "
            "system/Practitioner.rs system/PractitionerRole.rs"
        ),
        description="system/ scopes the backend service asks for (read and search of what a PA checklist reads)",
    )
    reauth_fhir_base: str | None = Field(
        default=None,
        description="FHIR base the reauthorization watcher reads charts from as a backend service; `dermrcm run` uses its sandbox EHR; unset otherwise: no watcher",
    )
    chart_fhir_base: str | None = Field(
        default=None,
        description="FHIR base billing staff's screens read a denial's chart from (drafting an appeal from the worklist) as the backend service; `dermrcm run` uses its sandbox EHR; unset: drafting needs a clinician's launch for that patient",
    )
    appeal_polish_endpoint: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible API ({base}/chat/completions) that may reword appeal letters; unset (the default): no polish",
    )
    appeal_polish_allow_phi_to: str | None = Field(
        default=None,
        description="The letter's sentences hold patient data: they are sent only when this names exactly the same URL as appeal_polish_endpoint (an explicit consent per endpoint)",
    )
    appeal_polish_model: str = Field(
        default="gpt-4o-mini", description="Model name sent to the polish endpoint"
    )
    appeal_polish_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for the polish endpoint"
    )
    appeal_polish_api_key: str | None = Field(
        default=None, description="Bearer token for the polish endpoint, when it needs one"
    )
    reauth_interval_hours: float = Field(
        default=24.0, gt=0, description="Hours between two rounds of the reauthorization watcher"
    )
    reauth_window_days: int = Field(
        default=30,
        ge=1,
        description="An approval ending within this many days gets its reauthorization case",
    )
    clearinghouse_url: str | None = Field(
        default=None,
        description="The clearinghouse's file exchange (claims out; 999/277CA/835 in): http(s)://... for its HTTP API, or sftp://user@host[:port]/path for an SFTP mailbox; `dermrcm run` points it at the sandbox clearinghouse; unset otherwise: `dermrcm claims` cannot send",
    )
    clearinghouse_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for the clearinghouse's answer to one call"
    )
    clearinghouse_sftp_password: str | None = Field(
        default=None, description="SFTP mailbox password (or use a key file); never logged"
    )
    clearinghouse_sftp_key_file: Path | None = Field(
        default=None, description="Private key file for the SFTP mailbox login"
    )
    clearinghouse_sftp_known_hosts: Path = Field(
        default=Path("~/.ssh/known_hosts"),
        description="known_hosts with the SFTP server's host key (an unknown or changed key is refused)",
    )
    clearinghouse_sftp_send_dir: str = Field(
        default="inbound", description="Mailbox folder our claim files are put in"
    )
    clearinghouse_sftp_receive_dir: str = Field(
        default="outbound", description="Mailbox folder the clearinghouse leaves 999/277CA/835 in"
    )
    clearinghouse_sftp_archive_dir: str | None = Field(
        default=None,
        description="Mailbox folder a stored inbound file is moved to; unset: it is deleted",
    )
    submitter_id: str = Field(
        default="DERMRCM",
        min_length=1,
        max_length=15,
        description="Our interchange sender id (ISA06/GS02) on claim files, and the key of our X12 control numbers",
    )
    receiver_id: str = Field(
        default="SANDBOXCH",
        min_length=1,
        max_length=15,
        description="The clearinghouse's interchange receiver id (ISA08/GS03) on claim files",
    )
    usage_indicator: Literal["T", "P"] = Field(
        default="T", description="ISA15 of the files we send: T test, P production"
    )

    @field_validator("public_url")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def backend_key_path(self) -> Path:
        return self.backend_key_file or project_root() / "var" / "backend_key.pem"

    @property
    def app_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def secure_cookies(self) -> bool:
        return self.app_url.startswith("https://")

    def issuer_clients(self) -> dict[str, str]:
        """iss (no trailing slash) -> client_id."""
        out: dict[str, str] = {}
        for item in self.issuers.split(","):
            item = item.strip()
            if not item:
                continue
            iss, _, client = item.partition("=")
            out[iss.strip().rstrip("/")] = client.strip() or self.client_id
        return out

    def with_changes(self, **changes: object) -> Settings:
        return self.model_copy(update=changes)
