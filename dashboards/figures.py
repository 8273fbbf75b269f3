"""Plotly figures for the energy page: pure functions from query frames to figures (no I/O).

Units never mix: each (medium, unit) gets its own small chart. Node ids ride along in
``customdata`` so a click on a bar can drill into that node.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from dashboards.i18n import medium_label, pick_name, tr

PALETTE = qualitative.Safe + qualitative.Pastel
_FONT = 'system-ui, "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif'
_HOVER_FORMAT = {"hour": "%Y-%m-%d %H:%M", "15min": "%Y-%m-%d %H:%M", "day": "%Y-%m-%d", "month": "%Y-%m"}


def _base_layout(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(height=height, margin={"l": 60, "r": 20, "t": 40, "b": 40}, font={"family": _FONT},
                      plot_bgcolor="#fff", paper_bgcolor="#fff", separators=".,",
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    fig.update_yaxes(tickformat=",~r", gridcolor="#e6e6e6", zerolinecolor="#ccc")
    fig.update_xaxes(gridcolor="#f0f0f0")
    return fig


def empty_figure(message: str, height: int = 260) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 15, "color": "#777"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base_layout(fig, height)


def _groups(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(medium, unit) pairs, electricity first, then by name."""
    pairs = frame[["medium", "unit"]].drop_duplicates().itertuples(index=False)
    return sorted(((m, u) for m, u in pairs), key=lambda mu: (mu[0] != "electricity", mu[0], mu[1]))


def _colours(frame: pd.DataFrame) -> dict[str, str]:
    codes = sorted(frame["code"].unique())
    return {code: PALETTE[i % len(PALETTE)] for i, code in enumerate(codes)}


def energy_over_time(frame: pd.DataFrame, lang: str, grain: str) -> go.Figure:
    """Stacked bars of energy per node over time, one small chart per (medium, unit).

    ``frame`` comes from :func:`dashboards.queries.energy_by_node`. Nodes stack because they are
    disjoint subtrees; each chart's title names the medium and its unit.
    """
    if frame.empty:
        return empty_figure(tr("no_data", lang))
    groups = _groups(frame)
    titles = [f"{medium_label(m, lang)} ({u})" for m, u in groups]
    fig = make_subplots(rows=len(groups), cols=1, shared_xaxes=True, subplot_titles=titles,
                        # spacing is a share of the whole height: keep the gaps to ~35 % however many media
                        vertical_spacing=min(0.12, 0.35 / (len(groups) - 1)) if len(groups) > 1 else 0.0)
    colours = _colours(frame)
    shown: set[str] = set()
    when = _HOVER_FORMAT.get(grain, "%Y-%m-%d")
    for row, (medium, unit) in enumerate(groups, start=1):
        part = frame[(frame["medium"] == medium) & (frame["unit"] == unit)]
        for code, rows in part.groupby("code", sort=True):
            first = rows.iloc[0]
            name = pick_name(first.to_dict(), lang)
            fig.add_trace(go.Bar(
                x=rows["bucket"], y=rows["total"], name=name, legendgroup=code, showlegend=code not in shown,
                marker_color=colours[code], customdata=[[int(first["node_id"]), code]] * len(rows),
                hovertemplate=f"{name}<br>%{{x|{when}}}<br>%{{y:,.0f}} {unit}<extra></extra>"), row=row, col=1)
            shown.add(code)
        fig.update_yaxes(title_text=unit, row=row, col=1)
    fig.update_layout(barmode="stack", bargap=0.15)
    return _base_layout(fig, 120 + 230 * len(groups))


def totals_by_node(frame: pd.DataFrame, lang: str, own_id: int | None = None) -> go.Figure:
    """Horizontal bars: total per node over the range, one chart per (medium, unit), side by side.

    The node ``own_id`` (the drilled node's directly attached meters) is labelled "(own meters)";
    bars are not stacked, because a node's own main meter may include its children's consumption.
    """
    if frame.empty:
        return empty_figure(tr("no_data", lang))
    groups = _groups(frame)
    titles = [f"{medium_label(m, lang)} ({u})" for m, u in groups]
    # plotly needs spacing <= 1 / (cols - 1): with many media the gap shrinks
    fig = make_subplots(rows=1, cols=len(groups), subplot_titles=titles,
                        horizontal_spacing=min(0.18, 0.8 / max(len(groups) - 1, 1)))
    colours = _colours(frame)
    totals = (frame.groupby(["medium", "unit", "node_id", "code", "name_zh", "name_en"], dropna=False)["total"]
              .sum().reset_index())
    nodes = totals.drop_duplicates("node_id")
    labels = {int(r.node_id): pick_name(r._asdict(), lang) + (" " + tr("own_meters", lang)
                                                              if r.node_id == own_id else "")
              for r in nodes.itertuples()}
    for col, (medium, unit) in enumerate(groups, start=1):
        part = totals[(totals["medium"] == medium) & (totals["unit"] == unit)].sort_values("total")
        fig.add_trace(go.Bar(
            x=part["total"], y=[labels[int(i)] for i in part["node_id"]], orientation="h",
            marker_color=[colours[c] for c in part["code"]], showlegend=False,
            customdata=[[int(i), c] for i, c in zip(part["node_id"], part["code"], strict=True)],
            text=[f"{v:,.0f}" for v in part["total"]], textposition="auto",
            hovertemplate=f"%{{y}}<br>%{{x:,.0f}} {unit}<extra></extra>"), row=1, col=col)
        fig.update_xaxes(tickformat=",~r", title_text=unit, row=1, col=col)
    height = 140 + 34 * max(len(nodes), 2)
    return _base_layout(fig, height)


def meter_figure(frame: pd.DataFrame, point: dict, lang: str, grain: str) -> go.Figure:
    """One meter over time: bars of interval sums for energy meters, a line of means for sensors."""
    if frame.empty:
        return empty_figure(tr("no_data", lang))
    name = pick_name(point, lang)
    unit = point["unit"]
    when = _HOVER_FORMAT.get(grain, "%Y-%m-%d")
    hover = f"%{{x|{when}}}<br>%{{y:,.2f}} {unit}<extra></extra>"
    if point["kind"] == "instantaneous":
        trace = go.Scatter(x=frame["bucket"], y=frame["value"], mode="lines", name=name, hovertemplate=hover,
                           line={"color": PALETTE[0]})
    else:
        trace = go.Bar(x=frame["bucket"], y=frame["value"], name=name, hovertemplate=hover,
                       marker_color=PALETTE[0])
    fig = go.Figure(trace)
    fig.update_layout(title={"text": f"{name} · {point['code']} ({unit}, {tr('grain.' + grain, lang)})",
                             "font": {"size": 14}})
    fig.update_yaxes(title_text=unit)
    return _base_layout(fig, 320)
