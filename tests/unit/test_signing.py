"""Webhook signatures are Standard Webhooks: what we sign, the reference package verifies,
and what it signs, we verify; rotation, staleness and tampering."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from lienthong.models.contract.signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    InvalidSignature,
    secret_key,
    signed_headers,
    verify,
    webhook_secret,
)

SECRET = webhook_secret(b"police-secret-key-0123456789")
NEWER = webhook_secret(b"police-rotated-key-9876543210")
BODY = b'{"dossier":"HS-1","status":"succeeded"}'
NOW = 1_750_000_000
EVENT = "evt-1"


def test_round_trip() -> None:
    headers = signed_headers([SECRET], EVENT, NOW, BODY)

    assert verify([SECRET], headers, BODY, now=NOW + 10) == EVENT
    assert headers[ID_HEADER] == EVENT
    assert headers[TIMESTAMP_HEADER] == str(NOW)
    assert headers[SIGNATURE_HEADER].startswith("v1,")


def test_the_signature_is_hmac_sha256_of_id_dot_timestamp_dot_body_in_base64() -> None:
    key = secret_key(SECRET)
    digest = hmac.new(key, f"{EVENT}.{NOW}.".encode() + BODY, hashlib.sha256).digest()

    signature = signed_headers([SECRET], EVENT, NOW, BODY)[SIGNATURE_HEADER]

    assert signature == "v1," + base64.b64encode(digest).decode()


def test_the_reference_package_verifies_what_we_sign() -> None:
    headers = signed_headers([SECRET], EVENT, NOW, BODY)
    receiver = Webhook(SECRET)

    # The package checks the timestamp against its own clock: sign a fresh one.
    fresh = signed_headers([SECRET], EVENT, int(datetime.now(UTC).timestamp()), BODY)
    assert receiver.verify(BODY, fresh) == {"dossier": "HS-1", "status": "succeeded"}
    with pytest.raises(WebhookVerificationError):
        receiver.verify(BODY, headers)  # stale to the package too


def test_we_verify_what_the_reference_package_signs() -> None:
    signature = Webhook(SECRET).sign(EVENT, datetime.fromtimestamp(NOW, UTC), BODY.decode())
    headers = {ID_HEADER: EVENT, TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: signature}

    assert verify([SECRET], headers, BODY, now=NOW) == EVENT


def test_rotation_signs_with_every_active_secret_and_accepts_either() -> None:
    headers = signed_headers([NEWER, SECRET], EVENT, NOW, BODY)

    assert len(headers[SIGNATURE_HEADER].split(" ")) == 2
    # A receiver still on the old secret, one on the new, and one holding both all verify.
    for secrets in ([SECRET], [NEWER], [NEWER, SECRET]):
        assert verify(secrets, headers, BODY, now=NOW) == EVENT
    # Signed with the new one only, a receiver with both verifies; one with the old does not.
    only_new = signed_headers([NEWER], EVENT, NOW, BODY)
    assert verify([NEWER, SECRET], only_new, BODY, now=NOW) == EVENT
    with pytest.raises(InvalidSignature):
        verify([SECRET], only_new, BODY, now=NOW)


def test_a_signature_does_not_move_to_another_id() -> None:
    headers = {**signed_headers([SECRET], EVENT, NOW, BODY), ID_HEADER: "evt-2"}

    with pytest.raises(InvalidSignature, match="no signature matches"):
        verify([SECRET], headers, BODY, now=NOW)


def test_a_tampered_body_is_refused() -> None:
    headers = signed_headers([SECRET], EVENT, NOW, BODY)

    with pytest.raises(InvalidSignature):
        verify([SECRET], headers, BODY.replace(b"HS-1", b"HS-2"), now=NOW)


def test_another_secret_is_refused() -> None:
    headers = signed_headers([NEWER], EVENT, NOW, BODY)

    with pytest.raises(InvalidSignature):
        verify([SECRET], headers, BODY, now=NOW)


@pytest.mark.parametrize("age", [301, -301, 10_000])
def test_stale_or_future_timestamps_are_refused(age: int) -> None:
    headers = signed_headers([SECRET], EVENT, NOW - age, BODY)

    with pytest.raises(InvalidSignature, match="tolerance"):
        verify([SECRET], headers, BODY, now=NOW)


def test_the_tolerance_edge_is_accepted() -> None:
    headers = signed_headers([SECRET], EVENT, NOW - 300, BODY)

    assert verify([SECRET], headers, BODY, now=NOW) == EVENT


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {ID_HEADER: EVENT, TIMESTAMP_HEADER: str(NOW)},
        {ID_HEADER: EVENT, TIMESTAMP_HEADER: "soon", SIGNATURE_HEADER: "v1,AAAA"},
        {ID_HEADER: EVENT, TIMESTAMP_HEADER: "١٢٣", SIGNATURE_HEADER: "v1,AAAA"},
        {ID_HEADER: "a.b", TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: "v1,AAAA"},
        {ID_HEADER: EVENT, TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: "v1"},
        {ID_HEADER: EVENT, TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: "v1,@@@ v2,x ,"},
    ],
)
def test_malformed_headers_are_refused_not_crashed_on(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidSignature):
        verify([SECRET], headers, BODY, now=NOW)


def test_a_body_that_is_not_utf8_is_refused() -> None:
    headers = signed_headers([SECRET], EVENT, NOW, BODY)

    with pytest.raises(InvalidSignature, match="UTF-8"):
        verify([SECRET], headers, b"\xff\xfe", now=NOW)


@pytest.mark.parametrize("secret", ["", "plain-text", "whsec_", "whsec_not base64!", "whsec_AAAA"])
def test_secrets_must_be_whsec_base64_of_a_long_enough_key(secret: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        secret_key(secret)


@pytest.mark.parametrize("event_id", ["", "a.b", "x" * 129, "evt 1"])
def test_we_never_sign_an_id_that_would_not_split_cleanly(event_id: str) -> None:
    with pytest.raises(ValueError, match="event id"):
        signed_headers([SECRET], event_id, NOW, BODY)
