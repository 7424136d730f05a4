"""Agencies that decide later: a receipt now, the decision after a delay, by callback.

An agency in the ``async`` form (``SimulatorDecisionSettings.forms``) answers a step's
request with ``202`` and an :class:`AgencyReceipt` instead of deciding. A ticker thread
decides due receipts with the agency's own rules (the same functions as the immediate
form), some first with an interim "verification needed", and posts each notice, signed
with the agency's webhook secret, to the caller's callback URL, losing some on purpose.
The latest notice is always available at ``GET /<agency>/receipts/<receipt_number>``.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from lienthong.models.calendar import WorkingCalendar
from lienthong.models.contract.decisions import (
    CALLBACK_PATH,
    AgencyReceipt,
    DecisionNotice,
    DecisionOutcome,
)
from lienthong.models.contract.http import DECISION_STATUS, agency_slug
from lienthong.models.contract.messages import AgencyRequest, ProblemOutcome
from lienthong.models.contract.signing import signed_headers
from lienthong.models.status import Agency
from lienthong.simulator.protocol import ProblemError, agency_router
from lienthong.simulator.settings import (
    AgencyCredentials,
    DecisionForm,
    SimulatorDecisionSettings,
)
from lienthong.simulator.store import Ledger, PendingReceipt, SimulatorStore

logger = logging.getLogger(__name__)

Decide = Callable[[Ledger, Any], tuple[str, BaseModel]]
TICK_SECONDS = 0.05
VERIFICATION_REASON = (
    "Cần xác minh thông tin nơi cư trú. The address must be verified before deciding."
)


# Answers of our API after which a webhook sender tries again later.
RETRIED_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))


@dataclass(frozen=True)
class Callback:
    """One signed notice to post to the caller; the same event id on every attempt."""

    url: str
    agency: str
    event_id: str
    body: bytes
    attempt: int = 1


def decision_delay(settings: SimulatorDecisionSettings, calendar: WorkingCalendar) -> float:
    """Seconds from now until the officer decides (settings.delay_*)."""
    days = settings.delay_working_days
    if days is None:
        return settings.delay_seconds
    if settings.seconds_per_working_day is not None:
        return days * settings.seconds_per_working_day
    now = calendar.to_local(datetime.now(UTC))
    day = calendar.add_working_days(now.date(), days)
    return (datetime.combine(day, now.timetz()) - now).total_seconds()


class DeferredDecisions:
    """The async form of every simulated agency: receipts, the decider, the callbacks."""

    def __init__(
        self,
        store: SimulatorStore,
        credentials: Mapping[Agency, AgencyCredentials],
        settings: SimulatorDecisionSettings,
    ) -> None:
        self._store = store
        self._secrets = {a.value: c.webhook_secret for a, c in credentials.items()}
        self._deciders: dict[str, tuple[type[AgencyRequest], Decide]] = {}
        self._lock = threading.Lock()
        self.stats: Counter[str] = Counter()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._calendar = WorkingCalendar()
        # Callbacks to send again: (when, order, callback); only the ticker touches it.
        self._retries: list[tuple[float, int, Callback]] = []
        self._order = itertools.count()
        self.replace(settings)

    def replace(self, settings: SimulatorDecisionSettings) -> None:
        """New settings (and a fresh seeded random source)."""
        with self._lock:
            self.settings = settings
            self._rng = random.Random(settings.seed)

    def _draw(self, rate: float, key: str) -> bool:
        """True with probability ``rate``. With a seed the draw depends only on the seed and
        ``key`` (what is drawn, for which dossier): repeatable whatever the request order."""
        if self.settings.seed is not None:
            return random.Random(f"{self.settings.seed}:{key}").random() < rate
        with self._lock:
            return self._rng.random() < rate

    def register(self, kind: str, request_type: type[AgencyRequest], decide: Decide) -> None:
        """How the agency decides ``kind`` (the immediate form's function)."""
        self._deciders[kind] = (request_type, decide)

    def is_async(self, agency: str) -> bool:
        slug = agency.replace("_", "-")
        return self.settings.form(slug) is DecisionForm.ASYNC

    def accept(
        self, ledger: Ledger, agency: str, kind: str, idempotency_key: str, request: AgencyRequest
    ) -> dict[str, Any]:
        """Keep the request to decide later; the 202 body (stored and replayed by key)."""
        delay = decision_delay(self.settings, self._calendar)
        verify = self._draw(self.settings.verification_rate, f"verify:{idempotency_key}")
        receipt_number = ledger.add_receipt(
            agency,
            kind,
            request.dossier_reference,
            idempotency_key,
            request.model_dump(mode="json"),
            time.time() + delay,
            verify,
        )
        expected = datetime.now(UTC) + timedelta(seconds=delay * (2 if verify else 1))
        receipt = AgencyReceipt(
            dossier_reference=request.dossier_reference,
            receipt_number=receipt_number,
            expected_decision_at=expected,
        )
        return receipt.model_dump(mode="json")

    # The decider -------------------------------------------------------------------------

    def run_due(self) -> int:
        """Decide every due receipt and call back; how many notices were made."""
        made = 0
        for pending in self._store.due_receipts(time.time()):
            notice = self._store.decide_receipt(
                pending.agency,
                pending.receipt_number,
                lambda ledger, p=pending: self._decide(ledger, p),  # type: ignore[misc]
                time.time() + decision_delay(self.settings, self._calendar),
            )
            if notice is not None:
                made += 1
                self._call_back(pending, notice)
        return made

    def _decide(self, ledger: Ledger, pending: PendingReceipt) -> tuple[str, dict[str, Any]]:
        now = datetime.now(UTC)
        if pending.verify and pending.outcome == DecisionOutcome.PENDING.value:
            outcome = DecisionOutcome.VERIFICATION_NEEDED
            notice = self._notice(pending, outcome, now, reason=VERIFICATION_REASON)
            return outcome.value, notice
        request_type, decide = self._deciders[pending.kind]
        request = request_type.model_validate(pending.request)
        try:
            reference, result = decide(ledger, request)
        except ProblemError as problem:
            if problem.status_code != DECISION_STATUS:
                raise
            refused = problem.problem.outcome is ProblemOutcome.REFUSED
            outcome = DecisionOutcome.REFUSED if refused else DecisionOutcome.SUPPLEMENT_REQUIRED
            notice = self._notice(
                pending,
                outcome,
                now,
                reason=problem.problem.reason,
                missing_items=problem.problem.missing_items,
            )
            return outcome.value, notice
        body = result.model_dump(mode="json")
        ledger.record(
            pending.agency,
            pending.kind,
            pending.dossier_reference,
            pending.idempotency_key,
            reference,
            body,
        )
        return DecisionOutcome.GRANTED.value, self._notice(
            pending, DecisionOutcome.GRANTED, now, result=body
        )

    @staticmethod
    def _notice(
        pending: PendingReceipt, outcome: DecisionOutcome, now: datetime, **fields: Any
    ) -> dict[str, Any]:
        notice = DecisionNotice(
            receipt_number=pending.receipt_number,
            dossier_reference=pending.dossier_reference,
            outcome=outcome,
            decided_at=now,
            **fields,
        )
        return notice.model_dump(mode="json")

    def _call_back(self, pending: PendingReceipt, notice: dict[str, Any]) -> None:
        """POST the signed notice to the caller, unless this callback is to be lost."""
        root = self.settings.callback_url
        if not root:
            return
        lose = f"lose:{pending.idempotency_key}:{notice['outcome']}"
        if self._draw(self.settings.callback_loss_rate, lose):
            self.stats["callbacks_lost"] += 1
            return
        slug = pending.agency.replace("_", "-")
        self._send(
            Callback(
                url=f"{root.rstrip('/')}{CALLBACK_PATH}/{slug}",
                agency=pending.agency,
                event_id=f"{notice['receipt_number']}-{notice['outcome']}",
                body=json.dumps(notice).encode(),
            )
        )

    def _send(self, callback: Callback) -> None:
        """One attempt, signed afresh; a refusal to accept it is tried again later."""
        secret = self._secrets[callback.agency]
        headers = signed_headers([secret], callback.event_id, int(time.time()), callback.body)
        try:
            response = httpx.post(
                callback.url,
                content=callback.body,
                headers={**headers, "Content-Type": "application/json"},
                timeout=5.0,
            )
        except httpx.HTTPError as exc:
            logger.warning("callback %s failed: %s", callback.event_id, exc)
            self._again(callback, "unreachable")
            return
        self.stats[f"callbacks_{response.status_code}"] += 1
        if response.status_code in RETRIED_STATUSES:
            self._again(callback, str(response.status_code))

    def _again(self, callback: Callback, why: str) -> None:
        """Schedule the next attempt, or give up (the caller polls, as for a lost one)."""
        if callback.attempt >= self.settings.callback_attempts:
            logger.warning(
                "callback %s given up after %d attempts (%s)",
                callback.event_id,
                callback.attempt,
                why,
            )
            self.stats["callbacks_failed"] += 1
            return
        self.stats["callbacks_retried"] += 1
        backoff = self.settings.callback_backoff_seconds * 2 ** (callback.attempt - 1)
        following = Callback(
            callback.url, callback.agency, callback.event_id, callback.body, callback.attempt + 1
        )
        heapq.heappush(self._retries, (time.time() + backoff, next(self._order), following))

    def send_due_retries(self) -> int:
        """Send every callback whose next attempt is due; how many were sent."""
        sent = 0
        while self._retries and self._retries[0][0] <= time.time():
            _, _, callback = heapq.heappop(self._retries)
            self._send(callback)
            sent += 1
        return sent

    # The ticker --------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._tick, name="simulator-decider", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self._thread = None

    def _tick(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            try:
                self.run_due()
                self.send_due_retries()
            except Exception:
                logger.exception("the simulator's decider failed; trying again")


def build_status_router(store: SimulatorStore, api_key: str, agency: Agency) -> APIRouter:
    """``GET /receipts/{receipt_number}``: the latest notice on a receipt (polling)."""
    router = agency_router(api_key, agency_slug(agency))

    @router.get("/receipts/{receipt_number}", response_model=DecisionNotice)
    async def receipt_status(receipt_number: str) -> dict[str, Any]:
        notice = await run_in_threadpool(store.receipt_notice, agency.value, receipt_number)
        if notice is None:
            raise ProblemError(
                404, ProblemOutcome.INVALID_REQUEST, f"no receipt {receipt_number!r}"
            )
        return notice

    return router
