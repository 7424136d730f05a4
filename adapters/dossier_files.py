"""Reading dossiers (and supplements) from JSON files, as operators hand them to the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class DossierFileError(ValueError):
    """A dossier file that cannot be read as a JSON object."""


def load_dossier_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read one dossier file; raise :class:`DossierFileError` with a readable reason."""
    file = Path(path)
    try:
        # utf-8-sig: tolerate the byte-order mark some Windows editors write.
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise DossierFileError(f"{file}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise DossierFileError(f"{file}: not UTF-8 text") from exc
    except OSError as exc:
        raise DossierFileError(f"{file}: cannot be read ({exc.strerror or exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DossierFileError(
            f"{file}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    if not isinstance(data, dict):
        raise DossierFileError(f"{file}: must contain one JSON object, not {type(data).__name__}")
    return data
