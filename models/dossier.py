"""The citizen's dossier (hồ sơ) as the commune one-stop shop receives it.

Validation happens in two layers so that an operator sees every problem at once:

1. *Field rules* live in the annotated types below (``PersonalIdNumber``, ``PersonName``...)
   and run for every field independently; pydantic collects all their failures.
2. *Dossier rules* compare fields with each other (dates against ``received_at``, an ID
   against its holder's sex and birth year...). They are written as ``rule_violations(parts)``
   over a mapping of whatever fields are valid, so :func:`models.validation.parse_dossier` can
   still run them when some other field is broken. A fully valid model runs them itself.

``received_at`` itself is compared with the clock only when the caller says what time it is
(``rule_violations(parts, now=...)``, or ``model_validate(data, context={NOW: now})``): at
intake it must not be in the future, while a stored dossier read back later is not re-judged.

Because of (2), dossier models carry no ``@field_validator``: every field validates the same
way on its own as inside the model (trimming included: it is part of each type).

Types are strict at the edge (docs/dossiers.md): dates and times only as ISO text (an integer
is not Unix time), integers and booleans only as JSON integers and booleans, every number and
date bounded. Text length is bounded by the ``LIMITS`` of new input in the validation context.

All dates are compared in Vietnam's time zone (UTC+7, no daylight saving time).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, Self, TypeAlias
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lienthong.models.identifiers import (
    FIRST_CENTURY,
    LAST_CENTURY,
    PROVINCE_CODES,
    InvalidPersonalId,
    Sex,
    check_born_by,
    check_consistent,
    is_digits,
    parse_personal_id,
)
from lienthong.models.jurisdictions import jurisdiction_problems
from lienthong.models.limits import DossierLimits
from lienthong.models.status import Chain, FuneralPayerBasis
from lienthong.models.statutory import VIETNAM_TIMEZONE

VIETNAM_TZ = ZoneInfo(VIETNAM_TIMEZONE)
BIRTH_REGISTRATION_DAYS = 60  # Law on Civil Status art. 15
DEATH_REGISTRATION_DAYS = 15  # Law on Civil Status art. 33
HEALTH_CARD_AGE_MONTHS = 72  # the free card covers children under 6
# How far ahead of our clock ``received_at`` may be: the one-stop shop's clocks drift.
CLOCK_SKEW = timedelta(minutes=5)
NOW: str = "now"
"""Validation-context key for the current instant (an aware datetime)."""

# Letters, year, sequence: e.g. HT-2026-000123. The sequence is capped at 8 digits so a
# reference can never be mistaken for (or hide) a 9- or 12-digit ID number.
REFERENCE_PATTERN = re.compile(r"[A-Z]{2,10}-[0-9]{4}-[0-9]{1,8}")
LIMITS: str = "limits"
"""Validation-context key for the :class:`DossierLimits` of new input (absent: not checked,
so a stored dossier read back is not re-judged by limits changed since)."""
# Every date a dossier holds falls in the years a personal ID number can encode: bounded,
# so no arithmetic on them can overflow (year 1 minus an offset is before year 1).
EARLIEST_YEAR = FIRST_CENTURY
LATEST_YEAR = LAST_CENTURY + 99
MAX_UTC_OFFSET = timedelta(hours=14)
# Sixty years of monthly contributions: more than a working life, so more is a typo (or
# 10^20 pasted in), not a record.
MAX_CONTRIBUTION_MONTHS = 720
DATE_MESSAGE = "must be a real calendar date written YYYY-MM-DD"
DATETIME_MESSAGE = (
    "must be a date and time with its UTC offset, written like 2026-11-20T09:30:00+07:00"
)
NAIVE_MESSAGE = (
    "must include its UTC offset (e.g. +07:00 for Vietnam): a time without one is ambiguous"
)
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?P<offset>Z|[+-][0-9]{2}:[0-9]{2})?"
)
# C0 and C1 control characters and DEL; NUL among them, which PostgreSQL's text refuses.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAME_PUNCTUATION = frozenset(" '-.")

Violation: TypeAlias = tuple[str, str]
"""A broken dossier rule: (dotted field path, message for the operator)."""


class RuleViolations(ValueError):
    """Raised by a dossier model whose fields are valid but contradict each other."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = tuple(violations)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.violations))


def _invalid(message: str) -> PydanticCustomError:
    # Passing the message through the context keeps braces in it from being read as fields.
    return PydanticCustomError("dossier_field", "{reason}", {"reason": message})


def shown(value: str, limit: int = 40) -> str:
    """``value`` fit to quote in a message: invisible characters escaped, cut at ``limit``.

    What an outsider typed ends up in stored reasons and on the operator's screen: a NUL, a
    lone surrogate or a megabyte of it must not.
    """
    cut = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in value[:limit])
    return cut + ("…" if len(value) > limit else "")


def _limits(info: ValidationInfo) -> DossierLimits | None:
    context = info.context if isinstance(info.context, Mapping) else {}
    limits = context.get(LIMITS)
    return limits if isinstance(limits, DossierLimits) else None


def _strip(value: Any) -> Any:
    """Trim surrounding whitespace from any text: names, codes, dates and choices alike."""
    return value.strip() if isinstance(value, str) else value


def _bounded(value: str, info: ValidationInfo) -> str:
    """Refuse text longer than the limit of new input (``LIMITS`` in the context)."""
    limits = _limits(info)
    if limits is not None and len(value) > limits.max_text_length:
        raise _invalid(
            f"is {len(value)} characters long: at most {limits.max_text_length} are allowed"
        )
    return value


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def _text(value: str) -> str:
    """NFC-normalise; refuse control characters (NUL, line breaks, tabs): this is one line."""
    if _CONTROL.search(value):
        raise _invalid("must not contain control characters (NUL, line breaks, tabs)")
    if not value:
        raise _invalid("must not be empty")
    return _nfc(value)


def _person_name(value: str) -> str:
    """NFC-normalise, collapse spaces, and reject digits or symbols (a pasted ID, a typo)."""
    name = " ".join(_nfc(value).split())
    if not name:
        raise _invalid("must not be empty")
    if not all(ch.isalpha() or ch in _NAME_PUNCTUATION for ch in name):
        raise _invalid("must contain only letters, spaces, apostrophes or hyphens")
    return name


def _personal_id(value: str) -> str:
    try:
        parse_personal_id(value)
    except InvalidPersonalId as exc:
        raise _invalid(str(exc)) from exc
    return value


def _province_code(value: str) -> str:
    if value not in PROVINCE_CODES:
        raise _invalid(f"{shown(value)} is not a 3-digit province code (e.g. 056 for Khánh Hòa)")
    return value


def _digits(value: str) -> str:
    if not is_digits(value):
        raise _invalid("must contain only the digits 0-9")
    return value


def _reference(value: str) -> str:
    if not REFERENCE_PATTERN.fullmatch(value):
        raise _invalid(
            "must look like HT-2026-000123 (capital letters, year, sequence number of up to "
            "8 digits) and contain no personal data"
        )
    return value


def _in_years(value: date) -> None:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise _invalid(f"must be in the years {EARLIEST_YEAR} to {LATEST_YEAR}")


def _iso_date(value: Any) -> date:
    """A date written YYYY-MM-DD, and only that: no number, no datetime, no other format."""
    if isinstance(value, date) and not isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and _DATE_TEXT.fullmatch(value.strip()):
        try:
            parsed = date.fromisoformat(value.strip())
        except ValueError:
            raise _invalid(DATE_MESSAGE) from None
    else:
        raise _invalid(DATE_MESSAGE)
    _in_years(parsed)
    return parsed


def _iso_datetime(value: Any) -> datetime:
    """A date and time with its UTC offset, as text: a number is not read as Unix seconds."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and (written := _DATETIME_TEXT.fullmatch(value.strip())):
        if written.group("offset") is None:
            raise _invalid(NAIVE_MESSAGE)
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _invalid(DATETIME_MESSAGE) from None
    else:
        raise _invalid(DATETIME_MESSAGE)
    offset = parsed.utcoffset()
    if offset is None:
        raise _invalid(NAIVE_MESSAGE)
    if abs(offset) > MAX_UTC_OFFSET:
        raise _invalid("has a UTC offset beyond ±14:00: +07:00 is Vietnam's")
    _in_years(parsed)
    return parsed


def _whole_number(value: Any) -> Any:
    """A JSON integer only: not 2.0, not "2", not true (pydantic's lax mode takes all three)."""
    if type(value) is not int:
        raise _invalid("must be a whole number")
    return value


_Trimmed = BeforeValidator(_strip)
_Bounded = AfterValidator(_bounded)
Text = Annotated[str, _Trimmed, _Bounded, AfterValidator(_text)]
PersonName = Annotated[str, _Trimmed, _Bounded, AfterValidator(_person_name)]
PersonalIdNumber = Annotated[str, _Trimmed, _Bounded, AfterValidator(_personal_id)]
ProvinceCode = Annotated[str, _Trimmed, _Bounded, AfterValidator(_province_code)]
DigitCode = Annotated[str, _Trimmed, _Bounded, AfterValidator(_digits)]
Reference = Annotated[str, _Trimmed, _Bounded, AfterValidator(_reference)]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]
SexChoice = Annotated[Sex, _Trimmed]
PayerChoice = Annotated[FuneralPayerBasis, _Trimmed]
BirthYear = Annotated[int, Strict(), Field(ge=EARLIEST_YEAR, le=LATEST_YEAR)]
ContributionMonths = Annotated[int, Strict(), Field(ge=0, le=MAX_CONTRIBUTION_MONTHS)]
Scope = Annotated[Literal[2, 3, 4], BeforeValidator(_whole_number)]


class Section(BaseModel):
    """Common settings: immutable, no unknown fields (catches typos), no blank strings."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, str_min_length=1
    )


class Jurisdiction(Section):
    """Where the dossier was received. Data, not structure: provinces and communes change."""

    province_code: ProvinceCode
    province_name: Text
    commune_code: DigitCode
    commune_name: Text


class Requester(Section):
    full_name: PersonName
    personal_id: PersonalIdNumber
    relationship: Text  # to the child or the deceased, e.g. "mẹ", "con trai"


class Child(Section):
    full_name: PersonName
    sex: SexChoice
    date_of_birth: IsoDate
    place_of_birth: Text
    ethnicity: Text
    nationality: Text


class Parent(Section):
    """Mother or father. Either ``date_of_birth`` or, when only that is known, ``year_of_birth``."""

    full_name: PersonName
    date_of_birth: IsoDate | None = None
    year_of_birth: BirthYear | None = None
    personal_id: PersonalIdNumber | None = None  # a foreign parent may have none
    ethnicity: Text
    nationality: Text
    residence: Text

    @property
    def birth_year(self) -> int | None:
        return self.date_of_birth.year if self.date_of_birth else self.year_of_birth


class Certificate(Section):
    """A numbered paper issued by someone: medical birth certificate, death notice."""

    number: Text
    issuer: Text
    issued_on: IsoDate


class Residence(Section):
    """Where the child will be registered as a permanent resident, with the household head."""

    address: Text
    household_head_personal_id: PersonalIdNumber
    household_head_consent: StrictBool


class HealthcareFacility(Section):
    """Initial healthcare facility (nơi đăng ký KCB ban đầu) printed on the health card."""

    code: DigitCode
    name: Text


class Deceased(Section):
    full_name: PersonName
    personal_id: PersonalIdNumber
    date_of_birth: IsoDate
    sex: SexChoice
    last_residence: Text


class Death(Section):
    occurred_at: IsoDatetime
    place: Text
    cause: Text


def local_date(moment: datetime) -> date:
    """The calendar date of an aware datetime in Vietnam."""
    return moment.astimezone(VIETNAM_TZ).date()


def full_months_between(start: date, end: date) -> int:
    """Completed months from ``start`` to ``end`` (an age in months on date ``end``)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if end.day < start.day else months


def _received_on(parts: Mapping[str, Any]) -> date | None:
    received_at = parts.get("received_at")
    return local_date(received_at) if isinstance(received_at, datetime) else None


def _future(path: str, value: date, received_on: date | None) -> list[Violation]:
    if received_on is not None and value > received_on:
        return [(path, f"{value} is in the future: the dossier was received on {received_on}")]
    return []


def _received_violations(parts: Mapping[str, Any], now: datetime | None) -> list[Violation]:
    """``received_at`` later than ``now`` (beyond :data:`CLOCK_SKEW`): a typo or a wrong offset."""
    received_at = parts.get("received_at")
    if now is None or not isinstance(received_at, datetime) or received_at <= now + CLOCK_SKEW:
        return []
    current = now.astimezone(VIETNAM_TZ).isoformat(timespec="minutes")
    return [
        (
            "received_at",
            f"{received_at.isoformat()} is in the future (it is now {current}): give the date "
            "and time the dossier was actually handed in, with its UTC offset (+07:00 for "
            "Vietnam)",
        )
    ]


def _jurisdiction_violations(parts: Mapping[str, Any]) -> list[Violation]:
    """The units named must exist on the day the dossier was received (models/jurisdictions)."""
    jurisdiction, received_on = parts.get("jurisdiction"), _received_on(parts)
    if not isinstance(jurisdiction, Jurisdiction) or received_on is None:
        return []
    problems = jurisdiction_problems(
        jurisdiction.province_code, jurisdiction.commune_code, received_on
    )
    return [(f"jurisdiction.{field}", reason) for field, reason in problems]


def _id_violations(
    path: str,
    personal_id: str | None,
    sex: Sex | None,
    birth_year: int | None,
    received_on: date | None,
) -> list[Violation]:
    """The ID at ``path`` against its holder, and against the day the dossier was received:
    no one on record was born after it. A malformed ID was already reported by its field."""
    if personal_id is None:
        return []
    try:
        parsed = parse_personal_id(personal_id)
        check_consistent(parsed, sex, birth_year)
        if received_on is not None:
            check_born_by(parsed, received_on.year)
    except InvalidPersonalId as exc:
        return [(path, str(exc))]
    return []


def _parent_violations(
    role: str, sex: Sex, parent: Parent, child: Child | None, received_on: date | None
) -> list[Violation]:
    found: list[Violation] = []
    if parent.date_of_birth is None and parent.year_of_birth is None:
        found.append(
            (f"{role}.date_of_birth", "is required (or year_of_birth if only that is known)")
        )
    elif parent.date_of_birth is not None and parent.year_of_birth is not None:
        found.append(
            (f"{role}.year_of_birth", "give either date_of_birth or year_of_birth, not both")
        )
    elif parent.date_of_birth is not None:
        found += _future(f"{role}.date_of_birth", parent.date_of_birth, received_on)
        if child is not None and parent.date_of_birth >= child.date_of_birth:
            found.append(
                (f"{role}.date_of_birth", f"must be before the child's ({child.date_of_birth})")
            )
    elif parent.year_of_birth is not None:
        if received_on is not None and parent.year_of_birth > received_on.year:
            found.append((f"{role}.year_of_birth", f"{parent.year_of_birth} is in the future"))
        elif child is not None and parent.year_of_birth > child.date_of_birth.year:
            found.append(
                (
                    f"{role}.year_of_birth",
                    f"must not be after the child's birth year ({child.date_of_birth.year})",
                )
            )
    found += _id_violations(
        f"{role}.personal_id", parent.personal_id, sex, parent.birth_year, received_on
    )
    return found


class DossierBase(Section):
    """What both chains share. Subclasses narrow ``chain`` and define the dossier rules."""

    # The event the chain starts from, and the legal limit for registering it.
    EVENT: ClassVar[str]
    LATE_AFTER_DAYS: ClassVar[int]

    chain: Chain
    reference: Reference
    jurisdiction: Jurisdiction
    requester: Requester
    received_at: IsoDatetime

    @property
    def province_code(self) -> str:
        return self.jurisdiction.province_code

    @property
    def commune_code(self) -> str:
        return self.jurisdiction.commune_code

    @property
    def received_on(self) -> date:
        """The date the dossier was received, in Vietnam."""
        return local_date(self.received_at)

    @property
    def days_since_event(self) -> int:
        """Days from the birth or death to the dossier's reception, in Vietnam's calendar."""
        raise NotImplementedError

    @property
    def late_filing(self) -> bool:
        """Filed after the legal limit: counted and reported, never a reason to reject."""
        return self.days_since_event > self.LATE_AFTER_DAYS

    @property
    def late_filing_reason(self) -> str | None:
        if not self.late_filing:
            return None
        return (
            f"received {self.days_since_event} days after the {self.EVENT}; "
            f"a {self.EVENT} must be registered within {self.LATE_AFTER_DAYS} days"
        )

    @classmethod
    def rule_violations(
        cls, parts: Mapping[str, Any], now: datetime | None = None
    ) -> list[Violation]:
        """Dossier rules broken by ``parts`` (field name -> validated value; broken ones absent).

        With ``now`` (aware), ``received_at`` must also not be later than ``now`` plus
        :data:`CLOCK_SKEW`.
        """
        requester = parts.get("requester")
        requester_id = requester.personal_id if isinstance(requester, Requester) else None
        return (
            _received_violations(parts, now)
            + _jurisdiction_violations(parts)
            + _id_violations("requester.personal_id", requester_id, None, None, _received_on(parts))
            + cls.chain_rule_violations(parts)
        )

    @classmethod
    def chain_rule_violations(cls, parts: Mapping[str, Any]) -> list[Violation]:
        """The rules of this chain's dossier, over ``parts`` as in :meth:`rule_violations`."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _check_rules(self, info: ValidationInfo) -> Self:
        context = info.context if isinstance(info.context, Mapping) else {}
        now = context.get(NOW)
        violations = self.rule_violations(
            {name: getattr(self, name) for name in type(self).model_fields},
            now if isinstance(now, datetime) else None,
        )
        if violations:
            raise RuleViolations(violations)
        return self


class BirthDossier(DossierBase):
    """Chain A: birth registration -> permanent residence -> under-6 health-insurance card."""

    chain: Annotated[Literal[Chain.BIRTH], _Trimmed] = Chain.BIRTH
    child: Child
    mother: Parent | None = None
    father: Parent | None = None
    medical_birth_certificate: Certificate
    residence: Residence
    healthcare_facility: HealthcareFacility
    chain_opt_in: StrictBool

    EVENT: ClassVar[str] = "birth"
    LATE_AFTER_DAYS: ClassVar[int] = BIRTH_REGISTRATION_DAYS

    def child_age_months_at(self, on: date) -> int:
        return full_months_between(self.child.date_of_birth, on)

    @property
    def days_since_event(self) -> int:
        return (self.received_on - self.child.date_of_birth).days

    @classmethod
    def chain_rule_violations(cls, parts: Mapping[str, Any]) -> list[Violation]:
        found: list[Violation] = []
        received_on = _received_on(parts)
        if parts.get("chain_opt_in") is False:
            found.append(
                (
                    "chain_opt_in",
                    "the citizen has not opted in to the interconnected procedure (liên thông): "
                    "confirm the citizen's choice (true) or file each procedure separately",
                )
            )
        child = parts.get("child")
        if not isinstance(child, Child):
            child = None
        elif received_on is not None:
            found += _future("child.date_of_birth", child.date_of_birth, received_on)
            months = full_months_between(child.date_of_birth, received_on)
            if months >= HEALTH_CARD_AGE_MONTHS:
                found.append(
                    (
                        "child.date_of_birth",
                        f"the child was {months // 12} years old when the dossier was received; "
                        "the interconnected birth procedure (with the free health card) is only "
                        "for children under 6: register the birth on its own",
                    )
                )
        for role, sex in (("mother", Sex.FEMALE), ("father", Sex.MALE)):
            parent = parts.get(role)
            if isinstance(parent, Parent):
                found += _parent_violations(role, sex, parent, child, received_on)
        if "mother" in parts and "father" in parts and parts["mother"] is parts["father"] is None:
            found.append(
                ("mother", "give the mother, the father or both: at least one parent is required")
            )
        residence = parts.get("residence")
        if isinstance(residence, Residence):
            found += _id_violations(
                "residence.household_head_personal_id",
                residence.household_head_personal_id,
                None,
                None,
                received_on,
            )
        certificate = parts.get("medical_birth_certificate")
        if isinstance(certificate, Certificate):
            path = "medical_birth_certificate.issued_on"
            found += _future(path, certificate.issued_on, received_on)
            if child is not None and certificate.issued_on < child.date_of_birth:
                found.append((path, f"is before the child's birth ({child.date_of_birth})"))
        return found


class DeathDossier(DossierBase):
    """Chain B: death registration -> residence removal -> funeral allowance / survivor benefits."""

    chain: Annotated[Literal[Chain.DEATH], _Trimmed] = Chain.DEATH
    deceased: Deceased
    death: Death
    death_notice: Certificate
    scope: Scope  # how many procedures the requester asks for
    funeral_payer_basis: PayerChoice
    # Months of compulsory social-insurance contributions, when the family knows them.
    # Social insurance asks for the contribution record (supplementation) when it is missing.
    contribution_months: ContributionMonths | None = None

    EVENT: ClassVar[str] = "death"
    LATE_AFTER_DAYS: ClassVar[int] = DEATH_REGISTRATION_DAYS

    @property
    def date_of_death(self) -> date:
        return local_date(self.death.occurred_at)

    @property
    def days_since_event(self) -> int:
        return (self.received_on - self.date_of_death).days

    @classmethod
    def chain_rule_violations(cls, parts: Mapping[str, Any]) -> list[Violation]:
        found: list[Violation] = []
        received_on = _received_on(parts)
        received_at = parts.get("received_at")
        deceased = parts.get("deceased")
        if not isinstance(deceased, Deceased):
            deceased = None
        else:
            found += _future("deceased.date_of_birth", deceased.date_of_birth, received_on)
            found += _id_violations(
                "deceased.personal_id",
                deceased.personal_id,
                deceased.sex,
                deceased.date_of_birth.year,
                received_on,
            )
        death = parts.get("death")
        died_on: date | None = None
        if isinstance(death, Death):
            died_on = local_date(death.occurred_at)
            if isinstance(received_at, datetime) and death.occurred_at > received_at:
                found.append(
                    (
                        "death.occurred_at",
                        f"{death.occurred_at.isoformat()} is in the future: the dossier was "
                        f"received at {received_at.isoformat()}",
                    )
                )
            if deceased is not None and died_on < deceased.date_of_birth:
                found.append(
                    (
                        "death.occurred_at",
                        f"is before the deceased's date of birth ({deceased.date_of_birth})",
                    )
                )
        notice = parts.get("death_notice")
        if isinstance(notice, Certificate):
            found += _future("death_notice.issued_on", notice.issued_on, received_on)
            if died_on is not None and notice.issued_on < died_on:
                found.append(("death_notice.issued_on", f"is before the death ({died_on})"))
        return found


AnyDossier: TypeAlias = BirthDossier | DeathDossier
DOSSIER_MODELS: Mapping[Chain, type[AnyDossier]] = {
    Chain.BIRTH: BirthDossier,
    Chain.DEATH: DeathDossier,
}
