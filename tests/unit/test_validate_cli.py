from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lienthong.cli import validate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(*files: Path) -> int:
    parser = argparse.ArgumentParser(prog="lienthong")
    validate.register(parser.add_subparsers(required=True))
    args = parser.parse_args(["validate", *map(str, files)])
    result: int = args.func(args)
    return result


def test_valid_files_print_ok_and_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    status = run(EXAMPLES / "birth-valid.json", EXAMPLES / "death-valid-scope4.json")
    out = capsys.readouterr().out
    assert status == 0
    assert "OK HT-2026-000123 (birth)" in out
    assert "OK HT-2026-000204 (death)" in out
    assert "late filing" not in out


def test_a_late_filing_is_flagged_but_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(EXAMPLES / "demo" / "HT-2026-001004.json") == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{EXAMPLES / 'demo' / 'HT-2026-001004.json'}: OK HT-2026-001004 (birth)",
        "  late filing: received 70 days after the birth; "
        "a birth must be registered within 60 days",
    ]


def test_every_problem_is_listed_and_exit_is_1(capsys: pytest.CaptureFixture[str]) -> None:
    invalid = EXAMPLES / "invalid" / "future-date.json"
    status = run(EXAMPLES / "birth-valid.json", invalid)
    lines = capsys.readouterr().out.splitlines()
    assert status == 1
    assert f"{invalid}: INVALID (2 problems)" in lines
    assert any(line.startswith("  child.date_of_birth: 2026-12-01 is in") for line in lines)
    assert any(line.startswith("  medical_birth_certificate.issued_on: ") for line in lines)


def test_unreadable_files_count_as_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert run(broken, tmp_path / "missing.json") == 1
    out = capsys.readouterr().out
    assert f"{broken}: UNREADABLE" in out
    assert "not valid JSON" in out
    assert "no such file" in out


def test_every_shipped_example_gets_the_expected_verdict() -> None:
    valid = [*EXAMPLES.glob("*.json"), *(EXAMPLES / "demo").glob("*.json")]
    assert run(*valid) == 0
    for path in (EXAMPLES / "invalid").glob("*.json"):
        assert run(path) == 1, path.name


def test_a_dossier_received_in_the_future_is_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads((EXAMPLES / "birth-valid.json").read_text(encoding="utf-8"))
    data["received_at"] = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    future = tmp_path / "future-received.json"
    future.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    assert run(future) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{future}: INVALID (1 problem)"
    assert lines[1].startswith(f"  received_at: {data['received_at']} is in the future")


def test_dev_zero_stops_at_the_size_limit(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(Path("/dev/zero")) == 1
    assert capsys.readouterr().out.splitlines() == [
        "/dev/zero: UNREADABLE",
        "  /dev/zero: larger than 262144 bytes, the limit for a dossier file "
        "(LIENTHONG_LIMITS__MAX_DOSSIER_BYTES); a dossier is a few kilobytes",
    ]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("[" * 100_000 + "]" * 100_000, "  extra" + "[0]" * 7 + ": nests objects and arrays"),
        ("NaN", "  extra: is not a known field"),
        ('"\\u0000\\ud800"', "  extra: is not a known field"),
    ],
)
def test_hostile_json_is_invalid_with_its_reason_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, expected: str
) -> None:
    text = (EXAMPLES / "birth-valid.json").read_text(encoding="utf-8")
    hostile = tmp_path / "hostile.json"
    hostile.write_text(text.replace("{", '{"extra": ' + extra + ",", 1), encoding="utf-8")
    assert run(hostile) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{hostile}: INVALID (1 problem)"
    assert lines[1].startswith(expected)
