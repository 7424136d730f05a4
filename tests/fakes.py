"""Hand-written fakes of the unit of work and its repositories, for service tests.

A :class:`FakeStore` is the "database": committed dossiers, audit events, notices and
supplements. Each :class:`FakeUnitOfWork` works on its own copies (a dossier is copied when
the transaction first reads it, a notice when it first changes it) and writes them back
only on ``commit()``, so a service that fails half-way leaves the store as it was, as a
real transaction would. The sweep's and report's SQL have no fake: tests of those use the real
databases (tests/integration).
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from lienthong.adapters.notifier import DeliveryOutcome
from lienthong.models.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    RecordedDossier,
    StoredEvent,
    chained,
    stored_form,
)
from lienthong.models.clients import Client
from lienthong.models.clock import Clock, ManualClock
from lienthong.models.deadlines import Deadlines
from lienthong.models.duplicates import DuplicateFigures, DuplicateHold, Match, MatchKey
from lienthong.models.history import ClockEvent
from lienthong.models.hospital import HospitalRecord
from lienthong.models.lifecycle import ConcurrentChange, Dossier, DossierNotFound
from lienthong.models.notices import Notice, OutgoingNotice, Told
from lienthong.models.overdue import DossierCandidate, StepCandidate
from lienthong.models.report import DayPoint, Period, Row, Scope
from lienthong.models.status import Agency, Chain, DossierStatus, StepKind, StepStatus
from lienthong.models.waits import WaitingDecision
from lienthong.models.worklist import DossierQuery, is_settled
from lienthong.services.container import Container, PerLoop
from lienthong.settings import Settings


@dataclass
class StoredNotice:
    id: int
    event_id: str
    notice: Notice
    next_attempt_at: datetime
    attempts: int = 0
    delivered_at: datetime | None = None
    outcomes: list[DeliveryOutcome] = field(default_factory=list)
    created_at: datetime | None = None


@dataclass
class Lease:
    owner: str
    expires_at: datetime


@dataclass
class FakeStore:
    dossiers: dict[str, Dossier] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    notices: list[StoredNotice] = field(default_factory=list)
    supplements: list[tuple[str, StepKind, datetime, str, dict[str, object]]] = field(
        default_factory=list
    )
    leases: dict[str, Lease] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    clocks: list[ClockEvent] = field(default_factory=list)
    webhooks: set[tuple[str, str]] = field(default_factory=set)
    hospitals: dict[int, HospitalRecord] = field(default_factory=dict)
    # (dossier reference, key) and the holds by reference.
    match_keys: list[tuple[str, MatchKey]] = field(default_factory=list)
    holds: dict[str, DuplicateHold] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    commits: int = 0


class FakeDossiers:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def add(self, dossier: Dossier) -> None:
        if dossier.reference in self._uow.state.dossiers:
            raise ConcurrentChange(f"dossier {dossier.reference} is on record already")
        dossier.id = next(self._uow.store.ids)
        for step in dossier.steps:
            step.id = next(self._uow.store.ids)
        self._uow.state.dossiers[dossier.reference] = dossier
        self._uow.owned.add(dossier.reference)

    def find(self, reference: str) -> Dossier | None:
        return self._uow.own(reference)

    def get(self, reference: str) -> Dossier:
        dossier = self.find(reference)
        if dossier is None:
            raise DossierNotFound(reference)
        return dossier

    def acquire_lease(self, reference: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        if reference not in self._uow.state.dossiers:
            return False
        held = self._uow.state.leases.get(reference)
        if held is not None and held.owner != owner and held.expires_at >= now:
            return False
        self._uow.state.leases[reference] = Lease(owner, now + ttl)
        return True

    def reference_of_receipt(self, agency: Agency, receipt_number: str) -> str | None:
        return next(
            (
                d.reference
                for d in self._uow.state.dossiers.values()
                for s in d.steps
                if s.agency == agency and s.receipt_number == receipt_number
            ),
            None,
        )

    def waiting_decisions(self) -> list[WaitingDecision]:
        waits = [
            WaitingDecision(
                d.reference,
                s.kind,
                s.agency,
                s.receipt_number or "",
                s.waiting_since,
                s.decision_expected_at,
                s.due_at,
            )
            for d in self._uow.state.dossiers.values()
            for s in d.steps
            if s.status == StepStatus.AWAITING_DECISION and s.waiting_since is not None
        ]
        return sorted(waits, key=lambda w: w.waiting_since)

    def renew_lease(self, reference: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        held = self._uow.state.leases.get(reference)
        if held is None or held.owner != owner:
            return False
        self._uow.state.leases[reference] = Lease(owner, now + ttl)
        return True

    def matching(self, query: DossierQuery) -> list[Dossier]:
        found = [
            d
            for ref in list(self._uow.state.dossiers)
            if (d := self.get(ref)) is not None
            and (query.province_codes is None or d.province_code in query.province_codes)
            and (query.commune is None or d.commune_code == query.commune)
            and (query.chain is None or d.chain == query.chain)
            and (query.statuses is None or d.status in query.statuses)
            and (query.include_settled or not is_settled(d))
        ]
        found.sort(key=lambda d: (d.received_at, d.id or 0))
        return found[: query.limit]

    def release_lease(self, reference: str, owner: str) -> None:
        held = self._uow.state.leases.get(reference)
        if held is not None and held.owner == owner:
            del self._uow.state.leases[reference]


class FakeAuditLog:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def append(self, record: AuditRecord) -> int:
        events = self._uow.state.audit
        prev_hash = events[-1].hash if events else GENESIS_HASH
        stored, hash_ = chained(prev_hash, record)
        entry = AuditEntry(next(self._uow.store.ids), stored, prev_hash, hash_)
        events.append(entry)
        return entry.id

    def entries(self, reference: str | None = None) -> Iterator[AuditEntry]:
        for entry in list(self._uow.state.audit):
            if reference is None or entry.record.dossier_reference == reference:
                yield entry

    def stored_events(self) -> Iterator[StoredEvent]:
        return map(stored_form, list(self._uow.state.audit))

    def read_snapshot(self) -> None:
        """The fake's unit of work reads its own copy of the store already."""

    def recorded_dossiers(self) -> Iterator[RecordedDossier]:
        for dossier in list(self._uow.state.dossiers.values()):
            yield RecordedDossier.of(dossier)


class FakeOutbox:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def add(self, notice: Notice, now: datetime) -> None:
        # The real outbox's unique dedupe key refuses this at commit (an integrity fault):
        # services ask queued() first.
        assert not self.queued([notice.dedupe_key]), f"{notice.dedupe_key} is queued already"
        stored = StoredNotice(
            next(self._uow.store.ids), str(uuid.uuid4()), notice, now, created_at=now
        )
        self._uow.state.notices.append(stored)

    def queued(self, dedupe_keys: Collection[str]) -> set[str]:
        keys = set(dedupe_keys)
        return {n.notice.dedupe_key for n in self._uow.state.notices} & keys

    def lock(self) -> None:
        """A fake store has one writer at a time."""

    def claim_due(
        self, now: datetime, claim_until: datetime, limit: int, reference: str | None
    ) -> list[OutgoingNotice]:
        due = [
            self._uow.own_notice(n.id)
            for n in self._uow.state.notices
            if n.delivered_at is None
            and n.next_attempt_at <= now
            and reference in (None, n.notice.dossier_reference)
        ][:limit]
        for stored in due:
            stored.next_attempt_at = claim_until
        return [
            OutgoingNotice(n.id, n.notice.agency, n.event_id, dict(n.notice.payload), n.attempts)
            for n in due
        ]

    def record_attempts(
        self,
        outcomes: Sequence[tuple[OutgoingNotice, DeliveryOutcome]],
        now: datetime,
        next_attempt_at: Sequence[datetime],
    ) -> None:
        for (notice, outcome), retry_at in zip(outcomes, next_attempt_at, strict=True):
            stored = self._uow.own_notice(notice.id)
            stored.attempts += 1
            stored.outcomes.append(outcome)
            if outcome.delivered:
                stored.delivered_at = now
            else:
                stored.next_attempt_at = retry_at

    def pending(self, reference: str | None) -> tuple[int, datetime | None]:
        waiting = [
            n.next_attempt_at
            for n in self._uow.state.notices
            if n.delivered_at is None and reference in (None, n.notice.dossier_reference)
        ]
        return len(waiting), min(waiting, default=None)

    def told(self, reference: str) -> list[Told]:
        return [
            Told(
                n.notice.agency,
                n.notice.event_type,
                n.notice.step_kind,
                n.created_at or n.next_attempt_at,
                n.delivered_at,
            )
            for n in self._uow.state.notices
            if n.notice.dossier_reference == reference
        ]


class FakeSupplements:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def add(
        self,
        dossier: Dossier,
        step_kind: StepKind,
        received_at: datetime,
        actor: str,
        payload: dict[str, object],
    ) -> int:
        kept = self._uow.state.supplements
        kept.append((dossier.reference, step_kind, received_at, actor, dict(payload)))
        return sum(1 for ref, kind, *_ in kept if ref == dossier.reference and kind == step_kind)


class FakeClients:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def add(self, client: Client) -> None:
        self.save(client)

    def find(self, client_id: str) -> Client | None:
        client = self._uow.state.clients.get(client_id)
        return None if client is None else replace(client)

    def all(self) -> list[Client]:
        return sorted(
            (replace(c) for c in self._uow.state.clients.values()), key=lambda c: c.created_at
        )

    def save(self, client: Client) -> None:
        self._uow.state.clients[client.client_id] = replace(client)


class FakeWebhookLog:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def seen(self, sender: str, webhook_id: str) -> bool:
        return (sender, webhook_id) in self._uow.state.webhooks

    def remember(self, sender: str, webhook_id: str, received_at: datetime) -> None:
        self._uow.state.webhooks.add((sender, webhook_id))


class FakeHospitals:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def add(self, record: HospitalRecord) -> int:
        record.id = next(self._uow.state.ids)
        self.save(record)
        return record.id

    def find(self, chain: Chain, certificate_number: str) -> HospitalRecord | None:
        return self._first(
            lambda r: r.chain is chain and r.certificate_number == certificate_number
        )

    def by_reference(self, reference: str) -> HospitalRecord | None:
        return self._first(lambda r: r.reference == reference)

    def _first(self, test: Callable[[HospitalRecord], bool]) -> HospitalRecord | None:
        found = [r for r in self._uow.state.hospitals.values() if test(r)]
        return copy.deepcopy(found[0]) if found else None

    def save(self, record: HospitalRecord) -> None:
        assert record.id is not None
        self._uow.state.hospitals[record.id] = copy.deepcopy(record)


class FakeClockHistory:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def add(self, events: Sequence[ClockEvent]) -> None:
        self._uow.state.clocks.extend(events)


class FakeDuplicateIndex:
    """The match keys as a list (the SQL's index is what benchmarks/duplicates_1m.py
    measures); the figures are SQL, tested on the real databases."""

    # As the SQL index: dossiers closed without effect repeat nothing any more.
    CLOSED = (DossierStatus.REJECTED, DossierStatus.WITHDRAWN, DossierStatus.REFUSED)

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def lock(self, keys: Sequence[MatchKey]) -> None:
        """One fake transaction at a time: nothing to serialise."""

    def matching(self, keys: Sequence[MatchKey]) -> list[Match]:
        digests = {k.digest for k in keys}
        state = self._uow.state
        return sorted(
            Match(reference, key.rule)
            for reference, key in state.match_keys
            if key.digest in digests and state.dossiers[reference].status not in self.CLOSED
        )

    def add_keys(self, dossier: Dossier, keys: Sequence[MatchKey]) -> None:
        self._uow.state.match_keys.extend((dossier.reference, k) for k in keys)

    def add_hold(self, dossier: Dossier, hold: DuplicateHold) -> None:
        self.save_hold(hold)

    def find_hold(self, reference: str) -> DuplicateHold | None:
        hold = self._uow.state.holds.get(reference)
        return None if hold is None else replace(hold)

    def save_hold(self, hold: DuplicateHold) -> None:
        self._uow.state.holds[hold.reference] = replace(hold)

    def held(self, scope: Scope) -> list[DuplicateHold]:
        dossiers = self._uow.state.dossiers
        return sorted(
            (
                replace(h)
                for h in self._uow.state.holds.values()
                if dossiers[h.reference].status == DossierStatus.HELD
                and (scope.commune is None or dossiers[h.reference].commune_code == scope.commune)
                and (
                    (provinces := scope.province_codes()) is None
                    or dossiers[h.reference].province_code in provinces
                )
            ),
            key=lambda h: (h.held_at, h.reference),
        )

    def figures(self, period: Period, scope: Scope) -> DuplicateFigures:
        raise NotImplementedError("the duplicate figures are tested on real databases")


class NoSqlHere:
    """The sweep's and report's queries are SQL: their tests use the real databases."""

    def step_candidates(
        self, now: datetime, due_soon_limit: datetime, stuck_after: timedelta, window_days: int
    ) -> list[StepCandidate]:
        raise NotImplementedError("the sweep's queries are tested on real databases")

    def dossier_candidates(self, now: datetime, stuck_after: timedelta) -> list[DossierCandidate]:
        raise NotImplementedError("the sweep's queries are tested on real databases")

    def figures(self, period: Period, scope: Scope) -> tuple[list[Row], list[DayPoint]]:
        raise NotImplementedError("the report's queries are tested on real databases")


class FakeUnitOfWork:
    """One transaction over a :class:`FakeStore`: changes are kept only on commit."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def __enter__(self) -> Self:
        self.rollback()
        self.dossiers = FakeDossiers(self)
        self.audit = FakeAuditLog(self)
        self.outbox = FakeOutbox(self)
        self.supplements = FakeSupplements(self)
        self.clocks = FakeClockHistory(self)
        self.duplicates = FakeDuplicateIndex(self)
        self.sweep = self.reports = NoSqlHere()
        self.clients = FakeClients(self)
        self.webhooks = FakeWebhookLog(self)
        self.hospitals = FakeHospitals(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def own(self, reference: str) -> Dossier | None:
        """The transaction's own copy of a stored dossier, made when it is first read."""
        dossier = self.state.dossiers.get(reference)
        if dossier is not None and reference not in self.owned:
            dossier = self.state.dossiers[reference] = _copied_dossier(dossier)
            self.owned.add(reference)
        return dossier

    def own_notice(self, notice_id: int) -> StoredNotice:
        """The transaction's own copy of a queued notice, made before it is changed."""
        notices = self.state.notices
        index = next(i for i, n in enumerate(notices) if n.id == notice_id)
        if notice_id not in self.owned_notices:
            notices[index] = replace(notices[index], outcomes=list(notices[index].outcomes))
            self.owned_notices.add(notice_id)
        return notices[index]

    def commit(self) -> None:
        """Keep this transaction's state; what was read stays tracked, as in a session."""
        self.store.dossiers = {
            reference: _copied_dossier(d) if reference in self.owned else d
            for reference, d in self.state.dossiers.items()
        }
        self.store.notices = [
            replace(n, outcomes=list(n.outcomes)) if n.id in self.owned_notices else n
            for n in self.state.notices
        ]
        self.store.audit = list(self.state.audit)
        self.store.supplements = list(self.state.supplements)
        self.store.clocks = list(self.state.clocks)
        self.store.match_keys = list(self.state.match_keys)
        self.store.holds = dict(self.state.holds)
        self.store.leases = dict(self.state.leases)
        self.store.clients = dict(self.state.clients)
        self.store.webhooks = set(self.state.webhooks)
        self.store.hospitals = dict(self.state.hospitals)
        self.store.commits += 1

    def rollback(self) -> None:
        """Start again from what the store holds (its objects are copied before any change)."""
        self.state = replace(
            self.store,
            dossiers=dict(self.store.dossiers),
            audit=list(self.store.audit),
            notices=list(self.store.notices),
            supplements=list(self.store.supplements),
            clocks=list(self.store.clocks),
            match_keys=list(self.store.match_keys),
            holds=dict(self.store.holds),
            leases=dict(self.store.leases),
            clients=dict(self.store.clients),
            webhooks=set(self.store.webhooks),
            hospitals=dict(self.store.hospitals),
        )
        self.owned: set[str] = set()
        self.owned_notices: set[int] = set()


def _copied_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copied_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied_json(item) for item in value]
    return value


def _copied_dossier(dossier: Dossier) -> Dossier:
    """A deep copy of ``dossier`` (its JSON values are plain data: copied faster by hand)."""
    return replace(
        dossier,
        payload=_copied_json(dossier.payload),
        rejection_reasons=_copied_json(dossier.rejection_reasons),
        steps=[
            replace(s, result=_copied_json(s.result), missing_items=_copied_json(s.missing_items))
            for s in dossier.steps
        ],
    )


def fake_container(
    clock: Clock | None = None, settings: Settings | None = None, **changes: Any
) -> tuple[Container, FakeStore]:
    """A container over a fresh fake store (no database, no network)."""
    settings = settings or Settings()
    store = FakeStore()

    def no_network() -> Any:
        raise AssertionError("this test does not reach the network; pass a client")

    container = Container(
        settings=settings,
        unit_of_work=lambda: FakeUnitOfWork(store),
        deadlines=Deadlines.from_settings(settings.calendar),
        clock=clock or ManualClock(datetime.fromisoformat("2026-03-02T09:00:00+07:00")),
        agency_clients=PerLoop(no_network),
        webhook_notifier=PerLoop(no_network),
    )
    return replace(container, **changes), store
