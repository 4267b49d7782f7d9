"""Accounts and keys (issue 8): API keys, users and wall display tokens; only hashes are kept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ntpd_map.access.roles import USER_ROLES
from ntpd_map.store import model
from ntpd_map.store.backend import SQLBackend
from ntpd_map.store.model import (
    frame_from_rows,
    row_id,
    typed_frame,
)

if TYPE_CHECKING:
    import pandas as pd



# accounts, display tokens and the audit log (issue 8): the same SQL on both backends --------------------------
#: Columns of Store.users(), with their dtypes: never the password hash.
USER_DTYPES = {"id": "int64", "username": "str", "role": "str", "created_at": "int64", "disabled_at": "Int64",
               "session_version": "int64"}

#: Columns of Store.display_tokens(), with their dtypes: never the token hash.
DISPLAY_TOKEN_DTYPES = {"id": "int64", "name": "str", "created_at": "int64", "revoked_at": "Int64",
                        "last_seen_at": "Int64"}

API_KEY_COLUMNS = ("id", "name", "role", "created_at", "revoked_at")
_USER_READ = "id, username, role, password_hash, disabled_at IS NOT NULL, session_version"

class AccountSQL:
    """Statements for API keys, users and display tokens with a backend's placeholder (``?`` or ``%s``).
    Every write returns the ids it touched (RETURNING), so "no such user" needs no second query."""

    def __init__(self, ph: str) -> None:
        self.ph = ph
        self.add_user = (f"INSERT INTO users (username, role, password_hash, created_at) VALUES ({ph}, {ph}, {ph}, "
                         f"{ph}) ON CONFLICT (username) DO NOTHING RETURNING id")
        self.find_user = f"SELECT {_USER_READ} FROM users WHERE username = {ph}"
        self.get_user = f"SELECT {_USER_READ} FROM users WHERE id = {ph}"
        # every change of password, role or disabled bumps session_version: sessions signed before it die
        bump = "session_version = session_version + 1"
        self.set_password = f"UPDATE users SET password_hash = {ph}, {bump} WHERE username = {ph} RETURNING id"
        self.set_role = f"UPDATE users SET role = {ph}, {bump} WHERE username = {ph} RETURNING id"
        # disabling an already disabled user keeps when it was first disabled
        self.disable = (f"UPDATE users SET disabled_at = coalesce(disabled_at, {ph}), {bump} WHERE username = {ph} "
                        "RETURNING id")
        self.enable = f"UPDATE users SET disabled_at = NULL, {bump} WHERE username = {ph} RETURNING id"
        self.users = f"SELECT {', '.join(USER_DTYPES)} FROM users ORDER BY id"
        self.add_token = (f"INSERT INTO display_tokens (name, token_hash, created_at) VALUES ({ph}, {ph}, {ph}) "
                          "RETURNING id")
        self.find_token = f"SELECT id, name FROM display_tokens WHERE token_hash = {ph} AND revoked_at IS NULL"
        self.token_active = f"SELECT 1 FROM display_tokens WHERE id = {ph} AND revoked_at IS NULL"
        self.token_revoked = f"SELECT 1 FROM display_tokens WHERE token_hash = {ph} AND revoked_at IS NOT NULL"
        # workers touch in any order: last_seen_at only moves forward
        self.touch_token = (f"UPDATE display_tokens SET last_seen_at = {ph} WHERE id = {ph} "
                            f"AND (last_seen_at IS NULL OR last_seen_at < {ph}) RETURNING id")
        self.revoke_token = (f"UPDATE display_tokens SET revoked_at = {ph} WHERE id = {ph} AND revoked_at IS NULL "
                             "RETURNING id")
        self.tokens = f"SELECT {', '.join(DISPLAY_TOKEN_DTYPES)} FROM display_tokens ORDER BY id"
        self.add_key = (f"INSERT INTO api_keys (name, role, key_hash, created_at) VALUES ({ph}, {ph}, {ph}, {ph}) "
                        "RETURNING id")
        self.find_key = f"SELECT id, name, role FROM api_keys WHERE key_hash = {ph} AND revoked_at IS NULL"
        self.revoke_key = f"UPDATE api_keys SET revoked_at = {ph} WHERE id = {ph} AND revoked_at IS NULL RETURNING id"
        self.keys = f"SELECT {', '.join(API_KEY_COLUMNS)} FROM api_keys ORDER BY id"

def check_user_role(role: str) -> str:
    if str(role) not in USER_ROLES:
        raise ValueError(f"user role {role!r} is not one of {', '.join(USER_ROLES)}")
    return str(role)

def username_key(username: str) -> str:
    """How a username is stored and looked up: trimmed and lower-cased, so "Ana" and "ana" are one user."""
    return str(username or "").strip().lower()

def _user_dict(row: Sequence[Any]) -> dict[str, Any]:
    return {"id": int(row[0]), "username": str(row[1]), "role": str(row[2]), "password_hash": str(row[3]),
            "disabled": bool(row[4]), "session_version": int(row[5])}


class AccountStore(Protocol):
    """API keys, user accounts and display tokens."""

    def add_api_key(self, name: str, role: str, key_hash: str) -> int: ...

    def find_api_key(self, key_hash: str) -> dict[str, Any] | None:
        """{"id", "name", "role"} of an unrevoked key, else None."""

    def revoke_api_key(self, key_id: int) -> bool: ...

    def api_keys(self) -> pd.DataFrame: ...

    def add_user(self, username: str, role: str, password_hash: str) -> int:
        """A new user's id. ValueError when the name exists (in any case) or the role is not one of USER_ROLES."""

    def find_user(self, username: str) -> dict[str, Any] | None:
        """{"id", "username", "role", "password_hash", "disabled" (bool), "session_version"} of the user with
        this name in any case, disabled users included; None when there is none."""

    def get_user(self, user_id: int) -> dict[str, Any] | None:
        """The same dict as find_user, by id."""

    def set_user_password(self, username: str, password_hash: str) -> bool:
        """Replace the hash and bump session_version (every session of the user ends); False: no such user."""

    def set_user_role(self, username: str, role: str) -> bool:
        """Set the role (ValueError when not one of USER_ROLES) and bump session_version; False: no such user."""

    def set_user_disabled(self, username: str, disabled: bool) -> bool:
        """Set disabled_at (kept when already disabled) or clear it, and bump session_version; False: no such
        user."""

    def users(self) -> pd.DataFrame:
        """id, username, role, created_at, disabled_at (Int64), session_version, by id: never the hash."""

    def add_display_token(self, name: str, token_hash: str) -> int: ...

    def find_display_token(self, token_hash: str) -> dict[str, Any] | None:
        """{"id", "name"} of an unrevoked token, else None."""

    def display_token_revoked(self, token_hash: str) -> bool:
        """Whether a token with this hash was made and revoked (a wall tells "revoked" from "unknown")."""

    def display_token_active(self, token_id: int) -> bool:
        """Whether the token exists and is not revoked."""

    def touch_display_token(self, token_id: int, at: int) -> None:
        """Note the token was seen at ``at`` (Unix s); last_seen_at never moves back."""

    def revoke_display_token(self, token_id: int) -> bool:
        """False when there is no such token or it was already revoked."""

    def display_tokens(self) -> pd.DataFrame:
        """id, name, created_at, revoked_at, last_seen_at (Int64 where missing), by id: never the hash."""


class AccountMethods(SQLBackend):
    """AccountStore on any SQL backend."""

    _ACCOUNTS: AccountSQL

    # API keys ---------------------------------------------------------------------------------------------------
    def add_api_key(self, name: str, role: str, key_hash: str) -> int:
        return int(self._write_rows(self._ACCOUNTS.add_key, (name, role, key_hash, model.now_s()))[0][0])

    def find_api_key(self, key_hash: str) -> dict[str, Any] | None:
        rows = self._query(self._ACCOUNTS.find_key, (key_hash,))
        return {"id": int(rows[0][0]), "name": str(rows[0][1]), "role": str(rows[0][2])} if rows else None

    def revoke_api_key(self, key_id: int) -> bool:
        n = row_id(key_id)
        return n is not None and bool(self._write_rows(self._ACCOUNTS.revoke_key, (model.now_s(), n)))

    def api_keys(self) -> pd.DataFrame:
        return frame_from_rows(self._query(self._ACCOUNTS.keys), API_KEY_COLUMNS)

    # user accounts (issue 8) ---------------------------------------------------------------------------------

    def add_user(self, username: str, role: str, password_hash: str) -> int:
        name = username_key(username)
        if not name:
            raise ValueError("a user needs a username")
        if not password_hash:
            raise ValueError(f"user {name} needs a password hash")
        rows = self._write_rows(self._ACCOUNTS.add_user, (name, check_user_role(role), password_hash, model.now_s()))
        if not rows:
            raise ValueError(f"user {name} exists")
        return int(rows[0][0])

    def find_user(self, username: str) -> dict[str, Any] | None:
        rows = self._query(self._ACCOUNTS.find_user, (username_key(username),))
        return _user_dict(rows[0]) if rows else None

    def get_user(self, user_id: int) -> dict[str, Any] | None:
        n = row_id(user_id)
        rows = [] if n is None else self._query(self._ACCOUNTS.get_user, (n,))
        return _user_dict(rows[0]) if rows else None

    def set_user_password(self, username: str, password_hash: str) -> bool:
        if not password_hash:
            raise ValueError(f"user {username_key(username)} needs a password hash")
        return bool(self._write_rows(self._ACCOUNTS.set_password, (password_hash, username_key(username))))

    def set_user_role(self, username: str, role: str) -> bool:
        return bool(self._write_rows(self._ACCOUNTS.set_role, (check_user_role(role), username_key(username))))

    def set_user_disabled(self, username: str, disabled: bool) -> bool:
        a = self._ACCOUNTS
        if disabled:
            return bool(self._write_rows(a.disable, (model.now_s(), username_key(username))))
        return bool(self._write_rows(a.enable, (username_key(username),)))

    def users(self) -> pd.DataFrame:
        return typed_frame(self._query(self._ACCOUNTS.users), USER_DTYPES)

    # wall display tokens (issue 8) -----------------------------------------------------------------------------
    def add_display_token(self, name: str, token_hash: str) -> int:
        if not str(name or "").strip():
            raise ValueError("a display token needs a name")
        return int(self._write_rows(self._ACCOUNTS.add_token, (str(name).strip(), token_hash, model.now_s()))[0][0])

    def find_display_token(self, token_hash: str) -> dict[str, Any] | None:
        rows = self._query(self._ACCOUNTS.find_token, (token_hash,))
        return {"id": int(rows[0][0]), "name": str(rows[0][1])} if rows else None

    def display_token_revoked(self, token_hash: str) -> bool:
        return bool(self._query(self._ACCOUNTS.token_revoked, (token_hash,)))

    def display_token_active(self, token_id: int) -> bool:
        n = row_id(token_id)
        return n is not None and bool(self._query(self._ACCOUNTS.token_active, (n,)))

    def touch_display_token(self, token_id: int, at: int) -> None:
        n = row_id(token_id)
        if n is not None:
            self._write_rows(self._ACCOUNTS.touch_token, (int(at), n, int(at)))

    def revoke_display_token(self, token_id: int) -> bool:
        n = row_id(token_id)
        return n is not None and bool(self._write_rows(self._ACCOUNTS.revoke_token, (model.now_s(), n)))

    def display_tokens(self) -> pd.DataFrame:
        return typed_frame(self._query(self._ACCOUNTS.tokens), DISPLAY_TOKEN_DTYPES)
