"""The one exception tree every agency adapter raises.

::

    AgencyError                      anything that went wrong talking to an agency
    ├── TransientAgencyError         connection error, timeout, 429, 5xx: retry later
    ├── AgencyDecision               the agency decided; never retried, routed to a person
    │   ├── Refused                  refusal with its written reason
    │   └── SupplementRequired       the dossier must be supplemented (missing_items)
    ├── AgencyRequestRejected        our request is wrong or unauthorised (other 4xx): permanent
    └── AgencyProtocolError          a 2xx answer we cannot read: permanent, needs a developer

Only :class:`TransientAgencyError` is retried: by tenacity inside the adapter (quick and
bounded), then by Prefect task retries once the adapter gives up.
"""

from __future__ import annotations

from lienthong.models.status import Agency


class AgencyError(Exception):
    """Base class for every failure of a call to ``agency``."""

    def __init__(self, agency: Agency, message: str) -> None:
        super().__init__(f"{agency}: {message}")
        self.agency = agency
        self.message = message


class TransientAgencyError(AgencyError):
    """Worth retrying. ``retry_after`` is the agency's Retry-After in seconds, when it gave one."""

    def __init__(
        self,
        agency: Agency,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(agency, message)
        self.status_code = status_code
        self.retry_after = retry_after


class AgencyDecision(AgencyError):
    """The agency decided on the dossier. ``reason`` is its written reason."""

    def __init__(self, agency: Agency, reason: str) -> None:
        super().__init__(agency, reason)
        self.reason = reason


class Refused(AgencyDecision):
    """The agency refused the step."""


class SupplementRequired(AgencyDecision):
    """The agency needs more documents before it can decide (yêu cầu bổ sung)."""

    def __init__(self, agency: Agency, reason: str, missing_items: list[str]) -> None:
        super().__init__(agency, reason)
        self.missing_items = missing_items


class AgencyRequestRejected(AgencyError):
    """A 4xx that is not a decision: malformed request, bad API key, idempotency conflict."""

    def __init__(self, agency: Agency, message: str, *, status_code: int | None = None) -> None:
        super().__init__(agency, message)
        self.status_code = status_code


class AgencyProtocolError(AgencyError):
    """A success answer whose body does not match the contract."""
