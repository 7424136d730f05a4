"""`lienthong duplicates` on the test databases: what an operator reads and decides."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lienthong.bootstrap import use_container
from lienthong.cli import main
from lienthong.models.clock import ManualClock
from lienthong.services.container import Container
from lienthong.services.views import events
from tests.conftest import record_session
from tests.helpers import act_as, example

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST, SECOND = "HT-2026-000123", "HT-2026-000124"


@pytest.fixture
def cli(
    container: Container, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Container]:
    """The CLI on the test database, both copies of one child submitted (not run)."""
    with record_session(container) as session:
        url = session.get_bind().engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", url)
    monkeypatch.setenv("LIENTHONG_TEST_ACTOR", act_as(container, monkeypatch))
    clock = ManualClock(datetime(2026, 11, 25, 9, tzinfo=HCM))
    second = copy.deepcopy(example("birth-valid"))
    second["reference"] = SECOND
    second["medical_birth_certificate"]["number"] = "GCS-2026-004599"
    files = [tmp_path / "first.json", tmp_path / "second.json"]
    files[0].write_text(json.dumps(example("birth-valid")), encoding="utf-8")
    files[1].write_text(json.dumps(second), encoding="utf-8")
    with use_container(dataclasses.replace(container, clock=clock)) as current:
        assert main(["submit", "--no-run", *map(str, files)]) == 0
        yield current


def test_list_and_show_name_references_and_rules_only(
    cli: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["duplicates", "list"]) == 0
    listed = capsys.readouterr().out
    assert SECOND in listed
    assert f"{FIRST} (mother_birth_name, received, commune 22738)" in listed
    assert main(["duplicates", "show", SECOND]) == 0
    shown = capsys.readouterr().out
    assert "held" in shown
    assert "undecided" in shown
    mother = example("birth-valid")["mother"]
    for personal in (mother["personal_id"], mother["full_name"], "Bảo An"):
        assert personal not in listed + shown
    assert main(["duplicates", "list", "--json"]) == 0
    assert [h["reference"] for h in json.loads(capsys.readouterr().out)] == [SECOND]


def test_resolve_rejects_with_the_reason_audited(
    cli: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["duplicates", "resolve", SECOND, "--reject", "--reason", "filed twice"]) == 0
    assert "reject HT-2026-000124: rejected" in capsys.readouterr().out
    last = events(cli, SECOND)[-1]
    operator = os.environ["LIENTHONG_TEST_ACTOR"]
    assert (last["actor"], last["before"], last["after"]) == (operator, "held", "rejected")
    assert last["reason"] == f"duplicate of {FIRST}, rejected: filed twice"
    assert main(["duplicates", "list"]) == 0
    assert "no dossier is held" in capsys.readouterr().out
    assert main(["duplicates", "figures", "--month", "2026-11"]) == 0
    assert (
        "held 1; decided distinct 0, merged 0, rejected 1; still held 0" in capsys.readouterr().out
    )


def test_wrong_decisions_are_refused_and_change_nothing(
    cli: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    before = len(events(cli, SECOND))
    assert (
        main(["duplicates", "resolve", SECOND, "--merge-into", "HT-2026-000999", "--reason", "x"])
        == 1
    )
    assert "only into a dossier it was held for" in capsys.readouterr().err
    assert main(["duplicates", "resolve", FIRST, "--distinct", "--reason", "x"]) == 1
    assert "was not held" in capsys.readouterr().err
    assert main(["duplicates", "show", "HT-2026-000777"]) == 1
    assert len(events(cli, SECOND)) == before


def test_distinct_without_a_run_leaves_it_received(
    cli: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["duplicates", "resolve", SECOND, "--distinct", "--reason", "twins", "--no-run"]
    assert main(args) == 0
    assert "distinct HT-2026-000124: received" in capsys.readouterr().out
    assert main(["duplicates", "show", SECOND]) == 0
    operator = os.environ["LIENTHONG_TEST_ACTOR"]
    assert f"decided distinct by {operator}" in capsys.readouterr().out
