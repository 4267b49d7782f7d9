"""API keys per integration: created once, shown once, stored only as a SHA-256, revocable (issue 4)."""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any

from ntpd_map.access.roles import KEY_ROLES

if TYPE_CHECKING:
    from ntpd_map.store.base import Store


def hash_key(key: str) -> str:
    # Keys are 256 random bits, so a plain SHA-256 is enough (no password stretching needed).
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(store: Store, name: str, role: str) -> tuple[int, str]:
    if role not in KEY_ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(KEY_ROLES)}")
    if not name.strip():
        raise ValueError("an API key needs a name (the integration it is for, e.g. simrs-rsud)")
    key = "ntpd_" + secrets.token_urlsafe(32)
    return store.add_api_key(name.strip(), role, hash_key(key)), key


def key_from_header(store: Store, authorization: str | None) -> dict[str, Any] | None:
    """The key ({"id", "name", "role"}) of an ``Authorization: Bearer KEY`` header, or None (missing,
    malformed, unknown or revoked)."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    key = authorization.removeprefix("Bearer ").strip()
    if not key.startswith("ntpd_") or len(key) > 200:
        return None
    return store.find_api_key(hash_key(key))

