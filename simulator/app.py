"""The simulator's one ASGI application: four agencies, webhook receivers, admin."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from lienthong.models.contract.http import WEBHOOKS_PREFIX, agency_slug
from lienthong.models.status import Agency
from lienthong.simulator import admin, justice, police, social_affairs, social_insurance, webhooks
from lienthong.simulator.deferred import DeferredDecisions, build_status_router
from lienthong.simulator.faults import FaultController, FaultMiddleware
from lienthong.simulator.protocol import (
    ProblemError,
    handle_problem,
    handle_validation_error,
)
from lienthong.simulator.settings import AgencyCredentials
from lienthong.simulator.store import SimulatorStore


def build_app(
    credentials: Mapping[Agency, AgencyCredentials],
    store: SimulatorStore,
    faults: FaultController,
    deferred: DeferredDecisions,
) -> FastAPI:
    """The simulator's app; ``credentials`` must name every :class:`Agency`."""
    app = FastAPI(
        title="Liên thông agency simulator",
        description="Stand-ins for the agency systems; the reference for docs/agency-api.md.",
        version="1",
    )
    app.add_exception_handler(ProblemError, handle_problem)
    app.add_exception_handler(RequestValidationError, handle_validation_error)

    def key(agency: Agency) -> str:
        return credentials[agency].api_key

    agency_routers = {
        Agency.JUSTICE: justice.build_router(store, key(Agency.JUSTICE), deferred),
        Agency.POLICE: police.build_router(store, key(Agency.POLICE), deferred),
        Agency.SOCIAL_INSURANCE: social_insurance.build_router(
            store, key(Agency.SOCIAL_INSURANCE), deferred
        ),
        Agency.SOCIAL_AFFAIRS: social_affairs.build_router(
            store, key(Agency.SOCIAL_AFFAIRS), deferred
        ),
    }
    for agency, router in agency_routers.items():
        app.include_router(router, prefix=f"/{agency_slug(agency)}")
        app.include_router(
            build_status_router(store, key(agency), agency), prefix=f"/{agency_slug(agency)}"
        )
    app.include_router(webhooks.build_router(store, credentials), prefix=WEBHOOKS_PREFIX)
    app.include_router(admin.build_router(store, faults, deferred), prefix="/admin")
    app.add_middleware(
        FaultMiddleware,
        controller=faults,
        agency_slugs={agency_slug(agency) for agency in agency_routers},
    )
    return app
