"""Anchor the audit trail: verify it, and hand its head to a place no one here can rewrite.

Deleting the newest events leaves a valid, shorter chain; only a head kept elsewhere shows
it. The ``audit-anchor`` flow does this every day: the head of a verified trail is
published as a Prefect artifact and sent, signed like our notifications
(models/contract/signing.py), to the province's endpoint (``LIENTHONG_AUDIT_ANCHOR__URL``).
``lienthong audit verify`` checks the chain against the last one published.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lienthong.models.audit import Anchor, VerifyResult
from lienthong.services.audit_trail import verify
from lienthong.services.container import Container


class AuditTrailNotIntact(Exception):
    """The trail failed verification: no anchor is published for it (a person must look)."""


class AnchorNotDelivered(Exception):
    """The province's endpoint did not acknowledge the anchor (retried by the flow)."""


def problem_summary(result: VerifyResult) -> str:
    """Why ``result`` is not intact, in words that hold no personal data."""
    if result.first_break is not None:
        return f"chain broken at event {result.first_break.event_id}: {result.first_break.problem}"
    if result.anchor_found is False:
        return "the head published last is no longer in the chain (newest events removed?)"
    count = len(result.mismatches)
    return (
        f"{count} difference{'' if count == 1 else 's'} between the rows and the events "
        "(run `lienthong audit verify`)"
    )


def anchor_payload(result: VerifyResult, anchored_at: datetime) -> dict[str, Any]:
    return {
        "event_id": result.head_event_id,
        "head": result.head,
        "events": result.checked,
        "anchored_at": anchored_at.isoformat(),
    }


def verified_anchor(container: Container, previous: Anchor | None) -> dict[str, Any]:
    """The current head, once the whole trail verified (against ``previous`` too)."""
    result = verify(container, previous)
    if not result.intact:
        raise AuditTrailNotIntact(problem_summary(result))
    return anchor_payload(result, container.clock.now())


async def send_anchor(container: Container, payload: dict[str, Any]) -> bool:
    """POST the anchor, signed, to the province; False when no endpoint is configured.

    The event id is the anchored event's, so a resent anchor is a duplicate to the
    receiver, not a new one.
    """
    settings = container.settings.audit_anchor
    if not settings.url:
        return False
    outcome = await container.webhook_notifier.get().deliver(
        settings.url,
        [settings.secret.get_secret_value()],
        f"audit-anchor-{payload['event_id']}",
        payload,
    )
    if not outcome.delivered:
        raise AnchorNotDelivered(f"the province's endpoint answered: {outcome.error}")
    return True
