"""Turn raw dossier JSON into a model, or into every problem an operator must fix.

The pipeline stores an invalid dossier as rejected with its problems, so
:class:`DossierInvalid` also carries whatever reference and chain could be read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from lienthong.models.dossier import (
    DOSSIER_MODELS,
    NOW,
    REFERENCE_PATTERN,
    AnyDossier,
    DossierBase,
    RuleViolations,
)
from lienthong.models.status import Chain

_CHAIN_CHOICES = " or ".join(repr(chain.value) for chain in Chain)
_DATE = "must be a real calendar date written YYYY-MM-DD"
_DATETIME = "must be a date and time with its UTC offset, written like 2026-11-20T09:30:00+07:00"
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
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": _DATE,
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "timezone_aware": (
        "must include its UTC offset (e.g. +07:00 for Vietnam): a time without one is ambiguous"
    ),
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
            parts.append(f".{item}" if parts else item)
    return "".join(parts) or "dossier"


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind in {"enum", "literal_error"}:
        return f"must be {ctx['expected']}"
    if kind == "greater_than_equal":
        return f"must be {ctx['ge']} or later"
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
    model: type[DossierBase], data: Mapping[str, Any], exc: ValidationError
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
            parts[name] = TypeAdapter(annotated).validate_python(data[name])
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
    if isinstance(chain, str) and chain in {c.value for c in Chain}:
        return Chain(chain)
    return None


def parse_dossier(data: Mapping[str, Any], now: datetime | None = None) -> AnyDossier:
    """Validate raw dossier data; raise :class:`DossierInvalid` listing every problem.

    Pass ``now`` (timezone-aware) when the dossier is being received or checked: a
    ``received_at`` later than ``now`` (beyond a few minutes of clock skew) is then a problem.
    Without it, ``received_at`` is not compared with the clock (re-reading a stored dossier).
    """
    if now is not None and now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got naive {now.isoformat()}")
    reference = _raw_reference(data)
    chain = _raw_chain(data)
    if chain is None:
        message = "is required" if "chain" not in data else "is not a known chain"
        problem = Problem(path="chain", message=f"{message}: it must be {_CHAIN_CHOICES}")
        raise DossierInvalid([problem], reference, None)
    model = DOSSIER_MODELS[chain]
    try:
        return model.model_validate(data, context={NOW: now})
    except ValidationError as exc:
        problems, rules_ran = _translate(exc)
        if not rules_ran:
            problems += [
                Problem(path=p, message=m)
                for p, m in model.rule_violations(_usable_parts(model, data, exc), now)
            ]
        # from None: pydantic's error repeats the raw input, personal data included.
        raise DossierInvalid(problems, reference, chain) from None
