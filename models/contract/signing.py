"""Webhook signatures, both ways: the Standard Webhooks specification (standardwebhooks.com).

Every webhook we send (notifications to agencies, the commune and the province, the audit
anchor) and every decision callback an agency sends us carries three headers:

- ``webhook-id``: the message's id, the same on every attempt (receivers drop repeats);
- ``webhook-timestamp``: unix seconds when this attempt was signed;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``, several
  space-separated when the sender signs with several secrets (rotation).

Secrets are written ``whsec_<base64 of the key>``. The signature itself is computed by the
``standardwebhooks`` package (the reference implementation), so an agency verifies ours,
and signs its callbacks, with any Standard Webhooks library in its own language.

Rotation: a party holds its newest secret and, for a while, the previous ones. A sender
signs with every active secret (newest first), so a receiver that still has only the old
one verifies too; a receiver accepts a signature made with any of its active secrets.
Signing the id and the timestamp lets a receiver refuse a stale request (outside the
tolerance) and a captured one replayed under a new id; a repeated id is the receiver's
to refuse (it remembers the ids it has seen for longer than the tolerance).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
# Ours are UUIDs; a sender's may be any such token (no '.', which separates the signed parts).
EVENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")


class InvalidSignature(Exception):
    """The request is not provably from the holder of a secret, or it is stale."""


def secret_key(secret: str) -> bytes:
    """The key of a ``whsec_<base64>`` secret; ``ValueError`` for any other form."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret is written {SECRET_PREFIX}<base64>")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError(f"a webhook secret is written {SECRET_PREFIX}<base64>") from None
    if len(key) < 16:
        raise ValueError("a webhook secret's key must be at least 16 bytes")
    return key


def webhook_secret(key: bytes) -> str:
    """``key`` written as a secret: ``whsec_<base64>``."""
    return SECRET_PREFIX + base64.b64encode(key).decode()


def _signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature, by the reference implementation."""
    return Webhook(secret_key(secret)).sign(
        event_id, datetime.fromtimestamp(timestamp, UTC), body.decode("utf-8")
    )


def signed_headers(
    secrets: Sequence[str], event_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three headers for ``body``, signed with each of ``secrets`` (newest first).

    Raises ``ValueError`` for no secret, a malformed one, an event id that does not match
    :data:`EVENT_ID_PATTERN`, or a body that is not UTF-8 (webhook bodies are JSON).
    """
    if not secrets:
        raise ValueError("no secret to sign with")
    if not EVENT_ID_PATTERN.fullmatch(event_id):
        raise ValueError(f"event id {event_id!r} must be 1-128 letters, digits, '-' or '_'")
    signatures = " ".join(_signature(s, event_id, timestamp, body) for s in secrets)
    return {ID_HEADER: event_id, TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signatures}


def _offered(signature_header: str) -> list[bytes]:
    """The ``v1`` signatures in the header, decoded; other versions and junk are skipped."""
    found = []
    for item in signature_header.split(" ")[:16]:
        version, _, encoded = item.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except binascii.Error:
            continue
    return found


def verify(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> str:
    """The message's id, if one of its signatures was made with one of ``secrets`` over its
    id, timestamp and body, and its timestamp is within ``tolerance_seconds`` of ``now``
    (either side, to absorb clock skew). Raises :class:`InvalidSignature` otherwise.

    ``headers`` is any mapping with the three headers (Starlette's are case-insensitive).
    """
    event_id = headers.get(ID_HEADER)
    timestamp_header = headers.get(TIMESTAMP_HEADER)
    signature_header = headers.get(SIGNATURE_HEADER)
    if not event_id or not timestamp_header or not signature_header:
        raise InvalidSignature(
            f"missing {ID_HEADER}, {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header"
        )
    if not timestamp_header.isascii() or not timestamp_header.isdigit():
        raise InvalidSignature(f"{TIMESTAMP_HEADER} is not unix seconds")
    timestamp = int(timestamp_header)
    if not EVENT_ID_PATTERN.fullmatch(event_id):
        raise InvalidSignature(f"{ID_HEADER} is not 1-128 letters, digits, '-' or '_'")
    if abs(now - timestamp) > tolerance_seconds:
        raise InvalidSignature(f"{TIMESTAMP_HEADER} outside the tolerance window")
    try:
        expected = [
            base64.b64decode(_signature(s, event_id, timestamp, body).partition(",")[2])
            for s in secrets
        ]
    except UnicodeDecodeError:
        raise InvalidSignature("the body is not UTF-8") from None
    offered = _offered(signature_header)
    if not any(hmac.compare_digest(e, o) for e in expected for o in offered):
        raise InvalidSignature("no signature matches")
    return event_id
