"""Every day: verify the audit trail and anchor its head (tasks/audit_anchor.py)."""

from __future__ import annotations

from typing import Any

from prefect import State, flow
from prefect.states import Completed

from lienthong.models.masking import protect_prefect_logs
from lienthong.tasks.audit_anchor import anchor_audit_head


@flow(name="audit-anchor", persist_result=False)
async def audit_anchor_flow() -> State[Any]:
    """Publish the verified audit head as an artifact and send it, signed, to the province."""
    protect_prefect_logs()
    anchored = await anchor_audit_head()
    where = "and sent to the province" if anchored["sent_to_province"] else "(no province URL)"
    return Completed(
        message=f"anchored event {anchored['event_id']} ({anchored['events']} events) {where}",
        data=anchored,
    )
