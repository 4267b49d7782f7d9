"""The roles, defined once (issues 4, 7, 8, 17): who may see and do what. The page table (``pages/table.py``) and
the route table (``http/routes.py``) name these sets; the gate, the pages, the API and the README's role table
follow from them.

Roles of people (accounts): ``wall`` (a display, read-only, no personal data), ``operator`` (call-takers and
dispatchers), ``planner`` (the Dinas staff who mark blank spots and propose BTS), ``admin`` (everything).
A wall display signed in with its token counts as ``wall``.
Roles of API keys (integrations): ``ingest`` (posts incidents and positions), ``read`` (every GET endpoint),
``planner`` (reads, and marks signal coverage), ``admin`` (everything).
"""

from __future__ import annotations

USER_ROLES = ("wall", "operator", "planner", "admin")
KEY_ROLES = ("ingest", "read", "planner", "admin")

#: every signed-in person and display
EVERYONE = frozenset(USER_ROLES)
#: live incidents with their details, units, status buttons: the people who take and dispatch calls
OPERATIONS = frozenset({"operator", "admin"})
#: the center's and the Dinas's staff: analytics, coverage, the briefing (never a wall)
STAFF = frozenset({"operator", "planner", "admin"})
#: may set or undo a desa's (or an H3 cell's) signal mark (issue 7); wall displays never may
EDIT_COVERAGE = frozenset({"planner", "admin"})
#: may write the Dinas's notes of a briefing (issue 9); operators read them, a wall never opens the briefing
EDIT_BRIEFING_NOTES = frozenset({"planner", "admin"})

#: API keys: which key roles an endpoint takes (``http/routes.py``). Admin keys may everything; a planner key
#: reads too (the proposal it marks for is a read).
KEY_INGEST = frozenset({"ingest", "admin"})
KEY_READ = frozenset({"read", "planner", "admin"})
KEY_PLANNER = frozenset({"planner", "admin"})
KEY_ADMIN = frozenset({"admin"})


def can_edit_coverage(role: str | None) -> bool:
    """Whether ``role`` may mark signal coverage and undo marks: planner and admin only."""
    return role in EDIT_COVERAGE


def can_edit_briefing_notes(role: str | None) -> bool:
    """Whether ``role`` may write the Dinas's notes of a briefing: planner and admin only."""
    return role in EDIT_BRIEFING_NOTES


def home(role: str | None) -> str:
    """Where a role lands after signing in."""
    return {"wall": "/wall", "planner": "/cakupan"}.get(str(role), "/")
