"""The HTTP conventions every simulated agency shares (docs/agency-api.md).

The names and numbers are the contract's (``lienthong.models.contract.http``):

- ``X-API-Key`` is required (401 otherwise);
- ``Idempotency-Key`` is required on every POST (400 otherwise); the first reply to a key is
  stored and replayed with ``Idempotent-Replayed: true``; the same key with another body is
  a 409;
- decisions are 422 with an :class:`AgencyProblem` body; malformed requests are 400.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import APIRouter, Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from lienthong.models.contract.http import (
    API_KEY_HEADER,
    DECISION_STATUS,
    IDEMPOTENCY_KEY_HEADER,
    REPLAYED_HEADER,
)
from lienthong.models.contract.messages import AgencyProblem, AgencyRequest, ProblemOutcome
from lienthong.simulator.store import IdempotencyConflict, Ledger, SimulatorStore

# For the OpenAPI document: every POST may answer with these problem bodies.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    DECISION_STATUS: {"model": AgencyProblem, "description": "decision: refused or supplement"},
    400: {"model": AgencyProblem, "description": "malformed request or missing key header"},
    401: {"model": AgencyProblem, "description": f"missing or wrong {API_KEY_HEADER}"},
    409: {
        "model": AgencyProblem,
        "description": f"{IDEMPOTENCY_KEY_HEADER} reused with another body",
    },
}

RequestT = TypeVar("RequestT", bound=AgencyRequest)
ACCEPTED = 202


class Deferral(Protocol):
    """The async form (simulator/deferred.py): whether an agency decides later, and the
    receipt it answers then."""

    def is_async(self, agency: str) -> bool: ...

    def accept(
        self, ledger: Ledger, agency: str, kind: str, idempotency_key: str, request: AgencyRequest
    ) -> dict[str, Any]: ...


class ProblemError(Exception):
    """Answer with ``status_code`` and a problem body (and optional headers)."""

    def __init__(
        self,
        status_code: int,
        outcome: ProblemOutcome,
        reason: str,
        *,
        missing_items: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.problem = AgencyProblem(
            outcome=outcome, reason=reason, missing_items=missing_items or []
        )
        self.headers = headers or {}


def invalid_request(reason: str) -> ProblemError:
    return ProblemError(400, ProblemOutcome.INVALID_REQUEST, reason)


def refused(reason: str) -> ProblemError:
    return ProblemError(DECISION_STATUS, ProblemOutcome.REFUSED, reason)


def supplement_required(reason: str, missing_items: list[str]) -> ProblemError:
    return ProblemError(
        DECISION_STATUS, ProblemOutcome.SUPPLEMENT_REQUIRED, reason, missing_items=missing_items
    )


def problem_response(error: ProblemError) -> JSONResponse:
    return JSONResponse(
        error.problem.model_dump(mode="json"), error.status_code, headers=error.headers
    )


async def handle_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc)


async def handle_validation_error(_: Request, exc: Exception) -> JSONResponse:
    """A malformed request is our caller's bug, not a decision: 400, never 422."""
    assert isinstance(exc, RequestValidationError)
    reasons = "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
    return problem_response(invalid_request(reasons))


def api_key_checker(expected: str) -> Callable[[str | None], None]:
    """A FastAPI dependency refusing requests without this agency's API key."""

    def check(x_api_key: Annotated[str | None, Header(alias=API_KEY_HEADER)] = None) -> None:
        if x_api_key is None or not hmac.compare_digest(x_api_key, expected):
            raise ProblemError(
                401, ProblemOutcome.UNAUTHORIZED, f"missing or wrong {API_KEY_HEADER}"
            )

    return check


def agency_router(api_key: str, tag: str) -> APIRouter:
    """An agency's router: every endpoint on it requires the agency's ``X-API-Key``."""
    return APIRouter(dependencies=[Depends(api_key_checker(api_key))], tags=[tag])


IdempotencyKey = Annotated[str | None, Header(alias=IDEMPOTENCY_KEY_HEADER)]


def fingerprint(path: str, request: BaseModel) -> str:
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(f"{path}\n{canonical}".encode()).hexdigest()


def run_idempotent(
    store: SimulatorStore,
    agency: str,
    kind: str,
    path: str,
    idempotency_key: str | None,
    request: RequestT,
    decide: Callable[[Ledger, RequestT], tuple[str, BaseModel]],
    *,
    deferred: Deferral | None = None,
) -> JSONResponse:
    """Run ``decide(ledger, request)`` at most once per key and record what it registered.

    ``decide`` returns (reference, result) or raises a 422 :class:`ProblemError`; both
    outcomes are stored and replayed. An agency in the async form answers 202 with a
    receipt instead (stored and replayed the same way) and decides later.
    """
    if not idempotency_key:
        raise invalid_request(f"{IDEMPOTENCY_KEY_HEADER} is required")
    key = idempotency_key

    def handler(ledger: Ledger) -> tuple[int, dict[str, Any]]:
        if deferred is not None and deferred.is_async(agency):
            return ACCEPTED, deferred.accept(ledger, agency, kind, key, request)
        try:
            reference, result = decide(ledger, request)
        except ProblemError as decision:
            if decision.status_code != DECISION_STATUS:
                raise
            return decision.status_code, decision.problem.model_dump(mode="json")
        body = result.model_dump(mode="json")
        ledger.record(agency, kind, request.dossier_reference, key, reference, body)
        return 200, body

    try:
        reply = store.run_once(agency, key, fingerprint(path, request), handler)
    except IdempotencyConflict as exc:
        raise ProblemError(
            409,
            ProblemOutcome.IDEMPOTENCY_CONFLICT,
            f"this {IDEMPOTENCY_KEY_HEADER} was already used with a different request",
        ) from exc
    headers = {REPLAYED_HEADER: "true"} if reply.replayed else {}
    return JSONResponse(reply.body, reply.status_code, headers=headers)
