"""Group overview ("panoramic carbon"): Scope 1 and Scope 2 (location and market) of the year in
scope, and a tile per plant with electricity, emissions, intensity, renewable share and its
zero-carbon status against the RE100 + 100 % offset pack. ``?screen=wall`` is the big-screen mode
for a wall display: dark theme, large type, refreshed every minute.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboards.context import require_context
from dashboards.figures import PALETTE, _base_layout, empty_figure
from dashboards.i18n import fmt_number, pick_name, tr
from dashboards.layout import card
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
        card(tr("targets.title", lang), [html.Div(id="overview-target-table"),
                                         dcc.Graph(id="overview-target-chart", config={"displaylogo": False})],
             hint=tr("targets.hint", lang), id="card-overview-target"),
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


def visible_targets(conn, visible: list[int]) -> list[tuple]:
    """(target set, codes the user may see rows of) for each stored target set touching the user's scope:
    the set's node and all its plants when the user sees that node, else only the plants they see."""
    from cms.targets_store import target_sets_for_node

    codes = [r[0] for r in conn.execute(
        """SELECT code FROM node WHERE node_id = ANY(%s) AND (code IN (SELECT node_code FROM target_set)
               OR code IN (SELECT plant_code FROM target_plant)) ORDER BY code""", (visible,))]
    seen: dict[str, object] = {}
    for code in codes:
        for ts in target_sets_for_node(conn, code):
            seen.setdefault(ts.id, ts)
    out = []
    for ts in seen.values():
        keep = {ts.node, *ts.plants} if ts.node in codes else {p for p in ts.plants if p in codes}
        if keep:
            out.append((ts, keep))
    return out


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def target_view(conn, visible: list[int], year: int) -> tuple[list[dict], list[dict]]:
    """Rows (per absolute target line and visible node: allowed, actual, gap, offsets retired, for ``year``)
    and chart series (allowed from the base year to 2050, actual points from the stored inventories).

    Actuals come from the inventories exactly as ``ems target show --inventories`` takes them; the gap is
    ``cms.targets.gaps`` (gross; offsets only in their own column)."""
    from cms.targets import gaps, trajectory
    from cms.targets_assets import retired_frame
    from cms.targets_cli import _inventory_actuals
    from cms.targets_store import retirements

    inv_years = [r[0] for r in conn.execute("SELECT DISTINCT year FROM inventory WHERE year IS NOT NULL ORDER BY 1")]
    rows, series = [], []
    for ts, keep in visible_targets(conn, visible):
        order = ([ts.node] if ts.node in keep else []) + sorted(p for p in ts.plants if p in keep)
        actual_by_year = {}
        for y in sorted(set(inv_years) | {year}):
            actuals = _inventory_actuals(conn, [ts], y)
            if len(actuals):
                actual_by_year[y] = (actuals, retired_frame(retirements(conn, year=y)))
        for line in ts.targets:
            if line.metric != "absolute":
                continue
            now = trajectory(ts, line.id, [year]).set_index("plant")
            frames = {y: gaps(ts, line.id, a, o).set_index("plant") for y, (a, o) in actual_by_year.items()}
            gap_now = frames.get(year)
            for code in order:
                got = gap_now.loc[code] if gap_now is not None and code in gap_now.index else None
                rows.append({"target_set": ts.id, "line": line.id, "node": code, "year": year,
                             "allowed_tco2e": _num(now.loc[code, "target_tco2e"]) if code in now.index else None,
                             "actual_tco2e": None if got is None else _num(got["actual_tco2e"]),
                             "gap_tco2e": None if got is None else _num(got["gap_tco2e"]),
                             "offsets_retired_tco2e": None if got is None else _num(got["offsets_retired_tco2e"])})
            last = max([2050] + [m.year for m in line.milestones])
            path = trajectory(ts, line.id, list(range(ts.base_year, last + 1)))
            main = order[:1] if ts.node in keep else order
            for code in main:
                mine = path[path["plant"] == code]
                points = [(y, _num(f.loc[code, "actual_tco2e"])) for y, f in sorted(frames.items())
                          if code in f.index]
                series.append({"label": f"{ts.id} / {line.id} · {code}", "node": code,
                               "years": [int(y) for y in mine["year"]],
                               "allowed": [_num(v) for v in mine["target_tco2e"]],
                               "actual_years": [y for y, v in points if v is not None],
                               "actual": [v for _, v in points if v is not None]})
    return rows, series


def target_table(rows: list[dict], lang: str) -> html.Table | html.Div:
    if not rows:
        return html.Div(tr("targets.none", lang), className="cc-empty", id="no-targets")
    head = html.Tr([html.Th(tr("targets.col.set", lang)), html.Th(tr("col.node", lang))]
                   + [html.Th(tr(f"targets.col.{k}", lang), className="num")
                      for k in ("allowed", "actual", "gap", "offsets")])
    body = [html.Tr([html.Td(f"{r['target_set']} / {r['line']}"), html.Td(r["node"])]
                    + [html.Td(fmt_number(r[k], 0), className="num" + (" cc-over" if k == "gap_tco2e" and (
                        r[k] or 0) > 0 else "")) for k in ("allowed_tco2e", "actual_tco2e", "gap_tco2e",
                                                           "offsets_retired_tco2e")])
            for r in rows]
    return html.Table([html.Thead(head), html.Tbody(body)], className="cc-table", id="target-rows")


def target_figure(series: list[dict], year: int | None, lang: str) -> go.Figure:
    if not series:
        return empty_figure(tr("targets.none", lang), height=200)
    fig = go.Figure()
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        fig.add_scatter(x=s["years"], y=s["allowed"], mode="lines", name=f"{s['label']} · {tr('targets.allowed', lang)}",
                        line={"color": colour}, hovertemplate="%{x}: %{y:,.0f} tCO2e<extra></extra>")
        if s["actual"]:
            fig.add_scatter(x=s["actual_years"], y=s["actual"], mode="markers",
                            name=f"{s['label']} · {tr('targets.actual', lang)}",
                            marker={"color": colour, "size": 11, "symbol": "diamond"},
                            hovertemplate="%{x}: %{y:,.0f} tCO2e<extra></extra>")
    if year is not None:
        fig.add_vline(x=year, line_dash="dot", line_color="#999")
    fig.update_layout(yaxis_title=tr("targets.axis", lang))
    fig.update_yaxes(rangemode="tozero")
    return _base_layout(fig, 320)


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

    @app.callback(Output("overview-target-table", "children"), Output("overview-target-chart", "figure"),
                  Input("overview-year", "value"))
    def _targets(year: int | None):
        rc = require_context(db)
        if year is None:
            raise PreventUpdate
        with db.connection() as conn:
            rows, series = target_view(conn, rc.visible, int(year))
        return target_table(rows, rc.lang), target_figure(series, int(year), rc.lang)
