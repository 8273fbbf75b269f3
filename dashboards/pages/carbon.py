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
        html.Div(className="cc-grid2", children=[
            card(tr("carbon.sources", lang), [html.Div(id="carbon-sources")], id="card-carbon-sources"),
            card(tr("carbon.gases", lang), [html.Div(id="carbon-gases")], id="card-carbon-gases"),
        ]),
        html.Div(className="cc-grid2", children=[
            card(tr("carbon.instruments", lang), [html.Div(id="carbon-instruments")],
                 hint=tr("carbon.instruments.hint", lang), id="card-carbon-instruments"),
            card(tr("carbon.offsets", lang), [html.Div(id="carbon-offsets")], hint=tr("carbon.offsets.hint", lang),
                 id="card-carbon-offsets"),
        ]),
        card(tr("carbon.revisions", lang), [html.Div(id="carbon-revisions")], hint=tr("carbon.revisions.hint", lang),
             id="card-carbon-revisions"),
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


def pick_top(frame: pd.DataFrame, visible: list[int]) -> pd.Series | None:
    """The widest visible inventory; None when several plants are visible and no wider inventory is."""
    mine = frame[frame["node_id"].isin(visible)]
    order = {"group": 0, "company": 1, "park": 2, "site": 3, "plant": 4}
    top = mine.sort_values("level", key=lambda s: s.map(order).fillna(9)).iloc[0] if len(mine) else None
    if top is not None and top["level"] == "plant" and len(mine[mine["level"] == "plant"]) > 1:
        return None
    return top


def breakdown_summaries(frame: pd.DataFrame, visible: list[int]) -> list[dict]:
    """The summaries to break down: the widest visible inventory's, else each visible plant's own."""
    top = pick_top(frame, visible)
    if top is not None:
        return [top["summary"] or {}]
    mine = frame[frame["node_id"].isin(visible) & (frame["level"] == "plant")]
    return [s or {} for s in mine["summary"]]


def scope1_sources(summaries: list[dict]) -> dict[str, float]:
    """Scope 1 tCO2e per source category (the engine's by_category), summed over the summaries."""
    out: dict[str, float] = {}
    for s in summaries:
        for cat, value in ((s.get("by_category") or {}).get("scope1") or {}).items():
            out[cat] = out.get(cat, 0.0) + float(value)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def gases(summaries: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """{scope key: {gas group: {mass_t, tco2e}}} (the engine's by_gas), summed over the summaries."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for s in summaries:
        for key, groups in (s.get("by_gas") or {}).items():
            for gas, v in groups.items():
                cell = out.setdefault(key, {}).setdefault(gas, {"mass_t": 0.0, "tco2e": 0.0})
                cell["mass_t"] += float(v.get("mass_t") or 0.0)
                cell["tco2e"] += float(v.get("tco2e") or 0.0)
    return out


def instrument_kinds(conn, summaries: list[dict]) -> dict[str, float]:
    """MWh claimed per instrument kind: the summaries' instrument_claims_mwh (by code) joined to the register."""
    by_code: dict[str, float] = {}
    for s in summaries:
        for code, mwh in (s.get("instrument_claims_mwh") or {}).items():
            by_code[code] = by_code.get(code, 0.0) + float(mwh)
    kinds = dict(conn.execute("SELECT code, kind FROM instrument WHERE code = ANY(%s)", (list(by_code),)).fetchall())
    out: dict[str, float] = {}
    for code, mwh in by_code.items():
        out[kinds.get(code, code)] = out.get(kinds.get(code, code), 0.0) + mwh
    return dict(sorted(out.items()))


def offsets_retired(conn, visible: list[int], year: int) -> pd.DataFrame:
    """Retirements against the visible plants in ``year``, with the lot's standard (never netted)."""
    from cms.targets_store import offset_lots, retirements

    codes = {r[0] for r in conn.execute("SELECT code FROM node WHERE node_id = ANY(%s)", (visible,))}
    lots = {lot.id: lot for lot in offset_lots(conn)}
    rows = [{"plant": r.plant, "lot": r.lot_id, "standard": lots[r.lot_id].standard if r.lot_id in lots else None,
             "tco2e": r.quantity_tco2e, "serial": r.serial, "retired_on": r.retired_on}
            for r in retirements(conn, year=year) if r.plant in codes]
    return pd.DataFrame(rows, columns=["plant", "lot", "standard", "tco2e", "serial", "retired_on"])


def revisions(conn, visible: list[int], year: int) -> pd.DataFrame:
    """Every revision of the visible nodes' inventories of ``year``: status, what it restates, totals."""
    rows = conn.execute(
        """SELECT n.code, i.revision, r.revision, i.status, i.computed_at, i.created_by, i.locked_by, i.locked_at,
                  i.content_hash, (i.summary->>'scope1_tco2e')::float8, (i.summary->>'scope2_location_tco2e')::float8,
                  (i.summary->>'scope2_market_tco2e')::float8
           FROM inventory i JOIN node n USING (node_id) LEFT JOIN inventory r ON r.inventory_id = i.restates
           WHERE i.node_id = ANY(%s) AND i.year = %s ORDER BY n.code, i.revision""", (visible, year)).fetchall()
    cols = ["code", "revision", "restates_revision", "status", "computed_at", "created_by", "locked_by", "locked_at",
            "content_hash"] + [k for k, _ in SCOPES]
    frame = pd.DataFrame(rows, columns=cols)
    total = frame[[k for k, _ in SCOPES]].sum(axis=1, min_count=1) if len(frame) else pd.Series(dtype=float)
    frame["change_tco2e"] = total - total.groupby(frame["code"]).shift(1) if len(frame) else pd.Series(dtype=float)
    return frame


def _table(head: list, rows: list[list], table_id: str) -> html.Table:
    return html.Table([html.Thead(html.Tr(head)), html.Tbody([html.Tr(r) for r in rows])],
                      className="cc-table cc-nowrap-num", id=table_id)


def _label(prefix: str, code: str, lang: str) -> str:
    from dashboards.i18n import TEXT

    return tr(f"{prefix}.{code}", lang) if f"{prefix}.{code}" in TEXT else code


def sources_table(sources: dict[str, float], lang: str):
    if not sources:
        return html.Div(tr("no_data", lang), className="cc-empty")
    rows = [[html.Td(_label("cat", c, lang)), html.Td(fmt_number(v, 3), className="num")] for c, v in sources.items()]
    rows.append([html.Td(html.B(tr("carbon.total", lang))), html.Td(html.B(fmt_number(sum(sources.values()), 3)),
                                                                   className="num")])
    return _table([html.Th(tr("carbon.col.source", lang)), html.Th("tCO2e", className="num")], rows, "carbon-source-rows")


def gas_table(by_gas: dict, lang: str):
    if not by_gas:
        return html.Div(tr("no_data", lang), className="cc-empty")
    rows = [[html.Td(tr(label, lang)), html.Td(gas), html.Td(fmt_number(v["mass_t"], 3), className="num"),
             html.Td(fmt_number(v["tco2e"], 3), className="num")]
            for key, label in SCOPES for gas, v in sorted(by_gas.get(key.removesuffix("_tco2e"), {}).items())]
    head = [html.Th(tr("carbon.col.scope", lang)), html.Th(tr("carbon.col.gas", lang)),
            html.Th(tr("carbon.col.mass", lang), className="num"), html.Th("tCO2e", className="num")]
    return _table(head, rows, "carbon-gas-rows")


def instruments_table(kinds: dict[str, float], lang: str):
    if not kinds:
        return html.Div(tr("carbon.instruments.none", lang), className="cc-empty", id="carbon-no-instruments")
    rows = [[html.Td(_label("instrument", k, lang)), html.Td(fmt_number(v, 3), className="num")] for k, v in kinds.items()]
    return _table([html.Th(tr("carbon.col.kind", lang)), html.Th(tr("carbon.col.mwh", lang), className="num")], rows,
                  "carbon-instrument-rows")


def offsets_table(frame: pd.DataFrame, lang: str):
    if frame.empty:
        return html.Div(tr("carbon.offsets.none", lang), className="cc-empty", id="carbon-no-offsets")
    rows = [[html.Td(r["plant"]), html.Td(r["lot"]), html.Td(r["standard"] or "–"),
             html.Td(fmt_number(r["tco2e"], 3), className="num"), html.Td(r["serial"] or "–"),
             html.Td(str(r["retired_on"] or "–"))] for r in frame.to_dict("records")]
    rows.append([html.Td(html.B(tr("carbon.total", lang))), html.Td(""), html.Td(""),
                 html.Td(html.B(fmt_number(frame["tco2e"].sum(), 3)), className="num"), html.Td(""), html.Td("")])
    head = [html.Th(tr(k, lang)) for k in ("carbon.col.plant", "carbon.col.lot", "carbon.col.standard")] + [
        html.Th("tCO2e", className="num"), html.Th(tr("carbon.col.serial", lang)),
        html.Th(tr("carbon.col.retired_on", lang))]
    return _table(head, rows, "carbon-offset-rows")


def revisions_table(frame: pd.DataFrame, lang: str):
    if frame.empty:
        return html.Div(tr("no_data", lang), className="cc-empty")

    def when(ts):
        return "–" if ts is None or pd.isna(ts) else pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M")

    rows = [[html.Td(r["code"]), html.Td(str(r["revision"]), className="num"),
             html.Td("–" if pd.isna(r["restates_revision"]) else str(int(r["restates_revision"])), className="num"),
             html.Td(tr("status." + r["status"], lang)), html.Td(when(r["computed_at"])), html.Td(r["created_by"]),
             html.Td("–" if not r["locked_by"] else f"{r['locked_by']} · {when(r['locked_at'])}"),
             html.Td((r["content_hash"] or "–")[:12], title=r["content_hash"] or "")]
            + [html.Td(fmt_number(_none(r[k]), 3), className="num") for k, _ in SCOPES]
            + [html.Td(fmt_number(_none(r["change_tco2e"]), 3), className="num")]
            for r in frame.to_dict("records")]
    head = ([html.Th(tr("col.node", lang))] + [html.Th(tr(k, lang)) for k in (
        "carbon.col.revision", "carbon.col.restates", "carbon.status", "carbon.col.computed", "carbon.col.by",
        "carbon.col.locked", "carbon.col.hash")] + [html.Th(tr(key, lang), className="num") for _, key in SCOPES]
        + [html.Th(tr("carbon.col.change", lang), className="num")])
    return _table(head, rows, "carbon-revision-rows")


def _none(v):
    return None if v is None or pd.isna(v) else float(v)


def register_callbacks(app: Dash, db: Database) -> None:
    @app.callback(Output("carbon-sources", "children"), Output("carbon-gases", "children"),
                  Output("carbon-instruments", "children"), Output("carbon-offsets", "children"),
                  Output("carbon-revisions", "children"), Input("carbon-year", "value"))
    def _details(year: int | None):
        rc = require_context(db)
        if year is None:
            raise PreventUpdate
        with db.connection() as conn:
            summaries = breakdown_summaries(inventories(conn, rc.visible, int(year)), rc.visible)
            kinds = instrument_kinds(conn, summaries)
            retired = offsets_retired(conn, rc.visible, int(year))
            history = revisions(conn, rc.visible, int(year))
        return (sources_table(scope1_sources(summaries), rc.lang), gas_table(gases(summaries), rc.lang),
                instruments_table(kinds, rc.lang), offsets_table(retired, rc.lang), revisions_table(history, rc.lang))

    @app.callback(Output("carbon-tiles", "children"), Output("carbon-table", "children"),
                  Output("carbon-month", "figure"), Input("carbon-year", "value"))
    def _carbon(year: int | None):
        rc = require_context(db)
        if year is None:
            raise PreventUpdate
        with db.connection() as conn:
            frame = inventories(conn, rc.visible, int(year))
            codes = {r[0] for r in conn.execute("SELECT code FROM node WHERE node_id = ANY(%s)", (rc.visible,))}
        top = pick_top(frame, rc.visible)   # None: several plants and no wider inventory: tiles sum the plants
        plants = plant_rows(frame, rc.visible, codes)
        return tiles(top, plants, rc.lang), plant_table(plants, rc.lang), month_figure(top, rc.lang)
