"""Analytics panels of the energy page for the drilled node (``drill-node``) and the date range.

1. typical-day load profile per day type (workday / weekend / holiday, Chinese calendar) and the
   monthly 15-min peak demand (``ems profile`` / ``ems peak``);
2. the energy-flow Sankey with its unmetered / losses links (``ems sankey``);
3. energy in tce per medium, equivalent basis (``ems tce``), and electricity per unit of output of the
   lines and plants below (``ems intensity``);
4. electricity cost under the site's tariff per TOU period (``ems cost`` of the node, no centres);
5. meter-tree balance and data completeness of the node's meters (``ems quality run`` tables).

Totals come from the day roll-ups; 15-min power from the 15-min point roll-ups (meters sampled at 15 min
are their own 15-min totals). Each panel has its own callback, so they load side by side after the page;
each checks the user and answers nothing for a node outside their scope.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from dashboards.context import date_range, require_context
from dashboards.figures import PALETTE, _base_layout, empty_figure
from dashboards.i18n import TEXT, fmt_number, medium_label, tr
from dashboards.layout import card
from ems.analytics.cost_data import QUARTER
from ems.db.connection import Database
from ems.errors import UserError
from ems.readings.quality import Quality

NO_TARIFF = "no_tariff"    # cost(): the node and the nodes above it have no tariff (e.g. a group of sites)
MAX_ROWS = 12   # rows of the completeness table (worst first): every cell is a component the browser walks
_INPUTS = (Input("drill-node", "value"), Input("date-range", "start_date"), Input("date-range", "end_date"))


def layout(lang: str) -> list:
    """The analytics cards (no data: each callback fills its panel)."""
    config = {"displaylogo": False, "responsive": True}
    return [
        card(tr("ea.profile", lang), [
            html.Div(className="cc-grid2", children=[
                dcc.Loading(dcc.Graph(id="ea-profile", config=config)),
                dcc.Loading(dcc.Graph(id="ea-peak", config=config))])],
             hint=tr("ea.profile.hint", lang), id="card-ea-profile"),
        card(tr("ea.sankey", lang), [dcc.Loading(dcc.Graph(id="ea-sankey", config=config)),
                                     html.Div(id="ea-sankey-note", className="cc-hint")],
             hint=tr("ea.sankey.hint", lang), id="card-ea-sankey"),
        card(tr("ea.tce", lang), [dcc.Loading(html.Div(id="ea-tce")), html.H2(tr("ea.intensity", lang)),
                                  dcc.Loading(html.Div(id="ea-intensity"))],
             hint=tr("ea.tce.hint", lang), id="card-ea-tce"),
        card(tr("ea.cost", lang), [dcc.Loading(html.Div(id="ea-cost"))], hint=tr("ea.cost.hint", lang),
             id="card-ea-cost"),
        card(tr("ea.quality", lang), [dcc.Loading(html.Div(id="ea-quality"))], hint=tr("ea.quality.hint", lang),
             id="card-ea-quality"),
    ]


def node_period(conn, node_id: int | None, visible: list[int], lo: date, hi: date
                ) -> tuple[str, str, pd.Timestamp, pd.Timestamp] | None:
    """(code, time zone, start, end) of a visible node over the local days [lo, hi]; None when not visible."""
    if node_id is None or int(node_id) not in set(visible):
        return None
    code, tz = conn.execute("SELECT code, timezone FROM node WHERE node_id = %s", (int(node_id),)).fetchone()
    return code, tz, pd.Timestamp(lo).tz_localize(tz), pd.Timestamp(hi + timedelta(days=1)).tz_localize(tz)


def quarter_hours(conn, members: list[tuple[int, float]], start, end) -> tuple[pd.DatetimeIndex, list, list]:
    """Sum of several additive points' energy per 15 min (each times its factor) in [start, end): buckets
    (UTC interval starts), values and OR-ed quality flags. Points sampled faster than 15 min are read
    from their materialised 15-min roll-ups, the others (15-min meters) from their own interval deltas,
    which are already 15-min totals: the same buckets as ``ems.rollups.query`` at grain 15min."""
    from ems.rollups.refresh import FAST_SAMPLING_S

    rows = conn.execute(
        """WITH m AS (SELECT f.point_id, f.factor, coalesce(p.interval_s, 60) < %(fast)s AS fast
                      FROM unnest(%(ids)s::int[], %(factors)s::float8[]) AS f(point_id, factor)
                      JOIN point p USING (point_id))
           SELECT bucket, sum(v), bit_or(q) FROM (
               SELECT r.bucket, r.sum_delta * m.factor AS v, r.flags::int AS q FROM m
               JOIN rollup_point r ON r.point_id = m.point_id AND r.grain = '15min'
                                  AND r.bucket >= %(start)s AND r.bucket < %(end)s
               WHERE m.fast
               UNION ALL
               SELECT date_bin('15 minutes', r.ts - interval '1 microsecond', timestamptz '2000-01-01 00:00+00'),
                      r.delta * m.factor, r.quality::int FROM m
               JOIN reading r ON r.point_id = m.point_id AND r.ts > %(start)s AND r.ts <= %(end)s
               WHERE NOT m.fast) x
           GROUP BY 1 ORDER BY 1""",
        {"fast": FAST_SAMPLING_S, "ids": [int(i) for i, _ in members], "factors": [float(f) for _, f in members],
         "start": start, "end": end}).fetchall()
    return (pd.DatetimeIndex(pd.to_datetime([r[0] for r in rows], utc=True)), [r[1] for r in rows],
            [r[2] or 0 for r in rows])


def _electricity_members(conn, node_id: int) -> list[tuple[int, float]]:
    sql = "SELECT point_id, factor FROM rollup_member WHERE node_id = %s AND medium = 'electricity'"
    return conn.execute(sql, (node_id,)).fetchall()


def power_kw_15min(conn, node_id: int, tz: str, start, end) -> pd.Series:
    """A node's average electric power per 15 min (kW), indexed by interval start (local); NaN where a
    delta spans a data gap (the same figures as ``reports.power_kw_15min``)."""
    idx, values, flags = quarter_hours(conn, _electricity_members(conn, node_id), start, end)
    kw = pd.Series(values, index=idx.tz_convert(tz), dtype="float64") * 4.0
    kw[[bool(f & int(Quality.GAP_SPANNING)) for f in flags]] = float("nan")
    return kw


def profile_and_peak(conn, node_id, visible, lo, hi) -> tuple[dict[str, pd.DataFrame], pd.DataFrame] | None:
    """Typical days per day type and the monthly 15-min peak of a visible node (None otherwise)."""
    from ems.analytics.profiles import monthly_peak_demand, typical_days

    found = node_period(conn, node_id, visible, lo, hi)
    if found is None:
        return None
    _, tz, start, end = found
    power = power_kw_15min(conn, int(node_id), tz, start, end)
    if power.dropna().empty:
        return {}, pd.DataFrame()
    return typical_days(power, tz), monthly_peak_demand(power.dropna(), tz)


def sankey(conn, node_id, visible, lo, hi):
    """The node's energy-flow SankeyData in MWh (None when not visible or nothing is metered)."""
    from ems.analytics.reports import energy_flows
    from ems.analytics.sankey import build_sankey

    found = node_period(conn, node_id, visible, lo, hi)
    if found is None:
        return None
    flows = energy_flows(conn, found[0], found[2], found[3])
    return build_sankey(flows, "MWh") if not flows.empty else None


def tce_and_intensity(conn, node_id, visible, lo, hi) -> tuple[pd.DataFrame, dict, pd.DataFrame] | None:
    """(tce per medium on the equivalent basis, media not counted, intensity per line and plant by month)."""
    from ems.analytics.reports import intensity, tce

    found = node_period(conn, node_id, visible, lo, hi)
    if found is None:
        return None
    code, _, start, end = found
    table, skipped = tce(conn, code, start, end, "equivalent")
    try:
        per_unit = intensity(conn, code, start, end, "month")
    except UserError:
        per_unit = pd.DataFrame()
    return table, skipped, per_unit


def billed_kwh_15min(conn, code: str, node_id: int, start, end) -> pd.Series:
    """What the utility bills per 15 min (kWh, indexed by interval end): the grid-import meters below the
    node when it has them, else the node's electricity use (as ``cost_data.billed_kwh``)."""
    from ems.analytics.sources import role_points
    from ems.units import conversion

    meters = role_points(conn, code).get("grid_import", [])
    members = ([(m["point_id"], conversion(m["unit"], "kWh")[0]) for m in meters] if meters
               else _electricity_members(conn, node_id))
    idx, values, _ = quarter_hours(conn, members, start, end)
    return pd.Series(values, index=idx + QUARTER, dtype="float64", name=code)


def cost(conn, node_id, visible, lo, hi):
    """The node's electricity CostReport under its site's tariff (no centres), or a UserError's message."""
    from ems.analytics.cost_data import site_tariffs
    from ems.analytics.cost_report import cost_by_centre
    from ems.analytics.sources import tariff_assignments

    found = node_period(conn, node_id, visible, lo, hi)
    if found is None:
        return None
    code, tz, start, end = found
    if not tariff_assignments(conn, code)[1]:
        return NO_TARIFF
    try:
        site, assigned, tariffs = site_tariffs(conn, code, start)
        billed = billed_kwh_15min(conn, code, int(node_id), start, end)
        return cost_by_centre({code: billed}, {}, None, site, assigned, tariffs, tz, "month")
    except UserError as e:
        return str(e)


def quality(conn, node_id, visible, lo, hi) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(completeness per meter at and below the node, meter-tree balance per parent meter) over [lo, hi]
    from ``quality_day`` / ``quality_balance``; empty frames when nothing is computed."""
    found = node_period(conn, node_id, visible, lo, hi)
    if found is None:
        return None
    _, _, start, end = found
    below = """WITH RECURSIVE down AS (SELECT node_id FROM node WHERE node_id = %(node)s
                   UNION ALL SELECT n.node_id FROM node n JOIN down d ON n.parent_id = d.node_id)"""
    params = {"node": int(node_id), "visible": list(visible), "lo": lo, "hi": hi, "start": start, "end": end}
    days = conn.execute(below + """
        , q AS (SELECT q.* FROM quality_day q JOIN point p USING (point_id)
                WHERE p.node_id IN (SELECT node_id FROM down) AND p.node_id = ANY(%(visible)s)
                  AND q.day BETWEEN %(lo)s AND %(hi)s)
        SELECT p.code, p.name_zh, p.name_en, count(*), sum(q.expected), sum(q.received),
               count(*) FILTER (WHERE cardinality(q.issues) > 0),
               (SELECT array_agg(DISTINCT i ORDER BY i) FROM q q2, unnest(q2.issues) i WHERE q2.point_id = p.point_id)
        FROM q JOIN point p USING (point_id) GROUP BY p.point_id ORDER BY p.code""", params).fetchall()
    meters = pd.DataFrame(days, columns=["code", "name_zh", "name_en", "days", "expected", "received",
                                         "days_with_issues", "issues"])
    meters["completeness"] = meters["received"] / meters["expected"].where(meters["expected"] > 0)
    bal = conn.execute(below + """
        SELECT p.code, sum(b.parent_value), sum(b.children_value), count(*), count(*) FILTER (WHERE b.ok IS FALSE),
               max(b.tolerance)
        FROM quality_balance b JOIN point p ON p.point_id = b.parent_point_id
        WHERE b.grain = 'day' AND b.bucket >= %(start)s AND b.bucket < %(end)s
          AND p.node_id IN (SELECT node_id FROM down) AND p.node_id = ANY(%(visible)s)
        GROUP BY p.code ORDER BY p.code""", params).fetchall()
    balance = pd.DataFrame(bal, columns=["code", "parent", "children", "days", "days_off", "tolerance"])
    balance["share"] = (balance["parent"] - balance["children"]) / balance["parent"].where(balance["parent"] != 0)
    return meters, balance


DAY_COLOURS = {"workday": "#1b5e20", "weekend": "#1565c0", "holiday": "#e65100"}


def profile_figure(days: dict[str, pd.DataFrame], lang: str) -> go.Figure:
    shown = {k: d for k, d in days.items() if len(d) and d.attrs.get("n_days")}
    if not shown:
        return empty_figure(tr("no_data", lang))
    fig = go.Figure()
    for kind, d in shown.items():
        x = [t.strftime("%H:%M") for t in d.index]
        fig.add_scatter(x=x, y=d["mean"], mode="lines", line={"color": DAY_COLOURS[kind], "width": 2},
                        name=f"{tr('daytype.' + kind, lang)} ({d.attrs['n_days']} {tr('unit.day', lang)})")
    ticks = [t.strftime("%H:%M") for t in next(iter(shown.values())).index if t.minute == 0 and t.hour % 3 == 0]
    fig.update_xaxes(title_text=tr("ea.time_of_day", lang), tickmode="array", tickvals=ticks)
    fig.update_yaxes(title_text=tr("ea.power_kw", lang))
    return _base_layout(fig, 320)


def peak_figure(peaks: pd.DataFrame, lang: str) -> go.Figure:
    if peaks.empty:
        return empty_figure(tr("no_data", lang))
    text = [pd.Timestamp(t).strftime("%m-%d %H:%M") if pd.notna(t) else "" for t in peaks["peak_time"]]
    fig = go.Figure(go.Bar(x=[pd.Timestamp(m).strftime("%Y-%m") for m in peaks["month"]], y=peaks["peak_kw"],
                           text=text, textposition="outside", marker_color="#00796b", name=tr("ea.peak", lang)))
    fig.update_xaxes(title_text=tr("col.month", lang), type="category")
    fig.update_yaxes(title_text=tr("ea.peak", lang))
    return _base_layout(fig, 320)


def sankey_figure(data, lang: str, names: dict[str, str] | None = None) -> go.Figure:
    """go.Sankey from SankeyData.to_plotly(); unmetered links in orange, labels in ``lang``."""
    from ems.analytics.sankey import LOSSES, UNMETERED_SUPPLY

    if data is None or not data.nodes:
        return empty_figure(tr("ea.sankey.none", lang))
    spec = data.to_plotly()
    own = {LOSSES: tr("ea.losses", lang), UNMETERED_SUPPLY: tr("ea.unmetered_supply", lang)}
    labels = [own.get(n) or (names or {}).get(n) or n for n in spec["node"]["label"]]
    kinds = data.links.loc[data.links["value"] > 0, "kind"].tolist()
    link = dict(spec["link"], color=["rgba(230,81,0,0.55)" if k == "unmetered" else "rgba(0,121,107,0.3)"
                                     for k in kinds],
                label=[tr("ea.unmetered" if k == "unmetered" else "ea.metered", lang) for k in kinds])
    fig = go.Figure(go.Sankey(node={"label": labels, "pad": 14, "thickness": 14, "color": PALETTE[0]},
                              link=link, valueformat=",.1f", valuesuffix=" MWh"))
    return _base_layout(fig, 460)


def sankey_note(data, lang: str, names: dict[str, str] | None = None) -> str:
    if data is None or data.balance.empty:
        return ""
    off = [(names or {}).get(n, n) for n in data.imbalanced_nodes]
    return tr("ea.balanced", lang) if not off else f"{tr('ea.imbalanced', lang)}: {', '.join(off)}"


def _table(head: list[str], rows: list[list], table_id: str, num_from: int = 1) -> html.Table:
    th = [html.Th(h, className="num" if i >= num_from else None) for i, h in enumerate(head)]
    body = [html.Tr([html.Td(v, className="num" if i >= num_from else None) for i, v in enumerate(r)]) for r in rows]
    return html.Table([html.Thead(html.Tr(th)), html.Tbody(body)], className="cc-table", id=table_id)


def tce_table(table: pd.DataFrame, skipped: dict, lang: str) -> list:
    if table.empty:
        return [html.Div(tr("no_data", lang), className="cc-empty")]
    rows = [[medium_label(r["medium"], lang), fmt_number(r["quantity"]), r["unit"], fmt_number(r["tce"], 3)]
            for r in table.to_dict("records")]
    rows.append([tr("ea.total", lang), "", "", fmt_number(float(table["tce"].sum()), 3)])
    out = [_table([tr("col.medium", lang), tr("ea.quantity", lang), tr("col.unit", lang), "tce"], rows, "ea-tce-table")]
    if skipped:
        out.append(html.Div(f"{tr('ea.not_counted', lang)}: " + ", ".join(medium_label(m, lang) for m in skipped),
                            className="cc-hint"))
    return out


def intensity_table(table: pd.DataFrame, lang: str) -> html.Table | html.Div:
    if table.empty:
        return html.Div(tr("ea.intensity.none", lang), className="cc-empty")
    rows = [[r["entity"], tr("level." + r["level"], lang), str(r["month"])[:7], fmt_number(r["energy_kwh"]),
             fmt_number(r["output"]), fmt_number(r["kwh_per_unit"], 3)] for r in table.to_dict("records")]
    return _table([tr("col.node", lang), tr("ea.level", lang), tr("col.month", lang), tr("ea.energy_kwh", lang),
                   tr("ea.output", lang), tr("ea.kwh_per_unit", lang)], rows, "ea-intensity-table", num_from=3)


def cost_view(report, lang: str) -> list:
    if report is None or report == NO_TARIFF:
        return [html.Div(tr("ea.cost.no_tariff" if report else "no_data", lang), className="cc-empty")]
    if isinstance(report, str):
        return [html.Div(f"{tr('ea.cost.none', lang)} ({report})", className="cc-empty")]
    tou = report.tou.groupby("tou_period", sort=False)[["kwh", "cost_cny"]].sum().reset_index()
    rows = [[tr("tou." + r["tou_period"], lang), fmt_number(r["kwh"]), fmt_number(r["cost_cny"]),
             fmt_number(r["cost_cny"] / r["kwh"], 4) if r["kwh"] else "–"] for r in tou.to_dict("records")]
    kwh, cny = float(tou["kwh"].sum()), float(tou["cost_cny"].sum())
    rows.append([tr("ea.total", lang), fmt_number(kwh), fmt_number(cny), fmt_number(cny / kwh, 4) if kwh else "–"])
    head = [tr("ea.tou", lang), "kWh", tr("ea.cost_cny", lang), tr("ea.price", lang)]
    return [_table(head, rows, "ea-cost-table"),
            html.Div(f"{tr('ea.tariff', lang)}: {', '.join(report.tariffs)}", className="cc-hint")]


def quality_view(found: tuple[pd.DataFrame, pd.DataFrame] | None, lang: str) -> list:
    if found is None:
        return [html.Div(tr("no_data", lang), className="cc-empty")]
    meters, balance = found
    if meters.empty and balance.empty:
        return [html.Div(tr("ea.quality.none", lang), className="cc-empty", id="ea-quality-none")]
    out = []
    if not balance.empty:
        rows = [[r["code"], fmt_number(r["parent"]), fmt_number(r["children"]),
                 f"{r['share'] * 100:.1f} %" if pd.notna(r["share"]) else "–",
                 f"{r['tolerance'] * 100:.1f} %", f"{r['days_off']} / {r['days']}"] for r in balance.to_dict("records")]
        out += [html.H2(tr("ea.balance", lang)), _table(
            [tr("col.parent", lang), tr("ea.parent_value", lang), tr("ea.children_value", lang),
             tr("quality.share", lang), tr("quality.tolerance", lang), tr("ea.days_off", lang)], rows,
            "ea-balance-table")]
    if not meters.empty:
        flagged = meters[(meters["days_with_issues"] > 0) | (meters["completeness"] < 0.999)]
        n_flagged, complete = len(flagged), meters["completeness"].dropna()
        flagged = flagged.sort_values(["completeness", "days_with_issues"], ascending=[True, False]).head(MAX_ROWS)
        out += [html.H2(tr("ea.completeness", lang)), html.Div(tr("ea.completeness.summary", lang).format(
            n=len(meters), mean=fmt_number(float(complete.mean()) if len(complete) else None, 3),
            full=int((complete >= 0.999).sum()), flagged=n_flagged), className="cc-hint")]
        rows = [[r["code"], fmt_number(r["completeness"], 3), f"{r['days_with_issues']} / {r['days']}",
                 ", ".join(tr("qissue." + i, lang) if "qissue." + i in TEXT else i for i in r["issues"] or [])]
                for r in flagged.to_dict("records")]
        if rows:
            out.append(_table([tr("col.meter", lang), tr("quality.completeness", lang), tr("ea.days_issues", lang),
                               tr("quality.issues", lang)], rows, "ea-completeness-table"))
    return out


def _point_names(conn, labels: list[str]) -> dict[str, str]:
    """name_en -> name_zh of the points a Sankey labels (energy_flows labels by the English name)."""
    sql = "SELECT name_en, name_zh FROM point WHERE name_en = ANY(%s) AND name_zh IS NOT NULL"
    return dict(conn.execute(sql, (labels,)).fetchall())


def register_callbacks(app: Dash, db: Database) -> None:
    """One callback per panel: they run side by side, each checking the user and their scope."""

    def _args(node_id, start, end):
        rc = require_context(db)
        lo, hi = date_range(start, end)
        if node_id is None or int(node_id) not in rc.visible:
            raise PreventUpdate
        return rc, int(node_id), lo, hi

    @app.callback(Output("ea-profile", "figure"), Output("ea-peak", "figure"), *_INPUTS)
    def _profile(node_id, start, end):
        rc, node, lo, hi = _args(node_id, start, end)
        with db.connection() as conn:
            days, peaks = profile_and_peak(conn, node, rc.visible, lo, hi)
        return profile_figure(days, rc.lang), peak_figure(peaks, rc.lang)

    @app.callback(Output("ea-sankey", "figure"), Output("ea-sankey-note", "children"), *_INPUTS)
    def _sankey(node_id, start, end):
        rc, node, lo, hi = _args(node_id, start, end)
        with db.connection() as conn:
            data = sankey(conn, node, rc.visible, lo, hi)
            names = _point_names(conn, data.nodes) if data is not None and rc.lang == "zh" else {}
        return sankey_figure(data, rc.lang, names), sankey_note(data, rc.lang, names)

    @app.callback(Output("ea-tce", "children"), Output("ea-intensity", "children"), *_INPUTS)
    def _tce(node_id, start, end):
        rc, node, lo, hi = _args(node_id, start, end)
        with db.connection() as conn:
            table, skipped, per_unit = tce_and_intensity(conn, node, rc.visible, lo, hi)
        return tce_table(table, skipped, rc.lang), intensity_table(per_unit, rc.lang)

    @app.callback(Output("ea-cost", "children"), *_INPUTS)
    def _cost(node_id, start, end):
        rc, node, lo, hi = _args(node_id, start, end)
        with db.connection() as conn:
            report = cost(conn, node, rc.visible, lo, hi)
        return cost_view(report, rc.lang)

    @app.callback(Output("ea-quality", "children"), *_INPUTS)
    def _quality(node_id, start, end):
        rc, node, lo, hi = _args(node_id, start, end)
        with db.connection() as conn:
            found = quality(conn, node, rc.visible, lo, hi)
        return quality_view(found, rc.lang)
