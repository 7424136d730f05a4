"""Nothing handed in is lost (issue 10, point 2): every JSON object ends accepted or rejected
with its reasons, on SQLite and PostgreSQL through the real unit of work, and neither
``lienthong validate`` nor ``lienthong submit`` prints a traceback.

The generator is the chaos run's: valid dossiers, valid dossiers mutated (values replaced,
padded or removed, keys added), and hostile values anywhere (NaN, infinities, NUL, lone
surrogates, huge numbers and texts, nesting deep enough for RecursionError). Only a file
larger than the size limit may be turned away unread, and the CLI then says so.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from lienthong.adapters import tables
from lienthong.bootstrap import use_container
from lienthong.cli import main
from lienthong.models.dossier import REFERENCE_PATTERN
from lienthong.models.status import DossierStatus
from lienthong.services.container import Container
from tests.conftest import record_session
from tests.helpers import EXAMPLES, act_as

VALID = [
    json.loads(path.read_text(encoding="utf-8"))
    for path in sorted([*EXAMPLES.glob("*.json"), *(EXAMPLES / "demo").glob("*.json")])
]
HOSTILE_STRINGS = [
    "",
    " ",
    "\x00",
    "Nguyễn\x00An",
    "\ud800",
    "x\udfffy",
    "\u202eevil",
    "A" * 600,
    "B" * 100_000,
    "0" * 5000,
    " HT-2026-000001 ",
    " 2026-11-20 ",
    "2026-11-20T09:30:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    " female ",
    " birth ",
    "NaN",
]
HOSTILE_NUMBERS: list[Any] = [
    float("nan"),
    float("inf"),
    float("-inf"),
    -1,
    2.0,
    1e308,
    10**20,
    10**400,
    1763863200,
    True,
    None,
]
_DEEP = re.compile(r'"__deep_(\d+)__"')

leaves = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.sampled_from(HOSTILE_NUMBERS),
    st.text(max_size=12),
    st.integers(),
    st.floats(),
    st.integers(min_value=9, max_value=5000).map(lambda depth: f"__deep_{depth}__"),
)
keys = st.one_of(st.text(max_size=8), st.sampled_from(HOSTILE_STRINGS))
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated_dossiers(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        slots = [(data, key) for key in data] + [
            (section, key)
            for section in data.values()
            if isinstance(section, dict)
            for key in section
        ]
        holder, key = slots[draw(st.integers(min_value=0, max_value=len(slots) - 1))]
        action = draw(st.sampled_from(["replace", "remove", "pad", "add"]))
        if action == "replace":
            holder[key] = draw(values)
        elif action == "remove":
            del holder[key]
        elif action == "pad" and isinstance(holder[key], str):
            holder[key] = draw(st.sampled_from([" ", "\t", "\n", "\u00a0"])) + holder[key] + " "
        else:
            holder[draw(keys)] = draw(values)
    return data


json_objects = st.one_of(
    st.sampled_from(VALID).map(copy.deepcopy),
    mutated_dossiers(),
    st.dictionaries(keys, values, max_size=4),
)

_serial = itertools.count(1)


def as_file(data: dict[str, Any], folder: Path) -> Path:
    """Write ``data`` as the JSON text an outsider might send (NaN and lone surrogates as
    Python's json writes them; ``__deep_N__`` as N nested arrays), with a fresh reference."""
    number = next(_serial)
    reference = data.get("reference")
    if isinstance(reference, str) and REFERENCE_PATTERN.fullmatch(reference.strip()):
        fresh = f"HT-2026-{900000 + number:08d}"
        data = {**data, "reference": reference.replace(reference.strip(), fresh)}
    text = _DEEP.sub(lambda m: "[" * int(m[1]) + "]" * int(m[1]), json.dumps(data))
    path = folder / f"dossier-{number}.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def cli_on(container: Container, monkeypatch: pytest.MonkeyPatch) -> Iterator[Container]:
    """The CLI's commands on the test database."""
    with record_session(container) as session:
        url = session.get_bind().engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", url)
    act_as(container, monkeypatch)
    with use_container(container):
        yield container


def check_ends_on_record(
    container: Container, path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``validate`` and ``submit`` on ``path``: kept accepted or rejected with reasons."""
    too_large = path.stat().st_size > container.settings.limits.max_dossier_bytes
    verdict = main(["validate", str(path)])
    validated = capsys.readouterr()
    assert validated.err == ""
    first = validated.out.splitlines()[0]
    if too_large:
        assert (verdict, first) == (1, f"{path}: UNREADABLE")
        assert "larger than" in validated.out
        return
    assert first.startswith((f"{path}: OK", f"{path}: INVALID")), validated.out

    main(["submit", "--no-run", str(path)])
    submitted = capsys.readouterr()
    assert "Traceback" not in submitted.err
    received = re.match(r"(Đã tiếp nhận|KHÔNG TIẾP NHẬN)  ([A-Z0-9-]+)", submitted.out)
    assert received, (submitted.out, submitted.err)
    with record_session(container) as session:
        row = session.scalars(
            select(tables.Dossier).where(tables.Dossier.reference == received[2])
        ).one()
    if received[1] == "Đã tiếp nhận":
        # Held: a copy of an example on record already, a potential duplicate.
        assert row.status in (DossierStatus.RECEIVED, DossierStatus.HELD)
        assert first.startswith(f"{path}: OK")
    else:
        assert row.status == DossierStatus.REJECTED
        assert row.rejection_reasons
        assert first.startswith(f"{path}: INVALID")
        json.dumps(row.payload, allow_nan=False)


# The cases the chaos run lost or crashed on, each named once.
_BIRTH = VALID[0]
NAMED_CASES: dict[str, dict[str, Any]] = {
    "reference padded, dossier invalid": {
        **_BIRTH,
        "reference": f"  {_BIRTH['reference']} ",
        "residence": None,
    },
    "NaN": {**_BIRTH, "extra": float("nan")},
    "Infinity": {**_BIRTH, "chain_opt_in": float("inf")},
    "NUL": {**_BIRTH, "child": {**_BIRTH["child"], "place_of_birth": "a\x00b"}},
    "NUL in a key": {**_BIRTH, "\x00": 1},
    "lone surrogate": {**_BIRTH, "child": {**_BIRTH["child"], "ethnicity": "\ud800"}},
    "nesting for RecursionError": {**_BIRTH, "extra": "__deep_100000__"},
    "integer datetime": {**_BIRTH, "received_at": 1763863200},
    "year 1 with an offset": {**_BIRTH, "received_at": "0001-01-01T00:00:00+14:00"},
    "ten megabyte name": {**_BIRTH, "child": {**_BIRTH["child"], "full_name": "A" * 200_000}},
}


@pytest.mark.parametrize("case", NAMED_CASES)
def test_each_case_of_the_chaos_run_ends_on_record(
    cli_on: Container, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    check_ends_on_record(cli_on, as_file(NAMED_CASES[case], tmp_path), capsys)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=json_objects)
def test_every_json_object_ends_accepted_or_rejected_with_reasons(
    cli_on: Container, tmp_path: Path, capsys: pytest.CaptureFixture[str], data: dict[str, Any]
) -> None:
    check_ends_on_record(cli_on, as_file(data, tmp_path), capsys)
