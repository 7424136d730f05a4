"""The desk's session: a signed cookie naming the operator's client, and its CSRF token.

The cookie holds no secret and no personal data: the client's id, a random token that every
form must send back (synchronizer token: a form posted from another site cannot know it),
and the time it was issued (itsdangerous signs all three with HMAC; a changed or expired
cookie is no session). It is HttpOnly (no script reads it) and SameSite=Strict (no other
site's page sends it), Secure when the desk is served over HTTPS, and scoped to /desk.
Before login the session is anonymous: the login form is protected by its token too.
Each request reloads the client, so a revoked client's session ends at once.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "lienthong_desk"
PATH = "/desk"
CSRF_FIELD = "csrf"
_SALT = "lienthong-desk-session"


@dataclass(frozen=True)
class Session:
    csrf: str
    client_id: str | None = None
    """None before login."""

    def token_matches(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())


class Sessions:
    """Issue and read sessions signed with ``secret`` (a random one when empty)."""

    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret or secrets.token_hex(32), salt=_SALT)
        self.max_age_seconds = max_age_seconds

    def read(self, request: Request) -> Session | None:
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_seconds)
        except BadSignature:  # SignatureExpired included
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        client_id = data.get("client")
        return Session(data["csrf"], client_id if isinstance(client_id, str) else None)

    def anonymous(self, request: Request) -> Session:
        """The request's session if it has one, else a new anonymous one (for the login form)."""
        return self.read(request) or Session(secrets.token_urlsafe(32))

    def store(self, response: Response, session: Session, request: Request) -> None:
        value = self._serializer.dumps({"csrf": session.csrf, "client": session.client_id})
        response.set_cookie(
            COOKIE,
            value,
            max_age=self.max_age_seconds,
            path=PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    @staticmethod
    def logged_in(client_id: str) -> Session:
        """A new session (and a new CSRF token) for ``client_id``: never the login form's."""
        return Session(secrets.token_urlsafe(32), client_id)

    @staticmethod
    def clear(response: Response) -> None:
        response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")
