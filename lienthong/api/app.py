"""The application factory: routes over a container, and the decision poller's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from lienthong.api import decisions, desk, dossiers, hospitals
from lienthong.services.container import Container

logger = logging.getLogger(__name__)


def create_app(container: Container) -> FastAPI:
    """Our API over ``container``: the dossier API (/v1), agencies' decision callbacks, the
    operator's desk (/desk), a health check, and a background poller for decisions whose
    callbacks are overdue."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        interval = container.settings.api.poll_interval_seconds
        poller = asyncio.create_task(decisions.poll_forever(container, interval))
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            await container.aclose_clients()

    app = FastAPI(
        title="Liên thông",
        description=(
            "Dossiers from the portal and communes, their status for those who may see it "
            "(docs/http-api.md); agencies' decisions (docs/agency-api.md)."
        ),
        version="1",
        lifespan=lifespan,
    )
    app.include_router(decisions.build_router(container))
    app.include_router(dossiers.build_router(container))
    app.include_router(hospitals.build_router(container))
    app.include_router(desk.build_router(container))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
