"""The first cockpit page: the group's energy by plant and medium over time, drillable to a meter.

Panels, top to bottom:

1. date range (defaults to the last 30 days that have data);
2. "energy by plant and medium": stacked bars per plant over time, one small chart per medium and
   unit (hourly, daily or monthly depending on the range); clicking a bar drills into that plant;
3. drill-down: a node selector (and "up one level"), the totals of the nodes just below the chosen
   node (click a bar to go further down), and the table of meters at and below it;
4. the time series of one meter (chosen in the table or the selector).

Every callback checks the logged-in user and only queries the nodes that user may see.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from dashboards import queries
from dashboards.auth import set_language
from dashboards.context import date_range, require_context
from dashboards.figures import energy_over_time, meter_figure, totals_by_node
from dashboards.i18n import fmt_number, medium_label, pick_name, tr
from dashboards.layout import card
from dashboards.pages import energy_analytics
from ems.db.connection import Database

PAGE_KEY = "page.energy"
DEFAULT_DAYS = 30
MAX_METER_ROWS = 25   # each row's button is a pattern-matching input: hundreds of them cost seconds in the browser


def default_range(extent: tuple | None, tz: str) -> tuple[date, date]:
    """The last ``DEFAULT_DAYS`` local days up to the last reading (today when there is no data)."""
    if extent is None:
        last = pd.Timestamp.now(tz=tz).date()
        return last - timedelta(days=DEFAULT_DAYS - 1), last
    first_ts, last_ts = (pd.Timestamp(t).tz_convert(ZoneInfo(tz)) for t in extent)
    # a delta stamped at local midnight belongs to the day before
    last = (last_ts - pd.Timedelta(microseconds=1)).date()
    first = max(first_ts.date(), last - timedelta(days=DEFAULT_DAYS - 1))
    return first, last


def node_options(nodes: pd.DataFrame, lang: str) -> list[dict]:
    """Dropdown options for the visible nodes, indented by depth in tree order."""
    base = int(nodes["depth"].min()) if not nodes.empty else 0
    return [{"label": "\u00a0\u00a0\u00a0" * (int(r.depth) - base) + pick_name(r._asdict(), lang),
             "value": int(r.node_id)} for r in nodes.itertuples()]


def layout(lang: str, nodes: pd.DataFrame, extent: tuple | None) -> list:
    """The page body for a user whose visible nodes are ``nodes`` (from ``queries.visible_nodes``)."""
    if nodes.empty:
        return [html.Div(tr("no_nodes", lang), className="cc-card cc-empty", id="no-nodes")]
    tz = str(nodes["timezone"].iloc[0])
    start, end = default_range(extent, tz)
    lo = pd.Timestamp(extent[0]).tz_convert(ZoneInfo(tz)).date() if extent else end - timedelta(days=3650)
    graph_config = {"displaylogo": False, "responsive": True}
    return [
        html.Div(className="cc-card cc-controls", children=[
            html.Label(tr("date_range", lang), htmlFor="date-range"),
            dcc.DatePickerRange(id="date-range", start_date=start.isoformat(), end_date=end.isoformat(),
                                min_date_allowed=lo.isoformat(), max_date_allowed=end.isoformat(),
                                display_format="YYYY-MM-DD", first_day_of_week=1),
        ]),
        card(tr("chart.by_plant", lang), [dcc.Loading(dcc.Graph(id="by-plant", config=graph_config))],
             hint=tr("chart.by_plant.hint", lang), id="card-by-plant"),
        card(tr("chart.breakdown", lang), [
            html.Div(className="cc-drill", children=[
                html.Label(tr("drill.node", lang), htmlFor="drill-node"),
                html.Div(dcc.Dropdown(id="drill-node", options=node_options(nodes, lang),
                                      value=int(nodes["node_id"].iloc[0]), clearable=False),
                         className="cc-dropdown"),
                html.Button(tr("drill.up", lang), id="drill-up", n_clicks=0, className="cc-link"),
                html.Span(id="drill-path", className="cc-path"),
            ]),
            dcc.Loading(dcc.Graph(id="breakdown", config=graph_config)),
            html.H2(tr("drill.meters", lang)),
            html.Div(id="meters-table"),
        ], hint=tr("chart.breakdown.hint", lang), id="card-breakdown"),
        *energy_analytics.layout(lang),   # profile, peak, Sankey, tce, cost, quality of the drilled node
        card(tr("chart.meter", lang), [
            html.Div(className="cc-drill", children=[
                html.Label(tr("meter.choose", lang), htmlFor="meter"),
                html.Div(dcc.Dropdown(id="meter", options=[], clearable=False), className="cc-dropdown"),
            ]),
            dcc.Loading(dcc.Graph(id="meter-chart", config=graph_config)),
        ], id="card-meter"),
    ]


def meters_table(meters: pd.DataFrame, lang: str) -> html.Table | html.Div:
    """The meters below a node with their totals (or means for sensors); names select the meter."""
    if meters.empty:
        return html.Div(tr("no_data", lang), className="cc-empty")
    total = len(meters)
    if total > MAX_METER_ROWS:   # the largest meters, in the query's order; all stay in the meter selector
        largest = meters["total"].astype(float).fillna(float("-inf")).reset_index(drop=True)
        meters = meters.reset_index(drop=True).loc[sorted(largest.nlargest(MAX_METER_ROWS).index)]
    head = html.Tr([html.Th(tr("col.meter", lang)), html.Th(tr("col.code", lang)), html.Th(tr("col.node", lang)),
                    html.Th(tr("col.medium", lang)), html.Th(tr("col.total", lang), className="num"),
                    html.Th(tr("col.mean", lang), className="num"), html.Th(tr("col.unit", lang)),
                    html.Th(tr("col.parent", lang))])
    rows = [html.Tr([
        html.Td(html.Button(pick_name(r._asdict(), lang), id={"type": "meter-link", "index": int(r.point_id)},
                            className="cc-link", n_clicks=0)),
        html.Td(r.code), html.Td(r.node_code), html.Td(medium_label(r.medium, lang)),
        html.Td(fmt_number(r.total), className="num"), html.Td(fmt_number(r.mean), className="num"),
        html.Td(r.unit), html.Td(r.parent_code or ""),
    ]) for r in meters.itertuples()]
    table = html.Table([html.Thead(head), html.Tbody(rows)], className="cc-table", id="meters")
    if total == len(meters):
        return table
    return html.Div([html.Div(tr("drill.meters.more", lang).format(n=len(meters), total=total), className="cc-hint"),
                     table])


def _default_meter(meters: pd.DataFrame, current: int | None) -> int | None:
    if meters.empty:
        return None
    if current is not None and current in set(meters["point_id"]):
        return current
    additive = meters.dropna(subset=["total"]).sort_values("total", ascending=False)
    return int((additive if not additive.empty else meters)["point_id"].iloc[0])


def _clicked_node(click: dict | None) -> int | None:
    try:
        return int(click["points"][0]["customdata"][0])
    except (TypeError, KeyError, IndexError, ValueError):
        return None


def register_callbacks(app: Dash, db: Database) -> None:
    """Attach this page's callbacks to ``app`` (each one checks the user and their scope)."""
    energy_analytics.register_callbacks(app, db)

    @app.callback(Output("by-plant", "figure"), Input("date-range", "start_date"), Input("date-range", "end_date"))
    def _by_plant(start: str | None, end: str | None):
        rc = require_context(db)
        lo, hi = date_range(start, end)
        grain = queries.choose_grain(lo, hi)
        with db.connection() as conn:
            nodes = queries.visible_nodes(conn, rc.visible)
            frame = queries.energy_by_node(conn, queries.top_node_ids(nodes), rc.visible, lo, hi, grain)
        return energy_over_time(frame, rc.lang, grain)

    @app.callback(Output("drill-node", "value"), Input("by-plant", "clickData"), Input("breakdown", "clickData"),
                  Input("drill-up", "n_clicks"), State("drill-node", "value"), prevent_initial_call=True)
    def _drill(plant_click: dict | None, breakdown_click: dict | None, _up: int, current: int | None):
        rc = require_context(db)
        if ctx.triggered_id == "drill-up":
            with db.connection() as conn:
                row = conn.execute("SELECT parent_id FROM node WHERE node_id = %s", (current,)).fetchone()
            target = row[0] if row else None
        else:
            target = _clicked_node(plant_click if ctx.triggered_id == "by-plant" else breakdown_click)
        if target is None or target not in rc.visible or target == current:
            raise PreventUpdate
        return target

    @app.callback(Output("breakdown", "figure"), Output("meters-table", "children"), Output("meter", "options"),
                  Output("meter", "value"), Output("drill-path", "children"),
                  Input("drill-node", "value"), Input("date-range", "start_date"), Input("date-range", "end_date"),
                  State("meter", "value"))
    def _breakdown(node_id: int | None, start: str | None, end: str | None, current_meter: int | None):
        rc = require_context(db)
        lo, hi = date_range(start, end)
        if node_id is None or node_id not in rc.visible:
            raise PreventUpdate
        with db.connection() as conn:
            nodes = queries.visible_nodes(conn, rc.visible)
            children = nodes[nodes["parent_id"] == node_id]["node_id"].tolist()
            frame = queries.energy_by_node(conn, children, rc.visible, lo, hi, "day", own_id=node_id)  # days: exact for any range
            meters = queries.meters_below(conn, node_id, rc.visible, lo, hi)
        options = [{"label": f"{pick_name(r._asdict(), rc.lang)} · {r.code} ({r.unit})", "value": int(r.point_id)}
                   for r in meters.itertuples()]
        return (totals_by_node(frame, rc.lang, own_id=node_id), meters_table(meters, rc.lang), options,
                _default_meter(meters, current_meter), _path(nodes, node_id, rc.lang))

    @app.callback(Output("meter", "value", allow_duplicate=True),
                  Input({"type": "meter-link", "index": ALL}, "n_clicks"), prevent_initial_call=True)
    def _pick_meter(clicks: list[int | None]):
        require_context(db)
        if not ctx.triggered_id or not any(clicks) or not ctx.triggered[0].get("value"):
            raise PreventUpdate
        return int(ctx.triggered_id["index"])

    @app.callback(Output("meter-chart", "figure"), Input("meter", "value"), Input("date-range", "start_date"),
                  Input("date-range", "end_date"))
    def _meter(point_id: int | None, start: str | None, end: str | None):
        rc = require_context(db)
        lo, hi = date_range(start, end)
        if point_id is None:
            raise PreventUpdate
        grain = queries.choose_meter_grain(lo, hi)
        with db.connection() as conn:
            point = queries.visible_point(conn, int(point_id), rc.visible)
            if point is None:
                raise PreventUpdate
            frame = queries.meter_series(conn, point, lo, hi, grain)
        return meter_figure(frame, point, rc.lang, grain)

    @app.callback(Output("url", "href"), Input("lang-toggle", "n_clicks"), State("url", "pathname"),
                  prevent_initial_call=True)
    def _toggle_language(n_clicks: int, path: str | None):
        rc = require_context(db)
        if not n_clicks:
            raise PreventUpdate
        new = "en" if rc.lang == "zh" else "zh"
        with db.connection() as conn:
            set_language(conn, rc.user.user_id, new)
        return f"{path if path and path.startswith('/') else '/'}?lang={new}"


def _path(nodes: pd.DataFrame, node_id: int, lang: str) -> str:
    """'Group › Plant › Workshop' for the chosen node (visible ancestors only)."""
    by_id = {int(r.node_id): r._asdict() for r in nodes.itertuples()}
    names = []
    current = by_id.get(node_id)
    while current is not None:
        names.append(pick_name(current, lang))
        parent = current["parent_id"]
        current = by_id.get(int(parent)) if pd.notna(parent) else None
    return " › ".join(reversed(names))
