"""API clients: roles and what each may do, secrets kept as salted hashes, and the
create / rotate / revoke / authenticate use cases on the fake unit of work."""

from __future__ import annotations

import pytest

from lienthong.models.client_secrets import hash_secret, secret_matches, split_credential
from lienthong.models.clients import Action, InvalidRole, Role, RoleKind
from lienthong.services.authenticate import authenticate
from lienthong.services.create_client import UnknownClient, create_client
from lienthong.services.list_clients import list_clients
from lienthong.services.revoke_client import revoke_client
from lienthong.services.rotate_client import rotate_client
from lienthong.settings import ApiSettings, Settings
from tests.fakes import fake_container

CHEAP = Settings(api=ApiSettings(client_secret_cost=16))


@pytest.mark.parametrize(
    "text", ["portal", "hospital", "admin", "agency:police", "operator:22738", "supervisor:056"]
)
def test_roles_read_back_as_written(text: str) -> None:
    assert str(Role.parse(text)) == text


@pytest.mark.parametrize(
    "text", ["", "root", "portal:1", "agency:", "agency:moon", "operator:", "operator:abc"]
)
def test_malformed_roles_are_refused(text: str) -> None:
    with pytest.raises(InvalidRole):
        Role.parse(text)


def test_each_role_acts_only_within_its_scope() -> None:
    operator, supervisor = Role.parse("operator:22738"), Role.parse("supervisor:056")
    for action in Action:
        assert operator.may(action, "056", "22738")
        assert not operator.may(action, "056", "22739")
        assert Role(RoleKind.ADMIN).may(action, "001", "00001")
        citizens = action not in (Action.HAND_BACK, Action.RESOLVE)
        assert Role(RoleKind.PORTAL).may(action, "001", "00001") is citizens
        assert not Role.parse("agency:police").may(action, "056", "22738")
        assert not Role(RoleKind.HOSPITAL).may(action, "056", "22738")
        assert supervisor.may(action, "056", "22738") is (action is Action.READ)
        assert not supervisor.may(Action.READ, "001", "22738")


def test_only_the_administration_sees_personal_data_unmasked() -> None:
    assert not Role(RoleKind.PORTAL).sees_personal_data
    assert Role.parse("operator:22738").sees_personal_data


def test_a_secret_is_kept_salted_and_checked_in_constant_time() -> None:
    first, second = hash_secret("s3cret", n=16), hash_secret("s3cret", n=16)
    assert first != second  # a salt per secret
    assert "s3cret" not in first
    assert secret_matches("s3cret", first)
    assert secret_matches("s3cret", second)
    assert not secret_matches("s3cret!", first)
    assert not secret_matches("s3cret", "not a hash")
    assert not secret_matches("s3cret", "scrypt$x$8$1$AA==$AA==")


@pytest.mark.parametrize("token", ["", "abc", ".secret", "id.", "."])
def test_malformed_credentials_name_no_client(token: str) -> None:
    assert split_credential(token) is None


def test_create_rotate_revoke_and_authenticate() -> None:
    container, store = fake_container(settings=CHEAP)
    issued = create_client(container, "Cổng DVC", Role(RoleKind.PORTAL))
    client_id = issued.client.client_id
    assert issued.token.split(".")[1] not in store.clients[client_id].secret_hash
    assert authenticate(container, issued.token) == issued.client
    assert authenticate(container, issued.token + "x") is None
    assert authenticate(container, f"other.{issued.token.split('.')[1]}") is None

    rotated = rotate_client(container, client_id)
    assert authenticate(container, issued.token) is None
    assert authenticate(container, rotated.token) is not None

    revoke_client(container, client_id)
    assert authenticate(container, rotated.token) is None
    assert [c.client_id for c in list_clients(container)] == [client_id]
    with pytest.raises(UnknownClient):
        rotate_client(container, client_id)
    with pytest.raises(UnknownClient):
        revoke_client(container, "nobody")
