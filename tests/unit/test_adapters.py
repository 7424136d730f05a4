"""The agency clients over httpx.MockTransport: translation, retries, headers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime

import httpx
import pytest

from lienthong.adapters.agency_clients import AgencyClients, build_agency_clients
from lienthong.adapters.agency_http import parse_retry_after
from lienthong.adapters.errors import (
    AgencyProtocolError,
    AgencyRequestRejected,
    Refused,
    SupplementRequired,
    TransientAgencyError,
)
from lienthong.models.contract.decisions import AgencyReceipt, DecisionOutcome
from lienthong.models.contract.http import (
    API_KEY_HEADER,
    DECISION_STATUS,
    IDEMPOTENCY_KEY_HEADER,
    development_api_key,
)
from lienthong.models.contract.messages import (
    BirthRegistrationRequest,
    ResidenceRegistrationRequest,
)
from lienthong.models.contract.results import BirthRegistrationResult, ResidenceRegistrationResult
from lienthong.models.identifiers import Sex
from lienthong.models.status import Agency
from lienthong.settings import AnswerForm, RetrySettings, Settings
from tests.helpers import immediate

BIRTH = BirthRegistrationRequest(
    dossier_reference="HS-1",
    province_code="079",
    commune_code="26734",
    child_full_name="Nguyễn An",
    child_sex=Sex.FEMALE,
    child_date_of_birth=date(2025, 3, 1),
    child_place_of_birth="Bệnh viện Từ Dũ",
    child_ethnicity="Kinh",
    medical_birth_certificate_number="GCS-1",
    medical_birth_certificate_issuer="Bệnh viện Từ Dũ",
    medical_birth_certificate_date=date(2025, 3, 1),
)
BIRTH_RESULT = {
    "dossier_reference": "HS-1",
    "registration_number": "KS-079-2025-000001",
    "personal_id": "079325000001",
    "e_certificate_id": "TLKS-1",
    "registered_at": "2025-03-02T01:00:00Z",
}
RESIDENCE = ResidenceRegistrationRequest(
    dossier_reference="HS-1",
    personal_id="079325000001",
    full_name="Nguyễn An",
    date_of_birth=date(2025, 3, 1),
    address="1 Lê Lợi, Bến Nghé",
    household_head_personal_id="079085000123",
    household_head_consent=False,
)


class Recorder:
    """Counts requests and the pauses the retry loop asks for, without sleeping."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self._responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self._responses.pop(0) if len(self._responses) > 1 else self._responses[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    @asynccontextmanager
    async def _clients(self, retry: RetrySettings | None) -> AsyncIterator[AgencyClients]:
        settings = Settings(retry=retry or RetrySettings(max_attempts=5, max_seconds=30))
        clients = build_agency_clients(settings, httpx.MockTransport(self.handle), sleep=self.sleep)
        try:
            yield clients
        finally:
            await clients.aclose()

    async def register_birth(self, retry: RetrySettings | None = None) -> BirthRegistrationResult:
        """``BIRTH`` with key ``birth:HS-1``, through clients this recorder answers."""
        async with self._clients(retry) as clients:
            return immediate(await clients.justice.register_birth(BIRTH, "birth:HS-1"))

    async def register_residence(
        self, retry: RetrySettings | None = None
    ) -> ResidenceRegistrationResult:
        """``RESIDENCE`` with key ``residence:HS-1``, through clients this recorder answers."""
        async with self._clients(retry) as clients:
            return immediate(await clients.police.register_residence(RESIDENCE, "residence:HS-1"))


def problem(
    status: int, outcome: str, reason: str, missing: list[str] | None = None
) -> httpx.Response:
    body = {"outcome": outcome, "reason": reason, "missing_items": missing or []}
    return httpx.Response(status, json=body)


async def test_retries_a_503_then_succeeds() -> None:
    recorder = Recorder(problem(503, "unavailable", "down"), httpx.Response(200, json=BIRTH_RESULT))

    result = await recorder.register_birth()

    assert result.personal_id == "079325000001"
    assert len(recorder.requests) == 2
    assert len(recorder.sleeps) == 1


async def test_sends_the_idempotency_key_and_api_key_on_every_attempt() -> None:
    recorder = Recorder(
        problem(500, "server_error", "boom"), httpx.Response(200, json=BIRTH_RESULT)
    )

    await recorder.register_birth()

    for request in recorder.requests:
        assert request.headers[IDEMPOTENCY_KEY_HEADER] == "birth:HS-1"
        assert request.headers[API_KEY_HEADER] == development_api_key(Agency.JUSTICE)
        assert request.url.path == "/justice/births"
        assert json.loads(request.content)["medical_birth_certificate_number"] == "GCS-1"


async def test_a_refusal_is_raised_once_and_not_retried() -> None:
    recorder = Recorder(problem(DECISION_STATUS, "refused", "certificate already used"))

    with pytest.raises(Refused) as caught:
        await recorder.register_birth()

    assert caught.value.reason == "certificate already used"
    assert len(recorder.requests) == 1


async def test_a_supplementation_request_carries_missing_items_and_is_not_retried() -> None:
    missing = ["household head's written consent (ý kiến đồng ý của chủ hộ)"]
    recorder = Recorder(problem(DECISION_STATUS, "supplement_required", "consent needed", missing))

    with pytest.raises(SupplementRequired) as caught:
        await recorder.register_residence()

    assert caught.value.missing_items == missing
    assert len(recorder.requests) == 1


async def test_retry_after_is_honoured() -> None:
    limited = httpx.Response(429, headers={"Retry-After": "7"}, json={})
    recorder = Recorder(limited, httpx.Response(200, json=BIRTH_RESULT))

    await recorder.register_birth(RetrySettings(max_seconds=60, max_backoff_seconds=1))

    assert recorder.sleeps == [7.0]


async def test_a_retry_after_beyond_the_budget_stops_retrying_at_once() -> None:
    recorder = Recorder(httpx.Response(503, headers={"Retry-After": "120"}, json={}))

    with pytest.raises(TransientAgencyError) as caught:
        await recorder.register_birth(RetrySettings(max_seconds=20))

    assert caught.value.retry_after == 120
    assert len(recorder.requests) == 1
    assert recorder.sleeps == []


def test_retry_after_in_http_date_form() -> None:
    now = datetime(2025, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 01 Jan 2025 00:00:30 GMT", now) == 30
    assert parse_retry_after("soon", now) is None


async def test_timeouts_become_transient_and_retries_are_bounded() -> None:
    recorder = Recorder(httpx.ReadTimeout("slow"))

    with pytest.raises(TransientAgencyError) as caught:
        await recorder.register_birth(RetrySettings(max_attempts=3, max_seconds=60))

    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert len(recorder.requests) == 3
    assert len(recorder.sleeps) == 2


async def test_backoff_grows_exponentially_within_the_cap() -> None:
    recorder = Recorder(httpx.ConnectError("refused"))
    retry = RetrySettings(
        max_attempts=6, max_seconds=600, initial_backoff_seconds=1, max_backoff_seconds=4
    )

    with pytest.raises(TransientAgencyError):
        await recorder.register_residence(retry)

    caps = [1, 2, 4, 4, 4]
    assert all(0 <= pause <= cap for pause, cap in zip(recorder.sleeps, caps, strict=True))


async def test_a_dropped_connection_is_transient() -> None:
    recorder = Recorder(
        httpx.RemoteProtocolError("peer closed"), httpx.Response(200, json=BIRTH_RESULT)
    )

    await recorder.register_birth()

    assert len(recorder.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
async def test_our_own_bad_requests_are_rejected_without_retry(status: int) -> None:
    recorder = Recorder(problem(status, "unauthorized", "missing or wrong X-API-Key"))

    with pytest.raises(AgencyRequestRejected) as caught:
        await recorder.register_birth()

    assert caught.value.status_code == status
    assert len(recorder.requests) == 1


async def test_a_422_that_is_not_a_decision_is_a_rejected_request() -> None:
    recorder = Recorder(
        httpx.Response(DECISION_STATUS, json={"detail": [{"msg": "field required"}]})
    )

    with pytest.raises(AgencyRequestRejected):
        await recorder.register_birth()


async def test_an_unreadable_success_is_a_protocol_error() -> None:
    recorder = Recorder(httpx.Response(200, json={"registration_number": "KS-1"}))

    with pytest.raises(AgencyProtocolError):
        await recorder.register_birth()
    assert len(recorder.requests) == 1


class EndlessBody:
    """An answer body that never ends (a 200 MB answer, or worse), counting what was pulled."""

    def __init__(self, chunk: bytes) -> None:
        self.chunk = chunk
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            self.pulled += len(self.chunk)
            yield self.chunk


async def test_an_endless_success_is_read_up_to_the_cap_and_refused() -> None:
    body = EndlessBody(b"x" * 65536)
    settings = Settings()
    cap = settings.limits.max_agency_answer_bytes
    clients = build_agency_clients(
        settings, httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    )
    try:
        with pytest.raises(AgencyProtocolError, match=f"larger than {cap} bytes"):
            await clients.justice.register_birth(BIRTH, "birth:HS-1")
    finally:
        await clients.aclose()
    assert cap < body.pulled <= cap + len(body.chunk)


async def test_an_endless_error_body_is_cut_at_the_cap_and_quoted_scrubbed_and_short() -> None:
    body = EndlessBody(b"<html> citizen 001204012345 " + b"y" * 65536)
    recorder = Recorder(httpx.Response(503, content=body))

    with pytest.raises(TransientAgencyError) as caught:
        await recorder.register_birth(RetrySettings(max_attempts=1))

    cap = Settings().limits.max_agency_answer_bytes
    assert body.pulled <= cap + len(body.chunk)
    message = caught.value.message
    assert message.startswith("HTTP 503: <html> citizen 001*******45 yyy")
    assert "001204012345" not in message
    assert len(message) < 300


async def test_an_unreadable_success_is_described_without_quoting_it() -> None:
    answer = {**BIRTH_RESULT, "personal_id": "not an id 001204012345"}
    recorder = Recorder(httpx.Response(200, json=answer))

    with pytest.raises(AgencyProtocolError) as caught:
        await recorder.register_birth()

    assert "001204012345" not in str(caught.value)
    assert "first at personal_id" in str(caught.value)


async def test_a_decision_is_kept_as_written_within_bounds() -> None:
    recorder = Recorder(
        problem(DECISION_STATUS, "supplement_required", "r" * 10_000, ["m" * 5000] * 100)
    )

    with pytest.raises(SupplementRequired) as caught:
        await recorder.register_birth()

    assert caught.value.reason == "r" * 2000
    assert caught.value.missing_items == ["m" * 2000] * 50


RECEIPT = {
    "dossier_reference": "HS-1",
    "receipt_number": "BN-POLICE-00000001",
    "expected_decision_at": "2026-11-26T10:00:00Z",
}


def _police_clients(recorder: Recorder, answers: AnswerForm) -> AgencyClients:
    settings = Settings(retry=RetrySettings(max_attempts=3, max_seconds=30))
    settings.police.answers = answers
    return build_agency_clients(
        settings, httpx.MockTransport(recorder.handle), sleep=recorder.sleep
    )


async def test_a_202_is_a_receipt_and_we_ask_for_the_async_form() -> None:
    recorder = Recorder(httpx.Response(202, json=RECEIPT))
    clients = _police_clients(recorder, AnswerForm.EITHER)

    answer = await clients.police.register_residence(RESIDENCE, "residence:HS-1")
    await clients.aclose()

    assert answer == AgencyReceipt.model_validate(RECEIPT)
    assert recorder.requests[0].headers["Prefer"] == "respond-async"


@pytest.mark.parametrize(
    ("answers", "response"),
    [
        (AnswerForm.IMMEDIATE, httpx.Response(202, json=RECEIPT)),
        (AnswerForm.ASYNC, httpx.Response(200, json={**RECEIPT, "registration_number": "T"})),
        (AnswerForm.EITHER, httpx.Response(202, json={"receipt": "no number"})),
    ],
    ids=["receipt-where-decision-expected", "decision-where-receipt-expected", "bad-receipt"],
)
async def test_the_wrong_form_is_a_protocol_error(
    answers: AnswerForm, response: httpx.Response
) -> None:
    recorder = Recorder(response)
    clients = _police_clients(recorder, answers)

    with pytest.raises(AgencyProtocolError):
        await clients.police.register_residence(RESIDENCE, "residence:HS-1")
    await clients.aclose()
    assert len(recorder.requests) == 1
    assert ("Prefer" in recorder.requests[0].headers) is (answers is not AnswerForm.IMMEDIATE)


async def test_polling_reads_the_latest_notice_and_retries_transient_failures() -> None:
    notice = {"receipt_number": RECEIPT["receipt_number"], "dossier_reference": "HS-1"}
    recorder = Recorder(
        httpx.Response(503),
        httpx.Response(200, json={**notice, "outcome": "verification_needed", "reason": "x"}),
    )
    clients = _police_clients(recorder, AnswerForm.ASYNC)

    found = await clients.for_agency(Agency.POLICE).decision(RECEIPT["receipt_number"])
    await clients.aclose()

    assert found.outcome is DecisionOutcome.VERIFICATION_NEEDED
    assert [r.method for r in recorder.requests] == ["GET", "GET"]
    assert recorder.requests[-1].url.path.endswith("/police/receipts/BN-POLICE-00000001")


async def test_polling_an_unknown_receipt_is_a_rejected_request() -> None:
    recorder = Recorder(
        httpx.Response(404, json={"outcome": "invalid_request", "reason": "no receipt"})
    )
    clients = _police_clients(recorder, AnswerForm.ASYNC)

    with pytest.raises(AgencyRequestRejected):
        await clients.police.decision("BN-POLICE-404")
    await clients.aclose()
