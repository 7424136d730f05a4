"""``lienthong serve``: one process serving every deployment of prefect.yaml.

The deployments (names, tags, concurrency limits, schedules) are read from prefect.yaml,
so the work-pool setup and the one-process setup cannot drift apart. Runs are executed
in this process as subprocesses of the Prefect runner; no work pool or worker is needed.

prefect.yaml is read from the installed package (``lienthong/deployments/prefect.yaml``,
the repository's top-level file in a source checkout), and its entrypoints are module
paths (``lienthong.flows.birth_chain.birth_chain``): each flow run imports the installed
package, whatever directory ``lienthong serve`` was started in.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml
from prefect import Flow, aserve
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import load_flow_from_entrypoint
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

PREFECT_YAML = resources.files("lienthong.deployments").joinpath("prefect.yaml")


def deployment_specs(text: str | None = None) -> list[dict[str, Any]]:
    """The ``deployments:`` entries of prefect.yaml (the packaged one unless ``text``)."""
    document = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8") if text is None else text)
    specs: list[dict[str, Any]] = document["deployments"]
    return specs


async def runner_deployment(spec: dict[str, Any]) -> RunnerDeployment:
    entrypoint: str = spec["entrypoint"]
    if ":" in entrypoint:
        raise ValueError(
            f"prefect.yaml entrypoint {entrypoint!r}: use a module path "
            "(package.module.flow_function), so runs import the installed package"
        )
    chain_flow: Flow[..., Any] = load_flow_from_entrypoint(entrypoint, use_placeholder_flow=False)
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
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


async def serve_all(limit: int | None = None) -> None:
    deployments = [await runner_deployment(spec) for spec in deployment_specs()]
    await aserve(*deployments, limit=limit)
