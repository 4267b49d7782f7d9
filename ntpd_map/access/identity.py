"""Who makes this request, as the gate found them (``access/gate.py``), and what they may do.

- ``current_identity()``: a person signed in (``kind`` user) or a wall display opened with its token (``kind``
  display), or None (anonymous, or outside a request);
- ``coverage_access()``: whether this person may mark coverage now (the coverage page and its callbacks ask it
  again at every write, server-side).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import g, has_request_context

from ntpd_map.access.roles import can_edit_coverage


def session_secret(secret: bytes) -> bytes:
    """The key that signs session cookies and CSRF tokens: HMAC-SHA256 of the installation's secret, so the
    caller-number hash key itself never signs anything, and every worker signs alike."""
    return hmac.new(secret, b"session", hashlib.sha256).digest()


class User:
    """A signed-in person as Flask-Login holds them; ``key`` is ``<id>:<session version>``."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, key: str, name: str, role: str, uid: int) -> None:
        self.key, self.name, self.role, self.uid = key, name, role, uid

    def get_id(self) -> str:
        return self.key


@dataclass(frozen=True)
class Identity:
    """Who makes a request: a person (``kind`` user) or a wall display (``kind`` display)."""

    kind: str
    id: int
    name: str
    role: str

    @property
    def actor(self) -> str:
        return f"{'user' if self.kind == 'user' else 'display'}:{self.name}"


def current_identity() -> Identity | None:
    """The identity the gate found for this request (None outside a request or for anonymous ones)."""
    return getattr(g, "ntpd_identity", None) if has_request_context() else None


def current_role() -> str | None:
    who = current_identity()
    return who.role if who else None


def safe_next(target: str | None) -> str | None:
    """A local path to go back to after signing in, never another site (``//evil``, ``https://...``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


@dataclass(frozen=True)
class CoverageAccess:
    """What the signed-in person may do on the coverage page. ``reason``: ``ok`` (``editor`` is who to record
    as author), ``anonymous`` or ``role`` (their role may not mark)."""

    reason: str
    editor: dict[str, Any] | None = None
    name: str | None = None
    role: str | None = None

    @property
    def may_edit(self) -> bool:
        return self.reason == "ok" and self.editor is not None


def coverage_access() -> CoverageAccess:
    """Whether this request's person may mark coverage now. The gate has already checked, for this very
    request, that the account is enabled with an unchanged password and role."""
    who = current_identity()
    if who is None:
        return CoverageAccess("anonymous")
    if who.kind != "user" or not can_edit_coverage(who.role):
        return CoverageAccess("role", name=who.name, role=who.role)
    return CoverageAccess("ok", editor={"id": who.id, "name": who.name, "role": who.role}, name=who.name,
                          role=who.role)
