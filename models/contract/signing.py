"""Webhook signatures: HMAC-SHA256 over ``f"{timestamp}.{event_id}.{body}"``, shared by sender
and receiver.

Signing the timestamp lets a receiver reject replays of an old, genuinely signed request
(older than the tolerance) as well as forgeries. Signing the event id stops a request
captured inside the tolerance window from being replayed under a new event id, which the
receiver's de-duplication would otherwise take for a new notification.

An event id is letters, digits, ``-`` and ``_`` (ours are UUIDs): with no ``.`` in it, the
signed message splits into timestamp, event id and body in exactly one way.
"""

from __future__ import annotations

import hashlib
import hmac
import re

EVENT_ID_HEADER = "X-Lienthong-Event-Id"
TIMESTAMP_HEADER = "X-Lienthong-Timestamp"
SIGNATURE_HEADER = "X-Lienthong-Signature"
SCHEME = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300
EVENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")


class InvalidSignature(Exception):
    """The request is not provably from the holder of the secret, or it is stale."""


def sign(secret: str, timestamp: int, event_id: str, body: bytes) -> str:
    """The ``X-Lienthong-Signature`` value: ``sha256=<hex digest>``.

    Raises ``ValueError`` for an event id that does not match :data:`EVENT_ID_PATTERN`.
    """
    if not EVENT_ID_PATTERN.fullmatch(event_id):
        raise ValueError(f"event id {event_id!r} must be 1-128 letters, digits, '-' or '_'")
    message = f"{timestamp}.{event_id}.".encode() + body
    return SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        EVENT_ID_HEADER: event_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, event_id, body),
    }


def verify(
    secret: str,
    timestamp_header: str | None,
    event_id_header: str | None,
    signature_header: str | None,
    body: bytes,
    *,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Raise :class:`InvalidSignature` unless the signature matches timestamp, event id and
    body, and the timestamp is within ``tolerance_seconds`` of ``now`` (either side, to
    absorb clock skew)."""
    if not timestamp_header or not event_id_header or not signature_header:
        raise InvalidSignature("missing timestamp, event id or signature header")
    try:
        timestamp = int(timestamp_header)
    except ValueError as exc:
        raise InvalidSignature("timestamp is not unix seconds") from exc
    if not EVENT_ID_PATTERN.fullmatch(event_id_header):
        raise InvalidSignature("event id is not 1-128 letters, digits, '-' or '_'")
    if abs(now - timestamp) > tolerance_seconds:
        raise InvalidSignature("timestamp outside the tolerance window")
    if not hmac.compare_digest(sign(secret, timestamp, event_id_header, body), signature_header):
        raise InvalidSignature("signature does not match")
