"""The daily audit anchor's Prefect side: publish the verified head as an artifact, send it
to the province, and read back the last one published (services/audit_anchor.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from prefect import State, task
from prefect.artifacts import acreate_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.objects import TaskRun
from prefect.client.schemas.sorting import ArtifactSort

from lienthong.bootstrap import current_container
from lienthong.models.audit import Anchor
from lienthong.services.audit_anchor import AnchorNotDelivered, send_anchor, verified_anchor


async def latest_published_anchor(artifact_key: str) -> Anchor | None:
    """The newest anchor published as a Prefect artifact (None before the first)."""
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    if not artifacts:
        return None
    data: Any = artifacts[0].data
    row = (json.loads(data) if isinstance(data, str) else data)[0]
    return Anchor(str(row["head"]), int(row["event_id"]))


def _not_delivered(_task: Any, _task_run: TaskRun, state: State[Any]) -> bool:
    """Only the province's endpoint being down is worth retrying; a broken trail is not."""
    return isinstance(state.data, AnchorNotDelivered)


@task(
    name="anchor-audit-head",
    retries=3,
    retry_delay_seconds=[60, 300, 900],
    retry_condition_fn=_not_delivered,
    persist_result=False,
)
async def anchor_audit_head() -> dict[str, Any]:
    """Verify the whole trail (against the last anchor too), publish its head, send it.

    A trail that fails verification is not anchored: the task fails with why, and the
    last good anchor stays the newest. Retried for the province's endpoint being down.
    """
    container = current_container()
    key = container.settings.audit_anchor.artifact_key
    previous = await latest_published_anchor(key)
    payload = await asyncio.to_thread(verified_anchor, container, previous)
    await acreate_table_artifact(
        key=key,
        table=[payload],
        description="The audit trail's head, verified: `lienthong audit verify` checks it",
    )
    payload["sent_to_province"] = await send_anchor(container, payload)
    return payload
