"""Group overview ("panoramic carbon"): Scope 1 and Scope 2 (location and market) of the year in
scope, and a tile per plant with electricity, emissions, intensity, renewable share and its
zero-carbon status against the RE100 + 100 % offset pack. ``?screen=wall`` is the big-screen mode
for a wall display: dark theme, large type, refreshed every minute.
"""

from __future__ import annotations

import pandas as pd
from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboards.context import require_context
from dashboards.i18n import fmt_number, pick_name, tr
from dashboards.pages.carbon import SCOPES, inventories
from ems.db.connection import Database

PAGE_KEY = "page.overview"
PATH = "/overview"
PACK = "RE100-OFFSET100"
REFRESH_MS = 60_000


def layout(lang: str, years: list[int], wall: bool) -> list:
    if not years:
        return [html.Div(tr("carbon.none", lang), className="cc-card cc-empty", id="no-overview")]
    return [html.Div(className="cc-wall" if wall else "cc-overview", id="overview", children=[
        html.Div(className="cc-controls", children=[
            html.Label(tr("carbon.year", lang), htmlFor="overview-year"),
            html.Div(dcc.Dropdown(id="overview-year", options=[{"label": str(y), "value": y} for y in years],
                                  value=years[-1], clearable=False), className="cc-dropdown"),
            html.A(tr("overview.wall", lang), href=f"{PATH}?screen=wall", className="cc-link", id="wall-link"),
        ]),
        html.Div(id="overview-totals", className="cc-tiles"),
        html.Div(id="overview-plants", className="cc-plant-tiles"),
        dcc.Interval(id="overview-refresh", interval=REFRESH_MS, disabled=not wall),
    ])]


def plant_summary(conn, plant: str, year: int) -> dict:
    """Electricity, emissions, intensity, renewable share and zero-carbon outcome of one plant-year."""
    from cms.zerocarbon import assess
    from cms.zerocarbon_inputs import plant_record
    from cms.zerocarbon_pack import find_pack

    rec = plant_record(conn, plant, year)
    result = assess(find_pack(PACK), rec)
    node_id, tz = conn.execute("SELECT node_id, timezone FROM node WHERE code = %s", (plant,)).fetchone()
    units = conn.execute(
        """SELECT sum(value) FROM rollup_node WHERE grain = 'month' AND node_id = %s AND medium = 'production'
           AND bucket >= (make_date(%s, 1, 1)::timestamp AT TIME ZONE %s)
           AND bucket < (make_date(%s + 1, 1, 1)::timestamp AT TIME ZONE %s)""",
        (node_id, year, tz, year, tz)).fetchone()[0]
    elec = rec.energy_mwh.get("electricity")
    emissions = None if rec.scope1_tco2e is None or rec.scope2_market_tco2e is None else \
        rec.scope1_tco2e + rec.scope2_market_tco2e
    return {"plant": plant, "electricity_mwh": elec, "emissions_tco2e": emissions,
            "kwh_per_unit": elec * 1000 / float(units) if elec and units else None,
            "renewable_share": result.renewable_electricity_share, "outcome": result.outcome,
            "gaps": [(i.id, i.shortfall, i.shortfall_unit) for i in result.items
                     if i.role == "prerequisite" and i.status != "met" and i.shortfall is not None]}


def totals_tiles(frame: pd.DataFrame, visible: list[int], lang: str) -> list:
    mine = frame[frame["node_id"].isin(visible)]
    order = {"group": 0, "company": 1, "park": 2, "site": 3, "plant": 4}
    if mine.empty:
        return [html.Div(tr("no_data", lang), className="cc-empty")]
    top = mine.sort_values("level", key=lambda s: s.map(order).fillna(9)).iloc[0]
    plants_only = top["level"] == "plant"
    tiles = []
    for key, label in SCOPES:
        value = (mine.loc[mine["level"] == "plant", "summary"].map(lambda s, k=key: s.get(k) or 0.0).sum()
                 if plants_only else top["summary"].get(key))
        tiles.append(html.Div([html.Div(tr(label, lang), className="cc-tile-label"),
                               html.Div(fmt_number(value, 0), className="cc-tile-value"),
                               html.Div("tCO2e", className="cc-tile-unit")], className="cc-tile",
                              id=f"ov-{key}"))
    return tiles


def plant_tiles(rows: list[dict], names: dict[str, dict], lang: str) -> list:
    out = []
    for r in rows:
        status = "met" if r["outcome"] == "met" else "not_met"
        out.append(html.Div(className=f"cc-plant cc-{status}", id=f"plant-{r['plant']}", children=[
            html.Div(pick_name(names.get(r["plant"], {"code": r["plant"]}), lang), className="cc-plant-name"),
            html.Div([html.Span(tr("overview.electricity", lang)), html.B(fmt_number(r["electricity_mwh"], 0) + " MWh")]),
            html.Div([html.Span(tr("overview.emissions", lang)), html.B(fmt_number(r["emissions_tco2e"], 0) + " tCO2e")]),
            html.Div([html.Span(tr("overview.intensity", lang)), html.B(fmt_number(r["kwh_per_unit"], 2) + " kWh")]),
            html.Div([html.Span(tr("overview.renewable", lang)),
                      html.B("–" if r["renewable_share"] is None else f"{r['renewable_share'] * 100:.1f} %")]),
            html.Div([html.Span(tr("overview.zero_carbon", lang)), html.B(tr(f"overview.{status}", lang))],
                     className="cc-zc"),
            *[html.Div(tr(f"zc.gap.{item}", lang).format(amount=fmt_number(amount, 0), unit=unit or ""),
                       className="cc-hint") for item, amount, unit in r.get("gaps", [])],
        ]))
    return out


def register_callbacks(app: Dash, db: Database) -> None:
    @app.callback(Output("overview-totals", "children"), Output("overview-plants", "children"),
                  Input("overview-year", "value"), Input("overview-refresh", "n_intervals"),
                  State("overview-year", "value"))
    def _overview(year: int | None, _tick: int | None, _same: int | None):
        rc = require_context(db)
        if year is None:
            raise PreventUpdate
        with db.connection() as conn:
            frame = inventories(conn, rc.visible, int(year))
            plants = conn.execute("SELECT code, name_zh, name_en FROM node WHERE level = 'plant' AND node_id = ANY(%s) "
                                  "ORDER BY code", (rc.visible,)).fetchall()
            names = {c: {"code": c, "name_zh": zh, "name_en": en} for c, zh, en in plants}
            rows = [plant_summary(conn, code, int(year)) for code in names]
        return totals_tiles(frame, rc.visible, rc.lang), plant_tiles(rows, names, rc.lang)
