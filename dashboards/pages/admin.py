"""Admin (admins only): users with their role and node scope (create a user, change role and scope
through ``dashboards.auth``), and read-only views of the factor library (versions, source, whether a
locked inventory uses a version, which freezes it), the built-in tariffs and the zero-carbon criteria
packs. Everyone else sees a "not allowed" message, and every callback refuses them (``PreventUpdate``).
"""

from __future__ import annotations

import pandas as pd
from dash import Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from dashboards.auth import LANGUAGES, ROLES, User, create_user, list_users, set_role, set_scope
from dashboards.context import require_context
from dashboards.i18n import tr
from dashboards.layout import card
from ems.db.connection import Database
from ems.errors import UserError

PAGE_KEY = "page.admin"
PATH = "/admin"
FACTOR_LIMIT = 60   # rows drawn at once: a longer table makes the page slow; filter by family for more


def require_admin(user: User | None) -> User:
    """The user when an admin, else ``PreventUpdate`` (the callback answers with nothing)."""
    if user is None or not user.is_admin:
        raise PreventUpdate
    return user


def node_codes(conn) -> list[str]:
    return [r[0] for r in conn.execute("SELECT code FROM node ORDER BY code").fetchall()]


def factor_families(conn) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT family FROM factor ORDER BY 1").fetchall()]


def factors(conn, user: User, family: str | None = None, limit: int = FACTOR_LIMIT) -> pd.DataFrame:
    """Factor versions (newest version first per factor) with how many inventories use each and whether
    a locked one does (then the version is frozen: it can only be superseded). Admins only."""
    require_admin(user)
    rows = conn.execute(
        """SELECT f.factor_pk, f.factor_id, f.version, f.kind, f.family, f.activity, f.region, f.gas, f.value,
                  f.unit, f.gwp_set, f.data_year, f.valid_from, f.valid_to, f.source, f.publication, f.firmness,
                  f.superseded_by, count(i.inventory_id) AS used_by,
                  coalesce(bool_or(i.status = 'locked'), false) AS locked
           FROM factor f LEFT JOIN inventory_factor x USING (factor_pk)
           LEFT JOIN inventory i ON i.inventory_id = x.inventory_id
           WHERE %s::text IS NULL OR f.family = %s
           GROUP BY f.factor_pk ORDER BY f.family, f.factor_id, f.version DESC LIMIT %s""",
        (family, family, limit)).fetchall()
    return pd.DataFrame(rows, columns=["factor_pk", "factor_id", "version", "kind", "family", "activity", "region",
                                       "gas", "value", "unit", "gwp_set", "data_year", "valid_from", "valid_to",
                                       "source", "publication", "firmness", "superseded_by", "used_by", "locked"])


def create(conn, user: User, username: str | None, password: str | None, role: str | None,
           scope: list[str] | None, language: str | None) -> str:
    """Create a user (admins only); the message to show."""
    require_admin(user)
    try:
        made = create_user(conn, username or "", password or "", role or "", scope or [],
                           language=language or "zh")
    except UserError as exc:
        return f"{tr('admin.refused', user.language)}: {exc}"
    return f"{tr('admin.created', user.language)}: {made.username}"


def update(conn, user: User, user_id: int | None, role: str | None, scope: list[str] | None) -> str:
    """Set another user's role and scope (admins only; an admin cannot demote themself, so the product
    is never left without an admin by accident); the message to show."""
    require_admin(user)
    if user_id is None or role is None:
        return tr("admin.choose_user", user.language)
    if int(user_id) == user.user_id and role != user.role:
        return tr("admin.self_role", user.language)
    try:
        with conn.transaction():
            set_role(conn, int(user_id), role)
            set_scope(conn, int(user_id), scope or [])
    except UserError as exc:
        return f"{tr('admin.refused', user.language)}: {exc}"
    return tr("admin.updated", user.language)


def layout(lang: str, allowed: bool, codes: list[str] | None = None, families: list[str] | None = None) -> list:
    if not allowed:
        return [html.Div(tr("admin.denied", lang), className="cc-card cc-empty", id="admin-denied")]
    roles = [{"label": tr(f"role.{r}", lang), "value": r} for r in ROLES]
    nodes = [{"label": c, "value": c} for c in codes or []]
    langs = [{"label": tr(f"language.{x}", lang), "value": x} for x in LANGUAGES]
    return [
        card(tr("admin.users", lang), [
            html.Div(id="admin-users"),
            html.H3(tr("admin.create", lang)),
            html.Div(className="cc-drill", children=[
                dcc.Input(id="admin-new-name", type="text", placeholder=tr("admin.username", lang)),
                dcc.Input(id="admin-new-password", type="password", placeholder=tr("admin.password", lang)),
                html.Div(dcc.Dropdown(id="admin-new-role", options=roles, value="viewer", clearable=False),
                         className="cc-dropdown cc-narrow"),
                html.Div(dcc.Dropdown(id="admin-new-scope", options=nodes, multi=True,
                                      placeholder=tr("admin.scope", lang)), className="cc-dropdown"),
                dcc.RadioItems(id="admin-new-language", options=langs, value=lang, inline=True),
                html.Button(tr("admin.create.button", lang), id="admin-create", n_clicks=0),
            ]),
            html.H3(tr("admin.edit", lang)),
            html.Div(className="cc-drill", children=[
                html.Div(dcc.Dropdown(id="admin-user", options=[], placeholder=tr("admin.choose_user", lang)),
                         className="cc-dropdown cc-narrow"),
                html.Div(dcc.Dropdown(id="admin-role", options=roles, placeholder=tr("admin.role", lang)),
                         className="cc-dropdown cc-narrow"),
                html.Div(dcc.Dropdown(id="admin-scope", options=nodes, multi=True,
                                      placeholder=tr("admin.scope", lang)), className="cc-dropdown"),
                html.Button(tr("admin.update.button", lang), id="admin-update", n_clicks=0),
            ]),
            html.Div(id="admin-result", className="cc-hint"),
        ], hint=tr("admin.users.hint", lang), id="card-admin-users"),
        card(tr("admin.factors", lang), [
            html.Div(dcc.Dropdown(id="admin-factor-family", options=[{"label": f, "value": f} for f in families or []],
                                  placeholder=tr("admin.family.all", lang)), className="cc-dropdown cc-narrow"),
            html.Div(id="admin-factors"),
        ], hint=tr("admin.factors.hint", lang), id="card-admin-factors"),
        card(tr("admin.tariffs", lang), [tariff_table(lang)], hint=tr("admin.readonly", lang), id="card-admin-tariffs"),
        card(tr("admin.packs", lang), [pack_table(lang)], hint=tr("admin.readonly", lang), id="card-admin-packs"),
    ]


def _table(keys: tuple[str, ...], rows: list[list], lang: str, table_id: str, num: frozenset = frozenset()):
    head = html.Tr([html.Th(tr(k, lang), className="num" if k in num else "") for k in keys])
    body = [html.Tr([html.Td("" if v is None else str(v), className="num" if keys[i] in num else "")
                     for i, v in enumerate(row)]) for row in rows]
    return html.Table([html.Thead(head), html.Tbody(body)], className="cc-table", id=table_id)


def users_table(users: list[dict], lang: str) -> html.Table:
    keys = ("admin.username", "admin.display_name", "admin.role", "admin.scope", "admin.language", "admin.state")
    rows = [[u["username"], u["display_name"], tr(f"role.{u['role']}", lang),
             tr("admin.scope.all", lang) if u["role"] == "admin" else (", ".join(u["scope"]) or tr("admin.scope.none",
                                                                                                   lang)),
             tr(f"language.{u['language']}", lang), tr("admin.disabled" if u["disabled"] else "admin.enabled", lang)]
            for u in users]
    return _table(keys, rows, lang, "admin-user-list")


def factor_table(frame: pd.DataFrame, lang: str) -> html.Table | html.Div:
    if frame.empty:
        return html.Div(tr("admin.factors.none", lang), className="cc-empty", id="admin-no-factors")
    keys = ("admin.factor", "admin.version", "admin.family", "admin.activity", "admin.region", "admin.gas",
            "admin.value", "col.unit", "admin.valid", "admin.source", "admin.used_by", "admin.state")
    rows = []
    for r in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        state = [tr("admin.locked", lang)] if r["locked"] else []
        state += [tr("admin.superseded", lang)] if r["superseded_by"] is not None else []
        valid = f"{r['valid_from'] or ''}–{r['valid_to'] or ''}" if r["valid_from"] or r["valid_to"] else \
            (str(int(r["data_year"])) if r["data_year"] else "")
        rows.append([r["factor_id"], r["version"], r["family"], r["activity"], r["region"], r["gas"],
                     f"{float(r['value']):.6g}", r["unit"], valid,
                     " · ".join(x for x in (r["source"], r["publication"]) if x), r["used_by"], ", ".join(state)])
    return _table(keys, rows, lang, "admin-factor-list", frozenset({"admin.value", "admin.used_by"}))


def _name(names, lang: str, fallback: str) -> str:
    """A zh/en name pair of a data file in ``lang``, else the other language, else ``fallback``."""
    return getattr(names, lang, None) or names.en or names.zh or fallback


def tariff_table(lang: str) -> html.Table:
    from ems.analytics.tariff_files import builtin_tariffs

    keys = ("admin.tariff", "admin.version", "admin.name", "admin.region", "admin.valid", "admin.firmness",
            "admin.source")
    rows = [[t.id, t.version, _name(t.name, lang, t.id), t.region,
             f"{t.valid_from}–{t.valid_to or ''}", t.firmness,
             " · ".join(x for x in (t.source.document, t.source.publisher) if x)] for t in builtin_tariffs()]
    return _table(keys, rows, lang, "admin-tariff-list")


def pack_table(lang: str) -> html.Table:
    from cms.zerocarbon_pack import builtin_packs

    keys = ("admin.pack", "admin.version", "admin.name", "admin.standard", "admin.pack_status", "admin.items",
            "admin.levels", "admin.source")
    rows = [[p.id, p.version, _name(p.title, lang, p.id), p.standard,
             tr(f"admin.pack_status.{p.status}", lang), len(p.items), len(p.levels), p.source]
            for p in builtin_packs()]
    return _table(keys, rows, lang, "admin-pack-list", frozenset({"admin.items", "admin.levels"}))


def register_callbacks(app: Dash, db: Database) -> None:
    @app.callback(Output("admin-users", "children"), Output("admin-user", "options"), Output("admin-result", "children"),
                  Input("admin-create", "n_clicks"), Input("admin-update", "n_clicks"),
                  State("admin-new-name", "value"), State("admin-new-password", "value"),
                  State("admin-new-role", "value"), State("admin-new-scope", "value"),
                  State("admin-new-language", "value"), State("admin-user", "value"), State("admin-role", "value"),
                  State("admin-scope", "value"))
    def _users(_create, _update, name, password, new_role, new_scope, language, user_id, role, scope):
        rc = require_context(db)
        require_admin(rc.user)
        message = ""
        with db.connection() as conn:
            if ctx.triggered_id == "admin-create":
                message = create(conn, rc.user, name, password, new_role, new_scope, language)
            elif ctx.triggered_id == "admin-update":
                message = update(conn, rc.user, user_id, role, scope)
            users = list_users(conn)
        options = [{"label": u["username"], "value": u["user_id"]} for u in users]
        return users_table(users, rc.lang), options, message

    @app.callback(Output("admin-scope", "value"), Output("admin-role", "value"), Input("admin-user", "value"),
                  prevent_initial_call=True)
    def _pick(user_id):
        rc = require_context(db)
        require_admin(rc.user)
        with db.connection() as conn:
            found = [u for u in list_users(conn) if u["user_id"] == user_id]
        if not found:
            raise PreventUpdate
        return list(found[0]["scope"]), found[0]["role"]

    @app.callback(Output("admin-factors", "children"), Input("admin-factor-family", "value"))
    def _factors(family):
        rc = require_context(db)
        with db.connection() as conn:
            return factor_table(factors(conn, rc.user, family or None), rc.lang)
