"""Standard Webhooks both ways, checked with the reference package (``standardwebhooks``)
over real HTTP: an agency verifies our notifications with it, and our callback endpoint
(a real uvicorn server) accepts what it signs, refuses replays, stale or foreign
signatures, and changes nothing when it refuses."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from standardwebhooks import Webhook, WebhookVerificationError

from lienthong.adapters import tables
from lienthong.api.server import ApiServer
from lienthong.bootstrap import build_container, run_async
from lienthong.models.contract.decisions import CALLBACK_PATH
from lienthong.models.contract.signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    webhook_secret,
)
from lienthong.models.status import StepKind, StepStatus
from lienthong.services.agency_calls import AgencyOutcome
from lienthong.services.begin_step import begin_step
from lienthong.services.container import Container
from lienthong.services.finish_step import finish_step
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.services.outbox import deliver_due
from lienthong.services.refusals import ACCESS_REFUSED
from lienthong.services.step_outcomes import StepOutcome, granted
from lienthong.settings import ApiSettings, Settings
from tests.conftest import record_session
from tests.helpers import example

OLD = webhook_secret(b"commune-secret-before-rotation")
NEW = webhook_secret(b"commune-secret-after-rotation!")
RUN = Actor("system", "run-1")
RECEIPT = "BN-POLICE-00000042"


class AgencyReceiver:
    """An agency's webhook endpoint verifying with the reference package and ``secret``."""

    def __init__(self, secret: str) -> None:
        self.verified: list[dict[str, Any]] = []
        self.refused: list[str] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    payload = Webhook(secret).verify(body, dict(self.headers.items()))
                except WebhookVerificationError as exc:
                    receiver.refused.append(str(exc))
                    self.send_response(401)
                else:
                    receiver.verified.append(payload)
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> AgencyReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def settings_with(database_url: str, data_dir: Path, commune_url: str) -> Settings:
    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        api=ApiSettings(start_chains=False, poll_interval_seconds=0),
    )
    commune = settings.commune.model_copy(
        update={
            "webhook_url": commune_url,
            "webhook_secret": SecretStr(NEW),
            "previous_webhook_secrets": [SecretStr(OLD)],
        }
    )
    return settings.model_copy(update={"commune": commune})


def tell_the_commune_of_a_refusal(database_url: str, tmp_path: Path, commune_url: str) -> str:
    """A dossier's first step refused, and its notices delivered once: the reference."""
    container = build_container(settings_with(database_url, tmp_path, commune_url))
    reference = "HT-2026-001001"
    assert receive(container, example(f"demo/{reference}"), Actor("operator-1")).accepted
    begin_step(container, reference, StepKind.BIRTH_REGISTRATION, RUN)
    refused = StepOutcome(StepStatus.REFUSED, reason="Thiếu giấy tờ")
    finish_step(container, reference, StepKind.BIRTH_REGISTRATION, refused, RUN)
    # The other agencies' receivers (the simulator's) are not running: only the commune's
    # deliveries are of interest here.
    run_async(deliver_due(container, reference), container)
    container.close()
    return reference


@pytest.mark.parametrize("agency_holds", [OLD, NEW], ids=["old secret", "new secret"])
def test_an_agency_verifies_our_notifications_with_the_reference_package(
    database_url: str, tmp_path: Path, agency_holds: str
) -> None:
    """Mid-rotation we sign with both secrets: the commune verifies with either."""
    with AgencyReceiver(agency_holds) as commune:
        reference = tell_the_commune_of_a_refusal(database_url, tmp_path, commune.url)

    assert commune.refused == []
    assert commune.verified, "the commune was told"
    assert {n["dossier_reference"] for n in commune.verified} == {reference}


def test_a_receiver_without_any_of_our_secrets_refuses(database_url: str, tmp_path: Path) -> None:
    with AgencyReceiver(webhook_secret(b"someone-else-entirely")) as commune:
        tell_the_commune_of_a_refusal(database_url, tmp_path, commune.url)

    assert commune.verified == []
    assert commune.refused
    assert set(commune.refused) == {"No matching signature found"}


@pytest.fixture
def waiting(database_url: str, tmp_path: Path) -> Iterator[tuple[Container, ApiServer, str]]:
    """A real API over a dossier whose police step awaits a decision under RECEIPT."""
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        api=ApiSettings(start_chains=False, poll_interval_seconds=0),
    )
    container = build_container(settings)
    reference = "HT-2026-001001"
    assert receive(container, example(f"demo/{reference}"), Actor("operator-1")).accepted
    begin_step(container, reference, StepKind.BIRTH_REGISTRATION, RUN)
    finish_step(
        container, reference, StepKind.BIRTH_REGISTRATION, granted(AgencyOutcome("KS-1", {})), RUN
    )
    begin_step(container, reference, StepKind.RESIDENCE_REGISTRATION, RUN)
    expected = datetime.now(UTC) + timedelta(days=1)
    receipt = StepOutcome(
        StepStatus.AWAITING_DECISION, receipt_number=RECEIPT, expected_at=expected
    )
    finish_step(container, reference, StepKind.RESIDENCE_REGISTRATION, receipt, RUN)
    with ApiServer(container) as api:
        yield container, api, reference
    container.close()


def package_signed(
    secret: str, msg_id: str, body: bytes, at: datetime | None = None
) -> dict[str, str]:
    """Headers as an agency using the reference package would send them."""
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(int(at.timestamp())),
        SIGNATURE_HEADER: signature,
        "Content-Type": "application/json",
    }


def state(container: Container) -> tuple[object, ...]:
    with record_session(container) as session:
        return (
            session.scalar(select(func.count()).select_from(tables.AuditEvent)),
            sorted(session.execute(select(tables.Step.id, tables.Step.version_id))),
        )


def refusals(container: Container) -> list[tuple[str, str | None]]:
    with record_session(container) as session:
        rows = session.execute(
            select(tables.AuditEvent.actor, tables.AuditEvent.dossier_reference).where(
                tables.AuditEvent.action == ACCESS_REFUSED
            )
        )
        return [(actor, ref) for actor, ref in rows]


def test_our_callback_endpoint_accepts_what_the_package_signs_once(
    waiting: tuple[Container, ApiServer, str],
) -> None:
    container, api, reference = waiting
    police = container.settings.police.webhook_secret.get_secret_value()
    body = json.dumps(
        {"receipt_number": RECEIPT, "dossier_reference": reference, "outcome": "pending"}
    ).encode()
    url = f"{api.url}{CALLBACK_PATH}/police"

    first = httpx.post(url, content=body, headers=package_signed(police, "msg_2Ab9", body))
    before = state(container)
    replay = httpx.post(url, content=body, headers=package_signed(police, "msg_2Ab9", body))
    old = datetime.now(UTC) - timedelta(minutes=6)
    stale = httpx.post(url, content=body, headers=package_signed(police, "msg_old", body, old))

    assert (first.status_code, first.json()["recorded"]) == (200, "pending")
    assert replay.status_code == 409
    assert stale.status_code == 401
    assert state(container) == before


def test_an_agency_may_post_only_its_own_decisions(
    waiting: tuple[Container, ApiServer, str],
) -> None:
    container, api, reference = waiting
    granted_body = json.dumps(
        {
            "receipt_number": RECEIPT,
            "dossier_reference": reference,
            "outcome": "refused",
            "reason": "not ours to decide",
        }
    ).encode()
    insurance = container.settings.social_insurance.webhook_secret.get_secret_value()
    before = state(container)

    # Social insurance signs, posting as the police; then as itself, on the police's receipt.
    as_police = httpx.post(
        f"{api.url}{CALLBACK_PATH}/police",
        content=granted_body,
        headers=package_signed(insurance, "msg_si_1", granted_body),
    )
    own_path = httpx.post(
        f"{api.url}{CALLBACK_PATH}/social-insurance",
        content=granted_body,
        headers=package_signed(insurance, "msg_si_2", granted_body),
    )

    assert (as_police.status_code, own_path.status_code) == (403, 403)
    assert refusals(container) == [
        ("agency:social_insurance", ""),
        ("agency:social_insurance", reference),
    ]
    with container.unit_of_work() as uow:
        step = uow.dossiers.get(reference).step(StepKind.RESIDENCE_REGISTRATION)
    assert step.status == StepStatus.AWAITING_DECISION
    assert state(container)[1] == before[1], "no step changed"
