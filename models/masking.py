"""The one place that hides personal data before it reaches logs, run names or artifacts.

- ``mask_personal_id("001204012345") -> "001*******45"``: the province code (not personal on
  its own) and the last two digits stay, so an operator can tell two dossiers apart.
- ``mask_name("Nguyễn Văn An") -> "N*** V*** A***"``: each word keeps its initial and gets a
  fixed three stars, so the mask does not reveal how long the name is.
- ``scrub(text)`` masks every stand-alone run of 12 digits (personal ID), 10 digits (social
  insurance number, also the length of a phone number) or 9 digits (old CMND card) in free
  text. Dossier references (``HT-2026-000123``) are built never to contain such runs.
- ``excerpt(text)``: what may be quoted of an outsider's text (an agency's answer body) in a
  reason or a state message: scrubbed, invisible characters escaped, cut at 200 characters.
- :class:`PersonalDataFilter` applies ``scrub`` to whole log records. Attach it to *handlers*
  (``handler.addFilter(PersonalDataFilter())``): a filter on a logger does not see records
  propagated from its child loggers.
"""

from __future__ import annotations

import logging
import re
import unicodedata

PERSONAL_ID_LENGTH = 12
_KEPT_TAIL = 2
_NAME_STARS = "***"
_NUMBER_RUN = re.compile(r"(?<![0-9])(?:[0-9]{12}|[0-9]{10}|[0-9]{9})(?![0-9])")


def mask_personal_id(value: str) -> str:
    """Mask an ID number: keep a 12-digit number's province code and every number's last 2 digits.

    Anything shorter than 9 characters or not all digits is masked entirely: it is not a
    number we recognise, so we cannot tell which part is safe to show.
    """
    if not (value.isascii() and value.isdigit()) or len(value) < 9:
        return "*" * len(value)
    head = 3 if len(value) == PERSONAL_ID_LENGTH else 0
    hidden = len(value) - head - _KEPT_TAIL
    return value[:head] + "*" * hidden + value[-_KEPT_TAIL:]


def mask_name(name: str) -> str:
    """Keep each word's initial, replace the rest with three stars."""
    words = unicodedata.normalize("NFC", name).split()
    return " ".join(word[0] + _NAME_STARS for word in words)


def scrub(text: str) -> str:
    """Mask every 9-, 10- or 12-digit number standing alone in ``text``."""
    return _NUMBER_RUN.sub(lambda match: mask_personal_id(match.group()), text)


EXCERPT_LENGTH = 200


def excerpt(text: str, limit: int = EXCERPT_LENGTH) -> str:
    """``text`` fit to quote in a reason: scrubbed, one line, at most ``limit`` characters.

    Scrubbed before it is cut, so a number cut in half at the end cannot slip through.
    """
    scrubbed = scrub(text)
    cut = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in scrubbed[:limit])
    return cut + (f"… ({len(text)} characters in all)" if len(scrubbed) > limit else "")


class PersonalDataFilter(logging.Filter):
    """Scrub ID numbers from a log record's message, arguments, traceback and stack.

    The message is formatted here (``msg % args``) so numbers passed as arguments of any type
    are caught; ``args`` is then emptied so handlers do not format it a second time.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad format/args: keep the pieces, still hide the data
            message = f"{record.msg} {record.args}"
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


# Loggers whose handlers ship records to Prefect's API (shown in its UI) or the console.
PREFECT_LOGGERS = ("", "prefect", "prefect.flow_runs", "prefect.task_runs")


def protect_prefect_logs() -> None:
    """Scrub every record that Prefect's handlers send to its API or print.

    Prefect configures its own handlers when it is imported, so the filter is added to
    them (once) when a flow starts, in whatever process runs it.
    """
    for name in PREFECT_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, PersonalDataFilter) for f in handler.filters):
                handler.addFilter(PersonalDataFilter())
