"""Plant systems: chilled-water plant and compressed-air station KPIs per day from the roll-ups.

Chiller plant: kW per kW of cooling, kW/RT, COP, delivered cooling, chilled-water delta-T with the
low delta-T flag. Compressed-air station: specific power kW/(m3/min), delivered air, leak baseline
(median flow of non-production hours) and dryer purge share. The systems a user can pick are those
inside the nodes they may see; every callback checks that again.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html
from dash.exceptions import PreventUpdate
from plotly.subplots import make_subplots

from dashboards.context import date_range, require_context
from dashboards.figures import _base_layout, empty_figure
from dashboards.i18n import fmt_number, pick_name, tr
from dashboards.layout import card
from ems.db.connection import Database

PAGE_KEY = "page.systems"
PATH = "/systems"
ROLES = {"chiller_plant_energy": "chiller", "air_station_energy": "air"}


def systems(conn, visible: list[int]) -> pd.DataFrame:
    """Visible nodes that own a chiller-plant or air-station energy meter: node_id, code, names, kind."""
    rows = conn.execute(
        """SELECT DISTINCT n.node_id, n.code, n.name_zh, n.name_en, p.tags->>'role'
           FROM point p JOIN node n ON n.node_id = p.node_id
           WHERE p.tags->>'role' = ANY(%s) AND n.node_id = ANY(%s) ORDER BY n.code""",
        (list(ROLES), list(visible))).fetchall()
    frame = pd.DataFrame(rows, columns=["node_id", "code", "name_zh", "name_en", "role"])
    frame["kind"] = frame["role"].map(ROLES)
    return frame


def layout(lang: str, found: pd.DataFrame, last_day: date | None) -> list:
    if found.empty:
        return [html.Div(tr("systems.none", lang), className="cc-card cc-empty", id="no-systems")]
    end = last_day or date.today()
    start = end - timedelta(days=29)
    options = [{"label": f"{pick_name(r._asdict(), lang)} · {r.code}", "value": int(r.node_id)}
               for r in found.itertuples()]
    config = {"displaylogo": False, "responsive": True}
    return [
        html.Div(className="cc-card cc-controls", children=[
            html.Label(tr("systems.choose", lang), htmlFor="system"),
            html.Div(dcc.Dropdown(id="system", options=options, value=options[0]["value"], clearable=False),
                     className="cc-dropdown"),
            html.Label(tr("date_range", lang), htmlFor="system-range"),
            dcc.DatePickerRange(id="system-range", start_date=start.isoformat(), end_date=end.isoformat(),
                                display_format="YYYY-MM-DD", first_day_of_week=1),
        ]),
        card(tr("systems.daily", lang), [dcc.Loading(dcc.Graph(id="system-chart", config=config))],
             hint=tr("systems.daily.hint", lang), id="card-system"),
        card(tr("systems.monthly", lang), [html.Div(id="system-table")], id="card-system-table"),
        card(tr("systems.live", lang), [dcc.Loading(html.Div(id="system-live"))], hint=tr("systems.live.hint", lang),
             id="card-system-live"),
        card(tr("systems.forecast", lang), [
            html.Div(className="cc-drill", children=[
                html.Label(tr("systems.forecast.point", lang), htmlFor="system-fc-point"),
                html.Div(dcc.Dropdown(id="system-fc-point", options=[], clearable=False), className="cc-dropdown")]),
            dcc.Loading(dcc.Graph(id="system-forecast", config=config)),
        ], hint=tr("systems.forecast.hint", lang), id="card-system-forecast"),
    ]


# (column, label key, digits) per system kind
_COLUMNS = {
    "chiller": [("kw_per_rt", "kpi.kw_per_rt", 3), ("cop", "kpi.cop", 2), ("kw_per_kw", "kpi.kw_per_kw", 3),
                ("plant_kwh", "kpi.plant_kwh", 0), ("cooling_kwh", "kpi.cooling_kwh", 0),
                ("mean_delta_t_k", "kpi.delta_t", 2), ("low_delta_t_share", "kpi.low_dt_share", 2),
                ("coverage", "kpi.coverage", 2)],
    "air": [("kw_per_m3_per_min", "kpi.specific_power", 2), ("station_kwh", "kpi.station_kwh", 0),
            ("air_m3", "kpi.air_m3", 0), ("leak_m3_per_min", "kpi.leak", 2), ("leak_share", "kpi.leak_share", 2),
            ("dryer_purge_share", "kpi.purge_share", 3), ("coverage", "kpi.coverage", 2)],
}
_CHART = {"chiller": ("kw_per_rt", "cooling_kwh"), "air": ("kw_per_m3_per_min", "air_m3")}


def kpi_figure(daily: pd.DataFrame, kind: str, lang: str) -> go.Figure:
    """The efficiency KPI per day (line, left axis) over the delivered output (bars, right axis)."""
    if daily.empty:
        return empty_figure(tr("no_data", lang))
    kpi, output = _CHART[kind]
    labels = {c: tr(k, lang) for c, k, _ in _COLUMNS[kind]}
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=daily["day"], y=daily[output], name=labels[output], marker_color="#b2dfdb", secondary_y=True)
    fig.add_scatter(x=daily["day"], y=daily[kpi], name=labels[kpi], mode="lines+markers",
                    line={"color": "#1b5e20", "width": 2}, secondary_y=False)
    fig.update_yaxes(title_text=labels[kpi], secondary_y=False)
    fig.update_yaxes(title_text=labels[output], secondary_y=True, showgrid=False)
    fig.update_xaxes(title_text=tr("axis.time", lang))
    return _base_layout(fig, 360)


def kpi_table(monthly: pd.DataFrame, kind: str, lang: str) -> html.Table | html.Div:
    if monthly.empty:
        return html.Div(tr("no_data", lang), className="cc-empty")
    cols = [c for c in _COLUMNS[kind] if c[0] in monthly.columns]
    head = html.Tr([html.Th(tr("col.month", lang))] + [html.Th(tr(k, lang), className="num") for _, k, _ in cols])
    body = [html.Tr([html.Td(pd.Timestamp(r["month"]).strftime("%Y-%m"))]
                    + [html.Td(fmt_number(r[c], d), className="num") for c, _, d in cols])
            for r in monthly.to_dict("records")]
    return html.Table([html.Thead(head), html.Tbody(body)], className="cc-table", id="system-kpis")


def system_kpis(conn, node_id: int, visible: list[int], lo: date, hi: date) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """(kind, daily, monthly) KPI tables of one visible system node over the local days [lo, hi]."""
    from ems.analytics.reports import air_stations, chiller_plants

    found = systems(conn, visible)
    row = found[found["node_id"] == node_id]
    if row.empty:
        raise PreventUpdate
    code, kind, tz = row["code"].iloc[0], row["kind"].iloc[0], conn.execute(
        "SELECT timezone FROM node WHERE node_id = %s", (node_id,)).fetchone()[0]
    start = pd.Timestamp(lo).tz_localize(tz)
    end = pd.Timestamp(hi + timedelta(days=1)).tz_localize(tz)
    fn = chiller_plants if kind == "chiller" else air_stations
    daily = fn(conn, code, start, end, "day").get(code, pd.DataFrame())
    month_start = pd.Timestamp(lo.replace(day=1)).tz_localize(tz)
    monthly = fn(conn, code, month_start, end, "month").get(code, pd.DataFrame())
    return kind, daily, monthly


def _below(conn, node_id: int, visible: list[int]) -> list[int]:
    """The node and its descendants that the user may see."""
    rows = conn.execute(
        """WITH RECURSIVE down AS (SELECT node_id FROM node WHERE node_id = %s
                                   UNION ALL SELECT n.node_id FROM node n JOIN down d ON n.parent_id = d.node_id)
           SELECT node_id FROM down WHERE node_id = ANY(%s)""", (node_id, list(visible))).fetchall()
    return [r[0] for r in rows]


def forecast_points(conn, node_id: int, visible: list[int]) -> pd.DataFrame:
    """Points of a visible system (and below) with stored forecast values: point_id, code, names and the
    model shown (the champion, else the newest model with values)."""
    rows = conn.execute(
        """SELECT DISTINCT ON (p.point_id) p.point_id, p.code, p.name_zh, p.name_en, p.unit, m.model_id, m.model
           FROM point p JOIN forecast_model m ON m.point_id = p.point_id
           WHERE p.node_id = ANY(%s) AND EXISTS (SELECT 1 FROM forecast_value v WHERE v.model_id = m.model_id)
           ORDER BY p.point_id, m.is_champion DESC, m.model_id DESC""", (_below(conn, node_id, visible),)).fetchall()
    return pd.DataFrame(rows, columns=["point_id", "code", "name_zh", "name_en", "unit", "model_id", "model"])


def forecast_series(conn, point_id: int, visible: list[int], lo: date, hi: date) -> pd.DataFrame:
    """The newest-issued forecast for each time in the local days [lo, hi] of a visible point: ts (local),
    p10, p50, p90 and the actual (NaN until known); empty for a point outside the user's scope."""
    row = conn.execute("SELECT n.timezone FROM point p JOIN node n USING (node_id) WHERE p.point_id = %s "
                       "AND p.node_id = ANY(%s)", (point_id, list(visible))).fetchone()
    cols = ["ts", "p10", "p50", "p90", "actual"]
    if row is None:
        return pd.DataFrame(columns=cols)
    tz = row[0]
    start, end = pd.Timestamp(lo).tz_localize(tz), pd.Timestamp(hi + timedelta(days=1)).tz_localize(tz)
    rows = conn.execute(
        """SELECT DISTINCT ON (v.ts) v.ts, (v.quantiles->>'p10')::float8, v.p50, (v.quantiles->>'p90')::float8, v.actual
           FROM forecast_value v
           WHERE v.model_id = (SELECT model_id FROM forecast_model WHERE point_id = %s
                               AND EXISTS (SELECT 1 FROM forecast_value x WHERE x.model_id = forecast_model.model_id)
                               ORDER BY is_champion DESC, model_id DESC LIMIT 1)
             AND v.ts >= %s AND v.ts < %s ORDER BY v.ts, v.issued_at DESC""", (point_id, start, end)).fetchall()
    frame = pd.DataFrame(rows, columns=cols)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(tz)
    return frame.astype({c: "float64" for c in cols[1:]})


def forecast_figure(frame: pd.DataFrame, unit: str, lang: str) -> go.Figure:
    """The p10-p90 band, the median forecast and the actuals."""
    if frame.empty:
        return empty_figure(tr("systems.forecast.none", lang))
    fig = go.Figure()
    fig.add_scatter(x=frame["ts"], y=frame["p90"], mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip")
    fig.add_scatter(x=frame["ts"], y=frame["p10"], mode="lines", line={"width": 0}, fill="tonexty",
                    fillcolor="rgba(21,101,192,0.18)", name=tr("systems.forecast.band", lang))
    fig.add_scatter(x=frame["ts"], y=frame["p50"], mode="lines", line={"color": "#1565c0", "width": 2},
                    name=tr("systems.forecast.p50", lang))
    fig.add_scatter(x=frame["ts"], y=frame["actual"], mode="lines+markers", marker={"size": 4},
                    line={"color": "#1b5e20", "width": 1.5}, name=tr("systems.forecast.actual", lang))
    fig.update_yaxes(title_text=unit)
    fig.update_xaxes(title_text=tr("axis.time", lang))
    return _base_layout(fig, 340)


_LIVE = {"chiller": [("kw_per_rt", "kpi.kw_per_rt", 3), ("cop", "kpi.cop", 2), ("mean_delta_t_k", "kpi.delta_t", 2),
                     ("cooling_kwh", "kpi.cooling_kwh", 0)],
         "air": [("kw_per_m3_per_min", "kpi.specific_power", 2), ("leak_m3_per_min", "kpi.leak", 2),
                 ("leak_share", "kpi.leak_share", 2), ("air_m3", "kpi.air_m3", 0)]}


def live_kpis(conn, node_id: int, visible: list[int]) -> dict | None:
    """KPIs of a visible system on the latest day with data: that day, the system's daily KPIs and, for
    an air station, the header pressure mean and minimum (role air_pressure). None when there is no data."""
    from ems.analytics.sources import role_points

    found = systems(conn, visible)
    row = found[found["node_id"] == node_id]
    if row.empty:
        raise PreventUpdate
    code, kind = row["code"].iloc[0], row["kind"].iloc[0]
    tz, last = conn.execute(
        """SELECT n.timezone, max(r.bucket) FROM point p JOIN node n USING (node_id)
           JOIN rollup_point r ON r.point_id = p.point_id AND r.grain = 'day' AND r.n_delta > 0
           WHERE p.node_id = %s AND p.tags->>'role' = ANY(%s) GROUP BY n.timezone""",
        (node_id, list(ROLES))).fetchone() or (None, None)
    if last is None:
        return None
    day = pd.Timestamp(last).tz_convert(tz).date()
    _, daily, _ = system_kpis(conn, node_id, visible, day, day)
    out = {"day": day, "kind": kind, "kpis": daily.iloc[-1].to_dict() if len(daily) else {}}
    if kind == "air":   # the leak baseline needs non-production hours: take the last 7 days (this month's part)
        from ems.analytics.reports import air_stations

        week_start = pd.Timestamp(max(day - timedelta(days=6), day.replace(day=1))).tz_localize(tz)
        week = air_stations(conn, code, week_start, pd.Timestamp(day + timedelta(days=1)).tz_localize(tz), "month")
        if len(week.get(code, [])):
            last = week[code].iloc[-1]
            out["kpis"].update(leak_m3_per_min=last["leak_m3_per_min"], leak_share=last["leak_share"])
    gauges = role_points(conn, code).get("air_pressure", [])
    if gauges:
        mean, low = conn.execute("SELECT mean, min FROM rollup_point WHERE grain = 'day' AND point_id = %s "
                                 "AND bucket = %s", (gauges[0]["point_id"], pd.Timestamp(day).tz_localize(tz))
                                 ).fetchone() or (None, None)
        out["kpis"].update(pressure_mean=mean, pressure_min=low)
        out["pressure_unit"] = gauges[0]["unit"]
    return out


def live_tiles(live: dict | None, lang: str) -> list:
    if not live or not live["kpis"]:
        return [html.Div(tr("no_data", lang), className="cc-empty", id="system-live-none")]
    k = live["kpis"]
    items = [(tr(label, lang), fmt_number(k.get(col), d)) for col, label, d in _LIVE[live["kind"]]]
    if "pressure_mean" in k:
        unit = live.get("pressure_unit", "")
        items += [(f"{tr('kpi.pressure_mean', lang)} {unit}", fmt_number(k["pressure_mean"], 2)),
                  (f"{tr('kpi.pressure_min', lang)} {unit}", fmt_number(k["pressure_min"], 2))]
    tiles = [html.Div([html.Div(v, className="cc-tile-value"), html.Div(t, className="cc-tile-label")],
                      className="cc-tile") for t, v in items]
    return [html.Div(f"{tr('systems.live.day', lang)}: {live['day'].isoformat()}", className="cc-hint"),
            html.Div(tiles, className="cc-tiles", id="system-live-tiles")]


def register_callbacks(app: Dash, db: Database) -> None:
    @app.callback(Output("system-chart", "figure"), Output("system-table", "children"),
                  Input("system", "value"), Input("system-range", "start_date"), Input("system-range", "end_date"))
    def _system(node_id: int | None, start: str | None, end: str | None):
        rc = require_context(db)
        lo, hi = date_range(start, end)
        if node_id is None or int(node_id) not in rc.visible:
            raise PreventUpdate
        with db.connection() as conn:
            kind, daily, monthly = system_kpis(conn, int(node_id), rc.visible, lo, hi)
        return kpi_figure(daily, kind, rc.lang), kpi_table(monthly, kind, rc.lang)

    @app.callback(Output("system-live", "children"), Input("system", "value"))
    def _live(node_id: int | None):
        rc = require_context(db)
        if node_id is None or int(node_id) not in rc.visible:
            raise PreventUpdate
        with db.connection() as conn:
            return live_tiles(live_kpis(conn, int(node_id), rc.visible), rc.lang)

    @app.callback(Output("system-fc-point", "options"), Output("system-fc-point", "value"), Input("system", "value"))
    def _forecast_points(node_id: int | None):
        rc = require_context(db)
        if node_id is None or int(node_id) not in rc.visible:
            raise PreventUpdate
        with db.connection() as conn:
            found = forecast_points(conn, int(node_id), rc.visible)
        options = [{"label": f"{pick_name(r._asdict(), rc.lang)} · {r.code} ({r.model})", "value": int(r.point_id)}
                   for r in found.itertuples()]
        return options, options[0]["value"] if options else None

    @app.callback(Output("system-forecast", "figure"), Input("system-fc-point", "value"),
                  Input("system-range", "start_date"), Input("system-range", "end_date"))
    def _forecast(point_id: int | None, start: str | None, end: str | None):
        rc = require_context(db)
        lo, hi = date_range(start, end)
        if point_id is None:
            return empty_figure(tr("systems.forecast.none", rc.lang))
        with db.connection() as conn:
            frame = forecast_series(conn, int(point_id), rc.visible, lo, hi)
            unit = conn.execute("SELECT unit FROM point WHERE point_id = %s", (int(point_id),)).fetchone()[0]
        return forecast_figure(frame, unit, rc.lang)
