"""The composition root: production defaults built once, overridable by tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from adapters.database import make_engine, make_session_factory
from lienthong.clock import Clock, SystemClock
from lienthong.deadlines import Deadlines
from lienthong.settings import Settings
from lienthong.unit_of_work import UnitOfWork


@dataclass
class Container:
    """What the application needs to run, wired once per process."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    deadlines: Deadlines
    clock: Clock = field(default_factory=SystemClock)
    # Tests hand the agency clients a transport (httpx.MockTransport); None is real HTTP.
    http_transport: httpx.AsyncBaseTransport | None = None

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def close(self) -> None:
        self.engine.dispose()


def build_container(settings: Settings | None = None, clock: Clock | None = None) -> Container:
    settings = settings or Settings()
    engine = make_engine(settings.resolved_database_url())
    return Container(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        deadlines=Deadlines.from_settings(settings.calendar),
        clock=clock or SystemClock(),
    )
