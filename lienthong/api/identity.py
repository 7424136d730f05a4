"""Who is calling: ``Authorization: Bearer <client id>.<secret>`` (``lienthong clients``).

Anything else (no header, another scheme, an unknown, revoked or wrong credential) is a 401
that says no more than that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from lienthong.models.clients import Client
from lienthong.services.authenticate import authenticate
from lienthong.services.container import Container

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="client credential",
    description="`Authorization: Bearer <client id>.<secret>`, from `lienthong clients create`",
)
UNAUTHENTICATED = HTTPException(
    401,
    "missing or invalid credentials: Authorization: Bearer <client id>.<secret>",
    headers={"WWW-Authenticate": "Bearer"},
)


def caller_dependency(
    container: Container,
) -> Callable[[HTTPAuthorizationCredentials | None], Awaitable[Client]]:
    """A FastAPI dependency resolving the calling client over ``container``."""

    async def caller(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Client:
        if credentials is None:
            raise UNAUTHENTICATED
        client = await run_in_threadpool(authenticate, container, credentials.credentials)
        if client is None:
            raise UNAUTHENTICATED
        return client

    return caller
