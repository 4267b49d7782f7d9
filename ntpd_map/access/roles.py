"""Who may see and do what: small pure predicates the access gate, the pages, the callbacks and the API share
(issues 7 and 8). The README's role table is this module.

Roles of people (accounts): ``wall`` (a display, read-only, no personal data), ``operator`` (call-takers and
dispatchers), ``planner`` (the Dinas staff who mark blank spots and propose BTS), ``admin`` (everything).
Roles of API keys (integrations): ``ingest``, ``read``, ``planner``, ``admin`` (``ntpd_map.access.keys``).
A wall display signed in with its token counts as ``wall``.
"""

from __future__ import annotations

USER_ROLES = ("wall", "operator", "planner", "admin")
EVERYONE = frozenset(USER_ROLES)

#: Roles that may set or undo a desa's (or an H3 cell's) signal mark (issue 7). Wall displays never may.
EDIT_COVERAGE_ROLES = ("planner", "admin")
#: Roles that may write the Dinas's notes of a briefing (issue 9): the Dinas's own staff and admins. Operators
#: read the briefing and its notes; a wall never opens it.
EDIT_BRIEFING_NOTES_ROLES = ("planner", "admin")

#: page path -> roles that may open it
PAGE_ROLES: dict[str, frozenset[str]] = {
    "/": frozenset({"operator", "admin"}),  # live incidents with their details, units, status buttons
    "/wall": EVERYONE,  # built for a room: nothing personal on it
    "/analitik": frozenset({"operator", "planner", "admin"}),
    "/cakupan": frozenset({"operator", "planner", "admin"}),  # marking: EDIT_COVERAGE_ROLES only
    "/briefing": frozenset({"operator", "planner", "admin"}),  # notes: EDIT_BRIEFING_NOTES_ROLES only
}

#: plain routes beside the pages (downloads) -> the page whose roles they take
ROUTE_PAGES: dict[str, str] = {
    "/briefing/pdf": "/briefing",
    "/briefing/xlsx": "/briefing",
}

#: a concern of Dash callbacks (the module that registers them) -> roles that may call them. A callback not
#: assigned to a concern is refused to everyone (the gate denies by default).
CALLBACK_ROLES: dict[str, frozenset[str]] = {
    "router": EVERYONE,  # renders the page for the path; it checks PAGE_ROLES itself
    "wall": EVERYONE,
    "coverage-shared": EVERYONE,  # the coverage layers of every page; wall-safe when the caller is a wall
    "ops": PAGE_ROLES["/"],
    "analytics": PAGE_ROLES["/analitik"],
    "coverage": PAGE_ROLES["/cakupan"],
    "briefing": PAGE_ROLES["/briefing"],
}


def can_edit_coverage(role: str | None) -> bool:
    """Whether ``role`` may mark signal coverage and undo marks: planner and admin only."""
    return role in EDIT_COVERAGE_ROLES


def can_edit_briefing_notes(role: str | None) -> bool:
    """Whether ``role`` may write the Dinas's notes of a briefing: planner and admin only."""
    return role in EDIT_BRIEFING_NOTES_ROLES


def page_for(path: str | None) -> str:
    """The page a path shows (unknown paths show the operations page, as the router does); a download route
    counts as its page (``ROUTE_PAGES``)."""
    path = (path or "/").rstrip("/") or "/"
    path = ROUTE_PAGES.get(path, path)
    return path if path in PAGE_ROLES else "/"


def may_view(role: str | None, path: str | None) -> bool:
    return role in PAGE_ROLES[page_for(path)]


def may_call(role: str | None, concern: str | None) -> bool:
    return concern in CALLBACK_ROLES and role in CALLBACK_ROLES[str(concern)]


def home(role: str | None) -> str:
    """Where a role lands after signing in."""
    return {"wall": "/wall", "planner": "/cakupan"}.get(str(role), "/")
