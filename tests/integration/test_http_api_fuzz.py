"""Generated requests against the /v1 API: never a 500, and a refused request changes no
dossier (hypothesis; SQLite, the real SQL unit of work and the real app)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from lienthong.adapters import tables
from lienthong.api import create_app
from lienthong.bootstrap import build_container
from lienthong.models.clients import Role
from lienthong.services.container import Container
from lienthong.services.create_client import create_client
from lienthong.services.revoke_client import revoke_client
from tests.conftest import record_session
from tests.helpers import example
from tests.integration.test_http_api import REFERENCE, api_settings, snapshot

BIRTH = example("birth-valid")
ROLES = ("portal", "admin", "operator:22738", "operator:22739", "supervisor:056",
         "agency:police", "hospital")  # fmt: skip
# Answers that refuse: nothing may change. (A 422 to a submission keeps the dossier as
# rejected, by design: it is checked apart.)
REFUSED = {400, 401, 403, 404, 405, 409, 413, 422}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _mutated(key: str, value: Any) -> dict[str, Any]:
    return {**BIRTH, key: value}


bodies = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(_mutated, st.sampled_from(sorted(BIRTH)), json_values).map(
        lambda d: json.dumps(d).encode()
    ),
    st.just(json.dumps(BIRTH).encode()),
    st.just(json.dumps({"reason": "moved"}).encode()),
    st.just(b"{}"),
)
references = st.sampled_from([REFERENCE, "HT-2026-999999", "%2e%2e", "x" * 300]) | st.text(
    alphabet=st.characters(max_codepoint=0x2FF),
    min_size=1,
    max_size=20,
)
routes = st.sampled_from(["", "/{}", "/{}/supplements", "/{}/withdrawal"])
credentials = st.sampled_from([*ROLES, "revoked", "none", "garbage"])
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE"])


def with_clients(database_url: str, tmp_path: Path) -> tuple[Container, dict[str, str]]:
    """The application on the test database, and a credential for each of ROLES."""
    container = build_container(api_settings(database_url, tmp_path / "data"))
    return container, {r: create_client(container, r, Role.parse(r)).token for r in ROLES}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_generated_requests_never_fail_and_refusals_change_nothing(
    database_url: str, tmp_path: Path
) -> None:
    container, tokens = with_clients(database_url, tmp_path)
    tokens["revoked"] = create_client(container, "gone", Role.parse("admin")).token
    revoke_client(container, tokens["revoked"].split(".")[0])
    tokens["garbage"] = tokens["admin"][:-1] + "A"
    seen: set[int] = set()

    with TestClient(create_app(container), raise_server_exceptions=False) as http:
        http.post(
            "/v1/dossiers", json=BIRTH, headers={"Authorization": f"Bearer {tokens['admin']}"}
        )

        @settings(max_examples=300, suppress_health_check=list(HealthCheck))
        @given(methods, routes, references, credentials, bodies)
        def one_request(method: str, route: str, reference: str, who: str, body: bytes) -> None:
            headers = {} if who == "none" else {"Authorization": f"Bearer {tokens[who]}"}
            path = "/v1/dossiers" + route.format(quote(reference, safe=""))
            before = snapshot(container)
            answer = http.request(method, path, content=body, headers=headers)
            seen.add(answer.status_code)
            assert answer.status_code < 500, (method, path, answer.text)
            is_submission = method == "POST" and route == ""
            if answer.status_code in REFUSED and not (is_submission and answer.status_code == 422):
                assert snapshot(container) == before, (method, path, answer.status_code)

        one_request()
    container.close()
    assert {401, 403, 404, 422} <= seen  # the generator reaches past the front door


AT_THE_HOSPITAL = {
    k: BIRTH[k] for k in ("chain", "jurisdiction", "child", "mother", "medical_birth_certificate")
}
hospital_bodies = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda key, value: {**AT_THE_HOSPITAL, key: value},
        st.sampled_from([*sorted(AT_THE_HOSPITAL), "reference", "chain_opt_in", "scope"]),
        json_values,
    ).map(lambda d: json.dumps(d).encode()),
    st.just(json.dumps(AT_THE_HOSPITAL).encode()),
)


def hospital_state(container: Container) -> tuple[object, ...]:
    with record_session(container) as session:
        kept = session.scalar(select(func.count()).select_from(tables.HospitalNotification))
    return (snapshot(container), kept)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_generated_hospital_notifications_never_fail_and_refusals_change_nothing(
    database_url: str, tmp_path: Path
) -> None:
    container, tokens = with_clients(database_url, tmp_path)
    seen: set[int] = set()

    with TestClient(create_app(container), raise_server_exceptions=False) as http:

        @settings(max_examples=300, suppress_health_check=list(HealthCheck))
        @given(st.sampled_from([*ROLES, "none"]), hospital_bodies)
        def one_request(who: str, body: bytes) -> None:
            headers = {} if who == "none" else {"Authorization": f"Bearer {tokens[who]}"}
            before = hospital_state(container)
            answer = http.post("/v1/hospital-notifications", content=body, headers=headers)
            seen.add(answer.status_code)
            assert answer.status_code < 500, answer.text
            if answer.status_code in REFUSED:
                assert hospital_state(container) == before, answer.status_code

        one_request()
    container.close()
    assert {201, 400, 401, 403, 409, 422} <= seen
