"""README's first command ends in `lienthong demo`: it must work as written."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e


async def test_demo_runs_every_sample_and_prints_its_summary(
    prefect_api_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api_url,
        "LIENTHONG_DATA_DIR": str(tmp_path / "data"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lienthong",
        "demo",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    text = output.decode()

    assert process.returncode == 0, text[-3000:]
    assert "HT-2026-001001: received from the portal" in text, "a dossier over HTTP"
    assert "a hospital's birth certificate, awaiting_family" in text
    assert re.search(r"BV-2026-00000001 +birth +completed", text), "prefilled, completed, run"
    assert re.search(r"police decisions: [1-9]\d* by callback", text), "signed callbacks"
    assert re.search(r"HT-2026-001003 +birth +refused", text)
    assert "awaiting_supplement" in text, "the first pass parks the consent case"
    assert "supplements received for HT-2026-001002" in text
    assert re.search(r"HT-2026-001002 +birth +completed", text)
    assert "rejected" in text
    assert "(duplicates: 0)" in text
    assert "audit chain: intact" in text
    assert "notifications: 0 still pending" in text
    # Its own Prefect, never the operator's (PREFECT_API_URL above is the operator's).
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["dossier:HT-2026-001001"]))
        )
    assert runs == [], "the demo wrote its runs into the operator's Prefect"
    assert (tmp_path / "data" / "demo-prefect" / "prefect.db").exists()
