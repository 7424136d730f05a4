"""Client credentials: a random secret shown once, kept only as a salted scrypt hash.

A credential reads ``<client id>.<secret>`` (the ``Authorization: Bearer`` token). The hash
records its own parameters (``scrypt$<n>$<r>$<p>$<salt>$<digest>``, base64), so the cost
can be raised later without invalidating the secrets already issued; comparisons are
constant-time (hmac.compare_digest).

scrypt costs tens of milliseconds on purpose, too much for every request of a busy caller:
a secret once found to match a hash is remembered (its SHA-256, never the secret, with the
hash it matched) for the life of the process, the most recent few thousand. A rotated
secret has a new hash and a revoked client is refused before its secret is checked, so the
memory never outlives a credential.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_DIGEST_BYTES = 32
_SECRET_BYTES = 32
_ID_BYTES = 8
_REMEMBERED = 4096
_verified: OrderedDict[tuple[bytes, str], None] = OrderedDict()
_verified_lock = threading.Lock()


def new_client_id() -> str:
    return "lt" + secrets.token_hex(_ID_BYTES)


def new_secret() -> str:
    """256 random bits, URL-safe base64 (never a ``.``, which separates id and secret)."""
    return secrets.token_urlsafe(_SECRET_BYTES)


def credential(client_id: str, secret: str) -> str:
    return f"{client_id}.{secret}"


def split_credential(token: str) -> tuple[str, str] | None:
    client_id, dot, secret = token.partition(".")
    if not dot or not client_id or not secret:
        return None
    return client_id, secret


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _encoded(secret: str) -> bytes:
    return secret.encode("utf-8", "surrogatepass")


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        _encoded(secret),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r,
        dklen=_DIGEST_BYTES,
    )


def hash_secret(secret: str, n: int = SCRYPT_N) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(secret, salt, n, SCRYPT_R, SCRYPT_P)
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def secret_matches(secret: str, stored: str) -> bool:
    """Whether ``secret`` is the one ``stored`` was made from (constant-time)."""
    seen = (hashlib.sha256(_encoded(secret)).digest(), stored)
    with _verified_lock:
        if seen in _verified:
            _verified.move_to_end(seen)
            return True
    if not _scrypt_matches(secret, stored):
        return False
    with _verified_lock:
        _verified[seen] = None
        while len(_verified) > _REMEMBERED:
            _verified.popitem(last=False)
    return True


def _scrypt_matches(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = _scrypt(secret, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(candidate, base64.b64decode(digest))
    except ValueError:
        return False
