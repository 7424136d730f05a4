"""The worklists in the Prefect UI: one markdown artifact per commune and per province,
listing what needs a person (models/worklist.py), references and codes only.

Republished whenever a dossier of the commune changes (the chain's runs, and the actions
taken outside a run: flows/announce.py) and by the overdue sweep, which republishes every
unit's (a deadline passing changes a list without any dossier changing).
"""

from __future__ import annotations

import asyncio

from prefect import task
from prefect.artifacts import acreate_markdown_artifact

from lienthong.bootstrap import current_container
from lienthong.models.report import Scope
from lienthong.models.wording import Language, say
from lienthong.models.worklist import WorkItem
from lienthong.models.worklist_text import markdown
from lienthong.services.container import Container
from lienthong.services.worklist import by_unit, units_of, worklist


def artifact_key(scope: Scope) -> str:
    """``worklist-commune-22738``, ``worklist-province-056`` (Prefect keys: a-z, 0-9, -)."""
    if scope.commune is not None:
        return f"worklist-commune-{scope.commune.lower()}"
    return f"worklist-province-{(scope.province or 'all').lower()}"


def title(scope: Scope, language: Language) -> str:
    if scope.commune is not None:
        return say("worklist_of_commune", language, code=scope.commune)
    return say("worklist_of_province", language, code=scope.province)


async def publish_worklist(container: Container, scope: Scope, items: list[WorkItem]) -> None:
    settings = container.settings
    await acreate_markdown_artifact(
        key=artifact_key(scope),
        markdown=markdown(
            title(scope, settings.language),
            items,
            settings.language,
            settings.calendar.timezone,
            container.clock.now(),
        ),
        description=title(scope, settings.language),
    )


async def refresh_worklists(container: Container, reference: str) -> None:
    """Republish the worklists of the dossier's commune and province."""
    for scope in await asyncio.to_thread(units_of, container, reference):
        found = await asyncio.to_thread(worklist, container, scope)
        await publish_worklist(container, scope, found.items)


async def refresh_all_worklists(container: Container) -> int:
    """Republish every commune's and province's worklist that has something on it; returns
    how many were published."""
    units = await asyncio.to_thread(by_unit, container)
    for scope, items in units.items():
        await publish_worklist(container, scope, items)
    return len(units)


@task(name="publish-worklists", persist_result=False)
async def publish_worklists(reference: str) -> None:
    await refresh_worklists(current_container(), reference)
