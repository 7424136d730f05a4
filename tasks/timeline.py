"""The operator's view of one dossier: a markdown timeline published as a Prefect artifact."""

from __future__ import annotations

import asyncio
import re

from prefect import task
from prefect.artifacts import acreate_markdown_artifact

from lienthong.bootstrap import current_container
from lienthong.models.masking import scrub
from lienthong.services.views import DossierView, load_view


def artifact_key(reference: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return "dossier-" + re.sub(r"[^a-z0-9]+", "-", reference.lower()).strip("-")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return scrub(text).replace("|", "\\|").replace("\n", " ")


def render_timeline(view: DossierView) -> str:
    chain = view.chain.value if view.chain else "unknown"
    lines = [
        f"## Dossier {view.reference} ({chain} chain)",
        "",
        f"Status: **{view.status.value}** · commune {view.commune_code} · due {view.due_at or '-'}",
        "",
        "| # | Step | Agency | Status | Attempts | Agency reference | Due | On time | Reason |",
        "|---|------|--------|--------|----------|------------------|-----|---------|--------|",
    ]
    for step in view.steps:
        reason = step.reason or ""
        if step.missing_items:
            reason += " (missing: " + "; ".join(step.missing_items) + ")"
        on_time = "" if step.on_time is None else ("yes" if step.on_time else "LATE")
        lines.append(
            "| "
            + " | ".join(
                _cell(v)
                for v in (
                    step.position + 1,
                    step.kind.value,
                    step.agency.value,
                    step.status.value,
                    step.attempts,
                    step.agency_reference,
                    step.due_at,
                    on_time,
                    reason,
                )
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


@task(name="publish-timeline", persist_result=False)
async def publish_timeline(reference: str) -> None:
    view = await asyncio.to_thread(load_view, current_container(), reference)
    await acreate_markdown_artifact(
        key=artifact_key(reference),
        markdown=render_timeline(view),
        description=f"Step timeline of dossier {reference}",
    )
