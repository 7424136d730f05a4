"""Every problem the validation rules report reaches the operator in Vietnamese."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lienthong.models.dossier import DATE_MESSAGE
from lienthong.models.problem_wording import in_vietnamese, translated
from lienthong.models.validation import DossierInvalid, parse_dossier
from tests.helpers import EXAMPLES, example

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
INVALID = sorted(p.stem for p in (EXAMPLES / "invalid").glob("*.json"))


@pytest.mark.parametrize("name", INVALID)
def test_every_invalid_examples_problem_has_its_vietnamese_wording(name: str) -> None:
    with pytest.raises(DossierInvalid) as invalid:
        parse_dossier(example(f"invalid/{name}"), now=NOW)
    untranslated = [p.message for p in invalid.value.problems if not translated(p.message)]
    assert untranslated == []


def test_values_in_a_message_are_carried_over() -> None:
    assert (
        in_vietnamese("2026-12-01 is in the future: the dossier was received on 2026-11-20")
        == "2026-12-01 là ngày trong tương lai: hồ sơ được tiếp nhận ngày 2026-11-20"
    )
    assert in_vietnamese("must have 12 digits, not 9") == (
        "số định danh phải có 12 chữ số, không phải 9"
    )
    assert in_vietnamese(DATE_MESSAGE) == "phải là ngày có thật (ngày/tháng/năm)"


def test_a_wording_not_listed_is_shown_not_dropped() -> None:
    assert not translated("a rule added later")
    assert in_vietnamese("a rule added later") == "không hợp lệ (a rule added later)"
