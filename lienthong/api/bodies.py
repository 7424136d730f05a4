"""Request bodies read defensively: bounded, then parsed, before anything else sees them.

The body is read in chunks and refused (413) as soon as it passes the limit
(``LIENTHONG_LIMITS__MAX_DOSSIER_BYTES``), whatever Content-Length claims; it must be UTF-8
JSON holding one object (else 400). Nesting past the dossier limit is emptied before parsing
(adapters/dossier_files.py), so the parser never recurses deep enough to fail.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request

from lienthong.adapters.dossier_files import cut_nesting
from lienthong.settings import LimitSettings


async def read_bounded(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, f"the body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HTTPException(413, f"the body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: Request, limits: LimitSettings) -> dict[str, Any]:
    """The body as a JSON object, or an HTTP error saying why not (413, 400)."""
    content = await read_bounded(request, limits.max_dossier_bytes)
    try:
        text = content.decode("utf-8-sig")
        data = json.loads(cut_nesting(text, limits.max_nesting + 1))
    except UnicodeDecodeError as exc:
        raise HTTPException(400, "the body is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise HTTPException(
            400, f"the body is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    except ValueError as exc:  # an integer of more than 4300 digits
        raise HTTPException(400, f"the body is not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise HTTPException(400, f"the body must be one JSON object, not {type(data).__name__}")
    return data
