"""The simulator's own settings: where it listens, which faults it injects, whom it trusts.

:class:`SimulatorSettings` reads ``LIENTHONG_SIMULATOR_*`` variables (or a ``.env`` file),
nested groups with a double underscore: ``LIENTHONG_SIMULATOR_PORT``,
``LIENTHONG_SIMULATOR_FAULTS__AGENCIES__ERROR_503_RATE=0.1``,
``LIENTHONG_SIMULATOR_DECISIONS__FORMS='{"police": "async"}'``. The application's settings
know nothing of the faults; they only read the host and port, to point the agencies'
default endpoints at the simulator.

Each agency's :class:`AgencyCredentials` are handed in by whoever starts the simulator
(``lienthong.simulator_config`` builds them from the application's settings), so that both
sides agree on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lienthong.models.contract.http import DEFAULT_SIMULATOR_HOST, DEFAULT_SIMULATOR_PORT


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


class DecisionForm(StrEnum):
    """How a simulated agency answers a step's request (docs/agency-api.md)."""

    IMMEDIATE = "immediate"  # 200 / 422 within the call
    ASYNC = "async"  # 202 and a receipt; the decision later, by callback and status endpoint


class SimulatorDecisionSettings(BaseModel):
    """Agencies staffed by officers: which decide later, how late, how reliably they call back.

    Replaceable at run time (``PUT /admin/decisions``).
    """

    # Per agency slug (``police``, ``social-insurance``...); an agency not listed decides at once.
    forms: dict[str, DecisionForm] = Field(default_factory=dict)
    # Seconds from the receipt to the decision (and from "verification needed" to the final
    # one): seconds for the demo and the tests.
    delay_seconds: float = Field(2.0, ge=0)
    # Or in working days, like an officer (replaces ``delay_seconds`` when set): on Vietnam's
    # calendar (the decision comes at the same local time N working days later), or, with
    # ``seconds_per_working_day``, on an accelerated clock where each working day lasts that
    # many real seconds (for tests).
    delay_working_days: int | None = Field(None, ge=0)
    seconds_per_working_day: float | None = Field(None, gt=0)
    # A callback our API does not accept (5xx, 429, connection refused, timeout) is sent
    # again, up to this many attempts in all, after a backoff doubling from
    # ``callback_backoff_seconds``, like a real webhook sender; then it is given up (polling
    # finds it). A 4xx answer is final.
    callback_attempts: int = Field(4, ge=1)
    callback_backoff_seconds: float = Field(0.5, ge=0)
    # Share of receipts whose decision first needs a verification (an interim notice).
    verification_rate: float = Field(0.0, ge=0, le=1)
    # Share of callbacks never sent, so the caller must poll the status endpoint.
    callback_loss_rate: float = Field(0.0, ge=0, le=1)
    # Where decisions are posted: the caller's API root (``/agency-decisions/<slug>`` is
    # appended). Empty: no callbacks, polling only.
    callback_url: str = ""
    seed: int | None = None

    def form(self, slug: str) -> DecisionForm:
        return self.forms.get(slug, DecisionForm.IMMEDIATE)


class SimulatorSettings(BaseSettings):
    """What ``lienthong simulator`` reads from the environment."""

    model_config = SettingsConfigDict(
        env_prefix="LIENTHONG_SIMULATOR_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    host: str = DEFAULT_SIMULATOR_HOST
    port: int = DEFAULT_SIMULATOR_PORT
    faults: SimulatorFaultSettings = Field(default_factory=SimulatorFaultSettings)
    decisions: SimulatorDecisionSettings = Field(default_factory=SimulatorDecisionSettings)


@dataclass(frozen=True)
class AgencyCredentials:
    """What one simulated agency checks: the API key its callers must send, and the secret
    its webhook receiver verifies signatures with. Every agency has both; the commune and the
    province have no API and only their webhook secrets are used."""

    api_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
