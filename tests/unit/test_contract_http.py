"""The HTTP contract's names and numbers, pinned to docs/agency-api.md.

Our clients and the simulator both take them from ``lienthong.models.contract.http``, so a
change there would pass every other test while breaking every real agency: it is pinned here.
"""

from __future__ import annotations

import base64

from lienthong.models.contract import http
from lienthong.models.status import Agency


def test_headers_and_decision_status_are_the_documented_ones() -> None:
    assert http.API_KEY_HEADER == "X-API-Key"
    assert http.IDEMPOTENCY_KEY_HEADER == "Idempotency-Key"
    assert http.REPLAYED_HEADER == "Idempotent-Replayed"
    assert http.DECISION_STATUS == 422


def test_slugs_urls_and_development_credentials() -> None:
    assert [http.agency_slug(a) for a in http.CALLED_AGENCIES] == [
        "justice",
        "police",
        "social-insurance",
        "social-affairs",
    ]
    urls = http.simulator_urls("http://127.0.0.1:8765/", Agency.SOCIAL_INSURANCE)
    assert urls.base_url == "http://127.0.0.1:8765/social-insurance"
    assert urls.webhook_url == "http://127.0.0.1:8765/webhooks/social-insurance"
    assert http.development_api_key(Agency.SOCIAL_AFFAIRS) == "dev-key-social-affairs"
    secret = http.development_webhook_secret(Agency.COMMUNE)
    assert secret == "whsec_" + base64.b64encode(b"dev-webhook-secret-commune").decode()
    assert http.DEFAULT_SIMULATOR_PORT == 8765
