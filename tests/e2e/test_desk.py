"""The operator's desk in a real browser: Chromium (Playwright) against the real ``lienthong
api`` under uvicorn on PostgreSQL, its chains running against the simulator and the test
Prefect server. An operator created with ``lienthong clients create`` logs in, enters a birth
dossier (a mistake first: shown in Vietnamese next to its field, nothing typed lost), gets
the receipt and appointment slip, records the household head's consent the police asked
for, hands the result back, and withdraws a death dossier waiting for the citizen; the
worklist changes at each step. Screenshots go to ``LIENTHONG_TEST_SCREENSHOTS`` if set
(else the test's tmp_path): look at them.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from lienthong.api.desk.fields import SECTIONS, Kind
from lienthong.models.status import Chain
from lienthong.settings import Settings
from tests.e2e.conftest import api_env, create_client_credential, fresh_copy, load_example
from tests.e2e.processes import Processes, free_port, wait_for

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0
CHAIN_TIMEOUT = 120.0
COMMUNE = "22738"  # Phường Đô Vinh, the examples' commune


@dataclass
class Desk:
    url: str
    client_id: str
    secret: str
    shots: Path
    processes: Processes

    def shot(self, page: Page, name: str) -> None:
        page.screenshot(path=str(self.shots / f"desk-{name}.png"), full_page=True)


@pytest.fixture
def desk(chain_settings: Settings, prefect_api_url: str, tmp_path: Path) -> Iterator[Desk]:
    env = api_env(chain_settings, prefect_api_url, tmp_path)
    client_id, secret = create_client_credential(
        env, "Cán bộ một cửa", f"operator:{COMMUNE}"
    ).split(".", 1)
    port = free_port()
    processes = Processes(tmp_path, tmp_path)
    api = processes.start(
        "api", [str(BIN / "lienthong"), "api", "--here", "--port", str(port)], env
    )
    url = f"http://127.0.0.1:{port}"
    shots = Path(os.environ.get("LIENTHONG_TEST_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    try:
        wait_for(f"{url}/health", api, "lienthong api", START_TIMEOUT)
        yield Desk(url, client_id, secret, shots, processes)
    finally:
        processes.stop_all()


def _fill(page: Page, chain: Chain, dossier: dict[str, Any]) -> None:
    """Type ``dossier`` into the new-dossier form, field by field, as an operator would."""
    for section in SECTIONS[chain]:
        for field in section.fields:
            value: Any = dossier
            for name in field.path.split("."):
                value = value.get(name) if isinstance(value, dict) else None
            target = page.locator(f'[name="{field.path}"]')
            if field.kind is Kind.CHECKBOX:
                target.set_checked(value is True)
            elif value is None or field.path == "received_at":
                continue  # received_at: the form's default, now
            elif field.kind is Kind.CHOICE:
                target.select_option(str(value))
            elif field.kind is Kind.DATETIME:
                target.fill(str(value)[:16])
            else:
                target.fill(str(value))


def _worklist_row(page: Page, desk: Desk, reference: str) -> str:
    page.goto(f"{desk.url}/desk/")
    row = page.locator("tr", has_text=reference)
    return row.inner_text() if row.count() else ""


def _until(page: Page, desk: Desk, reference: str, text: str) -> None:
    """Reload the dossier's page until it shows ``text`` (its chain runs in the API)."""
    deadline = time.monotonic() + CHAIN_TIMEOUT
    while True:
        page.goto(f"{desk.url}/desk/dossiers/{reference}")
        if text in page.locator("main").inner_text():
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{reference} never showed {text!r}: {desk.processes.log('api')[-3000:]}"
            )
        time.sleep(0.5)


def _until_artifact_drops(api_url: str, key: str, reference: str) -> None:
    """Until the latest artifact ``key`` on the Prefect server no longer lists ``reference``."""
    deadline = time.monotonic() + CHAIN_TIMEOUT
    while True:
        found = httpx.post(
            f"{api_url}/artifacts/latest/filter",
            json={"artifacts": {"key": {"any_": [key]}}},
            timeout=10,
        ).json()
        if found and reference not in found[0]["data"]:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{key} still lists {reference}: {found}")
        time.sleep(0.5)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_operator_works_the_desk(desk: Desk, page: Page, prefect_api_url: str) -> None:
    page.goto(f"{desk.url}/desk/")
    expect(page).to_have_url(f"{desk.url}/desk/login")
    desk.shot(page, "1-login")
    page.fill("#client_id", desk.client_id)
    page.fill("#secret", "not-the-secret")
    page.click("button:has-text('Đăng nhập')")
    expect(page.locator(".errors")).to_have_text("Mã tài khoản hoặc mật khẩu không đúng")
    page.fill("#secret", desk.secret)
    page.click("button:has-text('Đăng nhập')")
    expect(page.locator("h1")).to_have_text("Việc cần làm hôm nay")
    expect(page.locator("header")).to_contain_text("UBND Phường Đô Vinh")

    # A birth dossier without the household head's consent: the police will ask for it.
    birth = fresh_copy(load_example("birth-valid.json"), "HT")
    birth["residence"]["household_head_consent"] = False
    reference = birth["reference"]
    page.click("text=Nhận hồ sơ khai sinh")
    _fill(page, Chain.BIRTH, {**birth, "child": {**birth["child"], "full_name": "Bảo An 2"}})
    page.click("button:has-text('Tiếp nhận hồ sơ')")
    name_field = page.locator(".field", has=page.locator('[name="child.full_name"]'))
    expect(name_field.locator(".error")).to_have_text(
        "chỉ được gồm chữ cái, dấu cách, dấu nháy đơn hoặc gạch nối"
    )
    expect(page.locator('[name="mother.full_name"]')).to_have_value("Trần Thị Thu Hà")
    expect(page.locator('[name="reference"]')).to_have_value(reference)
    desk.shot(page, "2-problem-next-to-its-field")
    page.fill('[name="child.full_name"]', birth["child"]["full_name"])
    page.click("button:has-text('Tiếp nhận hồ sơ')")

    slip = page.locator("article.slip")
    expect(slip).to_contain_text("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ")
    expect(slip).to_contain_text(f"Mã hồ sơ: {reference}")
    expect(slip).to_contain_text("Tiếp nhận hồ sơ của: Nguyễn Văn Minh")
    expect(slip).to_contain_text("Giấy chứng sinh số GCS-E2E-")
    expect(slip).to_contain_text("Thời gian giải quyết hồ sơ theo quy định là: 3 ngày làm việc")
    expect(slip).to_contain_text(
        re.compile(r"Thời gian trả kết quả giải quyết hồ sơ: trong giờ làm việc ngày \d\d")
    )
    desk.shot(page, "3-receipt-slip")
    page.emulate_media(media="print")
    expect(page.locator("header")).to_be_hidden()
    expect(slip).to_be_visible()
    desk.shot(page, "3-receipt-slip-printed")
    page.emulate_media(media="screen")

    _until(page, desk, reference, "Chờ công dân bổ sung")
    desk.shot(page, "4-dossier-awaiting-consent")
    assert "Chờ ý kiến đồng ý của chủ hộ" in _worklist_row(page, desk, reference)
    desk.shot(page, "5-worklist-consent")

    page.goto(f"{desk.url}/desk/dossiers/{reference}")
    page.click("text=Ghi nhận bổ sung")
    page.check('[name="residence.household_head_consent"]')
    desk.shot(page, "6-supplement")
    page.click("button:has-text('Ghi nhận bổ sung')")
    _until(page, desk, reference, "Đã giải quyết xong")
    assert "Trả kết quả cho công dân" in _worklist_row(page, desk, reference)

    page.goto(f"{desk.url}/desk/dossiers/{reference}")
    desk.shot(page, "7-dossier-completed")
    page.click("button:has-text('Đã trả kết quả cho công dân')")
    expect(page.locator("dl.facts")).to_contain_text("Đã trả cho công dân")
    assert _worklist_row(page, desk, reference) == ""

    # A death dossier without the contribution record: social insurance asks for it; the
    # citizen withdraws instead.
    death = fresh_copy(load_example("death-valid-insured.json"), "HT")
    death.pop("contribution_months", None)
    other = death["reference"]
    page.click("text=Nhận hồ sơ khai tử")
    _fill(page, Chain.DEATH, death)
    page.click("button:has-text('Tiếp nhận hồ sơ')")
    expect(page.locator("article.slip")).to_contain_text("Giấy báo tử số GBT-E2E-")
    _until(page, desk, other, "Chờ công dân bổ sung")
    assert "Chờ công dân bổ sung hồ sơ" in _worklist_row(page, desk, other)
    desk.shot(page, "8-worklist-supplement-due")

    page.goto(f"{desk.url}/desk/dossiers/{other}")
    page.click("text=Rút hồ sơ")
    page.click("button:has-text('Rút hồ sơ')")
    expect(page.locator(".field .error")).to_have_text("Ghi lý do rút hồ sơ")
    page.fill("#reason", "Gia đình tự làm thủ tục mai táng phí sau")
    page.click("button:has-text('Rút hồ sơ')")
    expect(page.locator("dl.facts")).to_contain_text("Công dân đã rút hồ sơ")
    desk.shot(page, "9-withdrawn")
    assert _worklist_row(page, desk, other) == ""
    # Withdrawn outside its run: Prefect's worklist artifact follows (flows/announce.py).
    _until_artifact_drops(prefect_api_url, f"worklist-commune-{COMMUNE}", other)

    page.click("text=Đăng xuất")
    expect(page).to_have_url(f"{desk.url}/desk/login")
    page.goto(f"{desk.url}/desk/")
    expect(page).to_have_url(f"{desk.url}/desk/login")
