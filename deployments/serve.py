"""``lienthong serve``: one process serving every deployment of prefect.yaml.

The deployments (names, tags, concurrency limits, schedules) are read from prefect.yaml,
so the work-pool setup and the one-process setup cannot drift apart. Runs are executed
in this process as subprocesses of the Prefect runner; no work pool or worker is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from prefect import Flow, aserve
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import load_flow_from_entrypoint
from prefect.schedules import Cron

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"


def deployment_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The ``deployments:`` entries of prefect.yaml, anchors resolved."""
    with path.open(encoding="utf-8") as file:
        document = yaml.safe_load(file)
    specs: list[dict[str, Any]] = document["deployments"]
    return specs


async def runner_deployment(spec: dict[str, Any], root: Path) -> RunnerDeployment:
    file, _, function = spec["entrypoint"].partition(":")
    chain_flow: Flow[..., Any] = load_flow_from_entrypoint(f"{root / file}:{function}")
    schedules = [
        Cron(schedule["cron"], timezone=schedule.get("timezone"))
        for schedule in spec.get("schedules", [])
    ]
    return await chain_flow.ato_deployment(
        name=spec["name"],
        description=spec.get("description"),
        tags=spec.get("tags"),
        concurrency_limit=spec.get("concurrency_limit"),
        schedules=schedules or None,
    )


async def serve_all(limit: int | None = None, path: Path = PREFECT_YAML) -> None:
    deployments = [await runner_deployment(spec, path.parent) for spec in deployment_specs(path)]
    await aserve(*deployments, limit=limit)
