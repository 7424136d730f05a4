"""The desk's guards on both databases, over HTTP: who may log in, the session cookie, CSRF on
every form, an operator kept to its commune (403, audited), and bad input changing nothing.
The operator's day in a real browser is tests/e2e/test_desk.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from lienthong.api import create_app
from lienthong.api.desk.fields import SECTIONS, form_values
from lienthong.bootstrap import build_container
from lienthong.models.clients import Role
from lienthong.models.clock import ManualClock
from lienthong.models.status import Chain, DossierStatus, StepKind
from lienthong.services.container import Container
from lienthong.services.create_client import create_client
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.services.refusals import ACCESS_REFUSED
from lienthong.services.revoke_client import revoke_client
from lienthong.services.views import events, load_view
from tests.helpers import example, request_supplement_at
from tests.integration.test_http_api import api_settings
from tests.integration.test_lateness_agrees import END, MONDAY
from tests.integration.test_lateness_agrees import Desk as CounterDesk
from tests.integration.test_lateness_agrees import _cases as lateness_cases

BIRTH = example("birth-valid")  # commune 22738
REFERENCE = BIRTH["reference"]
ROLES = ("operator:22738", "operator:22739", "admin", "portal")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Desk:
    container: Container
    tokens: dict[str, str]

    def login(self, http: TestClient, role: str) -> str:
        """Log in as ``role``; the session's CSRF token."""
        client_id, secret = self.tokens[role].split(".", 1)
        token = csrf(http.get("/desk/login"))
        answer = http.post(
            "/desk/login",
            data={"csrf": token, "client_id": client_id, "secret": secret},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        return csrf(http.get("/desk/"))


def csrf(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


@pytest.fixture
def desk(database_url: str, tmp_path: Path) -> Iterator[tuple[Desk, TestClient]]:
    container = build_container(api_settings(database_url, tmp_path / "data"))
    tokens = {role: create_client(container, role, Role.parse(role)).token for role in ROLES}
    assert receive(container, BIRTH, Actor("test")).accepted
    with TestClient(create_app(container)) as http:
        yield Desk(container, tokens), http
    container.close()


def test_the_session_cookie_is_http_only_strict_and_scoped(desk: tuple[Desk, TestClient]) -> None:
    _, http = desk
    cookie = http.get("/desk/login").headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/desk" in cookie


def test_only_operators_and_administrators_log_in(desk: tuple[Desk, TestClient]) -> None:
    d, http = desk
    token = csrf(http.get("/desk/login"))
    client_id, secret = d.tokens["portal"].split(".", 1)
    wrong = http.post(
        "/desk/login", data={"csrf": token, "client_id": client_id, "secret": secret + "x"}
    )
    assert wrong.status_code == 401
    assert "Mã tài khoản hoặc mật khẩu không đúng" in wrong.text
    form = {"csrf": token, "client_id": client_id, "secret": secret}
    portal = http.post("/desk/login", data=form)
    assert portal.status_code == 401
    assert "không dùng được bàn làm việc" in portal.text
    assert http.get("/desk/", follow_redirects=False).headers["location"] == "/desk/login"
    d.login(http, "admin")
    assert http.get(f"/desk/dossiers/{REFERENCE}").status_code == 200
    assert f"/desk/dossiers/{REFERENCE}" in http.get("/desk/?all=true").text


def test_a_login_form_from_elsewhere_is_refused(desk: tuple[Desk, TestClient]) -> None:
    d, http = desk
    client_id, secret = d.tokens["operator:22738"].split(".", 1)
    http.get("/desk/login")
    answer = http.post("/desk/login", data={"client_id": client_id, "secret": secret})
    assert answer.status_code == 403
    assert http.get("/desk/", follow_redirects=False).status_code == 303


def test_a_form_without_the_sessions_token_changes_nothing(desk: tuple[Desk, TestClient]) -> None:
    d, http = desk
    token = d.login(http, "operator:22738")
    withdrawal = f"/desk/dossiers/{REFERENCE}/withdrawal"
    for sent in ({}, {"csrf": "forged"}, {"csrf": token[:-1]}):
        answer = http.post(withdrawal, data={**sent, "reason": "không muốn nữa"})
        assert answer.status_code == 403
        assert "Biểu mẫu đã hết hạn" in answer.text
    assert load_view(d.container, REFERENCE).status == DossierStatus.RECEIVED
    answer = http.post(withdrawal, data={"csrf": token, "reason": "không muốn nữa"})
    assert answer.status_code == 200  # redirected to the dossier
    assert load_view(d.container, REFERENCE).status == DossierStatus.WITHDRAWN


def test_an_operator_sees_only_its_communes_dossiers(desk: tuple[Desk, TestClient]) -> None:
    d, http = desk
    token = d.login(http, "operator:22739")
    assert f"/desk/dossiers/{REFERENCE}" not in http.get("/desk/?all=true").text
    for path in ("", "/slip", "/supplement", "/withdrawal"):
        answer = http.get(f"/desk/dossiers/{REFERENCE}{path}")
        assert answer.status_code == 403
        assert "Không có quyền" in answer.text
    answer = http.post(
        f"/desk/dossiers/{REFERENCE}/withdrawal", data={"csrf": token, "reason": "thử"}
    )
    assert answer.status_code == 403
    assert load_view(d.container, REFERENCE).status == DossierStatus.RECEIVED
    refused = [e for e in events(d.container, REFERENCE) if e["action"] == ACCESS_REFUSED]
    assert len(refused) == 5


def test_an_operator_enters_dossiers_for_its_own_commune_only(
    desk: tuple[Desk, TestClient],
) -> None:
    d, http = desk
    token = d.login(http, "operator:22739")
    form = {"csrf": token, "reference": "HT-2026-009999", "requester.full_name": "Lê Văn"}
    answer = http.post("/desk/dossiers/new/birth", data=form)
    assert answer.status_code == 422  # problems shown; the dossier is in its own commune
    assert 'value="Lê Văn"' in answer.text
    with d.container.unit_of_work() as uow:
        assert uow.dossiers.find("HT-2026-009999") is None


def test_a_revoked_operators_session_ends(desk: tuple[Desk, TestClient]) -> None:
    d, http = desk
    d.login(http, "operator:22738")
    assert http.get("/desk/", follow_redirects=False).status_code == 200
    revoke_client(d.container, d.tokens["operator:22738"].split(".")[0])
    assert http.get("/desk/", follow_redirects=False).status_code == 303


def test_a_supplement_changes_only_the_waiting_steps_sections_and_must_be_valid(
    desk: tuple[Desk, TestClient],
) -> None:
    d, http = desk
    request_supplement_at(d.container, REFERENCE, StepKind.RESIDENCE_REGISTRATION, Actor("t"))
    token = d.login(http, "operator:22738")
    page = http.get(f"/desk/dossiers/{REFERENCE}/supplement")
    assert 'name="residence.address"' in page.text
    assert 'name="child.full_name"' not in page.text
    answer = http.post(
        f"/desk/dossiers/{REFERENCE}/supplement",
        data={
            "csrf": token,
            "child.full_name": "Người Khác",
            "residence.household_head_personal_id": "12345",
        },
    )
    assert answer.status_code == 422
    assert "số định danh phải có 12 chữ số, không phải 5" in answer.text
    assert 'value="12345"' in answer.text  # kept, to be corrected
    assert load_view(d.container, REFERENCE).status == DossierStatus.AWAITING_SUPPLEMENT
    answer = http.post(
        f"/desk/dossiers/{REFERENCE}/supplement",
        data={"csrf": token, "residence.household_head_consent": "on"},
    )
    assert answer.status_code == 200
    with d.container.unit_of_work() as uow:
        dossier = uow.dossiers.get(REFERENCE)
        assert dossier.payload["child"] == BIRTH["child"]
        assert dossier.payload["residence"]["address"] == BIRTH["residence"]["address"]


def test_a_dossier_rejected_at_intake_is_corrected_and_entered_again(
    desk: tuple[Desk, TestClient],
) -> None:
    d, http = desk
    bad = {**BIRTH, "reference": "HT-2026-000124"}
    bad["child"] = {**BIRTH["child"], "full_name": "Bảo An 2"}
    assert not receive(d.container, bad, Actor("portal")).accepted
    token = d.login(http, "operator:22738")
    page = http.get("/desk/dossiers/HT-2026-000124")
    assert "chỉ được gồm chữ cái, dấu cách, dấu nháy đơn hoặc gạch nối" in page.text
    form = http.get("/desk/dossiers/HT-2026-000124/correction")
    assert 'value="Bảo An 2"' in form.text
    values = dict(re.findall(r'name="([a-z_.]+)"[^>]*value="([^"]*)"', form.text))
    values.update(
        {
            "csrf": token,
            "child.full_name": BIRTH["child"]["full_name"],
            "child.sex": BIRTH["child"]["sex"],
            "residence.household_head_consent": "on",
            "chain_opt_in": "on",
        }
    )
    values.pop("q", None)
    answer = http.post("/desk/dossiers/new/birth", data=values, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/desk/dossiers/HT-2026-000124/slip"
    assert load_view(d.container, "HT-2026-000124").status == DossierStatus.RECEIVED
    actions = [e["action"] for e in events(d.container, "HT-2026-000124")]
    assert actions[0] == "dossier_rejected"


def test_another_communes_reference_cannot_be_entered_over(desk: tuple[Desk, TestClient]) -> None:
    d, http = desk
    bad = {**BIRTH, "reference": "HT-2026-000125", "chain_opt_in": False}
    assert not receive(d.container, bad, Actor("portal")).accepted
    token = d.login(http, "operator:22739")
    assert http.get("/desk/dossiers/HT-2026-000125/correction").status_code == 403
    answer = http.post(
        "/desk/dossiers/new/birth", data={"csrf": token, "reference": "HT-2026-000125"}
    )
    assert answer.status_code == 403
    assert load_view(d.container, "HT-2026-000125").status == DossierStatus.REJECTED


def test_an_administrator_enters_a_dossier_for_the_commune_it_names(
    desk: tuple[Desk, TestClient],
) -> None:
    d, http = desk
    token = d.login(http, "admin")
    assert 'name="jurisdiction"' in http.get("/desk/dossiers/new/birth").text
    dossier = {**BIRTH, "reference": "HT-2026-000126"}
    form = {**form_values(dossier, SECTIONS[Chain.BIRTH]), "csrf": token, "jurisdiction": "22738"}
    answer = http.post("/desk/dossiers/new/birth", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    slip = http.get(answer.headers["location"])
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in slip.text
    assert "UBND PHƯỜNG ĐÔ VINH" in slip.text
    assert "Số: 000126/TNHS" in slip.text
    with d.container.unit_of_work() as uow:
        stored = uow.dossiers.get("HT-2026-000126")
    assert stored.payload["jurisdiction"] == BIRTH["jurisdiction"]
    assert stored.payload["child"] == BIRTH["child"]


def test_the_desk_says_late_exactly_when_status_does(container: Container, tmp_path: Path) -> None:
    """The desk joins tests/integration/test_lateness_agrees.py: for each of its dossiers, the
    dossier's page marks it late exactly when the one rule (status, worklist, report) does."""
    clock = ManualClock(MONDAY)
    app = replace(container, clock=clock)
    counter = CounterDesk(app, clock)
    cases = lateness_cases(counter, clock)
    clock.set(END)
    token = create_client(app, "admin", Role.parse("admin")).token
    http = TestClient(create_app(app))  # no lifespan: no poller
    Desk(app, {"admin": token}).login(http, "admin")
    answers = {}
    for reference, case in cases.items():
        page = http.get(f"/desk/dossiers/{reference}")
        assert page.status_code == 200
        answers[case] = ('class="late"' in page.text, load_view(app, reference).late)
    assert {case: desk for case, (desk, _) in answers.items()} == {
        case: status for case, (_, status) in answers.items()
    }
    assert any(desk for desk, _ in answers.values())
    assert not all(desk for desk, _ in answers.values())
