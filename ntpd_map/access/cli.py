"""``users``, ``tokens`` and ``keys`` commands (issues 4, 8): accounts of people, wall display tokens and API keys,
from the server's shell. Every change is written to the audit log by ``cli:<os user>``. Passwords are typed
twice at a prompt (never an argument: it would sit in the shell history) or read from stdin with
``--password-stdin`` for provisioning scripts."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from ntpd_map import audit
from ntpd_map.access import displays, users
from ntpd_map.access.keys import create_api_key
from ntpd_map.access.roles import KEY_ROLES, USER_ROLES
from ntpd_map.config import Settings
from ntpd_map.runtime import Runtime


def _store(settings: Settings) -> Any:
    return Runtime(settings).store


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Kata sandi / password: ")
    if getpass.getpass("Ulangi / repeat: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _records(frame: Any) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


def cmd_users_add(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    user_id = users.add_user(store, args.name, args.role, _password(args), actor=audit.cli_actor())
    print(json.dumps({"id": user_id, "username": args.name.strip().lower(), "role": args.role}))
    return 0


def cmd_users_passwd(args: argparse.Namespace, settings: Settings) -> int:
    users.set_password(_store(settings), args.name, _password(args), actor=audit.cli_actor())
    print(json.dumps({"username": args.name.strip().lower(), "password": "changed; its sessions have ended"}))
    return 0


def cmd_users_role(args: argparse.Namespace, settings: Settings) -> int:
    users.set_role(_store(settings), args.name, args.role, actor=audit.cli_actor())
    print(json.dumps({"username": args.name.strip().lower(), "role": args.role}))
    return 0


def cmd_users_disable(args: argparse.Namespace, settings: Settings) -> int:
    users.set_disabled(_store(settings), args.name, args.action == "disable", actor=audit.cli_actor())
    print(json.dumps({"username": args.name.strip().lower(), "disabled": args.action == "disable"}))
    return 0


def cmd_users_list(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(_records(_store(settings).users()), indent=2))
    return 0


def cmd_tokens_create(args: argparse.Namespace, settings: Settings) -> int:
    token_id, token = displays.create_display_token(_store(settings), args.name, actor=audit.cli_actor())
    print(json.dumps({"id": token_id, "name": args.name.strip(), "token": token,
                      "url": f"http://{settings.host}:{settings.port}/wall?token={token}",
                      "note": "shown once: open this URL on the wall display"}))
    return 0


def cmd_tokens_list(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(_records(_store(settings).display_tokens()), indent=2))
    return 0


def cmd_tokens_revoke(args: argparse.Namespace, settings: Settings) -> int:
    if not displays.revoke_display_token(_store(settings), args.id, actor=audit.cli_actor()):
        raise LookupError(f"no unrevoked display token {args.id} (see: .venv/bin/python -m ntpd_map tokens list)")
    print(json.dumps({"id": args.id, "revoked": True}))
    return 0


def cmd_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    key_id, key = create_api_key(store, args.name, args.role)
    audit.record(store, audit.cli_actor(), "key.create", str(key_id), name=args.name.strip(), role=args.role)
    # the key itself is shown once, here; only its hash is stored
    print(json.dumps({"id": key_id, "name": args.name, "role": args.role, "key": key}, indent=2))
    return 0


def cmd_keys_list(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(_records(_store(settings).api_keys()), indent=2))
    return 0


def cmd_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    if not store.revoke_api_key(args.id):
        raise ValueError(f"no active key with id {args.id} (see: .venv/bin/python -m ntpd_map keys list)")
    keys = store.api_keys()
    names = keys.loc[keys["id"] == args.id, "name"].tolist()
    audit.record(store, audit.cli_actor(), "key.revoke", str(args.id), name=names[0] if names else None)
    print(json.dumps({"revoked": args.id}, indent=2))
    return 0


def add_parsers(sub: Any) -> None:
    u = sub.add_parser("users", help="accounts of people: wall, operator, planner, admin").add_subparsers(
        dest="action", required=True)
    p = u.add_parser("add", help="create an account (the password is asked twice)")
    p.add_argument("name", help="user name: lower-case letters, digits, . _ -")
    p.add_argument("--role", required=True, choices=USER_ROLES)
    p.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    p.set_defaults(func=cmd_users_add)
    p = u.add_parser("passwd", help="set a new password (every session of the user ends)")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=cmd_users_passwd)
    p = u.add_parser("role", help="change a user's role (their sessions end)")
    p.add_argument("name")
    p.add_argument("role", choices=USER_ROLES)
    p.set_defaults(func=cmd_users_role)
    for action, text in (("disable", "lock an account out (its sessions end)"), ("enable", "let it in again")):
        p = u.add_parser(action, help=text)
        p.add_argument("name")
        p.set_defaults(func=cmd_users_disable)
    p = u.add_parser("list", help="list accounts (never the password hashes)")
    p.set_defaults(func=cmd_users_list)

    t = sub.add_parser("tokens", help="wall display tokens: read-only, no personal data, revocable").add_subparsers(
        dest="action", required=True)
    p = t.add_parser("create", help="create a token and print the wall's URL (shown once)")
    p.add_argument("--name", required=True, help="where the screen is, e.g. ruang-112-kiri")
    p.set_defaults(func=cmd_tokens_create)
    p = t.add_parser("list", help="list tokens with when each display was last seen")
    p.set_defaults(func=cmd_tokens_list)
    p = t.add_parser("revoke", help="revoke a token: that wall goes to the sign-in page at its next refresh")
    p.add_argument("id", type=int)
    p.set_defaults(func=cmd_tokens_revoke)

    k = sub.add_parser("keys", help="API keys per integration").add_subparsers(dest="action", required=True)
    p = k.add_parser("create", help="create a key and print it (shown once; only a hash is kept)")
    p.add_argument("--role", choices=KEY_ROLES, required=True,
                   help="what the key may do (planner: mark signal coverage)")
    p.add_argument("--name", default="integration", help="the integration it is for, e.g. simrs-rsud")
    p.set_defaults(func=cmd_keys_create)
    p = k.add_parser("list", help="list keys (never the keys themselves)")
    p.set_defaults(func=cmd_keys_list)
    p = k.add_parser("revoke", help="revoke a key by id")
    p.add_argument("id", type=int, help="key id from keys list")
    p.set_defaults(func=cmd_keys_revoke)
