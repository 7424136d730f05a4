"""The operator's view of one dossier: a markdown timeline published as a Prefect artifact,
in the operator's words (models/wording.py) and with each step's lateness by the one rule
(models/lateness.py)."""

from __future__ import annotations

import asyncio
import re

from prefect import task
from prefect.artifacts import acreate_markdown_artifact

from lienthong.bootstrap import current_container
from lienthong.models.masking import scrub
from lienthong.models.wording import Language, day_time, say, word
from lienthong.services.container import Container
from lienthong.services.views import DossierView, load_view


def artifact_key(reference: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return "dossier-" + re.sub(r"[^a-z0-9]+", "-", reference.lower()).strip("-")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return scrub(text).replace("|", "\\|").replace("\n", " ")


def render_timeline(view: DossierView, language: Language) -> str:
    chain = word(view.chain, language) if view.chain else "-"
    lines = [
        "## " + say("dossier_title", language, reference=view.reference, chain=chain),
        "",
        say(
            "dossier_state",
            language,
            status=f"**{word(view.status, language)}**",
            lateness=word(view.timeliness, language),
            commune=view.commune_code,
            due=day_time(view.due_at),
        ),
        "",
        "| " + " | ".join(say("timeline_columns", language).split(";")) + " |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for step in view.steps:
        reason = step.reason or ""
        if step.missing_items:
            reason += " (" + say("missing", language, items="; ".join(step.missing_items)) + ")"
        lines.append(
            "| "
            + " | ".join(
                _cell(v)
                for v in (
                    step.position + 1,
                    word(step.kind, language),
                    word(step.agency, language),
                    word(step.status, language),
                    step.attempts,
                    step.agency_reference,
                    day_time(step.due_at),
                    word(step.timeliness, language),
                    reason,
                )
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


async def publish_timeline_artifact(container: Container, reference: str) -> None:
    view = await asyncio.to_thread(load_view, container, reference)
    language = container.settings.language
    await acreate_markdown_artifact(
        key=artifact_key(reference),
        markdown=render_timeline(view, language),
        description=f"{reference}: {word(view.status, language)}",
    )


@task(name="publish-timeline", persist_result=False)
async def publish_timeline(reference: str) -> None:
    await publish_timeline_artifact(current_container(), reference)
