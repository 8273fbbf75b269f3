"""Recommendations: the optimiser's set-point recommendations for the plants the user may see, with the
expected kWh, cost and tCO2 saved against the plant's own control, their lifecycle status and the
measured saving once applied; accept, or reject with a reason.

Deciding needs ``decide_recommendation`` (energy managers, admins) and a recommendation of a visible
plant. The state change goes through the optimiser's own store (``ems.optimize.store.set_status``),
so the lifecycle rules (proposed -> accepted | rejected with reason -> applied -> expired) and the
event log apply exactly as from ``ems optimize accept/reject``.
"""

from __future__ import annotations

import numbers

import pandas as pd
from dash import Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from dashboards.auth import User, may
from dashboards.context import require_context
from dashboards.i18n import fmt_number, tr
from dashboards.layout import card
from ems.db.connection import Database
from ems.errors import UserError

PAGE_KEY = "page.recommendations"
PATH = "/recommendations"
STATUSES = ("proposed", "accepted", "rejected", "applied", "expired")
ACTIONS = {"rec-accept": "accepted", "rec-reject": "rejected"}


def recommendations(conn, visible: list[int], status: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Recommendations of plants whose node the user may see (newest first), with the plant's time zone."""
    from ems.optimize.store import COLUMNS

    cols = ", ".join(f"r.{c}" for c in COLUMNS)
    rows = conn.execute(
        f"""SELECT {cols}, n.timezone FROM recommendation r JOIN node n ON n.code = r.plant_code
            WHERE n.node_id = ANY(%s) AND (%s::text IS NULL OR r.status = %s)
            ORDER BY r.rec_id DESC LIMIT %s""", (list(visible), status, status, limit)).fetchall()
    return pd.DataFrame(rows, columns=[*COLUMNS, "timezone"])


def in_scope(conn, visible: list[int], rec_id: int) -> bool:
    """True when recommendation ``rec_id`` belongs to a plant whose node the user may see."""
    return conn.execute("""SELECT 1 FROM recommendation r JOIN node n ON n.code = r.plant_code
                           WHERE r.rec_id = %s AND n.node_id = ANY(%s)""", (int(rec_id), list(visible))).fetchone() \
        is not None


def decide(conn, user: User, visible: list[int], rec_id: int, status: str, reason: str | None) -> str:
    """Accept or reject (``status``) one recommendation as ``user``; the message to show.

    ``PreventUpdate`` when the recommendation is not one of the user's plants (nothing is said about
    it); a refusal message when the role may not decide or the lifecycle refuses the change.
    """
    if status not in ACTIONS.values():
        raise PreventUpdate
    if not in_scope(conn, visible, rec_id):
        raise PreventUpdate
    if not may(user, "decide_recommendation"):
        return tr("rec.denied", user.language)
    if status == "rejected" and not (reason or "").strip():
        return tr("rec.reason_needed", user.language)
    from ems.optimize import store

    current = store.get(conn, int(rec_id))["status"]
    if status == current:          # the store would only re-stamp the decision; a second click changes nothing
        return f"{tr('rec.refused', user.language)}: {tr(f'rec.status.{current}', user.language)}"
    try:
        store.set_status(conn, int(rec_id), status, user.username, (reason or "").strip() or None)
    except UserError as exc:
        return f"{tr('rec.refused', user.language)}: {exc}"
    return tr(f"rec.done.{status}", user.language)


def layout(lang: str, any_visible: bool) -> list:
    if not any_visible:
        return [html.Div(tr("rec.none", lang), className="cc-card cc-empty", id="no-recommendations")]
    options = [{"label": tr("rec.status.all", lang), "value": "all"}] + [
        {"label": tr(f"rec.status.{s}", lang), "value": s} for s in STATUSES]
    return [
        html.Div(className="cc-card cc-controls", children=[
            html.Label(tr("rec.filter", lang), htmlFor="rec-status"),
            dcc.RadioItems(id="rec-status", options=options, value="all", inline=True),
        ]),
        card(tr("rec.title", lang), [
            html.Div(id="rec-totals", className="cc-tiles"),
            html.Div(id="rec-table"),
        ], hint=tr("rec.hint", lang), id="card-recommendations"),
        card(tr("rec.decide", lang), [
            html.Div(className="cc-drill", children=[
                html.Div(dcc.Dropdown(id="rec-choice", options=[], placeholder=tr("rec.choose", lang)),
                         className="cc-dropdown"),
                html.Button(tr("rec.accept", lang), id="rec-accept", n_clicks=0),
                dcc.Input(id="rec-reason", type="text", placeholder=tr("rec.reason", lang), debounce=False),
                html.Button(tr("rec.reject", lang), id="rec-reject", n_clicks=0),
            ]),
            html.Div(id="rec-result", className="cc-hint"),
        ], hint=tr("rec.decide.hint", lang), id="card-rec-decide"),
    ]


def _setpoints(decision: dict, baseline: dict) -> str:
    """The numeric set-points of a decision, with the baseline's where it has a number: 'k 7 → 10.5'."""
    parts = []
    for key, value in (decision or {}).items():
        if isinstance(value, bool) or not isinstance(value, numbers.Number):
            continue
        base = (baseline or {}).get(key)
        before = f"{base:g} → " if isinstance(base, numbers.Number) and not isinstance(base, bool) else ""
        parts.append(f"{key} {before}{value:g}")
    return " · ".join(parts)


def totals(frame: pd.DataFrame, lang: str) -> list:
    """Tiles: expected savings of the recommendations accepted or applied, and the measured kWh."""
    taken = frame[frame["status"].isin(["accepted", "applied"]) | frame["measured_kwh_saved"].notna()]
    total = {c: float(pd.to_numeric(taken[c], errors="coerce").sum()) for c in
             ("expected_kwh_saved", "expected_cost_cny_saved", "expected_tco2_saved", "measured_kwh_saved")}
    tiles = [("rec.tile.kwh", total["expected_kwh_saved"], "kWh"),
             ("rec.tile.cost", total["expected_cost_cny_saved"], tr("unit.cny", lang)),
             ("rec.tile.tco2", total["expected_tco2_saved"], "tCO2"),
             ("rec.tile.measured", total["measured_kwh_saved"], "kWh")]
    return [html.Div([html.Div(tr(k, lang), className="cc-tile-label"),
                      html.Div(fmt_number(v, 2 if unit == "tCO2" else 0), className="cc-tile-value"),
                      html.Div(unit, className="cc-tile-unit")], className="cc-tile") for k, v, unit in tiles]


def rec_table(frame: pd.DataFrame, lang: str) -> html.Table | html.Div:
    if frame.empty:
        return html.Div(tr("rec.none_status", lang), className="cc-empty", id="rec-empty")
    keys = ("rec.col.id", "col.plant", "rec.col.system", "rec.col.valid", "rec.col.setpoints", "rec.col.kwh",
            "rec.col.cost", "rec.col.tco2", "rec.col.status", "rec.col.reason", "rec.col.by", "rec.col.measured")
    num = {"rec.col.kwh", "rec.col.cost", "rec.col.tco2", "rec.col.measured"}
    head = html.Tr([html.Th(tr(k, lang), className="num" if k in num else "") for k in keys])
    body = []
    for r in frame.to_dict("records"):
        lo = pd.Timestamp(r["valid_from"]).tz_convert(r["timezone"])
        hi = pd.Timestamp(r["valid_to"]).tz_convert(r["timezone"])
        body.append(html.Tr([
            html.Td(f"#{r['rec_id']}"), html.Td(r["plant_code"]), html.Td(tr(f"rec.system.{r['system']}", lang)),
            html.Td(f"{lo:%Y-%m-%d %H:%M}–{hi:%H:%M}"), html.Td(_setpoints(r["decision"], r["baseline_decision"])),
            html.Td(fmt_number(r["expected_kwh_saved"], 1), className="num"),
            html.Td(fmt_number(r["expected_cost_cny_saved"], 1), className="num"),
            html.Td(fmt_number(r["expected_tco2_saved"], 4), className="num"),
            html.Td(tr(f"rec.status.{r['status']}", lang)), html.Td(r["status_reason"] or ""),
            html.Td(r["decided_by"] or ""),
            html.Td("" if pd.isna(r["measured_kwh_saved"]) else fmt_number(r["measured_kwh_saved"], 1),
                    className="num"),
        ], className="cc-open" if r["status"] == "proposed" else ""))
    return html.Table([html.Thead(head), html.Tbody(body)], className="cc-table", id="rec-list")


def choices(frame: pd.DataFrame, lang: str) -> list[dict]:
    """The recommendations that can still be decided: proposed (accept or reject) or accepted (reject)."""
    open_ = frame[frame["status"].isin(["proposed", "accepted"])]
    return [{"label": f"#{r.rec_id} {r.plant_code} · {tr(f'rec.system.{r.system}', lang)} · "
                      f"{tr(f'rec.status.{r.status}', lang)}", "value": int(r.rec_id)} for r in open_.itertuples()]


def register_callbacks(app: Dash, db: Database) -> None:
    @app.callback(Output("rec-table", "children"), Output("rec-totals", "children"), Output("rec-choice", "options"),
                  Output("rec-result", "children"), Input("rec-status", "value"), Input("rec-accept", "n_clicks"),
                  Input("rec-reject", "n_clicks"), State("rec-choice", "value"), State("rec-reason", "value"))
    def _recommendations(status: str | None, _accept: int | None, _reject: int | None, rec_id: int | None,
                         reason: str | None):
        rc = require_context(db)
        message = ""
        with db.connection() as conn:
            if ctx.triggered_id in ACTIONS and rec_id is not None:
                message = decide(conn, rc.user, rc.visible, int(rec_id), ACTIONS[ctx.triggered_id], reason)
            every = recommendations(conn, rc.visible)
        shown = every if status in (None, "all") else every[every["status"] == status]
        return rec_table(shown, rc.lang), totals(every, rc.lang), choices(every, rc.lang), message
