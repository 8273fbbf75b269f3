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
