"""Who may call our API: clients, their roles, and what each role may do to which dossier.

A client is one calling system (the national portal, a hospital, an agency's system, a
commune's one-stop software, a province's supervisors, an administrator). Its role is
written ``kind`` or ``kind:scope``: ``portal``, ``hospital``, ``agency:<agency slug>``,
``operator:<commune code>``, ``supervisor:<province code>``, ``admin``. The rules here are
pure; who is calling is established by services/authenticate.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from lienthong.models.contract.http import CALLED_AGENCIES, agency_slug

_CODE = re.compile(r"[0-9]{2,8}")
_AGENCY_SLUGS = frozenset(agency_slug(agency) for agency in CALLED_AGENCIES)


class InvalidRole(ValueError):
    """A role that is not one of the forms above."""


class RoleKind(StrEnum):
    PORTAL = "portal"
    HOSPITAL = "hospital"
    AGENCY = "agency"
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


_SCOPED = {RoleKind.AGENCY, RoleKind.OPERATOR, RoleKind.SUPERVISOR}


class Action(StrEnum):
    """What a caller does to a dossier."""

    SUBMIT = "submit"
    READ = "read"
    SUPPLEMENT = "supplement"
    WITHDRAW = "withdraw"
    # The commune's own acts (the CLI and the desk): hand a dossier back to the applicant,
    # decide a potential duplicate.
    HAND_BACK = "hand back"
    RESOLVE = "resolve"


# What the portal does for citizens.
_PORTAL_ACTIONS = frozenset({Action.SUBMIT, Action.READ, Action.SUPPLEMENT, Action.WITHDRAW})


@dataclass(frozen=True)
class Role:
    kind: RoleKind
    scope: str | None = None

    @classmethod
    def parse(cls, text: str) -> Role:
        name, _, scope = text.strip().partition(":")
        try:
            kind = RoleKind(name)
        except ValueError:
            known = ", ".join(k.value for k in RoleKind)
            raise InvalidRole(f"unknown role {name!r}: one of {known}") from None
        if kind not in _SCOPED:
            if scope:
                raise InvalidRole(f"role {kind.value} takes no scope")
            return cls(kind)
        if kind is RoleKind.AGENCY and scope not in _AGENCY_SLUGS:
            raise InvalidRole(f"agency:<agency>, the agency one of {sorted(_AGENCY_SLUGS)}")
        if kind is not RoleKind.AGENCY and not _CODE.fullmatch(scope):
            where = "commune" if kind is RoleKind.OPERATOR else "province"
            raise InvalidRole(f"{kind.value}:<{where} code>, the code in digits")
        return cls(kind, scope)

    def __str__(self) -> str:
        return self.kind.value if self.scope is None else f"{self.kind.value}:{self.scope}"

    @property
    def sees_personal_data(self) -> bool:
        """Citizen-facing channels get masked answers (the portal shows them to anyone who
        holds a reference); the administration's own roles see the record."""
        return self.kind in (RoleKind.ADMIN, RoleKind.OPERATOR, RoleKind.SUPERVISOR)

    def may(self, action: Action, province_code: str, commune_code: str) -> bool:
        """Whether this role may do ``action`` to a dossier of this province and commune.

        An operator acts for its own commune only, a supervisor reads its own province only;
        the portal submits, reads, supplements and withdraws for citizens anywhere. Agencies
        answer through their decision callbacks, hospitals through their notifications
        (neither acts on dossiers here).
        """
        match self.kind:
            case RoleKind.ADMIN:
                return True
            case RoleKind.PORTAL:
                return action in _PORTAL_ACTIONS
            case RoleKind.OPERATOR:
                return commune_code == self.scope
            case RoleKind.SUPERVISOR:
                return action is Action.READ and province_code == self.scope
            case _:
                return False


@dataclass
class Client:
    """A calling system's record: its secret is kept only as a hash (models/client_secrets.py)."""

    client_id: str
    name: str
    role: Role
    secret_hash: str
    created_at: datetime
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def actor_id(self) -> str:
        """How the audit trail names this client: by its id, never by a name it gave."""
        return f"client:{self.client_id}"
