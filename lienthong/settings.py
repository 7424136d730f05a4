"""All configuration, read from LIENTHONG_* environment variables (or a .env file).

Nested groups use a double underscore: ``LIENTHONG_JUSTICE__BASE_URL``,
``LIENTHONG_RETRY__MAX_ATTEMPTS``. Nothing here builds a connection: settings are plain
values handed to the composition root (``lienthong.bootstrap``).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.status import Agency

DEFAULT_SIMULATOR_PORT = 8765


class AgencyEndpoint(BaseModel):
    """How we reach one agency's system, and where we notify it."""

    base_url: str
    api_key: SecretStr
    webhook_url: str
    webhook_secret: SecretStr


def _default_endpoint(
    agency: Agency, host: str = "127.0.0.1", port: int = DEFAULT_SIMULATOR_PORT
) -> dict[str, str]:
    """The simulator's address and development credentials for ``agency``."""
    slug = agency.value.replace("_", "-")
    return {
        "base_url": f"http://{host}:{port}/{slug}",
        "api_key": f"dev-key-{slug}",
        "webhook_url": f"http://{host}:{port}/webhooks/{slug}",
        "webhook_secret": f"dev-webhook-secret-{slug}",
    }


class RetrySettings(BaseModel):
    """Quick, bounded retries inside an adapter (tenacity). Longer outages are Prefect's."""

    max_attempts: int = Field(5, ge=1)
    max_seconds: float = Field(20.0, gt=0)
    initial_backoff_seconds: float = Field(0.2, ge=0)
    max_backoff_seconds: float = Field(5.0, ge=0)
    request_timeout_seconds: float = Field(10.0, gt=0)


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


class StatutoryLimits(BaseModel):
    """Statutory limits in working days (docs/deadlines.md).

    A limit of N means the work is due by the end of the N-th working day after the day the
    clock starts; 0 means the same working day. Chain B's per-step limits are assumptions:
    the law sources give none.
    """

    birth_registration: int = Field(0, ge=0, description="Law: same working day.")
    residence_registration: int = Field(2, ge=0, description="Law.")
    residence_registration_with_verification: int = Field(5, ge=0, description="Law.")
    child_health_card: int = Field(2, ge=0, description="Law.")
    birth_chain: int = Field(3, ge=0, description="Law: whole chain A.")
    birth_chain_with_verification: int = Field(5, ge=0, description="Law: whole chain A.")
    death_registration: int = Field(1, ge=0, description="Assumption.")
    residence_removal: int = Field(1, ge=0, description="Assumption.")
    funeral_allowance: int = Field(5, ge=0, description="Assumption.")
    survivor_benefits: int = Field(10, ge=0, description="Assumption.")
    supplement_window: int = Field(
        7, ge=1, description="Law: working days the applicant has to supplement a dossier."
    )


class CalendarSettings(BaseModel):
    """Working days: Vietnam's public holidays plus the government's yearly moves.

    ``extra_days_off`` and ``makeup_working_days`` are added on top of the holidays package
    and the built-in moves in ``lienthong.calendar``, and win over both.
    """

    timezone: str = "Asia/Ho_Chi_Minh"
    cutoff_hour: int = Field(15, ge=0, le=23)
    extra_days_off: list[date] = Field(default_factory=list)
    makeup_working_days: list[date] = Field(default_factory=list)
    limits: StatutoryLimits = Field(default_factory=StatutoryLimits)


class FaultProfile(BaseModel):
    """Faults the simulator injects into one kind of request (agency calls or webhooks).

    Rates are probabilities per request and are drawn in this order; their sum must be <= 1.
    """

    latency_ms: float = Field(0.0, ge=0)
    latency_jitter_ms: float = Field(0.0, ge=0)
    rate_limit_rate: float = Field(0.0, ge=0, le=1)
    error_500_rate: float = Field(0.0, ge=0, le=1)
    error_503_rate: float = Field(0.0, ge=0, le=1)
    timeout_rate: float = Field(0.0, ge=0, le=1)
    drop_rate: float = Field(0.0, ge=0, le=1)
    # The request IS processed and committed, then the connection is dropped unanswered.
    processed_then_drop_rate: float = Field(0.0, ge=0, le=1)
    # A "timeout" hangs this long before processing and answering (set it past the client's).
    timeout_seconds: float = Field(2.0, ge=0)
    retry_after_seconds: int = Field(1, ge=0)
    # The next N requests fail with 503 whatever the rates say (deterministic scenarios).
    fail_first: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _rates_sum_to_at_most_one(self) -> FaultProfile:
        total = (
            self.rate_limit_rate
            + self.error_500_rate
            + self.error_503_rate
            + self.timeout_rate
            + self.drop_rate
            + self.processed_then_drop_rate
        )
        if total > 1.0:
            raise ValueError(f"fault rates add up to {total}, more than 1")
        return self


class OutageWindow(BaseModel):
    """A time window in which the listed agencies (slugs; empty = all) answer 503."""

    start: datetime
    end: datetime
    agencies: list[str] = Field(default_factory=list)


class SimulatorFaultSettings(BaseModel):
    """Fault injection for the agency simulator; replaceable at run time (PUT /admin/faults)."""

    seed: int | None = None
    agencies: FaultProfile = Field(default_factory=FaultProfile)
    webhooks: FaultProfile = Field(default_factory=FaultProfile)
    outages: list[OutageWindow] = Field(default_factory=list)


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

    retry: RetrySettings = Field(default_factory=RetrySettings)
    task_retry: TaskRetrySettings = Field(default_factory=TaskRetrySettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)

    # Hold a slot of the Prefect global concurrency limit "agency-<agency>" around every
    # agency call (create the limits first: docs/production.md). Off: no limit is asked for.
    agency_concurrency_limits: bool = False

    # Per-dossier run guard: a run renews its lease while it works; a dead run's lapses.
    lease_seconds: float = Field(30.0, gt=0)
    # How long a second run for the same dossier waits for the first before giving up.
    lease_wait_seconds: float = Field(45.0, ge=0)

    simulator_host: str = "127.0.0.1"
    simulator_port: int = DEFAULT_SIMULATOR_PORT
    simulator_faults: SimulatorFaultSettings = Field(default_factory=SimulatorFaultSettings)

    @model_validator(mode="before")
    @classmethod
    def _endpoints_default_to_the_simulator(cls, data: Any) -> Any:
        """Fill each agency's missing fields from the simulator at simulator_host:port.

        So ``LIENTHONG_SIMULATOR_PORT`` moves every default endpoint, and one variable such
        as ``LIENTHONG_POLICE__BASE_URL`` changes one field and keeps the others.
        """
        if not isinstance(data, dict):
            return data
        host = str(data.get("simulator_host") or "127.0.0.1")
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
        }
        return endpoints[agency]
