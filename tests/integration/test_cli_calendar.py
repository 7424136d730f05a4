"""The CLI says once when due dates reach a year whose government day swaps are missing."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lienthong.bootstrap import use_container
from lienthong.cli import main
from lienthong.models.clock import ManualClock
from lienthong.services.container import Container
from tests.conftest import record_session
from tests.helpers import act_as

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def cli_at(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Container, ManualClock]]:
    """The CLI on the test database, with a clock the test sets."""
    with record_session(container) as session:
        url = session.get_bind().engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", url)
    act_as(container, monkeypatch)
    clock = ManualClock(datetime(2026, 11, 25, 9, tzinfo=HCM))
    with use_container(dataclasses.replace(container, clock=clock)) as current:
        yield current, clock


def swap_warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if "swaps" in line]


def test_no_warning_while_the_years_swaps_are_known(
    cli_at: tuple[Container, ManualClock], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["submit", "--no-run", str(EXAMPLES / "birth-valid.json")]) == 0
    assert main(["status", "HT-2026-000123"]) == 0
    assert swap_warnings(capsys.readouterr().err) == []


def test_submit_and_status_warn_once_for_a_year_without_swaps(
    cli_at: tuple[Container, ManualClock], capsys: pytest.CaptureFixture[str]
) -> None:
    _, clock = cli_at
    clock.set(datetime(2027, 3, 10, 9, tzinfo=HCM))
    demo = sorted((EXAMPLES / "demo").glob("HT-2026-00100[1-3].json"))
    main(["submit", "--no-run", *map(str, demo)])
    submitted = capsys.readouterr()
    assert submitted.out.count("Đã tiếp nhận") == len(demo)
    [warning] = swap_warnings(submitted.err)
    assert "2027" in warning
    assert "LIENTHONG_CALENDAR__SWAP_YEARS" in warning

    assert main(["status", "HT-2026-001001"]) == 0
    [again] = swap_warnings(capsys.readouterr().err)
    assert "2027" in again
