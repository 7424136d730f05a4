"""Status vocabularies and the one place that says which status changes are allowed.

Everything that changes a dossier's or a step's status goes through
:func:`check_step_transition` / :func:`check_dossier_transition`; an illegal change raises
:class:`IllegalTransition` instead of silently corrupting the record.
"""

from __future__ import annotations

from enum import StrEnum


class Chain(StrEnum):
    BIRTH = "birth"
    DEATH = "death"


class Agency(StrEnum):
    JUSTICE = "justice"
    POLICE = "police"
    SOCIAL_INSURANCE = "social_insurance"
    SOCIAL_AFFAIRS = "social_affairs"
    # The commune one-stop shop: not a step executor, but it receives notices.
    COMMUNE = "commune"
    # The province's department overseeing the chains: receives escalations of late decisions.
    PROVINCE = "province"


class StepKind(StrEnum):
    BIRTH_REGISTRATION = "birth_registration"
    RESIDENCE_REGISTRATION = "residence_registration"
    CHILD_HEALTH_CARD = "child_health_card"
    DEATH_REGISTRATION = "death_registration"
    RESIDENCE_REMOVAL = "residence_removal"
    FUNERAL_ALLOWANCE = "funeral_allowance"
    SURVIVOR_BENEFITS = "survivor_benefits"


class StepStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    # The agency acknowledged the request (202 and a receipt) and decides later: the step
    # waits in our record, holding no worker, until its callback or a poll brings the decision.
    AWAITING_DECISION = "awaiting_decision"
    SUCCEEDED = "succeeded"
    AWAITING_SUPPLEMENT = "awaiting_supplement"
    REFUSED = "refused"
    # Transient failures outlasted every retry: visible, resumable, picked up by the sweep.
    FAILED = "failed"
    # A permanent error: our request was refused as malformed or unauthorised, the agency's
    # answer broke the contract, or a bug. Retrying cannot help, so the sweep leaves it to a
    # person; `lienthong run` resumes it once the cause is fixed.
    ERROR = "error"
    # Not applicable to this dossier (e.g. no funeral allowance payer): not an error.
    SKIPPED = "skipped"
    WITHDRAWN = "withdrawn"


class DossierStatus(StrEnum):
    RECEIVED = "received"
    # A potential duplicate of a dossier on record (models/duplicates.py): no agency is
    # called until a person decides; "distinct" returns it to received, the others close it
    # as rejected with the decision.
    HELD = "held"
    # Invalid at intake: stored with its reasons, never sent to an agency.
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    AWAITING_SUPPLEMENT = "awaiting_supplement"
    COMPLETED = "completed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class FuneralPayerBasis(StrEnum):
    """What decides who pays the funeral allowance (DOMAIN.md, chain B step 3)."""

    INSURED = "insured"
    PENSIONER = "pensioner"
    MONTHLY_BENEFITS = "monthly_benefits"
    SOCIAL_PROTECTION = "social_protection"
    MERITORIOUS = "meritorious"
    NONE = "none"


class IllegalTransition(Exception):
    """A status change that the rules below do not allow."""

    def __init__(self, what: str, before: str, after: str, why: str | None = None) -> None:
        message = f"{what} cannot go from {before!r} to {after!r}"
        super().__init__(f"{message}: {why}" if why else message)
        self.before = before
        self.after = after


STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    StepStatus.PENDING: frozenset(
        {StepStatus.IN_PROGRESS, StepStatus.SKIPPED, StepStatus.WITHDRAWN}
    ),
    StepStatus.IN_PROGRESS: frozenset(
        {
            StepStatus.AWAITING_DECISION,
            StepStatus.SUCCEEDED,
            StepStatus.AWAITING_SUPPLEMENT,
            StepStatus.REFUSED,
            StepStatus.FAILED,
            StepStatus.ERROR,
            StepStatus.SKIPPED,
        }
    ),
    # Only the agency's decision ends the wait (an unreadable one is an error for a person);
    # nobody may withdraw what it is deciding.
    StepStatus.AWAITING_DECISION: frozenset(
        {
            StepStatus.SUCCEEDED,
            StepStatus.AWAITING_SUPPLEMENT,
            StepStatus.REFUSED,
            StepStatus.ERROR,
        }
    ),
    StepStatus.FAILED: frozenset({StepStatus.IN_PROGRESS, StepStatus.WITHDRAWN}),
    StepStatus.ERROR: frozenset({StepStatus.IN_PROGRESS, StepStatus.WITHDRAWN}),
    # A supplement makes the step ready to be sent again; the applicant's silence refuses it.
    StepStatus.AWAITING_SUPPLEMENT: frozenset(
        {StepStatus.PENDING, StepStatus.REFUSED, StepStatus.WITHDRAWN}
    ),
    StepStatus.SUCCEEDED: frozenset(),
    StepStatus.REFUSED: frozenset(),
    StepStatus.SKIPPED: frozenset(),
    StepStatus.WITHDRAWN: frozenset(),
}

DOSSIER_TRANSITIONS: dict[DossierStatus, frozenset[DossierStatus]] = {
    DossierStatus.RECEIVED: frozenset(
        {
            DossierStatus.IN_PROGRESS,
            DossierStatus.REJECTED,
            DossierStatus.WITHDRAWN,
            DossierStatus.HELD,
        }
    ),
    DossierStatus.HELD: frozenset(
        {DossierStatus.RECEIVED, DossierStatus.REJECTED, DossierStatus.WITHDRAWN}
    ),
    DossierStatus.IN_PROGRESS: frozenset(
        {
            DossierStatus.AWAITING_SUPPLEMENT,
            DossierStatus.COMPLETED,
            DossierStatus.REFUSED,
            DossierStatus.WITHDRAWN,
        }
    ),
    DossierStatus.AWAITING_SUPPLEMENT: frozenset(
        {DossierStatus.IN_PROGRESS, DossierStatus.REFUSED, DossierStatus.WITHDRAWN}
    ),
    DossierStatus.REJECTED: frozenset(),
    DossierStatus.COMPLETED: frozenset(),
    DossierStatus.REFUSED: frozenset(),
    DossierStatus.WITHDRAWN: frozenset(),
}

TERMINAL_STEP_STATUSES = frozenset(s for s, nxt in STEP_TRANSITIONS.items() if not nxt)
TERMINAL_DOSSIER_STATUSES = frozenset(s for s, nxt in DOSSIER_TRANSITIONS.items() if not nxt)
# A step in one of these is behind its chain: the next step may start.
DONE_STEP_STATUSES = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED})
# A step in one of these stopped without an outcome: a person or the sweep must act.
STOPPED_STEP_STATUSES = frozenset({StepStatus.FAILED, StepStatus.ERROR})
# A step in one of these waits for someone outside: the agency's decision, the applicant's
# supplement. Its chain's run ends (suspended) and resumes when that arrives.
WAITING_STEP_STATUSES = frozenset({StepStatus.AWAITING_DECISION, StepStatus.AWAITING_SUPPLEMENT})


def check_step_transition(before: StepStatus, after: StepStatus) -> None:
    if after not in STEP_TRANSITIONS[before]:
        raise IllegalTransition("step", before, after)


def check_dossier_transition(before: DossierStatus, after: DossierStatus) -> None:
    if after not in DOSSIER_TRANSITIONS[before]:
        raise IllegalTransition("dossier", before, after)
