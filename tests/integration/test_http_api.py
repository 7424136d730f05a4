"""The /v1 dossier API on both databases: who may do what, idempotent submission, the
answers to bad input, and that a refused request changes no dossier."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lienthong.adapters import tables
from lienthong.api import create_app
from lienthong.bootstrap import build_container
from lienthong.models.clients import Role
from lienthong.models.status import StepKind
from lienthong.services.container import Container
from lienthong.services.create_client import create_client
from lienthong.services.hospital_notifications import notify
from lienthong.services.ledger import Actor
from lienthong.services.refusals import ACCESS_REFUSED
from lienthong.services.revoke_client import revoke_client
from lienthong.settings import ApiSettings, Settings
from tests.conftest import record_session
from tests.helpers import example, request_supplement_at

BIRTH = example("birth-valid")
REFERENCE = BIRTH["reference"]  # commune 22738, province 056
DOSSIERS = "/v1/dossiers"


def api_settings(database_url: str, data_dir: Path) -> Settings:
    """No chain runs (no Prefect here), no poller; a cheap secret hash for many requests."""
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        api=ApiSettings(start_chains=False, poll_interval_seconds=0, client_secret_cost=16),
    )


@dataclass
class Api:
    http: TestClient
    container: Container
    tokens: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


ROLES = ("portal", "admin", "operator:22738", "operator:22739", "supervisor:056",
         "supervisor:001", "agency:police", "hospital")  # fmt: skip


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    container = build_container(api_settings(database_url, tmp_path / "data"))
    tokens = {role: create_client(container, role, Role.parse(role)).token for role in ROLES}
    with TestClient(create_app(container)) as http:
        yield Api(http, container, tokens)
    container.close()


def snapshot(container: Container) -> tuple[object, ...]:
    """Every dossier's and step's version, and the supplements kept: any change shows."""
    with record_session(container) as session:
        return (
            sorted(session.execute(select(tables.Dossier.reference, tables.Dossier.version_id))),
            sorted(session.execute(select(tables.Step.id, tables.Step.version_id))),
            session.scalar(select(func.count()).select_from(tables.Supplement)),
        )


def refusals(container: Container) -> list[str]:
    with record_session(container) as session:
        return list(
            session.scalars(
                select(tables.AuditEvent.actor).where(tables.AuditEvent.action == ACCESS_REFUSED)
            )
        )


def test_a_dossier_submitted_twice_is_one_dossier_and_a_different_one_is_a_conflict(
    api: Api,
) -> None:
    first = api.http.post(DOSSIERS, json=BIRTH, headers=api.auth("portal"))
    again = api.http.post(DOSSIERS, json=BIRTH, headers=api.auth("operator:22738"))
    assert (first.status_code, first.json()["replayed"]) == (201, False)
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    before = snapshot(api.container)

    changed = {**BIRTH, "child": {**BIRTH["child"], "full_name": "Nguyễn Văn Bình"}}
    conflict = api.http.post(DOSSIERS, json=changed, headers=api.auth("portal"))

    assert conflict.status_code == 409
    assert snapshot(api.container) == before


def test_an_invalid_dossier_is_kept_as_rejected_with_every_problem(api: Api) -> None:
    invalid = {**BIRTH, "child": {**BIRTH["child"], "sex": "?"}, "unknown_field": 1}

    answer = api.http.post(DOSSIERS, json=invalid, headers=api.auth("portal"))
    repeated = api.http.post(DOSSIERS, json=invalid, headers=api.auth("portal"))

    assert answer.status_code == repeated.status_code == 422
    paths = {p["path"] for p in answer.json()["problems"]}
    assert {"child.sex", "unknown_field"} <= paths
    assert repeated.json() == answer.json()
    status = api.http.get(f"{DOSSIERS}/{REFERENCE}", headers=api.auth("admin")).json()
    assert status["status"] == "rejected"


def test_the_portal_reads_masked_and_the_commune_reads_the_record(api: Api) -> None:
    api.http.post(DOSSIERS, json=BIRTH, headers=api.auth("portal"))
    portal = api.http.get(f"{DOSSIERS}/{REFERENCE}", headers=api.auth("portal")).json()
    commune = api.http.get(f"{DOSSIERS}/{REFERENCE}", headers=api.auth("operator:22738")).json()
    province = api.http.get(f"{DOSSIERS}/{REFERENCE}", headers=api.auth("supervisor:056"))

    mother_id = BIRTH["mother"]["personal_id"]
    assert portal["masked"]
    assert not commune["masked"]
    assert mother_id not in json.dumps(portal)
    assert BIRTH["mother"]["full_name"] not in json.dumps(portal, ensure_ascii=False)
    assert portal["people"]["mother"]["personal_id"] == "058*******07"
    assert commune["people"]["mother"]["personal_id"] == mother_id
    assert province.status_code == 200
    client_id = api.tokens["portal"].split(".")[0]
    assert portal["timeline"][0]["actor"] == f"client:{client_id}"
    assert [s["kind"] for s in portal["steps"]] == [s["kind"] for s in commune["steps"]]


def test_roles_outside_their_scope_are_refused_audited_and_change_nothing(api: Api) -> None:
    api.http.post(DOSSIERS, json=BIRTH, headers=api.auth("portal"))
    before = snapshot(api.container)
    withdrawal = {"reason": "the family moved"}
    refused = [
        api.http.post(DOSSIERS, json=BIRTH, headers=api.auth("operator:22739")),
        api.http.post(DOSSIERS, json=BIRTH, headers=api.auth("supervisor:056")),
        api.http.get(f"{DOSSIERS}/{REFERENCE}", headers=api.auth("operator:22739")),
        api.http.get(f"{DOSSIERS}/{REFERENCE}", headers=api.auth("supervisor:001")),
        api.http.get(f"{DOSSIERS}/{REFERENCE}", headers=api.auth("agency:police")),
        api.http.get(f"{DOSSIERS}/{REFERENCE}", headers=api.auth("hospital")),
        api.http.post(
            f"{DOSSIERS}/{REFERENCE}/withdrawal",
            json=withdrawal,
            headers=api.auth("supervisor:056"),
        ),
        api.http.post(f"{DOSSIERS}/{REFERENCE}/supplements", json={}, headers=api.auth("hospital")),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert snapshot(api.container) == before
    assert len(refusals(api.container)) == len(refused)


def test_wrong_missing_revoked_credentials_are_401(api: Api) -> None:
    portal = api.tokens["portal"]
    revoke_client(api.container, portal.split(".")[0])
    for headers in (
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer nothing"},
        {"Authorization": f"Bearer {api.tokens['admin']}x"},
        {"Authorization": f"Bearer {portal}"},
    ):
        answer = api.http.post(DOSSIERS, json=BIRTH, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"] == "Bearer"
    assert snapshot(api.container) == ([], [], 0)


def test_malformed_oversized_and_unknown_input(api: Api) -> None:
    admin = api.auth("admin")
    limit = api.container.settings.limits.max_dossier_bytes
    api.http.post(DOSSIERS, json=BIRTH, headers=admin)
    before = snapshot(api.container)

    assert api.http.post(DOSSIERS, content=b"{not json", headers=admin).status_code == 400
    assert api.http.post(DOSSIERS, content=b"[1, 2]", headers=admin).status_code == 400
    assert api.http.post(DOSSIERS, content=b"\xff\xfe", headers=admin).status_code == 400
    too_large = b'{"a": "' + b"x" * limit + b'"}'
    assert api.http.post(DOSSIERS, content=too_large, headers=admin).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b'{"a": "'
        for _ in range(limit // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    assert api.http.post(DOSSIERS, content=chunks(), headers=admin).status_code == 413
    unknown = {"reason": "moved", "by": "me"}
    answer = api.http.post(f"{DOSSIERS}/{REFERENCE}/withdrawal", json=unknown, headers=admin)
    assert answer.status_code == 422
    assert answer.json()["detail"]["problems"][0]["path"] == "by"
    missing = api.http.get(f"{DOSSIERS}/HT-2026-999999", headers=admin)
    assert missing.status_code == 404
    assert snapshot(api.container) == before


def test_supplement_and_withdrawal(api: Api) -> None:
    operator = api.auth("operator:22738")
    api.http.post(DOSSIERS, json=BIRTH, headers=operator)
    supplements = f"{DOSSIERS}/{REFERENCE}/supplements"
    assert api.http.post(supplements, json={}, headers=operator).status_code == 409

    request_supplement_at(
        api.container, REFERENCE, StepKind.RESIDENCE_REGISTRATION, Actor("operator")
    )
    not_allowed = api.http.post(supplements, json={"child": {}}, headers=operator)
    assert not_allowed.status_code == 422
    answer = api.http.post(supplements, json={}, headers=operator)
    assert answer.json() == {"reference": REFERENCE, "reopened_step": "residence_registration"}

    withdrawn = api.http.post(
        f"{DOSSIERS}/{REFERENCE}/withdrawal", json={"reason": "moved"}, headers=operator
    )
    assert withdrawn.status_code == 200
    status = api.http.get(f"{DOSSIERS}/{REFERENCE}", headers=operator).json()
    assert status["status"] == "withdrawn"
    told = {(t["agency"], t["event"], t["step"]) for t in status["told"]}
    assert ("police", "step.withdrawn", "residence_registration") in told, told
    operator_id = f"client:{api.tokens['operator:22738'].split('.')[0]}"
    assert {e["actor"] for e in status["timeline"] if e["action"] != "step_started"} >= {
        operator_id
    }


def test_the_openapi_document_is_published(api: Api) -> None:
    assert api.http.get("/docs").status_code == 200
    paths = api.http.get("/openapi.json").json()["paths"]
    assert {
        DOSSIERS,
        f"{DOSSIERS}/{{reference}}",
        f"{DOSSIERS}/{{reference}}/supplements",
        f"{DOSSIERS}/{{reference}}/withdrawal",
    } <= set(paths)


HOSPITAL_NOTIFICATIONS = "/v1/hospital-notifications"


def at_the_hospital() -> dict[str, object]:
    """A birth certificate with only what the hospital knows (the family not yet asked)."""
    keep = ("chain", "jurisdiction", "child", "mother", "medical_birth_certificate")
    return {k: BIRTH[k] for k in keep}


def test_a_hospital_notification_waits_for_the_family_then_is_completed(api: Api) -> None:
    first = api.http.post(
        HOSPITAL_NOTIFICATIONS, json=at_the_hospital(), headers=api.auth("hospital")
    )
    again = api.http.post(
        HOSPITAL_NOTIFICATIONS, json=at_the_hospital(), headers=api.auth("hospital")
    )
    assert first.status_code == 201
    assert again.status_code == 200
    answer = first.json()
    assert answer["status"] == "awaiting_family"
    assert {"chain_opt_in", "requester"} <= set(answer["waiting_for"])
    assert again.json() == {**answer, "replayed": True}
    reference = answer["reference"]
    unknown = api.http.get(f"{DOSSIERS}/{reference}", headers=api.auth("admin"))
    assert unknown.status_code == 404, "no dossier before the family's consent"

    family = {k: BIRTH[k] for k in ("requester", "father", "residence", "healthcare_facility")}
    completion = {"reference": reference, **family, "chain_opt_in": True}
    done = api.http.post(DOSSIERS, json=completion, headers=api.auth("operator:22738"))

    assert done.status_code == 201, done.text
    record = api.http.get(f"{DOSSIERS}/{reference}", headers=api.auth("admin")).json()
    assert record["status"] == "received"
    assert record["people"]["child"]["full_name"] == BIRTH["child"]["full_name"]
    replay = api.http.post(
        HOSPITAL_NOTIFICATIONS, json=at_the_hospital(), headers=api.auth("hospital")
    )
    assert replay.json()["status"] == "started"


def test_hospital_notifications_refuse_others_and_other_bodies(api: Api) -> None:
    api.http.post(HOSPITAL_NOTIFICATIONS, json=at_the_hospital(), headers=api.auth("hospital"))
    before = snapshot(api.container)
    child = {**BIRTH["child"], "sex": "male"}
    different = {**at_the_hospital(), "child": child}

    conflict = api.http.post(HOSPITAL_NOTIFICATIONS, json=different, headers=api.auth("hospital"))
    portal = api.http.post(
        HOSPITAL_NOTIFICATIONS, json=at_the_hospital(), headers=api.auth("portal")
    )
    bad = api.http.post(
        HOSPITAL_NOTIFICATIONS,
        json={**at_the_hospital(), "chain": "marriage"},
        headers=api.auth("hospital"),
    )
    anonymous = api.http.post(HOSPITAL_NOTIFICATIONS, json=at_the_hospital())

    assert (conflict.status_code, portal.status_code) == (409, 403)
    assert (bad.status_code, anonymous.status_code) == (422, 401)
    assert refusals(api.container) == [f"client:{api.tokens['portal'].split('.')[0]}"]
    assert snapshot(api.container) == before


def test_the_same_certificate_posted_at_once_is_one_notification(api: Api) -> None:
    barrier = threading.Barrier(4)
    answers: list[tuple[str, bool]] = []

    def post() -> None:
        barrier.wait()
        answer = notify(api.container, at_the_hospital(), Actor("client:hospital"))
        answers.append((answer.reference, answer.replayed))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({reference for reference, _ in answers}) == 1
    assert sorted(replayed for _, replayed in answers) == [False, True, True, True]
    with record_session(api.container) as session:
        kept = session.scalar(select(func.count()).select_from(tables.HospitalNotification))
    assert kept == 1


def test_hostile_text_in_a_hospital_notification_is_kept_on_both_databases(api: Api) -> None:
    body = json.dumps(at_the_hospital())[:-1] + ', "requester": {"full_name": "\\ud800\\u0000"}}'

    first = api.http.post(
        HOSPITAL_NOTIFICATIONS,
        content=body.encode(),
        headers={**api.auth("hospital"), "Content-Type": "application/json"},
    )
    again = api.http.post(
        HOSPITAL_NOTIFICATIONS,
        content=body.encode(),
        headers={**api.auth("hospital"), "Content-Type": "application/json"},
    )

    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    assert "requester.full_name" in first.json()["waiting_for"]
