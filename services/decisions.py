"""Record an agency's decision on a receipt, delivered by callback or found by polling.

Both paths end here, and the record is the arbiter: a decision applies only to a step that
is still awaiting a decision under that receipt. Anything else (the same decision again, a
late or out-of-order one, an interim notice after the final one, an unknown receipt)
changes nothing, is logged, and is answered as such so the sender stops retrying.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from lienthong.models.contract.decisions import DecisionNotice, DecisionOutcome
from lienthong.models.lifecycle import Change
from lienthong.models.status import Agency, StepKind, StepStatus
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.step_outcomes import decided
from lienthong.services.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)


class DecisionSource(StrEnum):
    CALLBACK = "callback"
    POLL = "poll"


class Recorded(StrEnum):
    # The step has its outcome: its chain can continue.
    DECIDED = "decided"
    # Interim: the step waits longer (its statutory limit extended).
    VERIFICATION = "verification"
    # Nothing decided yet (a poll's answer).
    PENDING = "pending"
    # Already applied, or too late for a step that has moved on: nothing changed.
    IGNORED = "ignored"
    # No step of ours has this receipt from this agency: nothing changed.
    UNKNOWN_RECEIPT = "unknown_receipt"
    # The receipt is another agency's: a caller may decide only its own steps.
    NOT_ITS_OWN = "not_its_own"
    # This signed callback (its webhook-id) was accepted before: a replay, refused.
    REPLAYED = "replayed"


@dataclass(frozen=True)
class DecisionReceipt:
    """What became of a notice, and the dossier it was about (None when unknown)."""

    recorded: Recorded
    reference: str | None = None
    kind: StepKind | None = None


def agency_actor(agency: Agency, source: DecisionSource) -> ledger.Actor:
    return ledger.Actor(f"agency:{agency.value}:{source.value}")


def webhook_sender(agency: Agency) -> str:
    """How the webhook log names an agency's system."""
    return f"agency:{agency.value}"


def record_decision(
    container: Container,
    agency: Agency,
    notice: DecisionNotice,
    source: DecisionSource,
    webhook_id: str | None = None,
) -> DecisionReceipt:
    """Apply ``notice`` from ``agency`` to the step awaiting it, in one transaction.

    A callback's ``webhook_id`` is remembered in the same transaction when the callback is
    accepted: the same id again is :attr:`Recorded.REPLAYED` and changes nothing, while a
    callback that failed (nothing committed) may be sent again under its id.
    """
    now = container.clock.now()
    sender = webhook_sender(agency)
    with container.unit_of_work() as uow:
        if webhook_id is not None and uow.webhooks.seen(sender, webhook_id):
            logger.warning("%s callback %s replayed: refused", agency.value, webhook_id)
            return DecisionReceipt(Recorded.REPLAYED)
        receipt = _apply(container, uow, agency, notice, source, now)
        if receipt.recorded in (Recorded.UNKNOWN_RECEIPT, Recorded.NOT_ITS_OWN):
            return receipt
        if webhook_id is not None:
            uow.webhooks.remember(sender, webhook_id, now)
        uow.commit()
        return receipt


def _not_its_own(uow: UnitOfWork, agency: Agency, notice: DecisionNotice) -> bool:
    """Whether the notice names a receipt another agency gave for the dossier it names."""
    dossier = uow.dossiers.find(notice.dossier_reference[:64])
    return dossier is not None and any(
        s.receipt_number == notice.receipt_number and s.agency != agency for s in dossier.steps
    )


def _apply(
    container: Container,
    uow: UnitOfWork,
    agency: Agency,
    notice: DecisionNotice,
    source: DecisionSource,
    now: datetime,
) -> DecisionReceipt:
    """The decision applied to the dossier in ``uow`` (recorded, not committed)."""
    reference = uow.dossiers.reference_of_receipt(agency, notice.receipt_number)
    if reference is None and _not_its_own(uow, agency, notice):
        logger.warning(
            "%s decision (%s) on another agency's receipt %s refused",
            agency.value,
            source.value,
            notice.receipt_number,
        )
        return DecisionReceipt(Recorded.NOT_ITS_OWN)
    if reference is None or reference != notice.dossier_reference:
        logger.warning(
            "%s decision (%s) for unknown receipt %s ignored",
            agency.value,
            source.value,
            notice.receipt_number,
        )
        return DecisionReceipt(Recorded.UNKNOWN_RECEIPT)
    dossier = uow.dossiers.get(reference)
    step = next(
        s for s in dossier.steps if s.agency == agency and s.receipt_number == notice.receipt_number
    )
    if notice.outcome is DecisionOutcome.PENDING:
        return DecisionReceipt(Recorded.PENDING, reference, step.kind)
    if step.status != StepStatus.AWAITING_DECISION:
        logger.info(
            "dossier %s step %s is %s: %s decision (%s) %s ignored",
            reference,
            step.kind.value,
            step.status.value,
            agency.value,
            source.value,
            notice.outcome.value,
        )
        return DecisionReceipt(Recorded.IGNORED, reference, step.kind)
    changes: list[Change]
    if notice.outcome is DecisionOutcome.VERIFICATION_NEEDED:
        changes = dossier.need_verification(
            step.kind, reason=notice.reason, deadlines=container.deadlines, now=now
        )
        recorded = Recorded.VERIFICATION if changes else Recorded.IGNORED
    else:
        outcome = decided(step.kind, agency, notice)
        changes = dossier.finish_step(
            step.kind,
            outcome.status,
            now=now,
            agency_reference=outcome.agency_reference,
            result=outcome.result,
            reason=outcome.reason,
            missing_items=outcome.missing_items,
        )
        recorded = Recorded.DECIDED
    if not changes:
        return DecisionReceipt(Recorded.IGNORED, reference, step.kind)
    actor = agency_actor(agency, source)
    ledger.record(uow, dossier, changes, actor, now, container.deadlines.calendar)
    logger.info(
        "dossier %s step %s: %s decision (%s) %s recorded",
        reference,
        step.kind.value,
        agency.value,
        source.value,
        notice.outcome.value,
    )
    return DecisionReceipt(recorded, reference, step.kind)
