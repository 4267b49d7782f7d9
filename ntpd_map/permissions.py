"""Who may change what: small pure predicates the pages, the callbacks and the API share (issues 7 and 8).

Roles: ``wall`` (a display, read-only), ``operator`` (call-takers and dispatchers), ``read``/``ingest`` (API
keys of integrations), ``planner`` (the Dinas staff who mark blank spots and propose BTS), ``admin`` (everything).
"""

from __future__ import annotations

#: Roles that may set or undo a desa's (or an H3 cell's) signal mark (issue 7). Wall displays never may.
EDIT_COVERAGE_ROLES = ("planner", "admin")


def can_edit_coverage(role: str | None) -> bool:
    """Whether ``role`` may mark signal coverage and undo marks: planner and admin only."""
    return role in EDIT_COVERAGE_ROLES
