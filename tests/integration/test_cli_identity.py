"""Operator commands act under an authenticated client (lienthong/cli/identity.py): the
audit trail names it, and an operator acts only on its commune's dossiers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from lienthong.adapters import tables
from lienthong.bootstrap import use_container
from lienthong.cli import main
from lienthong.services.container import Container
from lienthong.services.refusals import ACCESS_REFUSED
from tests.conftest import record_session
from tests.helpers import EXAMPLES, act_as

BIRTH = str(EXAMPLES / "birth-valid.json")  # HT-2026-000123, commune 22738
REFERENCE = "HT-2026-000123"


@pytest.fixture
def cli(container: Container, monkeypatch: pytest.MonkeyPatch) -> Iterator[Container]:
    with record_session(container) as session:
        url = session.get_bind().engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", url)
    monkeypatch.delenv("LIENTHONG_CLIENT_CREDENTIAL", raising=False)
    with use_container(container):
        yield container


def actions(container: Container) -> list[tuple[str, str]]:
    with record_session(container) as session:
        rows = session.execute(
            select(tables.AuditEvent.actor, tables.AuditEvent.action).order_by(tables.AuditEvent.id)
        )
        return [(actor, action) for actor, action in rows]


def test_without_a_credential_nothing_is_done(cli: Container) -> None:
    with pytest.raises(SystemExit, match="who is acting"):
        main(["submit", "--no-run", BIRTH])
    assert actions(cli) == []


def test_the_audit_trail_names_the_authenticated_operator(
    cli: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = act_as(cli, monkeypatch, "operator:22738")

    assert main(["submit", "--no-run", BIRTH]) == 0
    assert main(["withdraw", REFERENCE, "--reason", "the family moved"]) == 0

    assert {actor for actor, _ in actions(cli)} == {operator}
    assert "operator" not in {actor for actor, _ in actions(cli)}


def test_an_operator_of_another_commune_is_refused_and_audited(
    cli: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    act_as(cli, monkeypatch, "admin")
    assert main(["submit", "--no-run", BIRTH]) == 0
    before = actions(cli)
    other = act_as(cli, monkeypatch, "operator:22739")

    with pytest.raises(SystemExit, match="may not withdraw"):
        main(["withdraw", REFERENCE, "--reason", "not mine"])
    with pytest.raises(SystemExit, match="may not submit"):
        main(["submit", "--no-run", str(EXAMPLES / "demo" / "HT-2026-001001.json")])

    assert actions(cli) == [*before, (other, ACCESS_REFUSED), (other, ACCESS_REFUSED)]
    with cli.unit_of_work() as uow:
        assert uow.dossiers.get(REFERENCE).status.value == "received"
        assert uow.dossiers.find("HT-2026-001001") is None


def test_roles_that_are_not_operators_and_wrong_credentials_are_refused(
    cli: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    act_as(cli, monkeypatch, "hospital")
    with pytest.raises(SystemExit, match="need"):
        main(["submit", "--no-run", BIRTH])
    monkeypatch.setenv("LIENTHONG_CLIENT_CREDENTIAL", "ltnobody.wrong")
    with pytest.raises(SystemExit, match="unknown, revoked or wrong"):
        main(["submit", "--no-run", BIRTH])
    assert actions(cli) == []


def test_a_credential_file_is_read_instead_of_the_environment(
    cli: Container, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    admin = act_as(cli, monkeypatch, "admin")
    token = os.environ["LIENTHONG_CLIENT_CREDENTIAL"]
    monkeypatch.delenv("LIENTHONG_CLIENT_CREDENTIAL")
    secret = tmp_path / "credential"
    secret.write_text(token + "\n")

    assert main(["submit", "--no-run", "--credential-file", str(secret), BIRTH]) == 0
    assert actions(cli)[0][0] == admin
