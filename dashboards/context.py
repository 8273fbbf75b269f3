"""Who is asking: the logged-in user of a Dash request and the nodes they may see.

Every callback starts with :func:`require_context`; without a logged-in, enabled user it raises
``PreventUpdate`` so the callback returns no data (the login gate already answers such requests
with 401; this is the second lock on the same door).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dash.exceptions import PreventUpdate

from dashboards.auth import User, visible_node_ids
from dashboards.login import current_user
from ems.db.connection import Database


@dataclass(frozen=True)
class RequestContext:
    user: User
    visible: list[int]

    @property
    def lang(self) -> str:
        return self.user.language


def require_context(db: Database) -> RequestContext:
    """The current user and their visible node ids; ``PreventUpdate`` when nobody is logged in."""
    user = current_user(db)
    if user is None:
        raise PreventUpdate
    with db.connection() as conn:
        return RequestContext(user=user, visible=visible_node_ids(conn, user))


def parse_date(text: str | None) -> date | None:
    """A date from the date picker ('YYYY-MM-DD' or an ISO date-time), None when empty or malformed."""
    if not text:
        return None
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def date_range(start: str | None, end: str | None) -> tuple[date, date]:
    """Both ends of the picker as dates, in order; ``PreventUpdate`` until both are set."""
    lo, hi = parse_date(start), parse_date(end)
    if lo is None or hi is None:
        raise PreventUpdate
    return (lo, hi) if lo <= hi else (hi, lo)
