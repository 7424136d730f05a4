"""Who runs an operator command: an API client (``lienthong clients create``) of role
``operator:<commune code>`` or ``admin``, never a name typed on the command line.

The credential (``<client id>.<secret>``, as for the API) comes from the file given with
``--credential-file`` or from ``LIENTHONG_CLIENT_CREDENTIAL``. The audit trail records the
client (``client:<client id>``) as the actor; an operator acts only on its commune's
dossiers, and a refusal is kept on the audit trail as for the API.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lienthong.models.clients import Action, Client, RoleKind
from lienthong.services.authenticate import authenticate
from lienthong.services.container import Container
from lienthong.services.ledger import Actor
from lienthong.services.refusals import record_refusal
from lienthong.services.views import load_view

CREDENTIAL_ENV = "LIENTHONG_CLIENT_CREDENTIAL"
ACTING_ROLES = (RoleKind.OPERATOR, RoleKind.ADMIN)
MAX_CREDENTIAL_FILE_BYTES = 4096


class NotAuthorized(SystemExit):
    """Exit 1 with ``error: <why>`` on stderr: no, a wrong, or an unsuited credential, or a
    dossier outside the caller's commune."""

    def __init__(self, why: str) -> None:
        super().__init__(f"error: {why}")


def add_identity_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--credential-file",
        type=Path,
        help=f"file holding the operator's client credential (else ${CREDENTIAL_ENV}); "
        "`lienthong clients create --role operator:<commune code>` makes one",
    )


def _credential(args: argparse.Namespace) -> str:
    path: Path | None = getattr(args, "credential_file", None)
    if path is None:
        token = os.environ.get(CREDENTIAL_ENV, "")
        if not token:
            raise NotAuthorized(
                f"who is acting? give --credential-file or set {CREDENTIAL_ENV} to a client "
                "credential of role operator:<commune code> or admin (`lienthong clients create`)"
            )
        return token.strip()
    try:
        with path.open("rb") as file:
            return file.read(MAX_CREDENTIAL_FILE_BYTES).decode("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise NotAuthorized(f"cannot read the credential file {path}: {exc}") from None


def caller(container: Container, args: argparse.Namespace) -> Client:
    """The authenticated client running the command, if it may act as an operator."""
    client = authenticate(container, _credential(args))
    if client is None:
        raise NotAuthorized("the client credential is unknown, revoked or wrong")
    if client.role.kind not in ACTING_ROLES:
        raise NotAuthorized(
            f"client {client.client_id} has role {client.role}: operator commands need "
            "operator:<commune code> or admin"
        )
    return client


def acting_on(
    container: Container,
    client: Client,
    action: Action,
    reference: str,
    province: str,
    commune: str,
) -> Actor:
    """The audit trail's actor for ``action`` on this dossier; refused (and audited) outside
    the client's commune."""
    if not client.role.may(action, province, commune):
        record_refusal(container, client, action, reference)
        raise NotAuthorized(
            f"client {client.client_id} ({client.role}) may not {action.value} {reference}: "
            f"it is commune {commune or '?'}'s dossier"
        )
    return Actor(client.actor_id)


def acting_on_raw(
    container: Container, client: Client, action: Action, raw: Mapping[str, Any]
) -> Actor:
    """As :func:`acting_on`, for a dossier not yet on record (its file's jurisdiction)."""
    place = raw.get("jurisdiction")
    place = place if isinstance(place, Mapping) else {}
    reference, province, commune = (
        raw.get("reference"),
        place.get("province_code"),
        place.get("commune_code"),
    )
    return acting_on(
        container,
        client,
        action,
        reference if isinstance(reference, str) else "",
        province if isinstance(province, str) else "",
        commune if isinstance(commune, str) else "",
    )


def acting_on_record(container: Container, client: Client, action: Action, reference: str) -> Actor:
    """As :func:`acting_on`, for a dossier on record (``DossierNotFound`` if it is not)."""
    view = load_view(container, reference)
    return acting_on(container, client, action, reference, view.province_code, view.commune_code)
