"""The audit head is anchored every day without anyone keeping a hash by hand: published as
a Prefect artifact and sent, signed, to the province; deleting the newest events (and the
rows they describe, so that the replay agrees) is then caught by `lienthong audit verify`
and by the next anchoring run."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from lienthong.bootstrap import build_container, use_container
from lienthong.cli import main
from lienthong.flows.audit_anchor import audit_anchor_flow
from lienthong.models.contract.signing import ID_HEADER, verify, webhook_secret
from lienthong.services.audit_trail import verify as verify_trail
from lienthong.services.container import Container
from lienthong.settings import AuditAnchorSettings, Settings
from lienthong.tasks.audit_anchor import latest_published_anchor
from tests.conftest import record_session
from tests.e2e.conftest import fresh_copy, load_example, submit
from tests.helpers import bypass_audit_triggers

pytestmark = pytest.mark.e2e

SECRET = webhook_secret(b"province-anchor-secret")


@dataclass
class Province:
    """The province's endpoint: keeps every request it receives and answers 200."""

    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def province() -> Iterator[Province]:
    kept = Province()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            kept.received.append((dict(self.headers.items()), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    kept.url = f"http://127.0.0.1:{server.server_address[1]}/audit-anchors"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield kept
    server.shutdown()
    server.server_close()


@pytest.fixture
def anchored_app(chain_settings: Settings, province: Province) -> Iterator[Container]:
    anchor = AuditAnchorSettings(
        url=province.url,
        secret=SecretStr(SECRET),
        # The Prefect server is the session's: each test anchors under its own key.
        artifact_key=f"audit-anchor-{uuid.uuid4().hex[:12]}",
    )
    settings = chain_settings.model_copy(update={"audit_anchor": anchor})
    container = build_container(settings)
    with use_container(container):
        yield container
    container.close()


def _signed_payload(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    verify([SECRET], headers, body, now=time.time())
    payload: dict[str, Any] = json.loads(body)
    return payload


def _remove_every_trace(app: Container, reference: str) -> None:
    """What an intruder with the database would do to erase a dossier: its newest events
    and its rows, so that the chain is valid and the replay agrees with the rows."""
    with record_session(app) as session, session.begin():
        connection = session.connection()
        bypass_audit_triggers(connection)
        ref = {"ref": reference}
        connection.execute(text("DELETE FROM audit_events WHERE dossier_reference = :ref"), ref)
        connection.execute(text("DELETE FROM notifications WHERE dossier_reference = :ref"), ref)
        for table in ("clock_events", "match_keys", "duplicate_holds", "steps"):
            connection.execute(
                text(
                    f"DELETE FROM {table} WHERE dossier_id IN "
                    "(SELECT id FROM dossiers WHERE reference = :ref)"
                ),
                ref,
            )
        connection.execute(text("DELETE FROM dossiers WHERE reference = :ref"), ref)


async def test_the_daily_anchor_catches_deleted_newest_events(
    anchored_app: Container,
    province: Province,
    chain_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    submit(anchored_app, fresh_copy(load_example("birth-valid.json"), "AN"))
    first = await audit_anchor_flow(return_state=True)
    assert first.is_completed(), first.message
    assert len(province.received) == 1
    sent = _signed_payload(*province.received[0])
    trail = verify_trail(anchored_app)
    assert (sent["head"], sent["event_id"], sent["events"]) == (
        trail.head,
        trail.head_event_id,
        trail.checked,
    )
    assert province.received[0][0][ID_HEADER] == f"audit-anchor-{trail.head_event_id}"

    newest = submit(anchored_app, fresh_copy(load_example("birth-valid.json"), "AN"))
    second = await audit_anchor_flow(return_state=True)
    assert second.is_completed(), second.message
    published = await latest_published_anchor(anchored_app.settings.audit_anchor.artifact_key)
    assert published is not None
    assert published.head == verify_trail(anchored_app).head
    assert _signed_payload(*province.received[1])["head"] == published.head

    _remove_every_trace(anchored_app, newest)

    unanchored = verify_trail(anchored_app)
    assert unanchored.intact, "without the anchor the shorter trail looks whole"
    assert verify_trail(anchored_app, published).anchor_found is False

    monkeypatch.setenv("LIENTHONG_DATABASE_URL", chain_settings.resolved_database_url())
    monkeypatch.setenv(
        "LIENTHONG_AUDIT_ANCHOR__ARTIFACT_KEY", anchored_app.settings.audit_anchor.artifact_key
    )
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 1
    assert capsys.readouterr().out.startswith(
        f"audit chain BROKEN: the published head {published.head} "
        f"of event {published.event_id} is no longer in the chain"
    )

    third = await audit_anchor_flow(return_state=True)
    assert third.is_failed()
    assert "no longer in the chain" in (third.message or "")
    assert len(province.received) == 2, "a trail that fails verification is not anchored"
