"""Reading dossiers (and supplements) from JSON files, as operators hand them to the CLI.

A file is read in bounded chunks and refused past ``max_bytes`` (``lienthong validate
/dev/zero`` stops there), and objects or arrays nested deeper than one level past the
limit are emptied before parsing, so Python's JSON parser never recurses deep enough to fail:
what the file holds still reaches validation, which reports the nesting and stores the
dossier as rejected.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, BinaryIO

from lienthong.settings import LimitSettings

_CHUNK_BYTES = 64 * 1024
# A JSON string (its escapes included) or a bracket: the only tokens that matter for depth.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_EMPTY = {"[": "[]", "{": "{}"}


class DossierFileError(ValueError):
    """A dossier file that cannot be read as a JSON object."""


def _read_bounded(stream: BinaryIO, max_bytes: int, name: Path) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise DossierFileError(
                f"{name}: larger than {max_bytes} bytes, the limit for a dossier file "
                "(LIENTHONG_LIMITS__MAX_DOSSIER_BYTES); a dossier is a few kilobytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def cut_nesting(text: str, max_depth: int) -> str:
    """``text`` with every object or array deeper than ``max_depth`` levels made empty.

    The top-level value is level 1. Valid JSON stays valid JSON; invalid JSON stays invalid.
    """
    pieces: list[str] = []
    depth = 0
    kept_until = 0  # text[:kept_until] is copied or replaced already
    cut_from: int | None = None
    for token in _TOKEN.finditer(text):
        bracket = token.group()
        if bracket in _EMPTY:
            depth += 1
            if depth == max_depth + 1 and cut_from is None:
                cut_from = token.start()
                pieces += [text[kept_until:cut_from], _EMPTY[bracket]]
        elif bracket in ("]", "}"):
            if depth == max_depth + 1 and cut_from is not None:
                kept_until = token.end()
                cut_from = None
            depth -= 1
    if cut_from is not None:  # unbalanced: leave it for the parser to report
        return text
    return "".join([*pieces, text[kept_until:]])


def load_dossier_file(
    path: str | os.PathLike[str], limits: LimitSettings | None = None
) -> dict[str, Any]:
    """Read one dossier file; raise :class:`DossierFileError` with a readable reason."""
    limits = limits or LimitSettings()
    file = Path(path)
    try:
        with file.open("rb") as stream:
            content = _read_bounded(stream, limits.max_dossier_bytes, file)
    except FileNotFoundError as exc:
        raise DossierFileError(f"{file}: no such file") from exc
    except OSError as exc:
        raise DossierFileError(f"{file}: cannot be read ({exc.strerror or exc})") from exc
    try:
        # utf-8-sig: tolerate the byte-order mark some Windows editors write.
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DossierFileError(f"{file}: not UTF-8 text") from exc
    try:
        data = json.loads(cut_nesting(text, limits.max_nesting + 1))
    except json.JSONDecodeError as exc:
        raise DossierFileError(
            f"{file}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    except ValueError as exc:  # an integer of more than 4300 digits
        raise DossierFileError(f"{file}: not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise DossierFileError(f"{file}: must contain one JSON object, not {type(data).__name__}")
    return data
