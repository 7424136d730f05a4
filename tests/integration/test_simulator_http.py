"""The agency clients, notifier and simulator together over real localhost HTTP."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from lienthong.adapters.agency_clients import AgencyClients, build_agency_clients
from lienthong.adapters.errors import AgencyDecision, Refused, SupplementRequired
from lienthong.adapters.notifier import WebhookNotifier
from lienthong.models.contract.decisions import (
    FINAL_OUTCOMES,
    AgencyReceipt,
    DecisionNotice,
    DecisionOutcome,
)
from lienthong.models.contract.http import (
    API_KEY_HEADER,
    DECISION_STATUS,
    IDEMPOTENCY_KEY_HEADER,
    REPLAYED_HEADER,
    development_api_key,
    development_webhook_secret,
)
from lienthong.models.contract.messages import (
    BirthRegistrationRequest,
    ChildHealthCardRequest,
    FuneralAllowanceRequest,
    ResidenceRegistrationRequest,
)
from lienthong.models.contract.signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signed_headers,
)
from lienthong.models.identifiers import Sex
from lienthong.models.status import Agency, FuneralPayerBasis
from lienthong.settings import RetrySettings, Settings
from lienthong.simulator.server import SimulatorServer
from lienthong.simulator.settings import (
    DecisionForm,
    FaultProfile,
    SimulatorDecisionSettings,
    SimulatorFaultSettings,
)
from lienthong.simulator_config import client_settings, simulator_credentials
from tests.helpers import immediate

CLIENT_TIMEOUT = 0.4
QUICK_RETRIES = RetrySettings(
    max_attempts=12,
    max_seconds=30,
    initial_backoff_seconds=0.01,
    max_backoff_seconds=0.05,
    request_timeout_seconds=CLIENT_TIMEOUT,
)
NO_FAULTS = SimulatorFaultSettings()
JSON = {"Content-Type": "application/json"}
POLICE_SECRET = development_webhook_secret(Agency.POLICE)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(retry=QUICK_RETRIES)


@pytest.fixture(scope="module")
def simulator(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimulatorServer]:
    data_dir = tmp_path_factory.mktemp("simulator")
    with SimulatorServer(simulator_credentials(settings), data_dir, port=0) as server:
        yield server


@pytest.fixture
async def admin(simulator: SimulatorServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=simulator.base_url) as client:
        yield client
        await client.put("/admin/faults", json=NO_FAULTS.model_dump(mode="json"))


@pytest.fixture
async def clients(settings: Settings, simulator: SimulatorServer) -> AsyncIterator[AgencyClients]:
    agency_clients = build_agency_clients(client_settings(settings, simulator))
    yield agency_clients
    await agency_clients.aclose()


async def set_faults(admin: httpx.AsyncClient, faults: SimulatorFaultSettings) -> None:
    response = await admin.put("/admin/faults", json=faults.model_dump(mode="json"))
    response.raise_for_status()


def birth_request(reference: str, **changes: Any) -> BirthRegistrationRequest:
    request = BirthRegistrationRequest(
        dossier_reference=reference,
        province_code="079",
        commune_code="26734",
        child_full_name="Trần Thị Bình",
        child_sex=Sex.FEMALE,
        child_date_of_birth=date(2026, 10, 3),
        child_place_of_birth="Bệnh viện Từ Dũ",
        child_ethnicity="Kinh",
        mother_full_name="Trần Thị Mai",
        mother_personal_id="079190000123",
        medical_birth_certificate_number=f"GCS-{reference}",
        medical_birth_certificate_issuer="Bệnh viện Từ Dũ",
        medical_birth_certificate_date=date(2026, 10, 3),
    )
    return request.model_copy(update=changes)


def residence_request(
    reference: str, personal_id: str, *, consent: bool = True
) -> ResidenceRegistrationRequest:
    return ResidenceRegistrationRequest(
        dossier_reference=reference,
        personal_id=personal_id,
        full_name="Trần Thị Bình",
        date_of_birth=date(2026, 10, 3),
        address="12 Nguyễn Huệ, phường Sài Gòn",
        household_head_personal_id="079085000999",
        household_head_consent=consent,
    )


def card_request(reference: str, personal_id: str, born: date) -> ChildHealthCardRequest:
    return ChildHealthCardRequest(
        dossier_reference=reference,
        personal_id=personal_id,
        full_name="Trần Thị Bình",
        sex=Sex.FEMALE,
        date_of_birth=born,
        address="12 Nguyễn Huệ, phường Sài Gòn",
        facility_code="79-001",
        facility_name="Trạm y tế phường Sài Gòn",
    )


def funeral_request(reference: str, deceased_id: str, died: date, basis: FuneralPayerBasis):
    return FuneralAllowanceRequest(
        dossier_reference=reference,
        deceased_personal_id=deceased_id,
        deceased_full_name="Lê Văn Cường",
        date_of_death=died,
        basis=basis,
        contribution_months=240,
        claimant_full_name="Lê Thị Dung",
    )


async def run_birth_chain(clients: AgencyClients, reference: str, **changes: Any) -> str:
    """Birth -> residence -> card, as the flow would; returns how the chain ended."""
    consent = changes.pop("consent", True)
    try:
        birth = immediate(
            await clients.justice.register_birth(
                birth_request(reference, **changes), f"{reference}:birth"
            )
        )
        await clients.police.register_residence(
            residence_request(reference, birth.personal_id, consent=consent),
            f"{reference}:residence",
        )
        card = immediate(
            await clients.social_insurance.issue_child_health_card(
                card_request(reference, birth.personal_id, date(2026, 10, 3)), f"{reference}:card"
            )
        )
    except Refused:
        return "refused"
    except SupplementRequired:
        return "supplement_required"
    assert card.valid_to == date(2032, 10, 31)
    return "completed"


async def test_every_dossier_ends_correctly_under_30_percent_faults_without_duplicates(
    admin: httpx.AsyncClient, clients: AgencyClients
) -> None:
    profile = FaultProfile(
        latency_ms=2,
        latency_jitter_ms=8,
        rate_limit_rate=0.03,
        error_500_rate=0.05,
        error_503_rate=0.05,
        timeout_rate=0.04,
        drop_rate=0.05,
        processed_then_drop_rate=0.08,
        timeout_seconds=CLIENT_TIMEOUT + 0.3,
        retry_after_seconds=0,
    )
    await set_faults(admin, SimulatorFaultSettings(seed=6, agencies=profile))
    expected: dict[str, str] = {}
    runs = []
    for n in range(40):
        reference = f"HS-FAULT-{n:02d}"
        changes: dict[str, Any] = {}
        if n % 10 == 3:
            changes["medical_birth_certificate_number"] = "GCS-DUPLICATE-0001"
            expected[reference] = "refused"
        elif n % 10 == 7:
            changes["consent"] = False
            expected[reference] = "supplement_required"
        else:
            expected[reference] = "completed"
        runs.append(run_birth_chain(clients, reference, **changes))

    outcomes = await asyncio.gather(*runs)

    assert dict(zip(expected, outcomes, strict=True)) == expected
    injected = (await admin.get("/admin/fault-stats")).json()
    assert injected.get("agencies.processed_then_drop", 0) > 0
    assert injected.get("agencies.timeout", 0) > 0
    completed = Counter(expected.values())["completed"]
    for agency, kind in [
        ("justice", "birth_registration"),
        ("police", "residence_registration"),
        ("social-insurance", "child_health_card"),
    ]:
        records = (await admin.get(f"/admin/records/{agency}")).json()
        ours = [r["dossier_reference"] for r in records if r["kind"] == kind]
        ours = [ref for ref in ours if ref.startswith("HS-FAULT-")]
        assert len(ours) == len(set(ours)), f"{agency} registered a dossier twice"
        succeeded_here = completed + (4 if agency == "justice" else 0)
        assert len(ours) == succeeded_here


async def test_replay_after_a_restart_returns_the_first_answer(
    simulator: SimulatorServer, admin: httpx.AsyncClient
) -> None:
    request = birth_request("HS-RESTART")
    headers = {
        API_KEY_HEADER: development_api_key(Agency.JUSTICE),
        IDEMPOTENCY_KEY_HEADER: "HS-RESTART:birth",
        **JSON,
    }
    body = request.model_dump_json()
    url = f"{simulator.base_url}/justice/births"
    async with httpx.AsyncClient() as http:
        first = await http.post(url, content=body, headers=headers)

    simulator.stop()
    simulator.start()

    async with httpx.AsyncClient() as http:
        replay = await http.post(url, content=body, headers=headers)
        conflict = await http.post(
            url, content=birth_request("HS-OTHER").model_dump_json(), headers=headers
        )
    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers[REPLAYED_HEADER] == "true"
    assert REPLAYED_HEADER not in first.headers
    assert conflict.status_code == 409
    records = (await admin.get("/admin/records/justice")).json()
    assert [r["dossier_reference"] for r in records].count("HS-RESTART") == 1


@pytest.mark.parametrize("key", [None, "wrong-key"])
async def test_an_agency_call_without_its_api_key_is_401(
    simulator: SimulatorServer, key: str | None
) -> None:
    headers = {IDEMPOTENCY_KEY_HEADER: "HS-NOKEY:birth", **JSON}
    if key:
        headers[API_KEY_HEADER] = key
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{simulator.base_url}/justice/births",
            content=birth_request("HS-NOKEY").model_dump_json(),
            headers=headers,
        )
    assert response.status_code == 401
    assert response.json()["outcome"] == "unauthorized"


@pytest.mark.parametrize(
    ("born", "valid_to"),
    [
        (date(2025, 3, 15), date(2031, 9, 30)),
        (date(2024, 2, 29), date(2030, 9, 30)),
        (date(2025, 9, 29), date(2031, 9, 30)),
        (date(2025, 9, 30), date(2031, 9, 30)),
        (date(2025, 10, 1), date(2031, 10, 31)),
        (date(2025, 12, 5), date(2031, 12, 31)),
    ],
)
async def test_child_card_is_valid_to_72_months_by_the_decree_146_rule(
    clients: AgencyClients, born: date, valid_to: date
) -> None:
    reference = f"HS-CARD-{born.isoformat()}"
    personal_id = f"079{3}{born.year % 100:02d}{born.toordinal() % 1_000_000:06d}"

    card = immediate(
        await clients.social_insurance.issue_child_health_card(
            card_request(reference, personal_id, born), f"{reference}:card"
        )
    )

    assert card.valid_to == valid_to
    assert card.valid_from == born
    assert card.benefit_level_percent == 100
    assert len(card.card_number) == 10


@pytest.mark.parametrize(
    ("died", "basis", "payer", "amount"),
    [
        # The base salary in force in the month of death (models/data/legal_tables.toml).
        (date(2023, 6, 30), FuneralPayerBasis.PENSIONER, "social_insurance", 14_900_000),
        (date(2023, 7, 31), FuneralPayerBasis.INSURED, "social_insurance", 18_000_000),
        (date(2024, 6, 30), FuneralPayerBasis.PENSIONER, "social_insurance", 18_000_000),
        (date(2024, 7, 1), FuneralPayerBasis.INSURED, "social_insurance", 23_400_000),
        (date(2024, 6, 30), FuneralPayerBasis.SOCIAL_PROTECTION, "social_affairs", 7_200_000),
        (date(2024, 7, 1), FuneralPayerBasis.MERITORIOUS, "social_affairs", 10_000_000),
        (date(2026, 3, 15), FuneralPayerBasis.PENSIONER, "social_insurance", 23_400_000),
    ],
)
async def test_funeral_amounts_follow_the_month_of_death(
    clients: AgencyClients, died: date, basis: FuneralPayerBasis, payer: str, amount: int
) -> None:
    deceased = f"079{died.year % 100:02d}{died.month:02d}{died.day:02d}{len(basis):03d}"
    request = funeral_request(f"HS-FUNERAL-{basis}-{died}", deceased, died, basis)
    key = f"{request.dossier_reference}:funeral"
    if payer == "social_insurance":
        decision = immediate(await clients.social_insurance.pay_funeral_allowance(request, key))
    else:
        decision = immediate(await clients.social_affairs.pay_funeral_support(request, key))
    assert decision.payer == payer
    assert decision.amount_vnd == amount


@pytest.mark.parametrize(
    ("basis", "payer"),
    [
        (FuneralPayerBasis.PENSIONER, "social_insurance"),
        (FuneralPayerBasis.SOCIAL_PROTECTION, "social_affairs"),
    ],
)
async def test_a_death_before_the_legal_tables_is_refused_not_guessed(
    clients: AgencyClients, basis: FuneralPayerBasis, payer: str
) -> None:
    died = date(2019, 6, 30)  # before 1/7/2019, the base salary table's first row
    request = funeral_request(f"HS-OLD-{basis}", f"07905{len(basis):07d}", died, basis)
    key = f"{request.dossier_reference}:funeral"
    pay = (
        clients.social_insurance.pay_funeral_allowance
        if payer == "social_insurance"
        else clients.social_affairs.pay_funeral_support
    )
    with pytest.raises(AgencyDecision, match="month of death"):
        await pay(request, key)


async def test_the_wrong_payer_refuses(clients: AgencyClients) -> None:
    request = funeral_request(
        "HS-WRONG-PAYER", "079050000777", date(2024, 8, 1), FuneralPayerBasis.SOCIAL_PROTECTION
    )
    with pytest.raises(AgencyDecision):
        await clients.social_insurance.pay_funeral_allowance(request, "HS-WRONG-PAYER:funeral")


async def deliver_until_acknowledged(
    notifier: WebhookNotifier, url: str, event_id: str, payload: dict[str, Any]
) -> int:
    """The outbox's job in miniature: same event id on every attempt. Returns attempts."""
    for attempt in range(1, 11):
        outcome = await notifier.deliver(url, [POLICE_SECRET], event_id, payload)
        if outcome.delivered:
            return attempt
    raise AssertionError("never acknowledged")


async def test_a_notification_whose_first_deliveries_fail_arrives_exactly_once(
    simulator: SimulatorServer, admin: httpx.AsyncClient
) -> None:
    url = f"{simulator.base_url}/webhooks/police"
    payload = {"dossier_reference": "HS-HOOK", "step": "birth_registration", "status": "done"}
    notifier = WebhookNotifier(timeout_seconds=2)

    before = (await admin.get("/admin/webhook-stats")).json().get("police", {})
    await set_faults(admin, SimulatorFaultSettings(webhooks=FaultProfile(fail_first=3)))
    attempts = await deliver_until_acknowledged(notifier, url, "evt-hook-1", payload)

    # Received but the answer lost: the retry must be acknowledged, not stored again.
    await set_faults(
        admin, SimulatorFaultSettings(webhooks=FaultProfile(processed_then_drop_rate=1.0))
    )
    lost = await notifier.deliver(url, [POLICE_SECRET], "evt-hook-2", payload)
    await set_faults(admin, NO_FAULTS)
    retried = await deliver_until_acknowledged(notifier, url, "evt-hook-2", payload)
    await notifier.aclose()

    assert attempts == 4
    assert not lost.delivered
    assert lost.error is not None
    assert retried == 1
    received = (await admin.get("/webhooks/police/received")).json()
    event_ids = [r["event_id"] for r in received]
    assert event_ids.count("evt-hook-1") == 1
    assert event_ids.count("evt-hook-2") == 1
    assert received[event_ids.index("evt-hook-1")]["payload"] == payload
    # The receiver counts the repeat it acknowledged and dropped (benchmarks.chaos reads it).
    after = (await admin.get("/admin/webhook-stats")).json()["police"]
    assert after["received"] - before.get("received", 0) == 2
    assert after["duplicates"] - before.get("duplicates", 0) == 1


@pytest.mark.parametrize("forgery", ["wrong_secret", "stale", "tampered", "new_event_id"])
async def test_forged_or_stale_webhooks_are_rejected(
    simulator: SimulatorServer, admin: httpx.AsyncClient, forgery: str
) -> None:
    url = f"{simulator.base_url}/webhooks/commune"
    secret = development_webhook_secret(Agency.COMMUNE)
    event_id = f"evt-forged-{forgery}"
    payload = {"dossier_reference": "HS-FORGED"}
    if forgery == "tampered":
        outcome = await _tampered_delivery(url, secret, event_id)
    elif forgery == "new_event_id":
        outcome = await _replay_under_new_event_id(url, secret, event_id)
    else:
        notifier = WebhookNotifier(
            timeout_seconds=2,
            clock=(lambda: time.time() - 600) if forgery == "stale" else time.time,
        )
        other = development_webhook_secret(Agency.POLICE)
        outcome_secret = other if forgery == "wrong_secret" else secret
        result = await notifier.deliver(url, [outcome_secret], event_id, payload)
        await notifier.aclose()
        outcome = result.status_code or 0

    assert outcome == 401
    received = (await admin.get("/webhooks/commune/received")).json()
    assert event_id not in {r["event_id"] for r in received}


async def _tampered_delivery(url: str, secret: str, event_id: str) -> int:
    from lienthong.models.contract.signing import signed_headers

    now = int(datetime.now(UTC).timestamp())
    headers = signed_headers([secret], event_id, now, b'{"amount_vnd":1}')
    async with httpx.AsyncClient() as http:
        response = await http.post(url, content=b'{"amount_vnd":1000000}', headers=headers)
    return response.status_code


async def _replay_under_new_event_id(url: str, secret: str, event_id: str) -> int:
    """A genuine request, captured, then replayed within the window under ``event_id``."""
    from lienthong.models.contract.signing import signed_headers

    now = int(datetime.now(UTC).timestamp())
    body = b'{"dossier_reference":"HS-FORGED"}'
    captured = signed_headers([secret], "evt-captured-original", now, body)
    async with httpx.AsyncClient() as http:
        original = await http.post(url, content=body, headers=captured)
        assert original.status_code == 200
        replayed = {**captured, ID_HEADER: event_id}
        response = await http.post(url, content=body, headers=replayed)
    return response.status_code


def test_the_seeded_duplicate_certificate_survives_in_a_fresh_data_dir(tmp_path: Path) -> None:
    with SimulatorServer(simulator_credentials(Settings()), tmp_path, port=0) as server:
        response = httpx.post(
            f"{server.base_url}/justice/births",
            content=birth_request(
                "HS-DUP", medical_birth_certificate_number="GCS-DUPLICATE-0001"
            ).model_dump_json(),
            headers={
                API_KEY_HEADER: development_api_key(Agency.JUSTICE),
                IDEMPOTENCY_KEY_HEADER: "HS-DUP:birth",
                **JSON,
            },
        )
    assert response.status_code == DECISION_STATUS
    assert response.json()["outcome"] == "refused"


@pytest.mark.parametrize(
    "body",
    [
        b'{"x": "unterminated',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
async def test_a_signed_body_that_is_not_utf8_json_is_a_400_not_a_500(
    simulator: SimulatorServer, admin: httpx.AsyncClient, body: bytes
) -> None:
    from lienthong.models.contract.signing import signed_headers

    url = f"{simulator.base_url}/webhooks/commune"
    secret = development_webhook_secret(Agency.COMMUNE)
    event_id = f"evt-not-json-{len(body)}"
    headers = signed_headers([secret], event_id, int(time.time()), body)
    async with httpx.AsyncClient() as http:
        response = await http.post(url, content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["reason"] == "the body is not JSON"
    received = (await admin.get("/webhooks/commune/received")).json()
    assert event_id not in {r["event_id"] for r in received}


async def test_a_body_that_is_not_utf8_cannot_be_signed_and_is_refused(
    simulator: SimulatorServer,
) -> None:
    """Standard Webhooks sign text: bytes that are not UTF-8 verify under no secret."""
    url = f"{simulator.base_url}/webhooks/commune"
    headers = signed_headers(
        [development_webhook_secret(Agency.COMMUNE)], "evt-utf16", int(time.time()), b"{}"
    )
    async with httpx.AsyncClient() as http:
        response = await http.post(url, content="{}".encode("utf-16"), headers=headers)
    assert response.status_code == 401


async def test_a_declared_length_past_the_limit_is_refused_unread(
    simulator: SimulatorServer,
) -> None:
    url = f"{simulator.base_url}/webhooks/commune"
    async with httpx.AsyncClient() as http:
        response = await http.post(url, content=b" " * (256 * 1024 + 1))
    assert response.status_code == 413


async def set_decisions(admin: httpx.AsyncClient, decisions: SimulatorDecisionSettings) -> None:
    response = await admin.put("/admin/decisions", json=decisions.model_dump(mode="json"))
    response.raise_for_status()


async def decided(clients: AgencyClients, receipt: str) -> DecisionNotice:
    """The receipt's notice once the simulated officer has finally decided."""
    deadline = asyncio.get_running_loop().time() + 20
    while (found := await clients.police.decision(receipt)).outcome not in FINAL_OUTCOMES:
        assert asyncio.get_running_loop().time() < deadline, found
        await asyncio.sleep(0.05)
    return found


async def test_an_async_agency_answers_a_receipt_replayed_by_key_and_decides_later(
    clients: AgencyClients, admin: httpx.AsyncClient
) -> None:
    await set_decisions(
        admin, SimulatorDecisionSettings(forms={"police": DecisionForm.ASYNC}, delay_seconds=0.2)
    )
    try:
        request = residence_request("HS-ASYNC-1", "079326000501")
        receipt = await clients.police.register_residence(request, "HS-ASYNC-1:residence")
        again = await clients.police.register_residence(request, "HS-ASYNC-1:residence")
        refused = await clients.police.register_residence(
            residence_request("HS-ASYNC-2", "079326000501"), "HS-ASYNC-2:residence"
        )
        consent = await clients.police.register_residence(
            residence_request("HS-ASYNC-3", "079326000503", consent=False), "HS-ASYNC-3:residence"
        )
    finally:
        await set_decisions(admin, SimulatorDecisionSettings())

    assert isinstance(receipt, AgencyReceipt)
    assert again == receipt, "the same key gets the same receipt"
    assert isinstance(refused, AgencyReceipt)
    assert isinstance(consent, AgencyReceipt)
    granted = await decided(clients, receipt.receipt_number)
    assert granted.outcome is DecisionOutcome.GRANTED
    assert granted.result is not None
    assert granted.result["personal_id"] == "079326000501"
    assert (await decided(clients, refused.receipt_number)).outcome is DecisionOutcome.REFUSED
    asked = await decided(clients, consent.receipt_number)
    assert asked.outcome is DecisionOutcome.SUPPLEMENT_REQUIRED
    assert asked.missing_items
    records = (await admin.get("/admin/records/police")).json()
    assert [r["dossier_reference"] for r in records].count("HS-ASYNC-1") == 1


async def test_verification_comes_first_when_the_agency_must_verify(
    clients: AgencyClients, admin: httpx.AsyncClient
) -> None:
    await set_decisions(
        admin,
        SimulatorDecisionSettings(
            forms={"police": DecisionForm.ASYNC}, delay_seconds=0.3, verification_rate=1.0
        ),
    )
    try:
        receipt = await clients.police.register_residence(
            residence_request("HS-VERIFY-1", "079326000601"), "HS-VERIFY-1:residence"
        )
    finally:
        await set_decisions(admin, SimulatorDecisionSettings())
    assert isinstance(receipt, AgencyReceipt)
    seen = set()
    deadline = asyncio.get_running_loop().time() + 20
    while (found := await clients.police.decision(receipt.receipt_number)).outcome not in (
        FINAL_OUTCOMES
    ):
        seen.add(found.outcome)
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    assert DecisionOutcome.VERIFICATION_NEEDED in seen
    assert found.outcome is DecisionOutcome.GRANTED


async def test_the_province_receives_signed_notices_under_its_own_secret(
    simulator: SimulatorServer, admin: httpx.AsyncClient
) -> None:
    url = f"{simulator.base_url}/webhooks/province"
    notifier = WebhookNotifier(timeout_seconds=2)
    payload = {"event": "decision.escalated", "dossier_reference": "HS-LATE"}
    secret = development_webhook_secret(Agency.PROVINCE)
    accepted = await notifier.deliver(url, [secret], "evt-province-1", payload)
    commune_secret = development_webhook_secret(Agency.COMMUNE)
    refused = await notifier.deliver(url, [commune_secret], "evt-province-2", payload)
    await notifier.aclose()

    assert (accepted.status_code, refused.status_code) == (200, 401)
    received = (await admin.get("/webhooks/province/received")).json()
    assert [(r["event_id"], r["payload"]) for r in received] == [("evt-province-1", payload)]


class FlakyReceiver:
    """Our API's callback endpoint stand-in, over real HTTP: answers 503 ``failures`` times,
    then 200; keeps each attempt's event id and whether its signature verified."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts: list[tuple[str, bool]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                secret = development_webhook_secret(Agency.POLICE)
                expected = signed_headers(
                    [secret], self.headers[ID_HEADER], int(self.headers[TIMESTAMP_HEADER]), body
                )[SIGNATURE_HEADER]
                receiver.attempts.append(
                    (self.headers[ID_HEADER], expected == self.headers[SIGNATURE_HEADER])
                )
                failing = len(receiver.attempts) <= receiver.failures
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def stats(admin: httpx.AsyncClient) -> Counter[str]:
    return Counter((await admin.get("/admin/decision-stats")).json())


async def until_settled(admin: httpx.AsyncClient, before: Counter[str]) -> Counter[str]:
    """The stats once the callback was accepted or given up (it is never retried after)."""
    deadline = asyncio.get_running_loop().time() + 20
    while not (
        (counted := await stats(admin) - before)["callbacks_200"] or counted["callbacks_failed"]
    ):
        assert asyncio.get_running_loop().time() < deadline, counted
        await asyncio.sleep(0.05)
    return counted


@pytest.mark.parametrize(("failures", "attempts", "delivered"), [(2, 3, True), (9, 3, False)])
async def test_a_callback_our_api_fails_to_accept_is_sent_again_with_backoff(
    clients: AgencyClients,
    admin: httpx.AsyncClient,
    failures: int,
    attempts: int,
    delivered: bool,
) -> None:
    receiver = FlakyReceiver(failures)
    before = await stats(admin)
    reference = f"HS-RETRY-{failures}"
    await set_decisions(
        admin,
        SimulatorDecisionSettings(
            forms={"police": DecisionForm.ASYNC},
            delay_seconds=0.1,
            callback_url=receiver.url,
            callback_attempts=3,
            callback_backoff_seconds=0.1,
        ),
    )
    try:
        await clients.police.register_residence(
            residence_request(reference, f"07932600070{failures}"), f"{reference}:residence"
        )
        counted = await until_settled(admin, before)
    finally:
        await set_decisions(admin, SimulatorDecisionSettings())
        receiver.close()

    assert len(receiver.attempts) == attempts
    assert len({event_id for event_id, _ in receiver.attempts}) == 1, "one event, resent"
    assert all(verified for _, verified in receiver.attempts), "each attempt signed afresh"
    assert counted["callbacks_retried"] == 2
    assert counted["callbacks_200"] == (1 if delivered else 0)
    assert counted["callbacks_failed"] == (0 if delivered else 1)


async def test_an_officer_decides_in_working_days_on_an_accelerated_clock(
    clients: AgencyClients, admin: httpx.AsyncClient
) -> None:
    await set_decisions(
        admin,
        SimulatorDecisionSettings(
            forms={"police": DecisionForm.ASYNC},
            delay_seconds=3600,  # replaced by the working days
            delay_working_days=2,
            seconds_per_working_day=0.2,
        ),
    )
    try:
        asked_at = datetime.now(UTC)
        receipt = await clients.police.register_residence(
            residence_request("HS-WDAYS-1", "079326000801"), "HS-WDAYS-1:residence"
        )
    finally:
        await set_decisions(admin, SimulatorDecisionSettings())

    assert isinstance(receipt, AgencyReceipt)
    assert receipt.expected_decision_at is not None
    expected_in = (receipt.expected_decision_at - asked_at).total_seconds()
    assert 0.4 <= expected_in < 5, "two working days of 0.2 s each"
    assert (await decided(clients, receipt.receipt_number)).outcome is DecisionOutcome.GRANTED
