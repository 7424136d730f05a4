"""The HTTP conventions of the agency contract (docs/agency-api.md), written once.

Our agency clients (``lienthong.adapters.agency_http``) and the simulator's agencies
(``lienthong.simulator``) both speak them: headers, the status of a decision, the URL slug of
each agency, and where the simulator serves each agency with which development credentials
(the defaults of ``lienthong.settings``).
"""

from __future__ import annotations

from typing import NamedTuple

from lienthong.models.contract.signing import webhook_secret
from lienthong.models.status import Agency

# Every call carries the agency's API key (401 without it).
API_KEY_HEADER = "X-API-Key"
# Every POST carries a key derived from dossier and step (400 without it); the agency replays
# its first answer to a repeated key and marks the replay with REPLAYED_HEADER: "true".
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# A decision (refusal or request for supplementation), with an AgencyProblem body.
DECISION_STATUS = 422

# The simulator: one process, every agency under /<slug>, a webhook receiver per agency
# (the commune's too) under /webhooks/<slug>.
DEFAULT_SIMULATOR_HOST = "127.0.0.1"
DEFAULT_SIMULATOR_PORT = 8765
WEBHOOKS_PREFIX = "/webhooks"


# Who only receives notices: the commune, and the province (escalations).
NOTICE_RECEIVERS = (Agency.COMMUNE, Agency.PROVINCE)
# The agencies whose systems we call.
CALLED_AGENCIES = tuple(agency for agency in Agency if agency not in NOTICE_RECEIVERS)


def agency_slug(agency: Agency) -> str:
    """URL segment of an agency: ``social_insurance`` -> ``social-insurance``."""
    return agency.value.replace("_", "-")


class EndpointUrls(NamedTuple):
    """Where an agency is called, and where it is notified."""

    base_url: str
    webhook_url: str


def simulator_urls(root_url: str, agency: Agency) -> EndpointUrls:
    """``agency``'s URLs on a simulator serving at ``root_url`` (``http://host:port``)."""
    root = root_url.rstrip("/")
    slug = agency_slug(agency)
    return EndpointUrls(f"{root}/{slug}", f"{root}{WEBHOOKS_PREFIX}/{slug}")


def development_api_key(agency: Agency) -> str:
    """The API key the simulator and our default settings share: ``dev-key-<slug>``."""
    return f"dev-key-{agency_slug(agency)}"


def development_webhook_secret(agency: Agency) -> str:
    """The webhook secret of the defaults: the key ``dev-webhook-secret-<slug>``, written
    ``whsec_<base64>`` as Standard Webhooks secrets are."""
    return webhook_secret(f"dev-webhook-secret-{agency_slug(agency)}".encode())
