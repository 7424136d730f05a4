"""Turn raw dossier JSON into a model, or into every problem an operator must fix.

The pipeline stores an invalid dossier as rejected with its problems, so
:class:`DossierInvalid` also carries whatever reference and chain could be read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from lienthong.models.dossier import (
    DATE_MESSAGE,
    DATETIME_MESSAGE,
    DOSSIER_MODELS,
    LIMITS,
    NAIVE_MESSAGE,
    NOW,
    REFERENCE_PATTERN,
    AnyDossier,
    DossierBase,
    RuleViolations,
    shown,
)
from lienthong.models.limits import DossierLimits
from lienthong.models.status import Chain

_CHAIN_CHOICES = " or ".join(repr(chain.value) for chain in Chain)
# Enough for every field of a dossier to be wrong; a flood of unknown keys is cut short.
MAX_PROBLEMS: Final = 100
# How much of an unknown key a message quotes.
_KEY_SHOWN: Final = 40
_OBJECT = "must be an object ({...})"

# pydantic error type -> message. Types not listed fall back to pydantic's own wording.
_MESSAGES: Mapping[str, str] = {
    "missing": "is required",
    "extra_forbidden": "is not a known field (check its spelling)",
    "string_type": "must be text",
    "string_too_short": "must not be empty",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "date_type": DATE_MESSAGE,
    "date_parsing": DATE_MESSAGE,
    "date_from_datetime_parsing": DATE_MESSAGE,
    "date_from_datetime_inexact": DATE_MESSAGE,
    "datetime_type": DATETIME_MESSAGE,
    "datetime_parsing": DATETIME_MESSAGE,
    "datetime_from_date_parsing": DATETIME_MESSAGE,
    "timezone_aware": NAIVE_MESSAGE,
    "string_unicode": "must be valid Unicode text (it holds a lone surrogate)",
    "finite_number": "must be a whole number",
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "dict_type": _OBJECT,
}


class Problem(BaseModel):
    """One thing wrong with a dossier: where (dotted field path) and what to do about it."""

    model_config = ConfigDict(frozen=True)

    path: str
    message: str


class DossierInvalid(Exception):
    """The dossier cannot enter a chain. ``problems`` lists everything found, not just the first.

    ``reference`` is set only when the raw data carried a well-formed one, and ``chain`` only
    when it named a known chain.
    """

    def __init__(
        self,
        problems: list[Problem],
        reference: str | None = None,
        chain: Chain | None = None,
    ) -> None:
        self.problems = problems
        self.reference = reference
        self.chain = chain
        details = "; ".join(f"{p.path}: {p.message}" for p in problems)
        super().__init__(f"dossier {reference or '(no reference)'} is invalid: {details}")


def _path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            # An unknown key is quoted as typed, up to a point: it may be anything.
            key = shown(str(item), _KEY_SHOWN)
            parts.append(f".{key}" if parts else key)
    return "".join(parts) or "dossier"


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind in {"enum", "literal_error"}:
        return f"must be {ctx['expected']}"
    if kind == "greater_than_equal":
        return f"must be {ctx['ge']} or more"
    if kind == "less_than_equal":
        return f"must be {ctx['le']} or less"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return error["msg"]


def _translate(exc: ValidationError) -> tuple[list[Problem], bool]:
    """Problems from a pydantic error, and whether the dossier rules were among them."""
    problems: list[Problem] = []
    rules_ran = False
    for error in exc.errors(include_url=False):
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, RuleViolations):
            rules_ran = True
            problems += [Problem(path=p, message=m) for p, m in cause.violations]
        else:
            problems.append(Problem(path=_path(error["loc"]), message=_message(error)))
    return problems, rules_ran


def _usable_parts(
    model: type[DossierBase],
    data: Mapping[str, Any],
    exc: ValidationError,
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """Validated values of the top-level fields that are fine on their own.

    Lets the dossier rules report, say, a future date of birth in the same pass as a missing
    residence section. Absent optional fields take their default; broken fields are left out.
    """
    broken = {error["loc"][0] for error in exc.errors() if error["loc"]}
    parts: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in broken:
            continue
        if name in data:
            # The FieldInfo as metadata carries the field's constraints over to the adapter.
            annotated: Any = Annotated[field.annotation, field]
            try:
                parts[name] = TypeAdapter(annotated).validate_python(data[name], context=context)
            except ValidationError:
                continue  # already reported by the model; a rule over it would only guess
        elif not field.is_required():
            parts[name] = field.get_default(call_default_factory=True)
    return parts


def _raw_reference(data: Mapping[str, Any]) -> str | None:
    reference = data.get("reference")
    if isinstance(reference, str) and REFERENCE_PATTERN.fullmatch(reference.strip()):
        return reference.strip()
    return None


def _raw_chain(data: Mapping[str, Any]) -> Chain | None:
    chain = data.get("chain")
    if isinstance(chain, str) and chain.strip() in {c.value for c in Chain}:
        return Chain(chain.strip())
    return None


def too_deep(data: Any, max_nesting: int) -> tuple[int | str, ...] | None:
    """Where ``data`` first holds an object or array deeper than ``max_nesting`` levels.

    Iterative, so no depth of input can exhaust the interpreter's stack.
    """
    pending: list[tuple[Any, int, tuple[int | str, ...]]] = [(data, 1, ())]
    while pending:
        value, depth, loc = pending.pop()
        children: Any
        if isinstance(value, Mapping):
            children = value.items()
        elif isinstance(value, list):
            children = enumerate(value)
        else:
            continue
        if depth > max_nesting:
            return loc
        pending.extend((child, depth + 1, (*loc, key)) for key, child in children)
    return None


def _capped(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    more = len(problems) - MAX_PROBLEMS + 1
    return [*problems[: MAX_PROBLEMS - 1], Problem(path="dossier", message=f"and {more} more")]


def parse_dossier(
    data: Mapping[str, Any],
    now: datetime | None = None,
    limits: DossierLimits | None = None,
) -> AnyDossier:
    """Validate raw dossier data; raise :class:`DossierInvalid` listing every problem.

    Pass ``now`` (timezone-aware) when the dossier is being received or checked: a
    ``received_at`` later than ``now`` (beyond a few minutes of clock skew) is then a problem.
    Pass ``limits`` for new input: text longer than ``max_text_length`` and data nested
    deeper than ``max_nesting`` are then problems. Without them (re-reading a stored
    dossier), neither the clock nor the limits are applied.
    """
    if now is not None and now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got naive {now.isoformat()}")
    reference = _raw_reference(data)
    chain = _raw_chain(data)
    if limits is not None and (loc := too_deep(data, limits.max_nesting)) is not None:
        problem = Problem(
            path=_path(loc),
            message=f"nests objects and arrays deeper than {limits.max_nesting} levels "
            "(a dossier uses 2)",
        )
        raise DossierInvalid([problem], reference, chain)
    if chain is None:
        message = "is required" if "chain" not in data else "is not a known chain"
        problem = Problem(path="chain", message=f"{message}: it must be {_CHAIN_CHOICES}")
        raise DossierInvalid([problem], reference, None)
    model = DOSSIER_MODELS[chain]
    context = {NOW: now, LIMITS: limits}
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        problems, rules_ran = _translate(exc)
        if not rules_ran:
            problems += [
                Problem(path=p, message=m)
                for p, m in model.rule_violations(_usable_parts(model, data, exc, context), now)
            ]
        # from None: pydantic's error repeats the raw input, personal data included.
        raise DossierInvalid(_capped(problems), reference, chain) from None


def storable(data: Mapping[str, Any], limits: DossierLimits) -> dict[str, Any]:
    """A copy of raw dossier data that SQLite and PostgreSQL both keep as JSON.

    A rejected dossier is kept as handed in, except what no database stores and no operator
    needs: NUL and lone surrogates become U+FFFD, NaN and the infinities become the strings
    ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (PostgreSQL's json refuses them), text and keys
    are cut at ``max_text_length``, and whatever nests deeper than ``max_nesting`` is
    replaced by a note. Its problems say what was wrong with the original.
    """
    copy = _storable(data, 1, limits)
    return copy if isinstance(copy, dict) else {}


_NON_FINITE: Final = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
# Integers wider than this are kept as a note: JSON readers differ beyond 64 bits, and
# Python refuses to write one of more than 4300 digits.
_WIDEST_INTEGER_BITS: Final = 64


def _storable(value: Any, depth: int, limits: DossierLimits) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() < _WIDEST_INTEGER_BITS:
            return value
        return f"(an integer of {value.bit_length()} bits, not kept)"
    if isinstance(value, float):
        return value if math.isfinite(value) else _NON_FINITE[repr(value)]
    if isinstance(value, str):
        return _storable_text(value, limits.max_text_length)
    if isinstance(value, Mapping | list) and depth > limits.max_nesting:
        return f"(nested deeper than {limits.max_nesting} levels, not kept)"
    if isinstance(value, Mapping):
        return {
            _storable_text(str(key), limits.max_text_length): _storable(item, depth + 1, limits)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_storable(item, depth + 1, limits) for item in value]
    return _storable_text(repr(value), limits.max_text_length)


_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")


def _storable_text(text: str, max_length: int) -> str:
    kept = _UNSTORABLE.sub("\ufffd", text[:max_length])
    return kept if len(text) <= max_length else f"{kept}… ({len(text)} characters in all)"
