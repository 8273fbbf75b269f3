"""Alarms and data quality: alarm events of the user's scope (open first), acknowledgement with a note
(energy managers and admins), and the data-quality findings of a day: incomplete or suspect meters and
meter-tree imbalances. Subjects are point or node codes; only those inside the user's scope show."""

from __future__ import annotations

from datetime import date

import pandas as pd
from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboards.auth import may
from dashboards.context import parse_date, require_context
from dashboards.i18n import fmt_number, tr
from dashboards.layout import card
from ems.db.connection import Database

PAGE_KEY = "page.alarms"
PATH = "/alarms"


def _codes(conn, visible: list[int]) -> set[str]:
    rows = conn.execute("""SELECT code FROM node WHERE node_id = ANY(%s)
                           UNION SELECT code FROM point WHERE node_id = ANY(%s)""", (visible, visible)).fetchall()
    return {r[0] for r in rows}


def events(conn, visible: list[int], limit: int = 200) -> pd.DataFrame:
    """Alarm events whose subject is a visible node or point: open ones first, newest first."""
    rows = conn.execute(
        """SELECT event_id, rule_id, subject, severity, started_at, ended_at, message, acked_by, acked_at, ack_note
           FROM alarm_event WHERE subject = ANY(%s)
           ORDER BY (ended_at IS NULL) DESC, started_at DESC LIMIT %s""",
        (sorted(_codes(conn, visible)), limit)).fetchall()
    return pd.DataFrame(rows, columns=["event_id", "rule_id", "subject", "severity", "started_at", "ended_at",
                                       "message", "acked_by", "acked_at", "ack_note"])


def quality_findings(conn, visible: list[int], day: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(meters with a data-quality issue on ``day``, meter-tree balances outside tolerance that day)."""
    days = conn.execute(
        """SELECT p.code, q.completeness, q.stale_intervals, q.flatline_h, q.spikes, q.negative, q.issues
           FROM quality_day q JOIN point p USING (point_id)
           WHERE q.day = %s AND p.node_id = ANY(%s) AND cardinality(q.issues) > 0 ORDER BY p.code""",
        (day, visible)).fetchall()
    bal = conn.execute(
        """SELECT p.code, b.parent_value, b.children_value, b.share, b.tolerance
           FROM quality_balance b JOIN point p ON p.point_id = b.parent_point_id JOIN node n ON n.node_id = p.node_id
           WHERE b.grain = 'day' AND (b.bucket AT TIME ZONE n.timezone)::date = %s AND p.node_id = ANY(%s)
             AND b.ok IS FALSE ORDER BY p.code""", (day, visible)).fetchall()
    return (pd.DataFrame(days, columns=["code", "completeness", "stale", "flatline_h", "spikes", "negative", "issues"]),
            pd.DataFrame(bal, columns=["code", "parent", "children", "share", "tolerance"]))


def layout(lang: str, last_day: date | None) -> list:
    day = (last_day or date.today()).isoformat()
    return [
        card(tr("alarms.events", lang), [
            html.Div(id="alarm-table"),
            html.Div(className="cc-drill", children=[
                html.Label(tr("alarms.ack", lang), htmlFor="ack-event"),
                html.Div(dcc.Dropdown(id="ack-event", options=[]), className="cc-dropdown"),
                dcc.Input(id="ack-note", type="text", placeholder=tr("alarms.note", lang), debounce=False),
                html.Button(tr("alarms.ack.button", lang), id="ack-button", n_clicks=0),
                html.Span(id="ack-result", className="cc-hint"),
            ]),
        ], id="card-alarms"),
        card(tr("quality.title", lang), [
            dcc.DatePickerSingle(id="quality-day", date=day, display_format="YYYY-MM-DD", first_day_of_week=1),
            html.Div(id="quality-table"),
        ], hint=tr("quality.hint", lang), id="card-quality"),
    ]


def event_table(frame: pd.DataFrame, lang: str) -> html.Table | html.Div:
    if frame.empty:
        return html.Div(tr("alarms.none", lang), className="cc-empty", id="no-alarms")
    cols = ["rule_id", "subject", "severity", "started_at", "ended_at", "message", "acked_by", "ack_note"]
    head = html.Tr([html.Th(tr(f"alarms.col.{c}", lang)) for c in cols])
    def cell(r: dict, c: str) -> str:
        if pd.isna(r[c]):
            return ""
        if c in ("started_at", "ended_at"):
            return pd.Timestamp(r[c]).strftime("%Y-%m-%d %H:%M")
        return tr(f"severity.{r[c]}", lang) if c == "severity" else str(r[c])

    body = [html.Tr([html.Td(cell(r, c)) for c in cols], className="cc-open" if pd.isna(r["ended_at"]) else "")
            for r in frame.to_dict("records")]
    return html.Table([html.Thead(head), html.Tbody(body)], className="cc-table", id="alarm-events")


def quality_tables(days: pd.DataFrame, bal: pd.DataFrame, lang: str) -> list:
    if days.empty and bal.empty:
        return [html.Div(tr("quality.ok", lang), className="cc-empty", id="quality-ok")]
    out = []
    if not days.empty:
        head = html.Tr([html.Th(tr(k, lang)) for k in ("col.meter", "quality.completeness", "quality.issues")])
        out.append(html.Table([html.Thead(head), html.Tbody([
            html.Tr([html.Td(r["code"]), html.Td(fmt_number(r["completeness"], 3), className="num"),
                     html.Td(", ".join(r["issues"]))]) for r in days.to_dict("records")])],
            className="cc-table", id="quality-days"))
    if not bal.empty:
        head = html.Tr([html.Th(tr(k, lang)) for k in ("col.parent", "quality.share", "quality.tolerance")])
        out.append(html.Table([html.Thead(head), html.Tbody([
            html.Tr([html.Td(r["code"]), html.Td(f"{r['share'] * 100:.1f} %", className="num"),
                     html.Td(f"{r['tolerance'] * 100:.1f} %", className="num")]) for r in bal.to_dict("records")])],
            className="cc-table", id="quality-balance"))
    return out


def register_callbacks(app: Dash, db: Database) -> None:
    @app.callback(Output("alarm-table", "children"), Output("ack-event", "options"), Output("ack-result", "children"),
                  Input("ack-button", "n_clicks"), State("ack-event", "value"), State("ack-note", "value"))
    def _alarms(n_clicks: int | None, event_id: int | None, note: str | None):
        rc = require_context(db)
        message = ""
        with db.connection() as conn:
            frame = events(conn, rc.visible)
            if n_clicks and event_id is not None:
                if not may(rc.user, "ack_alarm"):
                    message = tr("alarms.ack.denied", rc.lang)
                elif int(event_id) not in set(frame["event_id"]):
                    raise PreventUpdate          # not an event of this user's scope
                else:
                    from ems.alarms.store import acknowledge

                    acknowledge(conn, int(event_id), rc.user.username, (note or "").strip() or None)
                    conn.commit()
                    message = tr("alarms.ack.done", rc.lang)
                    frame = events(conn, rc.visible)
        options = [{"label": f"#{r.event_id} {r.rule_id} · {r.subject}", "value": int(r.event_id)}
                   for r in frame.itertuples() if pd.isna(r.acked_at)]
        return event_table(frame, rc.lang), options, message

    @app.callback(Output("quality-table", "children"), Input("quality-day", "date"))
    def _quality(day: str | None):
        rc = require_context(db)
        d = parse_date(day)
        if d is None:
            raise PreventUpdate
        with db.connection() as conn:
            days, bal = quality_findings(conn, rc.visible, d)
        return quality_tables(days, bal, rc.lang)
