"""Webhook signatures: what the notifier signs, the receiver verifies."""

from __future__ import annotations

import pytest

from lienthong.models.contract.signing import InvalidSignature, sign, signed_headers, verify

SECRET = "dev-webhook-secret-police"
BODY = b'{"dossier":"HS-1","status":"succeeded"}'
NOW = 1_750_000_000
EVENT = "evt-1"


def test_round_trip() -> None:
    headers = signed_headers(SECRET, "evt-1", NOW, BODY)

    verify(
        SECRET,
        headers["X-Lienthong-Timestamp"],
        headers["X-Lienthong-Event-Id"],
        headers["X-Lienthong-Signature"],
        BODY,
        now=NOW + 10,
    )
    assert headers["X-Lienthong-Signature"].startswith("sha256=")
    assert headers["X-Lienthong-Event-Id"] == "evt-1"


def test_signature_is_hmac_sha256_of_timestamp_dot_event_id_dot_body() -> None:
    import hashlib
    import hmac

    message = f"{NOW}.{EVENT}.".encode() + BODY
    expected = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, EVENT, BODY) == f"sha256={expected}"


def test_a_new_event_id_breaks_the_signature() -> None:
    """A captured request replayed under a new event id is not a new notification."""
    signature = sign(SECRET, NOW, EVENT, BODY)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(SECRET, str(NOW), "evt-2", signature, BODY, now=NOW)


@pytest.mark.parametrize("event_id", ["evt.1", "", "evt 1", "é", "x" * 129])
def test_event_ids_that_could_blur_the_signed_message_are_refused(event_id: str) -> None:
    with pytest.raises(ValueError, match="event id"):
        sign(SECRET, NOW, event_id, BODY)
    with pytest.raises(InvalidSignature):
        verify(SECRET, str(NOW), event_id, "sha256=00", BODY, now=NOW)


def test_tampered_body_is_rejected() -> None:
    signature = sign(SECRET, NOW, EVENT, BODY)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(SECRET, str(NOW), EVENT, signature, BODY.replace(b"HS-1", b"HS-2"), now=NOW)


def test_wrong_secret_is_rejected() -> None:
    signature = sign("someone-else", NOW, EVENT, BODY)
    with pytest.raises(InvalidSignature):
        verify(SECRET, str(NOW), EVENT, signature, BODY, now=NOW)


def test_timestamp_cannot_be_moved_without_breaking_the_signature() -> None:
    signature = sign(SECRET, NOW - 3600, EVENT, BODY)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(SECRET, str(NOW), EVENT, signature, BODY, now=NOW)


@pytest.mark.parametrize("age", [301, 3600, -301])
def test_stale_or_future_timestamp_is_rejected(age: int) -> None:
    signature = sign(SECRET, NOW - age, EVENT, BODY)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify(SECRET, str(NOW - age), EVENT, signature, BODY, now=NOW)


def test_five_minutes_old_is_still_accepted() -> None:
    verify(SECRET, str(NOW - 300), EVENT, sign(SECRET, NOW - 300, EVENT, BODY), BODY, now=NOW)


@pytest.mark.parametrize(
    ("timestamp", "event_id", "signature"),
    [(None, EVENT, "sha256=00"), ("x", EVENT, "sha256=00"), (str(NOW), None, "sha256=00")],
)
def test_missing_or_malformed_headers_are_rejected(
    timestamp: str | None, event_id: str | None, signature: str | None
) -> None:
    with pytest.raises(InvalidSignature):
        verify(SECRET, timestamp, event_id, signature, BODY, now=NOW)
