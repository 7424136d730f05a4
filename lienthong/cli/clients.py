"""``lienthong clients create|list|rotate|revoke``: who may call our API (docs/http-api.md).

A secret is printed once, when it is created or rotated, and is kept only as a hash: lose
it and rotate. Exit codes: 0 done; 1 unknown client or invalid role.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lienthong.bootstrap import current_container
from lienthong.models.clients import Client, InvalidRole, Role
from lienthong.services.create_client import Issued, UnknownClient, create_client
from lienthong.services.list_clients import list_clients
from lienthong.services.revoke_client import revoke_client
from lienthong.services.rotate_client import rotate_client

EXIT_INVALID = 1


def _print_issued(issued: Issued) -> None:
    client = issued.client
    print(f"client {client.client_id}  {client.name}  role {client.role}")
    print(f"credential (shown once): {issued.token}")
    print(f"use it as:  Authorization: Bearer {issued.token}")


def _create(args: argparse.Namespace) -> int:
    try:
        role = Role.parse(args.role)
    except InvalidRole as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    _print_issued(create_client(current_container(), args.name, role))
    return 0


def _line(client: Client) -> str:
    state = "active" if client.active else f"revoked {client.revoked_at:%Y-%m-%d %H:%M}"
    return f"{client.client_id}  {client.role!s:<24} {state:<24} {client.name}"


def _list(args: argparse.Namespace) -> int:
    for client in list_clients(current_container()):
        print(_line(client))
    return 0


def _rotate(args: argparse.Namespace) -> int:
    try:
        _print_issued(rotate_client(current_container(), args.client_id))
    except UnknownClient as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    return 0


def _revoke(args: argparse.Namespace) -> int:
    try:
        client = revoke_client(current_container(), args.client_id)
    except UnknownClient as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"revoked {client.client_id} ({client.name})")
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("clients", help="who may call our API: create, rotate, revoke")
    commands = parser.add_subparsers(dest="clients_command", required=True, metavar="COMMAND")
    create = commands.add_parser("create", help="register a client; prints its secret once")
    create.add_argument("--name", required=True, help="who it is, e.g. 'Cổng DVC quốc gia'")
    create.add_argument(
        "--role",
        required=True,
        help="portal, hospital, agency:<agency>, operator:<commune code>, "
        "supervisor:<province code> or admin",
    )
    create.set_defaults(func=_create)
    listing = commands.add_parser("list", help="every client and its role (no secrets)")
    listing.set_defaults(func=_list)
    rotate = commands.add_parser("rotate", help="a new secret; the old one stops at once")
    rotate.add_argument("client_id")
    rotate.set_defaults(func=_rotate)
    revoke = commands.add_parser("revoke", help="refuse this client from now on")
    revoke.add_argument("client_id")
    revoke.set_defaults(func=_revoke)
