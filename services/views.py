"""What operators and flows see of a dossier: statuses, references and local times.

No personal data: a view carries the reference, codes, statuses and the agencies' words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from lienthong.models.audit import AuditEntry
from lienthong.models.lateness import Timeliness, dossier_timeliness, is_late, step_timeliness
from lienthong.models.lifecycle import Dossier
from lienthong.models.status import Agency, Chain, DossierStatus, StepKind, StepStatus
from lienthong.models.wording import Language, day_time, say, word
from lienthong.services.container import Container


@dataclass(frozen=True)
class StepView:
    """A step as the flow sees it: statuses and references, no personal data."""

    kind: StepKind
    agency: Agency
    position: int
    status: StepStatus
    attempts: int
    agency_reference: str | None
    reason: str | None
    missing_items: list[str] | None
    due_at: str | None
    # By the one lateness rule (models/lateness.py) at the view's instant; ``on_time`` is
    # its yes/no (None: not judged), as the API has always shown it.
    timeliness: Timeliness
    on_time: bool | None


@dataclass(frozen=True)
class DossierView:
    reference: str
    chain: Chain | None
    status: DossierStatus
    province_code: str
    commune_code: str
    due_at: str | None
    timeliness: Timeliness
    late: bool
    handed_back_at: str | None
    steps: tuple[StepView, ...]

    def step(self, kind: StepKind) -> StepView:
        return next(s for s in self.steps if s.kind == kind)


def local_time(moment: datetime | None, timezone: str) -> str | None:
    """Times shown to operators are local (Asia/Ho_Chi_Minh by default), to the second."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds")


def _yes_no(timeliness: Timeliness) -> bool | None:
    return None if timeliness == Timeliness.NOT_JUDGED else not timeliness.late


def view_of(dossier: Dossier, timezone: str, now: datetime) -> DossierView:
    """The dossier at ``now`` (its lateness is judged then)."""
    return DossierView(
        reference=dossier.reference,
        chain=dossier.chain,
        status=dossier.status,
        province_code=dossier.province_code,
        commune_code=dossier.commune_code,
        due_at=local_time(dossier.due_at, timezone),
        timeliness=dossier_timeliness(dossier, now),
        late=is_late(dossier, now),
        handed_back_at=local_time(dossier.handed_back_at, timezone),
        steps=tuple(
            StepView(
                kind=s.kind,
                agency=s.agency,
                position=s.position,
                status=s.status,
                attempts=s.attempts,
                agency_reference=s.agency_reference,
                reason=s.reason,
                missing_items=s.missing_items,
                due_at=local_time(s.due_at, timezone),
                timeliness=(timeliness := step_timeliness(s, now)),
                on_time=_yes_no(timeliness),
            )
            for s in dossier.steps
        ),
    )


def load_view(container: Container, reference: str) -> DossierView:
    now = container.clock.now()
    with container.unit_of_work() as uow:
        return view_of(uow.dossiers.get(reference), container.settings.calendar.timezone, now)


def events(container: Container, reference: str) -> list[dict[str, Any]]:
    """The dossier's audit events, oldest first, times local."""
    timezone = container.settings.calendar.timezone
    with container.unit_of_work() as uow:
        return [timeline_entry(e, timezone) for e in uow.audit.entries(reference)]


def timeline_entry(entry: AuditEntry, timezone: str) -> dict[str, Any]:
    """One audit event as the timeline shows it (CLI, API), its time local."""
    return {
        "at": local_time(entry.record.occurred_at, timezone),
        "actor": entry.record.actor,
        "action": entry.record.action,
        "step": entry.record.step_kind,
        "before": entry.record.status_before,
        "after": entry.record.status_after,
        "reason": entry.record.reason,
    }


@dataclass(frozen=True)
class Waiting:
    """What a dossier waits for, for the run's state message: no personal data."""

    reference: str
    kind: StepKind
    agency: Agency
    status: StepStatus
    since: str | None
    due: str | None
    verification: bool

    def message(self, language: Language) -> str:
        """E.g. "chờ quyết định của Công an về Đăng ký thường trú từ …, hạn …" (in English:
        "waiting for Police decision on Permanent residence registration since …, due …")."""
        step = word(self.kind, language)
        due = day_time(self.due)
        if self.status == StepStatus.AWAITING_SUPPLEMENT:
            return say("waiting_supplement", language, step=step, due=due)
        verification = say("verification", language) if self.verification else ""
        return say(
            "waiting_decision",
            language,
            agency=word(self.agency, language),
            step=step,
            verification=verification,
            since=day_time(self.since),
            due=due,
        )


def waiting_of(container: Container, reference: str) -> Waiting | None:
    """The step the dossier waits on (an agency's decision or a supplement), if any.

    A supplement is due by the applicant's window from the request (models/deadlines.py).
    """
    timezone = container.settings.calendar.timezone
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
    for step in dossier.steps:
        if step.status == StepStatus.AWAITING_DECISION:
            since, due = step.waiting_since, step.due_at
        elif step.status == StepStatus.AWAITING_SUPPLEMENT:
            since = step.finished_at
            due = container.deadlines.supplement_deadline(since) if since else None
        else:
            continue
        return Waiting(
            reference,
            step.kind,
            step.agency,
            step.status,
            local_time(since, timezone),
            local_time(due, timezone),
            step.verification,
        )
    return None
