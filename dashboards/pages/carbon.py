"""Carbon: Scope 1 and Scope 2 (location- and market-based, always both) per plant and year, from the
stored inventories (draft, in review or locked, with revision and content hash), by source and month.

A user sees an inventory of a node they may see; from a wider inventory (the group's) only the rows of
the plants inside their scope. Figures are the engine's (tCO2e, rounded by the engine to the kg).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from dashboards.context import require_context
from dashboards.figures import _base_layout, empty_figure
from dashboards.i18n import fmt_number, tr
from dashboards.layout import card
from ems.db.connection import Database

PAGE_KEY = "page.carbon"
PATH = "/carbon"
SCOPES = (("scope1_tco2e", "carbon.scope1"), ("scope2_location_tco2e", "carbon.scope2_lb"),
          ("scope2_market_tco2e", "carbon.scope2_mb"))


def inventories(conn, visible: list[int], year: int | None = None) -> pd.DataFrame:
    """Latest revision of each yearly inventory: node_id, code, level, year, status, revision, hash, summary."""
    rows = conn.execute(
        """SELECT DISTINCT ON (i.node_id, i.year) i.node_id, n.code, n.level, i.year, i.status, i.revision,
                  i.content_hash, i.summary, n.name_zh, n.name_en
           FROM inventory i JOIN node n USING (node_id)
           WHERE i.year IS NOT NULL AND (%s::int IS NULL OR i.year = %s)
           ORDER BY i.node_id, i.year, i.revision DESC""", (year, year)).fetchall()
    frame = pd.DataFrame(rows, columns=["node_id", "code", "level", "year", "status", "revision", "content_hash",
                                        "summary", "name_zh", "name_en"])
    frame.attrs["visible"] = set(visible)
    return frame


def plant_rows(frame: pd.DataFrame, visible: list[int], codes_visible: set[str]) -> pd.DataFrame:
    """One row per visible plant: its own inventory when stored, else its row in a wider inventory."""
    rows: dict[str, dict] = {}
    for r in frame.sort_values("level").itertuples():   # 'company'/'group' before 'plant' (alphabetical)
        summary = r.summary or {}
        for code, part in (summary.get("by_plant") or {}).items():
            if code in codes_visible:
                rows[code] = {"plant": code, "source": r.code, "status": r.status, "revision": r.revision,
                              **{k: part.get(k) for k, _ in SCOPES}}
    for r in frame.itertuples():
        if r.level == "plant" and r.node_id in visible:
            s = r.summary or {}
            rows[r.code] = {"plant": r.code, "source": r.code, "status": r.status, "revision": r.revision,
                            **{k: s.get(k) for k, _ in SCOPES}}
    return pd.DataFrame(list(rows.values()))


def layout(lang: str, years: list[int]) -> list:
    if not years:
        return [html.Div(tr("carbon.none", lang), className="cc-card cc-empty", id="no-inventories")]
    return [
        html.Div(className="cc-card cc-controls", children=[
            html.Label(tr("carbon.year", lang), htmlFor="carbon-year"),
            html.Div(dcc.Dropdown(id="carbon-year", options=[{"label": str(y), "value": y} for y in years],
                                  value=years[-1], clearable=False), className="cc-dropdown"),
        ]),
        card(tr("carbon.tiles", lang), [html.Div(id="carbon-tiles", className="cc-tiles")],
             hint=tr("carbon.tiles.hint", lang), id="card-carbon-tiles"),
        card(tr("carbon.by_plant", lang), [html.Div(id="carbon-table")], id="card-carbon-table"),
        card(tr("carbon.by_month", lang), [dcc.Loading(dcc.Graph(id="carbon-month",
                                                                 config={"displaylogo": False}))],
             id="card-carbon-month"),
    ]


def tiles(top: pd.Series | None, plants: pd.DataFrame, lang: str) -> list:
    """Three tiles: the widest visible inventory's totals, else the sum of the visible plants."""
    values = {k: (top["summary"].get(k) if top is not None else plants[k].sum() if len(plants) else None)
              for k, _ in SCOPES}
    label = "" if top is None else f"{top['code']} · {tr('status.' + top['status'], lang)} · rev {top['revision']}"
    return [html.Div([html.Div(tr(key, lang), className="cc-tile-label"),
                      html.Div(fmt_number(values[k], 1), className="cc-tile-value"),
                      html.Div("tCO2e", className="cc-tile-unit")], className="cc-tile", id=f"tile-{k}")
            for k, key in SCOPES] + [html.Div(label, className="cc-hint", id="carbon-source")]


def plant_table(plants: pd.DataFrame, lang: str) -> html.Table | html.Div:
    if plants.empty:
        return html.Div(tr("no_data", lang), className="cc-empty")
    head = html.Tr([html.Th(tr("col.node", lang)), html.Th(tr("carbon.status", lang))]
                   + [html.Th(tr(key, lang), className="num") for _, key in SCOPES])
    body = [html.Tr([html.Td(r["plant"]), html.Td(f"{tr('status.' + r['status'], lang)} · rev {r['revision']}")]
                    + [html.Td(fmt_number(r[k], 1), className="num") for k, _ in SCOPES])
            for r in plants.to_dict("records")]
    return html.Table([html.Thead(head), html.Tbody(body)], className="cc-table", id="carbon-plants")


def month_figure(top: pd.Series | None, lang: str) -> go.Figure:
    months = (top["summary"].get("by_month") or {}) if top is not None else {}
    if not months:
        return empty_figure(tr("no_data", lang))
    keys = sorted(months)
    fig = go.Figure()
    for k, key in SCOPES:
        fig.add_bar(x=keys, y=[months[m].get(k) for m in keys], name=tr(key, lang))
    fig.update_layout(barmode="group", xaxis_title=tr("col.month", lang), yaxis_title="tCO2e")
    return _base_layout(fig, 320)


def register_callbacks(app: Dash, db: Database) -> None:
    @app.callback(Output("carbon-tiles", "children"), Output("carbon-table", "children"),
                  Output("carbon-month", "figure"), Input("carbon-year", "value"))
    def _carbon(year: int | None):
        rc = require_context(db)
        if year is None:
            raise PreventUpdate
        with db.connection() as conn:
            frame = inventories(conn, rc.visible, int(year))
            codes = {r[0] for r in conn.execute("SELECT code FROM node WHERE node_id = ANY(%s)", (rc.visible,))}
        mine = frame[frame["node_id"].isin(rc.visible)]
        order = {"group": 0, "company": 1, "park": 2, "site": 3, "plant": 4}
        top = mine.sort_values("level", key=lambda s: s.map(order).fillna(9)).iloc[0] if len(mine) else None
        plants = plant_rows(frame, rc.visible, codes)
        if top is not None and top["level"] == "plant" and len(mine[mine["level"] == "plant"]) > 1:
            top = None   # several plants and no wider inventory in scope: tiles sum the plants
        return tiles(top, plants, rc.lang), plant_table(plants, rc.lang), month_figure(top, rc.lang)
