"""The cockpit app factory: ``create_app(db, data_dir=...)`` returns a ready Dash app.

No module-level state: the database, the secret key and the callbacks belong to the app instance,
so tests can build several apps side by side. The login gate (``dashboards.login``) guards every
route; the layout is built per request for the logged-in user, in their language, from the nodes
they may see.
"""

from __future__ import annotations

from pathlib import Path

import dash
import flask
import pandas as pd
from dash import Input, Output, dcc, html

from dashboards import queries
from dashboards.auth import User
from dashboards.context import require_context
from dashboards.i18n import DEFAULT_LANGUAGE
from dashboards.layout import page, shell
from dashboards.login import current_user, install_login
from dashboards.pages import admin, alarms, carbon, energy, forecasts, overview, reports, systems
from dashboards.pages import recommendations as recs
from dashboards.pages import zerocarbon as zc
from ems.db.connection import Database

ASSETS = Path(__file__).resolve().parent / "assets"
TITLE = "Carbon Cockpit 碳管理驾驶舱"


def create_app(db: Database, *, data_dir: Path | str) -> dash.Dash:
    """Build the cockpit on its own Flask server, with log-in, for the database ``db``.

    ``data_dir`` holds the session secret key (``secret_key``) unless ``EMS_SECRET_KEY`` is set.
    """
    server = flask.Flask(__name__)
    install_login(server, db, Path(data_dir))
    app = dash.Dash(__name__, server=server, title=TITLE, assets_folder=str(ASSETS), update_title=None,
                    serve_locally=True)

    def serve_layout():
        # Dash also calls this outside a request, and on the first request that passes the gate (which
        # may be /login), to validate the layout: the page itself is rendered by the router callback.
        if not flask.has_request_context() or current_user(db) is None:
            return _full_layout(DEFAULT_LANGUAGE, None)
        return html.Div([dcc.Location(id="url", refresh=True), html.Div(id="page")])

    @app.callback(Output("page", "children"), Input("url", "pathname"))
    def _route(path: str | None):
        rc = require_context(db)
        with db.connection() as conn:
            extent = queries.data_extent(conn, rc.visible) if rc.visible else None
            nodes = queries.visible_nodes(conn, rc.visible)
            route = (path or "/").rstrip("/")
            if route == forecasts.PATH:
                return page(rc.user, rc.lang, forecasts.PAGE_KEY,
                            forecasts.layout(rc.lang, forecasts.champions(conn, rc.visible)))
            if route == recs.PATH:
                found = not recs.recommendations(conn, rc.visible, limit=1).empty
                return page(rc.user, rc.lang, recs.PAGE_KEY, recs.layout(rc.lang, found))
            if route == admin.PATH:
                body = (admin.layout(rc.lang, True, admin.node_codes(conn), admin.factor_families(conn))
                        if rc.user.is_admin else admin.layout(rc.lang, False))
                return page(rc.user, rc.lang, admin.PAGE_KEY, body)
            if (path or "/").rstrip("/") == reports.PATH:
                years = sorted(set(carbon.inventories(conn, rc.visible)["year"].astype(int)))
                return page(rc.user, rc.lang, reports.PAGE_KEY,
                            reports.layout(rc.lang, reports.inventory_choices(conn, rc.visible),
                                           reports.cost_choices(conn, rc.visible), years))
            if (path or "/").rstrip("/") == alarms.PATH:
                last = ((pd.Timestamp(extent[1]) - pd.Timedelta(microseconds=1)).tz_convert(str(nodes["timezone"].iloc[0])).date()
                        if extent and len(nodes) else None)
                return page(rc.user, rc.lang, alarms.PAGE_KEY, alarms.layout(rc.lang, last))
            if (path or "/").rstrip("/") == overview.PATH:
                years = sorted(set(carbon.inventories(conn, rc.visible)["year"].astype(int)))
                wall = flask.request.args.get("screen") == "wall" or "screen=wall" in (flask.request.referrer or "")
                return page(rc.user, rc.lang, overview.PAGE_KEY, overview.layout(rc.lang, years, wall))
            if route == zc.PATH:
                years = sorted(set(carbon.inventories(conn, rc.visible)["year"].astype(int)))
                return page(rc.user, rc.lang, zc.PAGE_KEY, zc.layout(rc.lang, years))
            if (path or "/").rstrip("/") == carbon.PATH:
                years = sorted(set(carbon.inventories(conn, rc.visible)["year"].astype(int)))
                return page(rc.user, rc.lang, carbon.PAGE_KEY, carbon.layout(rc.lang, years))
            if (path or "/").rstrip("/") == systems.PATH:
                last = ((pd.Timestamp(extent[1]) - pd.Timedelta(microseconds=1)).tz_convert(str(nodes["timezone"].iloc[0])).date()
                        if extent and len(nodes) else None)
                return page(rc.user, rc.lang, systems.PAGE_KEY,
                            systems.layout(rc.lang, systems.systems(conn, rc.visible), last))
        return page(rc.user, rc.lang, energy.PAGE_KEY, energy.layout(rc.lang, nodes, extent))

    # every id a callback uses must be known before the first request: validate against a full layout
    app.validation_layout = _full_layout(DEFAULT_LANGUAGE, None)
    app.layout = serve_layout
    energy.register_callbacks(app, db)
    systems.register_callbacks(app, db)
    carbon.register_callbacks(app, db)
    zc.register_callbacks(app, db)
    overview.register_callbacks(app, db)
    alarms.register_callbacks(app, db)
    reports.register_callbacks(app, db)
    forecasts.register_callbacks(app, db)
    recs.register_callbacks(app, db)
    admin.register_callbacks(app, db)
    return app


def _full_layout(lang: str, user: User | None) -> dash.html.Div:
    """Every page's components (no data), for Dash's callback validation."""
    nodes = pd.DataFrame([{"node_id": 0, "code": "-", "parent_id": None, "level": "group", "name_zh": "-",
                           "name_en": "-", "timezone": "UTC", "depth": 0}])
    found = pd.DataFrame([{"node_id": 0, "code": "-", "name_zh": "-", "name_en": "-", "role": "-", "kind": "chiller"}])
    champs = pd.DataFrame([{"model_id": 0, "target": "-", "name_zh": "-", "name_en": "-", "model": "-", "step_s": 900,
                            "horizon_steps": 96, "score": None, "naive_day_mae": None, "skill_day": None,
                            "train_end": None, "live_n": 0, "live_mae": None, "live_skill": None, "drift": False}])
    return shell(user, lang, energy.PAGE_KEY, energy.layout(lang, nodes, None) + systems.layout(lang, found, None)
                 + carbon.layout(lang, [2000]) + overview.layout(lang, [2000], False) + alarms.layout(lang, None)
                 + reports.layout(lang, []) + forecasts.layout(lang, champs) + recs.layout(lang, True)
                 + admin.layout(lang, True, [], []) + zc.layout(lang, [2000]))
