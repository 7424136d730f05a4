"""A unit of work over our database: one transaction, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from models.tables import Dossier


class DossierNotFound(LookupError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"no dossier with reference {reference!r}")
        self.reference = reference


class DossierRepository:
    """Dossiers with their steps, looked up by the operator's reference."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, dossier: Dossier) -> None:
        self._session.add(dossier)

    def find(self, reference: str) -> Dossier | None:
        return self._session.scalar(
            select(Dossier)
            .where(Dossier.reference == reference)
            .options(selectinload(Dossier.steps))
        )

    def get(self, reference: str) -> Dossier:
        dossier = self.find(reference)
        if dossier is None:
            raise DossierNotFound(reference)
        return dossier


class UnitOfWork:
    """``with uow: ...; uow.commit()`` — leaving the block without commit rolls back."""

    session: Session
    dossiers: DossierRepository

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        self.dossiers = DossierRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
