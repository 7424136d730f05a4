from __future__ import annotations

import io
import logging
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lienthong.models.masking import PersonalDataFilter, mask_name, mask_personal_id, scrub

PERSONAL_ID = "001204012345"


def test_mask_personal_id_keeps_province_and_last_two_digits() -> None:
    assert mask_personal_id(PERSONAL_ID) == "001*******45"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("285104377", "*******77"),  # old CMND
        ("5801234567", "********67"),  # social insurance number
        ("12345", "*****"),
        ("not-an-id", "*********"),
        ("", ""),
    ],
)
def test_other_numbers_are_masked_too(value: str, masked: str) -> None:
    assert mask_personal_id(value) == masked


def test_mask_name_keeps_initials_and_hides_lengths() -> None:
    assert mask_name("Nguyễn Văn An") == "N*** V*** A***"
    assert mask_name(unicodedata.normalize("NFD", "Đặng  Ánh")) == "Đ*** Á***"
    assert mask_name("") == ""


def test_scrub_masks_ids_in_free_text_and_leaves_the_rest() -> None:
    text = (
        f"dossier HT-2026-000123: mother {PERSONAL_ID}, CMND 285104377, "
        "received 2026-11-20T09:15:00+07:00, 13-digit run 1234567890123"
    )
    assert scrub(text) == (
        "dossier HT-2026-000123: mother 001*******45, CMND *******77, "
        "received 2026-11-20T09:15:00+07:00, 13-digit run 1234567890123"
    )


@given(
    st.text("0123456789", min_size=12, max_size=12),
    st.text(alphabet=st.characters(blacklist_categories=["Nd"])),
    st.text(alphabet=st.characters(blacklist_categories=["Nd"])),
)
def test_scrub_never_lets_a_12_digit_id_through(number: str, before: str, after: str) -> None:
    scrubbed = scrub(before + number + after)
    assert number not in scrubbed
    assert number[:3] + "*******" + number[-2:] in scrubbed


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PersonalDataFilter())
    logger = logging.getLogger("test_masking")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_a_log_line_with_an_id_comes_out_masked(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    logger.info("registering birth for mother %s", PERSONAL_ID)
    logger.info(f"household head {PERSONAL_ID} consented")
    logger.info("as a number: %d", 285104377)
    logger.info("mapping args: %(id)s", {"id": PERSONAL_ID})
    assert stream.getvalue().splitlines() == [
        "registering birth for mother 001*******45",
        "household head 001*******45 consented",
        "as a number: *******77",
        "mapping args: 001*******45",
    ]


def test_tracebacks_are_scrubbed(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    try:
        raise ValueError(f"agency refused {PERSONAL_ID}")
    except ValueError:
        logger.exception("step failed")
    output = stream.getvalue()
    assert "ValueError: agency refused 001*******45" in output
    assert PERSONAL_ID not in output


def test_a_malformed_log_call_is_still_scrubbed(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    logger.info("two placeholders %s %s", PERSONAL_ID)
    assert PERSONAL_ID not in stream.getvalue()
    assert "001*******45" in stream.getvalue()


def test_prefect_handlers_scrub_ids_once_protected() -> None:
    from lienthong.models.masking import protect_prefect_logs

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # stands in for Prefect's API log handler
    logger = logging.getLogger("prefect.task_runs")
    logger.addHandler(handler)
    try:
        protect_prefect_logs()
        protect_prefect_logs()
        handler.handle(
            logger.makeRecord(
                logger.name, logging.INFO, __file__, 1, "child %s", ("001225012345",), None
            )
        )
    finally:
        logger.removeHandler(handler)
    assert sum(isinstance(f, PersonalDataFilter) for f in handler.filters) == 1
    assert "001225012345" not in stream.getvalue()
    assert "001*******45" in stream.getvalue()
