"""The unit of work the services run in, and the repositories it offers: abstract.

A service opens one unit of work per use case (``with container.unit_of_work() as uow``),
works through its repositories and calls ``uow.commit()``; leaving the block without a
commit rolls everything back. The SQL implementation is
:class:`lienthong.adapters.sql_unit_of_work.SqlUnitOfWork`; tests use hand-written fakes
(tests/fakes.py). Both match these protocols structurally, so adapters never import the
service layer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from lienthong.adapters.notifier import DeliveryOutcome
from lienthong.models.audit import AuditEntry, AuditRecord, RecordedDossier, StoredEvent
from lienthong.models.clients import Client
from lienthong.models.duplicates import DuplicateFigures, DuplicateHold, Match, MatchKey
from lienthong.models.history import ClockEvent
from lienthong.models.hospital import HospitalRecord
from lienthong.models.lifecycle import Dossier, DossierNotFound
from lienthong.models.notices import Notice, OutgoingNotice, Told
from lienthong.models.overdue import DossierCandidate, StepCandidate
from lienthong.models.report import DayPoint, Period, Row, Scope
from lienthong.models.status import Agency, Chain, StepKind
from lienthong.models.waits import WaitingDecision
from lienthong.models.worklist import DossierQuery

__all__ = ["DossierNotFound", "UnitOfWork"]


class DossierRepository(Protocol):
    """Dossiers with their steps, by the operator's reference.

    Dossiers read or added through the repository are saved when the unit of work commits.
    """

    def add(self, dossier: Dossier) -> None:
        """Store a new dossier; its and its steps' ids are set at once."""

    def find(self, reference: str) -> Dossier | None: ...

    def get(self, reference: str) -> Dossier:
        """The dossier, or :class:`DossierNotFound`."""

    def acquire_lease(self, reference: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Take the per-dossier run guard for ``owner`` (or renew it); False if another holds
        a live one. Atomic on every backend."""

    def renew_lease(self, reference: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Extend ``owner``'s lease; False if ``owner`` holds none any more (released, or
        taken by another run after it lapsed). Never takes a lease: a renewal that lands
        after the release must not take the dossier back."""

    def release_lease(self, reference: str, owner: str) -> None: ...

    def reference_of_receipt(self, agency: Agency, receipt_number: str) -> str | None:
        """The dossier whose step ``agency`` gave this receipt for, if any."""

    def waiting_decisions(self) -> list[WaitingDecision]:
        """Every step awaiting an agency's decision, longest waiting first."""

    def matching(self, query: DossierQuery) -> list[Dossier]:
        """The dossiers ``query`` selects (settled ones only if it says so), oldest first."""


class AuditLog(Protocol):
    """The append-only, hash-chained trail of every action."""

    def append(self, record: AuditRecord) -> int:
        """Chain ``record`` after the current head; returns the new event's id."""

    def entries(self, reference: str | None = None) -> Iterator[AuditEntry]:
        """Every event in order (of one dossier, or the whole chain)."""

    def stored_events(self) -> Iterator[StoredEvent]:
        """The whole chain in order, as stored (the fast form verification reads)."""

    def read_snapshot(self) -> None:
        """Make this unit of work's reads one consistent snapshot (call it first), so the
        events and the rows compared with them are of the same instant."""

    def recorded_dossiers(self) -> Iterator[RecordedDossier]:
        """Every dossier's and step's status and agency reference, as the rows hold them."""


class Outbox(Protocol):
    """Notifications to deliver: rows first, signed webhooks later, until acknowledged."""

    def add(self, notice: Notice, now: datetime) -> None: ...

    def queued(self, dedupe_keys: Collection[str]) -> set[str]:
        """Which of ``dedupe_keys`` are queued already (delivered or not)."""

    def lock(self) -> None:
        """Serialise "queue unless queued" between concurrent writers for this transaction."""

    def claim_due(
        self, now: datetime, claim_until: datetime, limit: int, reference: str | None
    ) -> list[OutgoingNotice]:
        """Due notices, each pushed to ``claim_until`` so a second dispatcher skips them."""

    def record_attempts(
        self,
        outcomes: Sequence[tuple[OutgoingNotice, DeliveryOutcome]],
        now: datetime,
        next_attempt_at: Sequence[datetime],
    ) -> None:
        """Keep every attempt; delivered ones are done, the others wait for their next try."""

    def pending(self, reference: str | None) -> tuple[int, datetime | None]:
        """How many are still to deliver, and the earliest next attempt."""

    def told(self, reference: str) -> list[Told]:
        """Every notice queued about the dossier, oldest first, delivered or not."""


class SupplementLog(Protocol):
    """What applicants brought after a request for supplementation: kept, never overwritten."""

    def add(
        self,
        dossier: Dossier,
        step_kind: StepKind,
        received_at: datetime,
        actor: str,
        payload: dict[str, object],
    ) -> int:
        """Keep one supplement; returns how many the step has had (its round)."""


class ClockHistory(Protocol):
    """Append-only history of the statutory clocks (models/history.py)."""

    def add(self, events: Sequence[ClockEvent]) -> None: ...


class DuplicateIndex(Protocol):
    """Intake's match keys (models/duplicates.py) and the dossiers held on them."""

    def lock(self, keys: Sequence[MatchKey]) -> None:
        """Serialise, until this transaction ends, intakes that share any of ``keys``: two
        copies of one child received at once must not miss each other."""

    def matching(self, keys: Sequence[MatchKey]) -> list[Match]:
        """The dossiers on record sharing a key (an indexed lookup per key), leaving out
        those closed without effect (rejected, duplicates closed, withdrawn, refused)."""

    def add_keys(self, dossier: Dossier, keys: Sequence[MatchKey]) -> None:
        """Index a stored dossier (its id set) under ``keys``."""

    def add_hold(self, dossier: Dossier, hold: DuplicateHold) -> None: ...

    def find_hold(self, reference: str) -> DuplicateHold | None: ...

    def save_hold(self, hold: DuplicateHold) -> None:
        """Keep the decision taken on a hold read from :meth:`find_hold`."""

    def held(self, scope: Scope) -> list[DuplicateHold]:
        """The dossiers held now in ``scope``, longest held first."""

    def figures(self, period: Period, scope: Scope) -> DuplicateFigures: ...


class SweepQueries(Protocol):
    """The candidates of the overdue sweep, pre-filtered by the database."""

    def step_candidates(
        self, now: datetime, due_soon_limit: datetime, stuck_after: timedelta, window_days: int
    ) -> list[StepCandidate]: ...

    def dossier_candidates(
        self, now: datetime, stuck_after: timedelta
    ) -> list[DossierCandidate]: ...


class ReportQueries(Protocol):
    """The report's figures, computed by the database."""

    def figures(self, period: Period, scope: Scope) -> tuple[list[Row], list[DayPoint]]: ...


class ClientRegistry(Protocol):
    """The systems allowed to call our API (models/clients.py)."""

    def add(self, client: Client) -> None: ...

    def find(self, client_id: str) -> Client | None: ...

    def all(self) -> list[Client]:
        """Every client, revoked ones too, oldest first."""

    def save(self, client: Client) -> None:
        """Keep the changes made to a client read from :meth:`find`."""


class WebhookLog(Protocol):
    """The ``webhook-id`` of every signed webhook accepted, per sender: replays are refused."""

    def seen(self, sender: str, webhook_id: str) -> bool: ...

    def remember(self, sender: str, webhook_id: str, received_at: datetime) -> None:
        """Keep the id; :class:`ConcurrentChange` if another transaction just kept it."""


class HospitalNotifications(Protocol):
    """Hospitals' certificates and the dossier drafts they prefill (models/hospital.py)."""

    def add(self, record: HospitalRecord) -> int:
        """Store a new notification; its id (a sequence) is set and returned at once.
        :class:`ConcurrentChange` if another transaction just stored its certificate."""

    def find(self, chain: Chain, certificate_number: str) -> HospitalRecord | None: ...

    def by_reference(self, reference: str) -> HospitalRecord | None: ...

    def save(self, record: HospitalRecord) -> None:
        """Keep the changes made to a record that was added or found."""


class UnitOfWork(Protocol):
    """``with uow: ...; uow.commit()`` — leaving the block without commit rolls back."""

    @property
    def dossiers(self) -> DossierRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def supplements(self) -> SupplementLog: ...

    @property
    def clocks(self) -> ClockHistory: ...

    @property
    def duplicates(self) -> DuplicateIndex: ...

    @property
    def sweep(self) -> SweepQueries: ...

    @property
    def reports(self) -> ReportQueries: ...

    @property
    def clients(self) -> ClientRegistry: ...

    @property
    def webhooks(self) -> WebhookLog: ...

    @property
    def hospitals(self) -> HospitalNotifications: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...
