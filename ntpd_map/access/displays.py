"""Wall display tokens (issue 8): a wall's URL carries one, so the screen signs in by itself after a reboot.

A token is 192 random bits, shown once and stored as a SHA-256 (like API keys); revoking it locks the wall out
at its next refresh. Every change is written to the audit log by the caller's ``actor``.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from ntpd_map import audit
from ntpd_map.access.keys import hash_key

if TYPE_CHECKING:
    from ntpd_map.store.base import Store

DISPLAY_PREFIX = "wall_"


def create_display_token(store: Store, name: str, *, actor: str) -> tuple[int, str]:
    """A new wall display token: (id, token). The token is shown once; only its hash is kept."""
    if not name.strip():
        raise ValueError("a display token needs a name (where the screen hangs, e.g. ruang-112-kiri)")
    token = DISPLAY_PREFIX + secrets.token_urlsafe(24)
    token_id = store.add_display_token(name.strip(), hash_key(token))
    audit.record(store, actor, "display.create", name.strip(), id=token_id)
    return token_id, token


def find_display_token(store: Store, token: str | None) -> dict[str, Any] | None:
    """The unrevoked display token ({"id", "name"}) a URL carries, or None. Raises StoreUnavailable."""
    if not token or not token.startswith(DISPLAY_PREFIX) or len(token) > 100:
        return None
    return store.find_display_token(hash_key(token))


def display_token_revoked(store: Store, token: str | None) -> bool:
    """Whether the token a URL carries was revoked (else, when not found, it is unknown). StoreUnavailable."""
    if not token or not token.startswith(DISPLAY_PREFIX) or len(token) > 100:
        return False
    return store.display_token_revoked(hash_key(token))


def revoke_display_token(store: Store, token_id: int, *, actor: str) -> bool:
    done = store.revoke_display_token(token_id)
    if done:
        audit.record(store, actor, "display.revoke", str(token_id))
    return done
