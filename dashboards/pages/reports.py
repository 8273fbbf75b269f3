"""Reports: the auditor's Scope 1/2 inventory export (xlsx, pdf or csv zip) of a node and year, and
the electricity cost of a node per cost centre and month (xlsx). Downloads are limited by role
(inventory: auditor, admin; cost: energy manager, auditor, admin) and to the nodes in the user's scope.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboards.auth import may
from dashboards.context import require_context
from dashboards.i18n import tr
from dashboards.layout import card
from ems.db.connection import Database
from ems.errors import UserError

PAGE_KEY = "page.reports"
PATH = "/reports"
FORMATS = ("xlsx", "pdf", "csv")


def inventory_choices(conn, visible: list[int]) -> list[dict]:
    """(node, year) of the inventories the user may export: their nodes only, latest revision."""
    rows = conn.execute(
        """SELECT DISTINCT n.code, i.year FROM inventory i JOIN node n USING (node_id)
           WHERE i.node_id = ANY(%s) AND i.year IS NOT NULL ORDER BY 1, 2""", (visible,)).fetchall()
    return [{"label": f"{code} · {year}", "value": f"{code}|{year}"} for code, year in rows]


def cost_choices(conn, visible: list[int]) -> list[dict]:
    """Visible nodes that carry a tariff assignment (sites and plants) for the cost-centre report."""
    rows = conn.execute("SELECT code, name_zh, name_en FROM node WHERE node_id = ANY(%s) AND attrs ? 'tariffs' "
                        "ORDER BY code", (visible,)).fetchall()
    return [{"label": f"{code} · {zh or en or ''}", "value": code} for code, zh, en in rows]


def cost_bytes(conn, code: str, year: int) -> tuple[str, bytes]:
    """(file name, xlsx content) of the node's electricity cost per cost centre and month of ``year``."""
    from ems.analytics.cost_data import centre_report
    from ems.analytics.cost_report import export_cost_report

    tz = conn.execute("SELECT timezone FROM node WHERE code = %s", (code,)).fetchone()[0]
    start, end = pd.Timestamp(year, 1, 1).tz_localize(tz), pd.Timestamp(year + 1, 1, 1).tz_localize(tz)
    report = centre_report(conn, code, tz, start, end, "month")
    with tempfile.TemporaryDirectory() as tmp:
        [path] = export_cost_report(report, Path(tmp) / f"cost_{code}_{year}.xlsx")
        return path.name, path.read_bytes()


def layout(lang: str, choices: list[dict], costs: list[dict] | None = None, years: list[int] | None = None) -> list:
    costs, years = costs or [], years or []
    cost_card = card(tr("reports.cost", lang), [
        html.Div(className="cc-drill", children=[
            html.Div(dcc.Dropdown(id="cost-node", options=costs, value=costs[0]["value"] if costs else None),
                     className="cc-dropdown"),
            html.Div(dcc.Dropdown(id="cost-year", options=[{"label": str(y), "value": y} for y in years],
                                  value=years[-1] if years else None), className="cc-dropdown"),
            html.Button(tr("reports.download", lang), id="cost-download-button", n_clicks=0),
            html.Span(id="cost-message", className="cc-hint"),
        ]),
        dcc.Download(id="cost-download"),
    ], hint=tr("reports.cost.hint", lang), id="card-cost-report")
    return [cost_card] + [
        card(tr("reports.inventory", lang), [
            html.Div(className="cc-drill", children=[
                html.Div(dcc.Dropdown(id="report-inventory", options=choices,
                                      value=choices[-1]["value"] if choices else None), className="cc-dropdown"),
                dcc.RadioItems(id="report-format", options=[{"label": f, "value": f} for f in FORMATS], value="xlsx",
                               inline=True),
                html.Button(tr("reports.download", lang), id="report-download-button", n_clicks=0),
                html.Span(id="report-message", className="cc-hint"),
            ]),
            dcc.Download(id="report-download"),
        ], hint=tr("reports.inventory.hint", lang), id="card-report"),
    ]


def export_bytes(conn, code: str, year: int, fmt: str) -> tuple[str, bytes]:
    """(file name, content) of the inventory export of ``code`` and ``year``."""
    from cms.report_cli import export

    with tempfile.TemporaryDirectory() as tmp:
        name = f"scope12_{code}_{year}.{'zip' if fmt == 'csv' else fmt}"
        paths = export(conn, code, dt.date(year, 1, 1), dt.date(year + 1, 1, 1), fmt, Path(tmp) / name)
        return paths[0].name, paths[0].read_bytes()


def register_callbacks(app: Dash, db: Database) -> None:
    @app.callback(Output("report-download", "data"), Output("report-message", "children"),
                  Input("report-download-button", "n_clicks"), State("report-inventory", "value"),
                  State("report-format", "value"), prevent_initial_call=True)
    def _download(n_clicks: int, choice: str | None, fmt: str | None):
        rc = require_context(db)
        if not n_clicks or not choice or fmt not in FORMATS:
            raise PreventUpdate
        if not may(rc.user, "download_inventory"):
            return None, tr("reports.denied", rc.lang)
        code, year = choice.split("|")
        with db.connection() as conn:
            if choice not in {c["value"] for c in inventory_choices(conn, rc.visible)}:
                raise PreventUpdate                       # not a node of this user's scope
            try:
                name, content = export_bytes(conn, code, int(year), fmt)
            except UserError as exc:
                return None, str(exc)
        return dcc.send_bytes(content, name), tr("reports.ready", rc.lang)

    @app.callback(Output("cost-download", "data"), Output("cost-message", "children"),
                  Input("cost-download-button", "n_clicks"), State("cost-node", "value"), State("cost-year", "value"),
                  prevent_initial_call=True)
    def _cost(n_clicks: int, code: str | None, year: int | None):
        rc = require_context(db)
        if not n_clicks or not code or not year:
            raise PreventUpdate
        if not may(rc.user, "download_cost"):
            return None, tr("reports.denied.cost", rc.lang)
        with db.connection() as conn:
            if code not in {c["value"] for c in cost_choices(conn, rc.visible)}:
                raise PreventUpdate                       # not a node of this user's scope
            try:
                name, content = cost_bytes(conn, code, int(year))
            except UserError as exc:
                return None, str(exc)
        return dcc.send_bytes(content, name), tr("reports.ready", rc.lang)
