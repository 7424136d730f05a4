"""Webhook signatures: HMAC-SHA256 over ``f"{timestamp}.{body}"``, shared by sender and receiver.

Signing the timestamp with the body lets a receiver reject replays of an old, genuinely
signed request (older than the tolerance) as well as forgeries.
"""

from __future__ import annotations

import hashlib
import hmac

EVENT_ID_HEADER = "X-Lienthong-Event-Id"
TIMESTAMP_HEADER = "X-Lienthong-Timestamp"
SIGNATURE_HEADER = "X-Lienthong-Signature"
SCHEME = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300


class InvalidSignature(Exception):
    """The request is not provably from the holder of the secret, or it is stale."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Lienthong-Signature`` value: ``sha256=<hex digest>``."""
    message = f"{timestamp}.".encode() + body
    return SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        EVENT_ID_HEADER: event_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def verify(
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    *,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Raise :class:`InvalidSignature` unless the signature matches and the timestamp is
    within ``tolerance_seconds`` of ``now`` (either side, to absorb clock skew)."""
    if not timestamp_header or not signature_header:
        raise InvalidSignature("missing timestamp or signature header")
    try:
        timestamp = int(timestamp_header)
    except ValueError as exc:
        raise InvalidSignature("timestamp is not unix seconds") from exc
    if abs(now - timestamp) > tolerance_seconds:
        raise InvalidSignature("timestamp outside the tolerance window")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature_header):
        raise InvalidSignature("signature does not match")
