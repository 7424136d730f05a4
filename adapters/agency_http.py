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
from typing import Any, ClassVar, TypeVar

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
    AgencyError,
    AgencyProtocolError,
    AgencyRequestRejected,
    Refused,
    SupplementRequired,
    TransientAgencyError,
)
from lienthong.adapters.tls import shared_ssl_context
from lienthong.models.contract.decisions import (
    ACCEPTED_STATUS,
    PREFER_ASYNC,
    PREFER_HEADER,
    AgencyReceipt,
    DecisionNotice,
)
from lienthong.models.contract.http import (
    API_KEY_HEADER,
    DECISION_STATUS,
    IDEMPOTENCY_KEY_HEADER,
)
from lienthong.models.contract.messages import AgencyProblem, AgencyRequest, ProblemOutcome
from lienthong.models.masking import excerpt
from lienthong.models.status import Agency
from lienthong.settings import AgencyEndpoint, AnswerForm, LimitSettings, RetrySettings

TRANSIENT_4XX = frozenset({408, 429})
DEFAULT_MAX_ANSWER_BYTES = LimitSettings().max_agency_answer_bytes
# What an agency's written reason (a refusal, a request for documents) may hold: kept whole
# in our record up to this, it is the agency's decision; beyond it, it is not a reason.
MAX_REASON_LENGTH = 2000
MAX_MISSING_ITEMS = 50
_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})

Sleep = Callable[[float], Awaitable[None]]
ResultT = TypeVar("ResultT", bound=BaseModel)
ModelT = TypeVar("ModelT", bound=BaseModel)


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
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ) -> None:
        self._retry = retry
        self._max_answer_bytes = max_answer_bytes
        self._answers = endpoint.answers
        # RFC 7240: tell the agency we take a receipt (202) when it decides later.
        self._async_headers = (
            {} if endpoint.answers is AnswerForm.IMMEDIATE else {PREFER_HEADER: PREFER_ASYNC}
        )
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

    def _retrying(self) -> AsyncRetrying:
        """Bounded retries of transient failures; the last one propagates."""
        return AsyncRetrying(
            retry=retry_if_exception_type(TransientAgencyError),
            stop=stop_after_attempt(self._retry.max_attempts)
            | stop_before_delay(self._retry.max_seconds),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )

    async def _post(
        self,
        path: str,
        request: AgencyRequest,
        idempotency_key: str,
        result_type: type[ResultT],
    ) -> ResultT | AgencyReceipt:
        """POST with bounded retries of transient failures; the last one propagates.

        An agency deciding later answers 202 with a receipt (the asynchronous form).
        """
        async for attempt in self._retrying():
            with attempt:
                return await self._post_once(path, request, idempotency_key, result_type)
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def decision(self, receipt_number: str) -> DecisionNotice:
        """Ask the agency's status endpoint what it decided on a receipt (the fallback for a
        lost callback); ``pending`` while it has not decided."""
        async for attempt in self._retrying():
            with attempt:
                return await self._get_decision_once(receipt_number)
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def _get_decision_once(self, receipt_number: str) -> DecisionNotice:
        response = await self._exchange("GET", f"receipts/{receipt_number}")
        if response.is_success:
            return self._parsed(DecisionNotice, response, "status")
        raise self._problem_error(response)

    async def _post_once(
        self,
        path: str,
        request: AgencyRequest,
        idempotency_key: str,
        result_type: type[ResultT],
    ) -> ResultT | AgencyReceipt:
        response = await self._exchange(
            "POST",
            path.lstrip("/"),
            content=request.model_dump_json(),
            headers={
                IDEMPOTENCY_KEY_HEADER: idempotency_key,
                "Content-Type": "application/json",
                **self._async_headers,
            },
        )
        return self._translate(response, result_type)

    async def _exchange(self, method: str, path: str, **request: Any) -> httpx.Response:
        """One request and its answer, read up to the cap; transport trouble is transient."""
        deadline = self._retry.call_deadline_seconds
        try:
            # The overall deadline covers the body read too (httpx's timeout is per read).
            async with (
                asyncio.timeout(deadline),
                self._http.stream(method, path, **request) as streamed,
            ):
                return await self._read_capped(streamed)
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

    async def _read_capped(self, streamed: httpx.Response) -> httpx.Response:
        """The answer with its body read up to ``max_answer_bytes``, never further.

        A success longer than that is not an answer of the contract (AgencyProtocolError);
        an error's body is only quoted, so its first bytes are enough.
        """
        cap = self._max_answer_bytes
        body = bytearray()
        async for chunk in streamed.aiter_bytes():
            body += chunk
            if len(body) > cap:
                if streamed.is_success:
                    raise AgencyProtocolError(
                        self.agency,
                        f"a {streamed.status_code} answer larger than {cap} bytes "
                        "(LIENTHONG_LIMITS__MAX_AGENCY_ANSWER_BYTES); not read further",
                    )
                del body[cap:]
                break
        return httpx.Response(
            streamed.status_code,
            # The body is decoded already: its encoding and length headers no longer apply.
            headers=[(k, v) for k, v in streamed.headers.items() if k not in _BODY_HEADERS],
            content=bytes(body),
            request=streamed.request,
        )

    def _translate(
        self, response: httpx.Response, result_type: type[ResultT]
    ) -> ResultT | AgencyReceipt:
        status = response.status_code
        if status == ACCEPTED_STATUS:
            return self._receipt(response)
        if response.is_success and self._answers is AnswerForm.ASYNC:
            raise AgencyProtocolError(self.agency, f"HTTP {status} where a receipt was expected")
        if response.is_success:
            return self._parsed(result_type, response, f"{status} answer")
        raise self._problem_error(response)

    def _parsed(self, model: type[ModelT], response: httpx.Response, what: str) -> ModelT:
        """The answer's body as ``model``; one that does not parse is described, unquoted."""
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise AgencyProtocolError(self.agency, f"unreadable {what}: {_summary(exc)}") from exc

    def _receipt(self, response: httpx.Response) -> AgencyReceipt:
        if self._answers is AnswerForm.IMMEDIATE:
            raise AgencyProtocolError(self.agency, "HTTP 202 where a decision was expected")
        return self._parsed(AgencyReceipt, response, "receipt")

    def _problem_error(self, response: httpx.Response) -> AgencyError:
        """What a non-2xx answer means (transient, a decision, or our bad request)."""
        status = response.status_code
        problem = _problem(response)
        # Quoted in step reasons and Prefect's state messages: scrubbed and short. Only an
        # agency's decision is kept as written (within MAX_REASON_LENGTH): it is the
        # decision, and our record holds personal data anyway.
        quoted = excerpt(problem.reason if problem else response.text)
        if status in TRANSIENT_4XX or status >= 500:
            return TransientAgencyError(
                self.agency,
                f"HTTP {status}: {quoted}",
                status_code=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status == DECISION_STATUS and problem is not None:
            reason = problem.reason[:MAX_REASON_LENGTH]
            if problem.outcome is ProblemOutcome.REFUSED:
                return Refused(self.agency, reason)
            if problem.outcome is ProblemOutcome.SUPPLEMENT_REQUIRED:
                missing = [item[:MAX_REASON_LENGTH] for item in problem.missing_items]
                return SupplementRequired(self.agency, reason, missing[:MAX_MISSING_ITEMS])
        return AgencyRequestRejected(self.agency, f"HTTP {status}: {quoted}", status_code=status)


def _summary(exc: ValidationError) -> str:
    """What is wrong with an answer, without quoting it (pydantic's text repeats the input)."""
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{exc.error_count()} error(s), first at {excerpt(where, 80)}: {excerpt(first['msg'])}"


def _problem(response: httpx.Response) -> AgencyProblem | None:
    try:
        return AgencyProblem.model_validate_json(response.content)
    except ValidationError:
        return None
