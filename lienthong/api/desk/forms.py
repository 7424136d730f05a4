"""Posted forms, read defensively and checked against the session's CSRF token."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request

from lienthong.api.bodies import read_bounded
from lienthong.api.desk.session import CSRF_FIELD, Session
from lienthong.settings import LimitSettings

# More than any desk form has (a birth dossier has about 40 fields).
MAX_FIELDS = 200


class BadForm(ValueError):
    """A form the desk did not serve (no or wrong CSRF token), or one it cannot read: the
    desk answers 403 and changes nothing."""


async def posted_form(request: Request, session: Session, limits: LimitSettings) -> dict[str, str]:
    """The form's fields (the last value of a repeated name), once the CSRF token matches."""
    body = await read_bounded(request, limits.max_dossier_bytes)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadForm("Biểu mẫu không đọc được") from exc
    form = dict(pairs)
    if not session.token_matches(form.pop(CSRF_FIELD, None)):
        raise BadForm("Biểu mẫu đã hết hạn hoặc không phải của trang này: hãy tải lại trang")
    return form
