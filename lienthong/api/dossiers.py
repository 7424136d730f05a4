"""Version 1 of the dossier API: submit, read, supplement, withdraw (docs/http-api.md).

Each route authenticates the caller (identity.py), reads the body defensively (bodies.py),
checks the caller's role against the dossier's commune and province (models/clients.py: a
refusal is a 403 kept on the audit trail) and calls the same service the CLI calls, with
the client as the audit trail's actor. A dossier accepted or supplemented continues its
chain after the answer is sent (flows/continuation.py), as after an agency's decision.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at runtime,
# and ``Caller`` is local to build_router.

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from lienthong.api.access import permitted
from lienthong.api.bodies import json_object
from lienthong.api.chains import announce_action, continue_chain
from lienthong.api.identity import caller_dependency
from lienthong.flows.announce import Action as Announced
from lienthong.models.clients import Action, Client
from lienthong.models.lifecycle import CannotWithdraw, ConcurrentChange, DossierNotFound
from lienthong.models.masking import scrub
from lienthong.models.people import people_of
from lienthong.models.supplements import SupplementNotAllowed
from lienthong.models.validation import DossierInvalid, Problem
from lienthong.services.container import Container
from lienthong.services.dossier_status import DossierStatusReport, dossier_status
from lienthong.services.hospital_notifications import mark_started, prefilled
from lienthong.services.ledger import Actor
from lienthong.services.submit_once import DifferentDossier, submit_once
from lienthong.services.supplements import NotAwaitingSupplement, record_supplement
from lienthong.services.withdrawal import withdraw

PREFIX = "/v1/dossiers"
MAX_REASON_LENGTH = 500
JSON_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


class StepOut(BaseModel):
    kind: str
    agency: str
    status: str
    attempts: int
    agency_reference: str | None
    reason: str | None
    missing_items: list[str] | None
    due_at: str | None
    on_time: bool | None


class EventOut(BaseModel):
    at: str | None
    actor: str
    action: str
    step: str | None
    before: str | None
    after: str | None
    reason: str | None


class ToldOut(BaseModel):
    agency: str
    event: str
    step: str | None
    queued_at: str | None
    delivered_at: str | None = Field(description="null: not yet acknowledged by the agency")


class DossierOut(BaseModel):
    """A dossier's status and timeline; ``people`` is masked for the portal; ``told``: which
    agencies were told what, and when (Tell-Us-Once)."""

    reference: str
    chain: str | None
    status: str
    province_code: str
    commune_code: str
    due_at: str | None
    masked: bool
    people: dict[str, dict[str, str]]
    steps: list[StepOut]
    timeline: list[EventOut]
    told: list[ToldOut]


class Accepted(BaseModel):
    reference: str
    chain: str | None
    accepted: bool
    replayed: bool = Field(description="the same dossier was on record already")
    late_filing_reason: str | None = None


class Rejected(BaseModel):
    reference: str
    accepted: bool = False
    problems: list[Problem]


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=MAX_REASON_LENGTH)


def _jurisdiction(raw: Mapping[str, Any]) -> tuple[str, str]:
    place = raw.get("jurisdiction")
    if not isinstance(place, Mapping):
        return "", ""
    province, commune = place.get("province_code"), place.get("commune_code")
    return (
        province if isinstance(province, str) else "",
        commune if isinstance(commune, str) else "",
    )


def _dossier_out(report: DossierStatusReport, masked: bool) -> DossierOut:
    view = report.view

    def shown(text: str | None) -> str | None:
        return scrub(text) if masked and text is not None else text

    return DossierOut(
        reference=view.reference,
        chain=None if view.chain is None else view.chain.value,
        status=view.status.value,
        province_code=view.province_code,
        commune_code=view.commune_code,
        due_at=view.due_at,
        masked=masked,
        people=people_of(report.payload, masked=masked),
        steps=[
            StepOut(
                kind=s.kind.value,
                agency=s.agency.value,
                status=s.status.value,
                attempts=s.attempts,
                agency_reference=s.agency_reference,
                reason=shown(s.reason),
                missing_items=s.missing_items,
                due_at=s.due_at,
                on_time=s.on_time,
            )
            for s in view.steps
        ],
        timeline=[EventOut(**{**e, "reason": shown(e["reason"])}) for e in report.timeline],
        told=[ToldOut(**t) for t in report.told],
    )


def unprocessable(problems: list[Problem]) -> HTTPException:
    """422 with every problem by field: ``{"detail": {"problems": [{path, message}]}}``."""
    return HTTPException(422, {"problems": [p.model_dump() for p in problems]})


def build_router(container: Container) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["dossiers"])
    Caller = Annotated[Client, Depends(caller_dependency(container))]

    async def forbid_unless(
        client: Client, action: Action, reference: str, province: str, commune: str
    ) -> None:
        if not await permitted(container, client, action, reference, province, commune):
            raise HTTPException(403, f"role {client.role} may not {action.value} this dossier")

    async def status_or_404(reference: str) -> DossierStatusReport:
        try:
            return await run_in_threadpool(dossier_status, container, reference)
        except DossierNotFound as exc:
            raise HTTPException(404, f"no dossier {reference}") from exc

    @router.post(
        "",
        status_code=201,
        openapi_extra=JSON_BODY,
        responses={
            200: {"model": Accepted, "description": "the same dossier was on record already"},
            409: {"description": "a different dossier is on record under this reference"},
            413: {"description": "body too large"},
            422: {"model": Rejected, "description": "invalid: kept on record as rejected"},
        },
    )
    async def submit(request: Request, client: Caller, background: BackgroundTasks) -> Any:
        """Submit a dossier (docs/dossiers.md): idempotent by its ``reference``.

        An invalid dossier is kept on record as rejected and answered 422 with every
        problem by field.
        """
        given = await json_object(request, container.settings.limits)
        try:
            # Under a hospital's waiting notification: completed with its draft.
            raw = await run_in_threadpool(prefilled, container, given)
        except DossierInvalid as invalid:
            raise unprocessable(invalid.problems) from invalid
        reference = raw.get("reference")
        province, commune = _jurisdiction(raw)
        await forbid_unless(
            client,
            Action.SUBMIT,
            reference if isinstance(reference, str) else "",
            province,
            commune,
        )
        actor = Actor(client.actor_id)
        try:
            submitted = await run_in_threadpool(submit_once, container, raw, actor)
        except DifferentDossier as exc:
            raise HTTPException(409, str(exc)) from exc
        result = submitted.result
        if not result.accepted:
            body = Rejected(reference=result.reference, problems=list(result.problems))
            return JSONResponse(body.model_dump(), status_code=422)
        await run_in_threadpool(mark_started, container, result.reference, actor)
        if not submitted.replayed:
            background.add_task(continue_chain, container, result.reference)
        return JSONResponse(
            Accepted(
                reference=result.reference,
                chain=None if result.chain is None else result.chain.value,
                accepted=True,
                replayed=submitted.replayed,
                late_filing_reason=result.late_filing_reason,
            ).model_dump(),
            status_code=200 if submitted.replayed else 201,
        )

    @router.get("/{reference}", response_model=DossierOut)
    async def read(reference: str, client: Caller) -> DossierOut:
        """A dossier's status, steps and timeline (masked for the portal)."""
        report = await status_or_404(reference)
        view = report.view
        await forbid_unless(client, Action.READ, reference, view.province_code, view.commune_code)
        return _dossier_out(report, masked=not client.role.sees_personal_data)

    @router.post(
        "/{reference}/supplements",
        openapi_extra=JSON_BODY,
        responses={409: {"description": "not awaiting a supplement"}},
    )
    async def supplement(
        reference: str, request: Request, client: Caller, background: BackgroundTasks
    ) -> dict[str, str]:
        """What the applicant brought after a request for supplementation (the body holds
        only the sections the waiting step sends; docs/dossiers.md)."""
        raw = await json_object(request, container.settings.limits)
        view = (await status_or_404(reference)).view
        await forbid_unless(
            client, Action.SUPPLEMENT, reference, view.province_code, view.commune_code
        )
        try:
            step = await run_in_threadpool(
                record_supplement, container, reference, raw, Actor(client.actor_id)
            )
        except DossierInvalid as invalid:
            raise unprocessable(invalid.problems) from invalid
        except SupplementNotAllowed as exc:
            raise unprocessable([Problem(path="", message=str(exc))]) from exc
        except (NotAwaitingSupplement, ConcurrentChange) as exc:
            raise HTTPException(409, str(exc)) from exc
        background.add_task(continue_chain, container, reference)
        return {"reference": reference, "reopened_step": step}

    @router.post(
        "/{reference}/withdrawal",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": Withdrawal.model_json_schema()}},
            }
        },
        responses={409: {"description": "cannot be withdrawn now"}},
    )
    async def withdrawal(
        reference: str, request: Request, client: Caller, background: BackgroundTasks
    ) -> dict[str, str]:
        """The applicant withdraws the dossier (every undecided step)."""
        raw = await json_object(request, container.settings.limits)
        try:
            body = Withdrawal.model_validate(raw)
        except ValidationError as exc:
            problems = [
                Problem(path=".".join(map(str, e["loc"])), message=e["msg"]) for e in exc.errors()
            ]
            raise unprocessable(problems) from exc
        view = (await status_or_404(reference)).view
        await forbid_unless(
            client, Action.WITHDRAW, reference, view.province_code, view.commune_code
        )
        try:
            await run_in_threadpool(
                withdraw, container, reference, body.reason, Actor(client.actor_id)
            )
        except (CannotWithdraw, ConcurrentChange) as exc:
            raise HTTPException(409, str(exc)) from exc
        background.add_task(
            announce_action, container, reference, Announced.WITHDRAWN, client.actor_id
        )
        return {"reference": reference, "status": "withdrawn"}

    return router
