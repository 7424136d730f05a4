"""Webhook signatures: what the notifier signs, the receiver verifies."""

from __future__ import annotations

import pytest

from adapters.signing import InvalidSignature, sign, signed_headers, verify

SECRET = "dev-webhook-secret-police"
BODY = b'{"dossier":"HS-1","status":"succeeded"}'
NOW = 1_750_000_000


def test_round_trip() -> None:
    headers = signed_headers(SECRET, "evt-1", NOW, BODY)

    verify(
        SECRET,
        headers["X-Lienthong-Timestamp"],
        headers["X-Lienthong-Signature"],
        BODY,
        now=NOW + 10,
    )
    assert headers["X-Lienthong-Signature"].startswith("sha256=")
    assert headers["X-Lienthong-Event-Id"] == "evt-1"


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"sha256={expected}"


def test_tampered_body_is_rejected() -> None:
    signature = sign(SECRET, NOW, BODY)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(SECRET, str(NOW), signature, BODY.replace(b"HS-1", b"HS-2"), now=NOW)


def test_wrong_secret_is_rejected() -> None:
    signature = sign("someone-else", NOW, BODY)
    with pytest.raises(InvalidSignature):
        verify(SECRET, str(NOW), signature, BODY, now=NOW)


def test_timestamp_cannot_be_moved_without_breaking_the_signature() -> None:
    signature = sign(SECRET, NOW - 3600, BODY)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(SECRET, str(NOW), signature, BODY, now=NOW)


@pytest.mark.parametrize("age", [301, 3600, -301])
def test_stale_or_future_timestamp_is_rejected(age: int) -> None:
    signature = sign(SECRET, NOW - age, BODY)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify(SECRET, str(NOW - age), signature, BODY, now=NOW)


def test_five_minutes_old_is_still_accepted() -> None:
    verify(SECRET, str(NOW - 300), sign(SECRET, NOW - 300, BODY), BODY, now=NOW)


@pytest.mark.parametrize(("timestamp", "signature"), [(None, "sha256=00"), ("x", "sha256=00")])
def test_missing_or_malformed_headers_are_rejected(
    timestamp: str | None, signature: str | None
) -> None:
    with pytest.raises(InvalidSignature):
        verify(SECRET, timestamp, signature, BODY, now=NOW)
