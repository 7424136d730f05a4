"""Hospitals' notifications: ``POST /v1/hospital-notifications`` (role ``hospital``).

A birth certificate or death notice prefills a dossier (services/hospital_notifications.py):
the commune is told (a notice queued in the outbox and sent once the answer is gone; the
sweep sends again what failed), and the chain starts when the family has
consented and nothing is missing; otherwise the dossier waits for the family, who completes
it through ``POST /v1/dossiers`` under the reference given here (docs/http-api.md).
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at runtime.

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from lienthong.api.bodies import json_object
from lienthong.api.chains import continue_chain
from lienthong.api.dossiers import JSON_BODY, unprocessable
from lienthong.api.identity import caller_dependency
from lienthong.models.clients import Client, RoleKind
from lienthong.models.hospital import HospitalStatus
from lienthong.models.validation import DossierInvalid
from lienthong.services.container import Container
from lienthong.services.hospital_notifications import DifferentNotification, notify
from lienthong.services.ledger import Actor
from lienthong.services.outbox import deliver_due
from lienthong.services.refusals import record_refused

PATH = "/v1/hospital-notifications"


class HospitalAnswerOut(BaseModel):
    reference: str = Field(description="the dossier's reference: the family completes it here")
    status: HospitalStatus
    waiting_for: list[str] = Field(description="what the family must still give (fields)")
    replayed: bool = Field(description="the same notification was on record already")


def build_router(container: Container) -> APIRouter:
    router = APIRouter(tags=["hospital notifications"])
    Caller = Annotated[Client, Depends(caller_dependency(container))]

    @router.post(
        PATH,
        status_code=201,
        openapi_extra=JSON_BODY,
        response_model=HospitalAnswerOut,
        responses={
            200: {"model": HospitalAnswerOut, "description": "on record already"},
            403: {"description": "the caller is not a hospital"},
            409: {"description": "a different notification under this certificate number"},
            413: {"description": "body too large"},
            422: {"description": "the hospital's part (chain, commune, certificate) is invalid"},
        },
    )
    async def notify_route(request: Request, client: Caller, background: BackgroundTasks) -> Any:
        """A hospital's electronic birth certificate (``medical_birth_certificate``) or death
        notice (``death_notice``), in the dossier format with whatever the family gave."""
        raw = await json_object(request, container.settings.limits)
        if client.role.kind is not RoleKind.HOSPITAL:
            reason = f"role {client.role} may not post hospital notifications"
            await run_in_threadpool(record_refused, container, client.actor_id, reason, "")
            raise HTTPException(403, reason)
        try:
            answer = await run_in_threadpool(notify, container, raw, Actor(client.actor_id))
        except DossierInvalid as invalid:
            raise unprocessable(invalid.problems) from invalid
        except DifferentNotification as exc:
            raise HTTPException(409, str(exc)) from exc
        if not answer.replayed:
            background.add_task(deliver_due, container, answer.reference)
            if answer.status is HospitalStatus.STARTED:
                background.add_task(continue_chain, container, answer.reference)
        body = HospitalAnswerOut(
            reference=answer.reference,
            status=answer.status,
            waiting_for=answer.waiting_for,
            replayed=answer.replayed,
        )
        return JSONResponse(
            body.model_dump(mode="json"), status_code=200 if answer.replayed else 201
        )

    return router
