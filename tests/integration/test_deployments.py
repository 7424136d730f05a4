"""prefect.yaml, as shipped in the package, and the deployments `lienthong serve` builds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prefect.types.entrypoint import EntrypointType

from lienthong.deployments.serve import PREFECT_YAML, deployment_specs, runner_deployment

REPO_PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


def test_the_packaged_prefect_yaml_is_the_repository_one() -> None:
    assert PREFECT_YAML.read_text(encoding="utf-8") == REPO_PREFECT_YAML.read_text(encoding="utf-8")


def test_prefect_yaml_pulls_nothing_and_names_module_paths() -> None:
    document = yaml.safe_load(REPO_PREFECT_YAML.read_text(encoding="utf-8"))
    assert document["pull"] == []
    entrypoints = [spec["entrypoint"] for spec in deployment_specs()]
    assert len(entrypoints) == 5
    for entrypoint in entrypoints:
        assert entrypoint.startswith("lienthong.flows."), entrypoint
        assert ":" not in entrypoint, f"{entrypoint}: a file path, not a module path"


async def test_served_deployments_import_the_installed_package() -> None:
    for spec in deployment_specs():
        deployment = await runner_deployment(spec)
        assert deployment.entrypoint_type == EntrypointType.MODULE_PATH
        assert deployment.entrypoint == spec["entrypoint"]
        assert deployment.name == spec["name"]
        assert deployment.concurrency_limit == spec["concurrency_limit"]
        assert len(deployment.schedules or []) == len(spec.get("schedules", []))


async def test_a_file_path_entrypoint_is_refused() -> None:
    with pytest.raises(ValueError, match="module path"):
        await runner_deployment({"name": "x", "entrypoint": "flows/sweep.py:overdue_sweep"})
