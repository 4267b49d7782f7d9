"""The audit log (issue 8): one append-only row per state change: who, what, which, when, a few facts.

Every entry point that changes state records it: CLI commands, API handlers, Dash callbacks. ``actor`` says who:
``user:<name>`` (a signed-in account), ``display:<name>`` (a wall's token), ``api:<key name>`` (an integration),
``cli:<os user>`` (a command on the server). ``detail`` holds counts and ids only: never a caller's number, a
victim's details or free text from a call.
"""

from __future__ import annotations

import getpass
import logging
from typing import TYPE_CHECKING, Any

from flask import g, has_request_context

from ntpd_map.store.model import StoreUnavailable

if TYPE_CHECKING:
    from ntpd_map.store.base import Store

log = logging.getLogger(__name__)

#: what may be recorded; ``record`` refuses anything else, so a typo cannot hide an action from a filter
ACTIONS = (
    "import.incidents", "import.population", "import.opencellid", "import.survey", "import.blankspots",
    "api.incidents", "simulate.load",
    "coverage.mark", "coverage.undo",
    "unit.add", "unit.status", "unit.remove", "positions.prune",
    "key.create", "key.revoke",
    "user.add", "user.passwd", "user.role", "user.disable", "user.enable",
    "display.create", "display.revoke",
    "login.ok", "login.fail", "logout",
    "briefing.notes", "briefing.notes.refused",
    "alert.ack",
    "call.log",
)


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry for the uid (containers)
        return "cli:unknown"


def request_actor() -> str:
    """Who makes the current web request, as the access gate found it (``flask.g.ntpd_actor``)."""
    if not has_request_context():
        return cli_actor()
    return str(getattr(g, "ntpd_actor", None) or "anonymous")


def record(store: Store, actor: str, action: str, target: str | None = None, **detail: Any) -> int | None:
    """Append one entry; its id. An entry that cannot be written (store down) is logged, never raised: the change
    it describes has already happened or failed on its own."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    try:
        return store.audit(actor, action, target, detail or None)
    except StoreUnavailable as exc:
        log.error("audit entry not written (store unavailable: %s): %s %s %s", exc, actor, action, target)
        return None
