"""The HTTP machinery shared by the four agency clients.

One job: POST a typed request with its idempotency key and API key, translate whatever
comes back (or does not) into a result or an exception from :mod:`adapters.errors`, and
retry transient failures quickly and boundedly. Retrying is safe only because every call
carries the same ``Idempotency-Key`` on each attempt: the agency replays its first answer.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
)

from lienthong.adapters.errors import (
    AgencyProtocolError,
    AgencyRequestRejected,
    Refused,
    SupplementRequired,
    TransientAgencyError,
)
from lienthong.adapters.tls import shared_ssl_context
from lienthong.models.contract.http import API_KEY_HEADER, DECISION_STATUS, IDEMPOTENCY_KEY_HEADER
from lienthong.models.contract.messages import AgencyProblem, AgencyRequest, ProblemOutcome
from lienthong.models.status import Agency
from lienthong.settings import AgencyEndpoint, RetrySettings

TRANSIENT_4XX = frozenset({408, 429})

Sleep = Callable[[float], Awaitable[None]]
ResultT = TypeVar("ResultT", bound=BaseModel)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date form)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class BackoffWait:
    """Exponential backoff with full jitter, but never shorter than the agency's Retry-After."""

    def __init__(self, settings: RetrySettings, rng: random.Random | None = None) -> None:
        self._initial = settings.initial_backoff_seconds
        self._cap = settings.max_backoff_seconds
        self._rng = rng or random.Random()

    def __call__(self, state: RetryCallState) -> float:
        exponential = min(self._cap, self._initial * 2 ** (state.attempt_number - 1))
        backoff = self._rng.uniform(0, exponential)
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, TransientAgencyError) and error.retry_after is not None:
            return max(backoff, error.retry_after)
        return backoff


class AgencyClient:
    """Base for one agency's client. Subclasses add one typed method per procedure."""

    agency: ClassVar[Agency]

    def __init__(
        self,
        endpoint: AgencyEndpoint,
        retry: RetrySettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._retry = retry
        self._sleep = sleep
        self._wait = BackoffWait(retry, rng)
        self._http = httpx.AsyncClient(
            base_url=endpoint.base_url.rstrip("/") + "/",
            transport=transport,
            verify=shared_ssl_context(),
            timeout=retry.request_timeout_seconds,
            headers={API_KEY_HEADER: endpoint.api_key.get_secret_value()},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(
        self,
        path: str,
        request: AgencyRequest,
        idempotency_key: str,
        result_type: type[ResultT],
    ) -> ResultT:
        """POST with bounded retries of transient failures; the last one propagates."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientAgencyError),
            stop=stop_after_attempt(self._retry.max_attempts)
            | stop_before_delay(self._retry.max_seconds),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._post_once(path, request, idempotency_key, result_type)
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def _post_once(
        self,
        path: str,
        request: AgencyRequest,
        idempotency_key: str,
        result_type: type[ResultT],
    ) -> ResultT:
        deadline = self._retry.call_deadline_seconds
        try:
            # The overall deadline covers the body read too (httpx's timeout is per read).
            async with asyncio.timeout(deadline):
                response = await self._http.post(
                    path.lstrip("/"),
                    content=request.model_dump_json(),
                    headers={
                        IDEMPOTENCY_KEY_HEADER: idempotency_key,
                        "Content-Type": "application/json",
                    },
                )
        except TimeoutError as exc:
            raise TransientAgencyError(
                self.agency, f"no complete answer within the {deadline:g} s deadline"
            ) from exc
        except httpx.TimeoutException as exc:
            raise TransientAgencyError(self.agency, f"timed out: {exc!r}") from exc
        except httpx.UnsupportedProtocol as exc:
            raise AgencyRequestRejected(self.agency, f"bad base URL: {exc}") from exc
        except httpx.TransportError as exc:
            raise TransientAgencyError(self.agency, f"connection failed: {exc!r}") from exc
        return self._translate(response, result_type)

    def _translate(self, response: httpx.Response, result_type: type[ResultT]) -> ResultT:
        status = response.status_code
        if response.is_success:
            try:
                return result_type.model_validate_json(response.content)
            except ValidationError as exc:
                raise AgencyProtocolError(
                    self.agency, f"unreadable {status} answer: {exc}"
                ) from exc
        problem = _problem(response)
        reason = problem.reason if problem else response.text[:500]
        if status in TRANSIENT_4XX or status >= 500:
            raise TransientAgencyError(
                self.agency,
                f"HTTP {status}: {reason}",
                status_code=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status == DECISION_STATUS and problem is not None:
            if problem.outcome is ProblemOutcome.REFUSED:
                raise Refused(self.agency, problem.reason)
            if problem.outcome is ProblemOutcome.SUPPLEMENT_REQUIRED:
                raise SupplementRequired(self.agency, problem.reason, problem.missing_items)
        raise AgencyRequestRejected(self.agency, f"HTTP {status}: {reason}", status_code=status)


def _problem(response: httpx.Response) -> AgencyProblem | None:
    try:
        return AgencyProblem.model_validate_json(response.content)
    except ValidationError:
        return None
