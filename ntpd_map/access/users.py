"""User accounts (issue 8): what the CLI and the sign-in page share. No Flask here.

- Passwords are hashed with Werkzeug's ``generate_password_hash`` (scrypt, salted); only the hash is stored.
- Every change is written to the audit log by the caller's ``actor``.
"""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING, Any

from werkzeug.security import check_password_hash, generate_password_hash

from ntpd_map import audit
from ntpd_map.access.roles import USER_ROLES

if TYPE_CHECKING:
    from ntpd_map.store.base import Store

MIN_PASSWORD = 10
MAX_PASSWORD = 200
#: a user name: what people type at 3 a.m., so short and plain
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def check_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


#: compared against when a user name is unknown, so a wrong name costs as long as a wrong password
DUMMY_HASH = ""


def verify_login(store: Store, username: str, password: str) -> dict[str, Any] | None:
    """The user (``store.find_user`` dict) when the name and password match an enabled account, else None.
    Takes as long for an unknown name as for a wrong password. Raises StoreUnavailable."""
    global DUMMY_HASH
    user = store.find_user(username.strip().lower()) if valid_name(username.strip().lower()) else None
    if user is None:
        if not DUMMY_HASH:
            DUMMY_HASH = hash_password(secrets.token_hex(8))
        check_password(DUMMY_HASH, password)
        return None
    if not check_password(str(user["password_hash"]), password) or user["disabled"]:
        return None
    return user


def valid_name(name: str) -> bool:
    return 2 <= len(name) <= 64 and set(name) <= NAME_CHARS


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise ValueError(f"a password has at most {MAX_PASSWORD} characters")


def add_user(store: Store, username: str, role: str, password: str, *, actor: str) -> int:
    name = username.strip().lower()
    if not valid_name(name):
        raise ValueError("a user name is 2-64 characters: lower-case letters, digits, '.', '_' or '-'")
    if role not in USER_ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(USER_ROLES)}")
    check_new_password(password)
    user_id = store.add_user(name, role, hash_password(password))
    audit.record(store, actor, "user.add", name, role=role, id=user_id)
    return user_id


def set_password(store: Store, username: str, password: str, *, actor: str) -> None:
    check_new_password(password)
    name = username.strip().lower()
    if not store.set_user_password(name, hash_password(password)):
        raise LookupError(f"no user {name!r}")
    audit.record(store, actor, "user.passwd", name)


def set_role(store: Store, username: str, role: str, *, actor: str) -> None:
    if role not in USER_ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(USER_ROLES)}")
    name = username.strip().lower()
    if not store.set_user_role(name, role):
        raise LookupError(f"no user {name!r}")
    audit.record(store, actor, "user.role", name, role=role)


def set_disabled(store: Store, username: str, disabled: bool, *, actor: str) -> None:
    name = username.strip().lower()
    if not store.set_user_disabled(name, disabled):
        raise LookupError(f"no user {name!r}")
    audit.record(store, actor, "user.disable" if disabled else "user.enable", name)


def bootstrap_admin(store: Store, path: Any) -> str | None:
    """On a store with no user at all: create ``admin`` with a random password written (mode 0600) to
    ``path``, and return the user name; otherwise None. The password is never logged."""
    if len(store.users()):
        return None
    password = secrets.token_urlsafe(12)
    try:
        add_user(store, "admin", "admin", password, actor="system")
    except ValueError:  # another worker starting at the same moment made it first
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"user: admin\npassword: {password}\n"
                 "Change it: .venv/bin/python -m ntpd_map users passwd admin  (then delete this file)\n")
    return "admin"
