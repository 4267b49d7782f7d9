"""The page table: every page of the dashboard, one row each (issue 17). The router, the roles that may open a
page and the roles that may call its callbacks all come from here.

Dash's own pages model (``dash.register_page``) was weighed and not taken: it keeps its registry in a module
global shared by every app of the process (the test suite builds dozens, with different settings), it knows
nothing of roles, and its router cannot draw a live page from its last good data while the store is down.
"""

from __future__ import annotations

from ntpd_map.access.roles import EVERYONE, OPERATIONS, STAFF
from ntpd_map.pages import router
from ntpd_map.pages.analytics import callbacks as analytics_callbacks
from ntpd_map.pages.analytics import layout as analytics
from ntpd_map.pages.briefing import callbacks as briefing_callbacks
from ntpd_map.pages.briefing import layout as briefing
from ntpd_map.pages.common import register_alert
from ntpd_map.pages.coverage import callbacks as coverage_callbacks
from ntpd_map.pages.coverage import layout as coverage
from ntpd_map.pages.ops import callbacks as ops_callbacks
from ntpd_map.pages.ops import layout as ops
from ntpd_map.pages.page import CallbackGroup, Page
from ntpd_map.pages.wall import callbacks as wall_callbacks
from ntpd_map.pages.wall import layout as wall

PAGES: tuple[Page, ...] = (
    # path, key, title, roles, layout, callbacks
    Page("/", "ops", "app_title", OPERATIONS, ops.page, ops_callbacks.register),
    Page("/wall", "wall", "wall_title", EVERYONE, wall.page, wall_callbacks.register, wall=True),
    Page("/analitik", "analytics", "analytics_title", STAFF, analytics.page, analytics_callbacks.register),
    Page("/cakupan", "coverage", "coverage_title", STAFF, coverage.page, coverage_callbacks.register),
    Page("/briefing", "briefing", "briefing_title", STAFF, briefing.page, briefing_callbacks.register),
)

#: callbacks that belong to no one page: the router (it checks a page's roles itself), the coverage layers that
#: every map shows (wall-safe when the caller is a wall)
GROUPS: tuple[CallbackGroup, ...] = (
    CallbackGroup("router", EVERYONE, lambda cb, deps: router.register(cb, deps, PAGES)),
    CallbackGroup("coverage-shared", EVERYONE, coverage_callbacks.register_layers),
    CallbackGroup("alert", EVERYONE, register_alert),  # runs in the browser: the new-emergency alert
)


def page_for(path: str | None) -> Page:
    """The page a path shows: unknown paths show the operations page, as the router does."""
    return router.choose(PAGES, path)


def may_view(role: str | None, path: str | None) -> bool:
    return role in page_for(path).roles


def concern_roles() -> dict[str, frozenset[str]]:
    """Callback concern -> roles that may call its callbacks: a page's callbacks take the page's roles."""
    return {page.key: page.roles for page in PAGES} | {group.key: group.roles for group in GROUPS}
