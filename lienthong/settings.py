"""All configuration, read from LIENTHONG_* environment variables (or a .env file).

Nested groups use a double underscore: ``LIENTHONG_JUSTICE__BASE_URL``,
``LIENTHONG_RETRY__MAX_ATTEMPTS``. Nothing here builds a connection: settings are plain
values handed to the composition root (``lienthong.bootstrap``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lienthong.models.contract.http import (
    DEFAULT_SIMULATOR_HOST,
    DEFAULT_SIMULATOR_PORT,
    development_api_key,
    development_webhook_secret,
    simulator_urls,
)
from lienthong.models.contract.signing import secret_key
from lienthong.models.limits import DEFAULT_MAX_WEBHOOK_BODY_BYTES, DossierLimits
from lienthong.models.status import Agency
from lienthong.models.statutory import CalendarSettings
from lienthong.models.wording import Language


class AnswerForm(StrEnum):
    """Which form of the agency contract we expect (docs/agency-api.md)."""

    # 200 with the decision (or 422) within the call.
    IMMEDIATE = "immediate"
    # 202 with a receipt; the decision later, by callback or polling.
    ASYNC = "async"
    # Whichever the agency answers: 200 is a decision, 202 a receipt.
    EITHER = "either"


def _whsec(secret: SecretStr) -> SecretStr:
    """A Standard Webhooks secret, ``whsec_<base64>``, or a clear error at start-up."""
    secret_key(secret.get_secret_value())
    return secret


WebhookSecret = Annotated[SecretStr, AfterValidator(_whsec)]


class AgencyEndpoint(BaseModel):
    """How we reach one agency's system, and where we notify it.

    The webhook secrets (Standard Webhooks, ``whsec_<base64>``: models/contract/signing.py)
    sign our notifications to the agency and verify its decision callbacks: they are the
    agency system's identity on our callback endpoint. To rotate, put the new secret in
    ``webhook_secret`` and the old one in ``previous_webhook_secrets`` until the agency has
    switched: we sign with both and accept either.
    """

    base_url: str
    api_key: SecretStr
    webhook_url: str
    webhook_secret: WebhookSecret
    previous_webhook_secrets: list[WebhookSecret] = Field(default_factory=list)
    answers: AnswerForm = AnswerForm.EITHER

    def webhook_secrets(self) -> list[str]:
        """The active secrets, newest first."""
        return [s.get_secret_value() for s in (self.webhook_secret, *self.previous_webhook_secrets)]


class ApiSettings(BaseModel):
    """Our HTTP API (``lienthong api``): agencies post their decisions to it."""

    host: str = "127.0.0.1"
    port: int = Field(8800, ge=0, le=65535)
    # A callback this late after the decision was due (or announced) is presumed lost: the
    # sweep (and the API's poller) ask the agency's status endpoint instead.
    callback_grace_seconds: float = Field(300.0, ge=0)
    # How often the API process polls for overdue decisions; 0: only the sweep polls.
    poll_interval_seconds: float = Field(60.0, ge=0)
    # How a decided dossier continues when its run cannot be resumed (no suspended run):
    # a new run of the chain's deployment, or a run in the API process.
    run_chains_with_deployments: bool = True
    # Whether a dossier accepted over the API starts its chain at once (as `lienthong
    # submit` does); off, it waits for `lienthong run` or the sweep.
    start_chains: bool = True
    # scrypt's cost (N, a power of two) for new client secrets; the hash keeps its own cost.
    client_secret_cost: int = Field(2**14, ge=2**4, le=2**20)
    # The operator's desk (/desk): the key that signs its session cookies. Empty: a random
    # key per process (every session ends when the API restarts).
    desk_session_secret: SecretStr = SecretStr("")
    # How long a desk session lasts without a new login.
    desk_session_hours: float = Field(10.0, gt=0, le=24 * 7)


def _default_endpoint(
    agency: Agency, host: str = DEFAULT_SIMULATOR_HOST, port: int = DEFAULT_SIMULATOR_PORT
) -> dict[str, str]:
    """The simulator's address and development credentials for ``agency``."""
    urls = simulator_urls(f"http://{host}:{port}", agency)
    return {
        "base_url": urls.base_url,
        "api_key": development_api_key(agency),
        "webhook_url": urls.webhook_url,
        "webhook_secret": development_webhook_secret(agency),
    }


class RetrySettings(BaseModel):
    """Quick, bounded retries inside an adapter (tenacity). Longer outages are Prefect's."""

    max_attempts: int = Field(5, ge=1)
    max_seconds: float = Field(20.0, gt=0)
    initial_backoff_seconds: float = Field(0.2, ge=0)
    max_backoff_seconds: float = Field(5.0, ge=0)
    request_timeout_seconds: float = Field(10.0, gt=0)
    # The whole of one call (connecting, sending, reading the entire answer): httpx's
    # timeout above is per read, so an agency dripping a byte at a time never trips it.
    call_deadline_seconds: float = Field(30.0, gt=0)


class TaskRetrySettings(BaseModel):
    """Prefect task retries for transient failures that outlast the adapter's retries."""

    retries: int = Field(3, ge=0)
    retry_delay_seconds: list[float] = Field(default_factory=lambda: [2.0, 10.0, 30.0])
    timeout_seconds: float = Field(120.0, gt=0)


class OutboxSettings(BaseModel):
    """Webhook delivery of notifications."""

    initial_backoff_seconds: float = Field(1.0, ge=0)
    max_backoff_seconds: float = Field(600.0, ge=0)
    request_timeout_seconds: float = Field(10.0, gt=0)
    batch_size: int = Field(200, ge=1)


class LimitSettings(DossierLimits):
    """Bounds on everything read from outside, checked before it is held in memory whole.

    The dossier's own bounds (``max_text_length``, ``max_nesting``) are the domain's
    (``models/limits.py``); these add the byte sizes the adapters stop reading at. A dossier
    is about 2 KB, an agency's answer under 1 KB, a notification under 4 KB.
    """

    # A dossier or supplement file (``lienthong validate``/``submit``/``supplement``), or
    # any HTTP body carrying one.
    max_dossier_bytes: int = Field(256 * 1024, ge=1024)
    # An agency's answer: read as it streams, and refused (AgencyProtocolError) past this.
    max_agency_answer_bytes: int = Field(1024 * 1024, ge=1024)
    # A signed notification a receiver reads before it checks the signature.
    max_webhook_body_bytes: int = Field(DEFAULT_MAX_WEBHOOK_BODY_BYTES, ge=1024)


class AuditAnchorSettings(BaseModel):
    """Where the daily audit anchor (the chain's head) is sent, signed, besides Prefect.

    The province keeps what it receives: deleting the newest audit events is then found
    against a copy no one here can rewrite. Empty ``url``: published as a Prefect
    artifact only.
    """

    url: str = ""
    # The Standard Webhooks secret (``whsec_<base64>``) the anchor is signed with.
    secret: SecretStr = SecretStr("")
    # The Prefect artifact key (lowercase letters, digits, dashes): one per record
    # database, should two share a Prefect server.
    artifact_key: str = Field("audit-anchor", pattern=r"^[a-z0-9-]+$")

    @model_validator(mode="after")
    def _signed_when_sent(self) -> AuditAnchorSettings:
        if self.url:
            secret_key(self.secret.get_secret_value())
        return self


class Settings(BaseSettings):
    """Root settings object. Build it once in the composition root and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix="LIENTHONG_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    data_dir: Path = Path(".lienthong")
    database_url: str = ""
    # The words people read (CLI, artifacts, notices, desk): Vietnamese; ``en`` for
    # maintainers (models/wording.py).
    language: Language = Language.VI

    # Each agency defaults to the simulator (see _endpoints_default_to_the_simulator).
    justice: AgencyEndpoint = Field(
        default_factory=lambda: AgencyEndpoint.model_validate(_default_endpoint(Agency.JUSTICE))
    )
    police: AgencyEndpoint = Field(
        default_factory=lambda: AgencyEndpoint.model_validate(_default_endpoint(Agency.POLICE))
    )
    social_insurance: AgencyEndpoint = Field(
        default_factory=lambda: AgencyEndpoint.model_validate(
            _default_endpoint(Agency.SOCIAL_INSURANCE)
        )
    )
    social_affairs: AgencyEndpoint = Field(
        default_factory=lambda: AgencyEndpoint.model_validate(
            _default_endpoint(Agency.SOCIAL_AFFAIRS)
        )
    )
    commune: AgencyEndpoint = Field(
        default_factory=lambda: AgencyEndpoint.model_validate(_default_endpoint(Agency.COMMUNE))
    )
    # The province's department: only its webhook (escalations of late decisions) is used.
    province: AgencyEndpoint = Field(
        default_factory=lambda: AgencyEndpoint.model_validate(_default_endpoint(Agency.PROVINCE))
    )

    retry: RetrySettings = Field(default_factory=RetrySettings)
    task_retry: TaskRetrySettings = Field(default_factory=TaskRetrySettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    audit_anchor: AuditAnchorSettings = Field(default_factory=AuditAnchorSettings)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    # The Chromium that prints `lienthong report --format pdf`; default: `chromium` on the
    # PATH (Debian's package). Playwright drives it; no browser is downloaded.
    chromium: Path | None = None

    # Hold a slot of the Prefect global concurrency limit "agency-<agency>" around every
    # agency call (create the limits first: docs/production.md). Off: no limit is asked for.
    agency_concurrency_limits: bool = False

    # Per-dossier run guard: a run renews its lease while it works; a dead run's lapses.
    lease_seconds: float = Field(30.0, gt=0)
    # How long a second run for the same dossier waits for the first before giving up.
    lease_wait_seconds: float = Field(45.0, ge=0)

    # Where the simulator listens (the same variables as lienthong.simulator.settings): the
    # agencies' default endpoints point there.
    simulator_host: str = DEFAULT_SIMULATOR_HOST
    simulator_port: int = DEFAULT_SIMULATOR_PORT

    @model_validator(mode="before")
    @classmethod
    def _endpoints_default_to_the_simulator(cls, data: Any) -> Any:
        """Fill each agency's missing fields from the simulator at simulator_host:port.

        So ``LIENTHONG_SIMULATOR_PORT`` moves every default endpoint, and one variable such
        as ``LIENTHONG_POLICE__BASE_URL`` changes one field and keeps the others.
        """
        if not isinstance(data, dict):
            return data
        host = str(data.get("simulator_host") or DEFAULT_SIMULATOR_HOST)
        port = int(data.get("simulator_port") or DEFAULT_SIMULATOR_PORT)
        for agency in Agency:
            given = data.get(agency.value)
            if given is None or isinstance(given, dict):
                data[agency.value] = {**_default_endpoint(agency, host, port), **(given or {})}
        return data

    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file inside ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'lienthong.db').resolve()}"

    def endpoint(self, agency: Agency) -> AgencyEndpoint:
        endpoints: dict[Agency, AgencyEndpoint] = {
            Agency.JUSTICE: self.justice,
            Agency.POLICE: self.police,
            Agency.SOCIAL_INSURANCE: self.social_insurance,
            Agency.SOCIAL_AFFAIRS: self.social_affairs,
            Agency.COMMUNE: self.commune,
            Agency.PROVINCE: self.province,
        }
        return endpoints[agency]
