"""Forecasts: the champion model of each forecast target and horizon with its backtest score against
seasonal naive, the live accuracy per lead hour once actuals arrive, and drift flags.

Reads the forecasting tables (``sql/006_forecast.sql``: ``forecast_model``, the ``forecast_accuracy``
view, ``forecast_drift``). Only targets that are points of nodes the user may see show; every callback
checks the chosen target again. Nothing trained yet: the page says how to train one.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from dashboards.context import require_context
from dashboards.figures import PALETTE, _base_layout, empty_figure
from dashboards.i18n import TEXT, fmt_number, pick_name, tr
from dashboards.layout import card
from ems.db.connection import Database

PAGE_KEY = "page.forecasts"
PATH = "/forecasts"

_CHAMPION_COLS = ["model_id", "target", "name_zh", "name_en", "model", "step_s", "horizon_steps", "score",
                  "naive_day_mae", "skill_day", "train_end", "live_n", "live_mae", "live_skill", "drift"]


def champions(conn, visible: list[int]) -> pd.DataFrame:
    """Champion per (target, horizon) of the points of visible nodes: backtest MAE (= score), the
    day-naive backtest MAE and skill, the live MAE and skill over every value with an actual, and
    whether a drift flag is open."""
    rows = conn.execute(
        """SELECT m.model_id, m.target, p.name_zh, p.name_en, m.model, m.step_s, m.horizon_steps, m.score,
                  (m.backtest->'naive_day'->>'mae')::float8, (m.backtest->'model'->>'skill_day')::float8,
                  m.train_end, coalesce(sum(a.n), 0),
                  sum(a.mae * a.n) / NULLIF(sum(a.n), 0),
                  1 - sum(a.mae * a.n) / NULLIF(sum(a.naive_mae * a.n), 0),
                  EXISTS (SELECT 1 FROM forecast_drift d WHERE d.model_id = m.model_id AND d.cleared_at IS NULL)
           FROM forecast_model m JOIN point p ON p.point_id = m.point_id
           LEFT JOIN forecast_accuracy a ON a.model_id = m.model_id
           WHERE m.is_champion AND p.node_id = ANY(%s)
           GROUP BY m.model_id, p.point_id ORDER BY m.target, m.horizon_steps""", (list(visible),)).fetchall()
    return pd.DataFrame(rows, columns=_CHAMPION_COLS)


def accuracy(conn, visible: list[int], target: str) -> pd.DataFrame:
    """Live accuracy of every model of ``target`` per lead hour (empty unless the target is visible)."""
    rows = conn.execute(
        """SELECT a.model_id, a.model, m.horizon_steps, m.is_champion, a.lead_h, a.n, a.mae, a.bias, a.naive_mae,
                  a.skill
           FROM forecast_accuracy a JOIN forecast_model m USING (model_id) JOIN point p ON p.point_id = m.point_id
           WHERE a.target = %s AND p.node_id = ANY(%s) ORDER BY m.is_champion DESC, a.model_id, a.lead_h""",
        (target, list(visible))).fetchall()
    return pd.DataFrame(rows, columns=["model_id", "model", "horizon_steps", "is_champion", "lead_h", "n", "mae",
                                       "bias", "naive_mae", "skill"])


def drift(conn, visible: list[int]) -> pd.DataFrame:
    """Drift flags of models of visible points: open ones first, newest first."""
    rows = conn.execute(
        """SELECT d.target, m.model, d.detected_at, d.window_end, d.n, d.live_mae, d.backtest_mae, d.ratio,
                  d.cleared_at
           FROM forecast_drift d JOIN forecast_model m USING (model_id) JOIN point p ON p.point_id = m.point_id
           WHERE p.node_id = ANY(%s) ORDER BY (d.cleared_at IS NULL) DESC, d.detected_at DESC LIMIT 100""",
        (list(visible),)).fetchall()
    return pd.DataFrame(rows, columns=["target", "model", "detected_at", "window_end", "n", "live_mae",
                                       "backtest_mae", "ratio", "cleared_at"])


def _span(seconds: float, lang: str) -> str:
    """A duration as '15 min', '2 h' or '1 d' ('分钟', '小时', '天' in Chinese)."""
    units = ((86400, "unit.day"), (3600, "unit.hour"), (60, "unit.minute"))
    for size, key in units:
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {tr(key, lang)}"
    return f"{seconds:g} s"


def layout(lang: str, found: pd.DataFrame) -> list:
    if found.empty:
        return [html.Div(tr("forecasts.none", lang), className="cc-card cc-empty", id="no-forecasts")]
    targets = found.drop_duplicates("target")
    options = [{"label": f"{pick_name(r, lang, 'target')} · {r['target']}", "value": r["target"]}
               for r in targets.to_dict("records")]
    return [
        card(tr("forecasts.champions", lang), [champion_table(found, lang)], hint=tr("forecasts.champions.hint", lang),
             id="card-champions"),
        html.Div(className="cc-card cc-controls", children=[
            html.Label(tr("forecasts.target", lang), htmlFor="forecast-target"),
            html.Div(dcc.Dropdown(id="forecast-target", options=options, value=options[0]["value"],
                                  clearable=False), className="cc-dropdown"),
        ]),
        card(tr("forecasts.accuracy", lang), [dcc.Loading(dcc.Graph(id="forecast-chart",
                                                                    config={"displaylogo": False}))],
             hint=tr("forecasts.accuracy.hint", lang), id="card-forecast-accuracy"),
        card(tr("forecasts.by_lead", lang), [html.Div(id="forecast-table")], id="card-forecast-table"),
        card(tr("forecasts.drift", lang), [html.Div(id="forecast-drift")], hint=tr("forecasts.drift.hint", lang),
             id="card-forecast-drift"),
    ]


def model_label(name: str, lang: str) -> str:
    """A forecasting model's display name (the code itself when it has no translation)."""
    key = f"model.{name}"
    return tr(key, lang) if key in TEXT else name


def _num(value, digits: int = 3) -> str:
    return "–" if value is None or pd.isna(value) else fmt_number(float(value), digits)


def champion_table(found: pd.DataFrame, lang: str) -> html.Table:
    keys = ("col.target", "forecasts.horizon", "forecasts.step", "forecasts.model", "forecasts.backtest_mae",
            "forecasts.naive_mae", "forecasts.skill_day", "forecasts.live_n", "forecasts.live_mae",
            "forecasts.live_skill", "forecasts.drift.state")
    head = html.Tr([html.Th(tr(k, lang), className="" if i < 4 else "num") for i, k in enumerate(keys)])
    body = []
    for r in found.to_dict("records"):
        state = tr("forecasts.drift.open" if r["drift"] else "forecasts.drift.none", lang)
        body.append(html.Tr([
            html.Td(f"{pick_name(r, lang, 'target')} · {r['target']}"),
            html.Td(_span(r["horizon_steps"] * r["step_s"], lang)), html.Td(_span(r["step_s"], lang)),
            html.Td(model_label(r["model"], lang)), html.Td(_num(r["score"]), className="num"),
            html.Td(_num(r["naive_day_mae"]), className="num"), html.Td(_num(r["skill_day"], 2), className="num"),
            html.Td(fmt_number(float(r["live_n"]), 0), className="num"), html.Td(_num(r["live_mae"]), className="num"),
            html.Td(_num(r["live_skill"], 2), className="num"), html.Td(state, className="num"),
        ], className="cc-open" if r["drift"] else ""))
    return html.Table([html.Thead(head), html.Tbody(body)], className="cc-table", id="forecast-champions")


def accuracy_figure(frame: pd.DataFrame, lang: str) -> go.Figure:
    """Live MAE per lead hour: one line per model (the champion thick), the naive MAE dashed."""
    if frame.empty:
        return empty_figure(tr("forecasts.no_actuals", lang))
    fig = go.Figure()
    for i, (model_id, part) in enumerate(frame.groupby("model_id", sort=False)):
        champ = bool(part["is_champion"].iloc[0])
        name = f"{model_label(part['model'].iloc[0], lang)} #{model_id}" + (f" ({tr('forecasts.champion', lang)})" if champ else "")
        fig.add_scatter(x=part["lead_h"], y=part["mae"], name=name, mode="lines+markers",
                        line={"color": PALETTE[i % len(PALETTE)], "width": 3 if champ else 1.5})
        if champ:
            fig.add_scatter(x=part["lead_h"], y=part["naive_mae"], name=tr("forecasts.naive", lang), mode="lines",
                            line={"color": "#999", "dash": "dash"})
    fig.update_xaxes(title_text=tr("forecasts.lead_h", lang), dtick=1 if frame["lead_h"].max() <= 24 else None)
    fig.update_yaxes(title_text="MAE", rangemode="tozero")
    return _base_layout(fig, 340)


def accuracy_table(frame: pd.DataFrame, lang: str) -> html.Table | html.Div:
    if frame.empty:
        return html.Div(tr("forecasts.no_actuals", lang), className="cc-empty", id="forecast-no-actuals")
    keys = ("forecasts.model", "forecasts.lead_h", "forecasts.live_n", "forecasts.live_mae", "forecasts.bias",
            "forecasts.naive_mae_live", "forecasts.live_skill")
    head = html.Tr([html.Th(tr(k, lang), className="" if i == 0 else "num") for i, k in enumerate(keys)])
    body = [html.Tr([html.Td(f"{model_label(r['model'], lang)} #{r['model_id']}" + (" ★" if r["is_champion"] else "")),
                     html.Td(str(r["lead_h"]), className="num"), html.Td(str(r["n"]), className="num"),
                     html.Td(_num(r["mae"]), className="num"), html.Td(_num(r["bias"]), className="num"),
                     html.Td(_num(r["naive_mae"]), className="num"), html.Td(_num(r["skill"], 2), className="num")])
            for r in frame.to_dict("records")]
    return html.Table([html.Thead(head), html.Tbody(body)], className="cc-table", id="forecast-accuracy")


def drift_table(frame: pd.DataFrame, lang: str) -> html.Table | html.Div:
    if frame.empty:
        return html.Div(tr("forecasts.drift.empty", lang), className="cc-empty", id="forecast-no-drift")
    keys = ("col.target", "forecasts.model", "forecasts.window_end", "forecasts.live_mae", "forecasts.backtest_mae",
            "forecasts.ratio", "forecasts.drift.state")
    head = html.Tr([html.Th(tr(k, lang)) for k in keys])
    body = [html.Tr([html.Td(r["target"]), html.Td(model_label(r["model"], lang)),
                     html.Td(pd.Timestamp(r["window_end"]).strftime("%Y-%m-%d %H:%M")),
                     html.Td(_num(r["live_mae"]), className="num"), html.Td(_num(r["backtest_mae"]), className="num"),
                     html.Td(_num(r["ratio"], 2), className="num"),
                     html.Td(tr("forecasts.drift.open" if pd.isna(r["cleared_at"]) else "forecasts.drift.cleared",
                                lang))],
                    className="cc-open" if pd.isna(r["cleared_at"]) else "")
            for r in frame.to_dict("records")]
    return html.Table([html.Thead(head), html.Tbody(body)], className="cc-table", id="forecast-drifts")


def register_callbacks(app: Dash, db: Database) -> None:
    @app.callback(Output("forecast-chart", "figure"), Output("forecast-table", "children"),
                  Output("forecast-drift", "children"), Input("forecast-target", "value"))
    def _forecast(target: str | None):
        rc = require_context(db)
        if not target:
            raise PreventUpdate
        with db.connection() as conn:
            if target not in set(champions(conn, rc.visible)["target"]):
                raise PreventUpdate                     # not a target of this user's scope
            frame, flags = accuracy(conn, rc.visible, target), drift(conn, rc.visible)
        return accuracy_figure(frame, rc.lang), accuracy_table(frame, rc.lang), drift_table(flags, rc.lang)
