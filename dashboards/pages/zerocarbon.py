"""Zero-carbon factory: a scorecard per visible plant against a built-in criteria pack.

The record of each plant-year comes from stored data (``cms.zerocarbon_inputs.plant_record``: roll-ups,
inventories, instrument claims, retired offsets) and is evaluated by the engine (``cms.zerocarbon.assess``);
the page only presents the result: outcome, type, star level and score, and per item its status, value
against threshold, missing evidence, gap and the next step. A threshold the pack leaves unconfigured is
shown as such (the item is 'not configured', the star level 'undetermined'), never as met or failed.
Item, type and level names come from the pack (its Chinese name when it has one, else the English).
"""

from __future__ import annotations

from dash import Dash, Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from dashboards.context import require_context
from dashboards.i18n import TEXT, fmt_number, pick_name, tr
from dashboards.layout import card
from ems.db.connection import Database

PAGE_KEY = "page.zerocarbon"
PATH = "/zerocarbon"
DEFAULT_PACK = "RE100-OFFSET100"


def pack_name(names, lang: str) -> str:
    """A pack's Names (en, zh) in ``lang``: the Chinese name when present, else the English."""
    return (names.zh or names.en) if lang == "zh" else names.en


def pack_choices(lang: str) -> list[dict]:
    """The built-in packs as dropdown options (value: id@version)."""
    from cms.zerocarbon_pack import builtin_packs

    return [{"label": f"{p.id} · {pack_name(p.title, lang)}", "value": f"{p.id}@{p.version}"}
            for p in builtin_packs()]


def layout(lang: str, years: list[int]) -> list:
    if not years:
        return [html.Div(tr("zc.none", lang), className="cc-card cc-empty", id="no-zerocarbon")]
    packs = pack_choices(lang)
    default = next((p["value"] for p in packs if p["value"].startswith(DEFAULT_PACK + "@")),
                   packs[0]["value"] if packs else None)
    return [
        html.Div(className="cc-card cc-controls", children=[
            html.Label(tr("zc.pack", lang), htmlFor="zc-pack"),
            html.Div(dcc.Dropdown(id="zc-pack", options=packs, value=default, clearable=False),
                     className="cc-dropdown cc-dropdown-wide"),
            html.Label(tr("carbon.year", lang), htmlFor="zc-year"),
            html.Div(dcc.Dropdown(id="zc-year", options=[{"label": str(y), "value": y} for y in years],
                                  value=years[-1], clearable=False), className="cc-dropdown"),
        ]),
        html.Div(id="zc-pack-info"),
        dcc.Loading(html.Div(id="zc-cards", className="cc-zc-cards")),
    ]


def unconfigured_parameters(pack) -> list[str]:
    """Names of the pack's parameters that have no value (checks or levels using them cannot decide)."""
    return [name for name, prm in pack.parameters.items() if prm.value is None]


def assessments(conn, pack, visible: list[int], year: int) -> list[tuple[dict, object]]:
    """(plant node row, engine Assessment) for every visible plant, by code."""
    from cms.zerocarbon import assess
    from cms.zerocarbon_inputs import plant_record

    rows = conn.execute("SELECT code, name_zh, name_en FROM node WHERE level = 'plant' AND node_id = ANY(%s) "
                        "ORDER BY code", (visible,)).fetchall()
    out = []
    for code, zh, en in rows:
        out.append(({"code": code, "name_zh": zh, "name_en": en}, assess(pack, plant_record(conn, code, year))))
    return out


def _value(v: float | None, unit: str, lang: str) -> str:
    if v is None:
        return "–"
    if unit == "fraction":
        return f"{v * 100:.1f} %"
    if unit == "fact":
        return tr("zc.yes", lang) if v else tr("zc.no", lang)
    return f"{fmt_number(v)} {unit}".strip()


def next_step(item, lang: str) -> str:
    """The item's next step in ``lang`` (the engine's next steps are English text; this follows its rules)."""
    if item.status == "unconfigured":
        return tr("zc.next.configure", lang)
    if item.status == "unknown":
        return tr("zc.next.unknown", lang).format(inputs=", ".join(item.missing_inputs))
    if item.status == "not_met":
        if item.shortfall is not None:
            key = f"zc.gap.{item.id}" if f"zc.gap.{item.id}" in TEXT else "zc.next.shortfall"
            return tr(key, lang).format(amount=fmt_number(item.shortfall), unit=item.shortfall_unit or "")
        return tr("zc.next.fact" if item.unit == "fact" else "zc.next.meet", lang)
    if item.status == "no_evidence" or item.evidence_missing:
        return tr("zc.next.evidence", lang)
    return ""


def _item_row(pack, item, lang: str) -> html.Tr:
    spec = next((i for i in pack.items if i.id == item.id), None)
    name = pack_name(spec.name, lang) if spec else item.id
    if item.role == "scored":
        value = f"{fmt_number(item.points_awarded)} / {fmt_number(item.points_max)}"
    else:
        value = _value(item.value, item.unit, lang)
    threshold = tr("zc.not_configured", lang) if item.status == "unconfigured" else _value(item.threshold, item.unit, lang)
    if item.unit == "fact":
        threshold = tr("zc.yes", lang)
    gap = "" if item.shortfall is None else f"{fmt_number(item.shortfall)} {item.shortfall_unit or ''}".strip()
    evidence = (tr("zc.evidence.missing", lang) if item.evidence_missing
                else ", ".join(item.evidence) if item.evidence else "–")
    return html.Tr([html.Td(name), html.Td(tr(f"zc.role.{item.role}", lang)),
                    html.Td(tr(f"zc.status.{item.status}", lang), className=f"cc-zc-{item.status}"),
                    html.Td(value, className="num"), html.Td(threshold, className="num"), html.Td(evidence),
                    html.Td(gap, className="num"), html.Td(next_step(item, lang))])


def scorecard(node: dict, a, pack, lang: str) -> html.Section:
    """One plant's scorecard: headline (outcome, type, level, score) and the item table."""
    types = {t.id: t for t in pack.types}
    levels_unset = bool(pack.levels) and any(pack.param(lv.min_score) is None for lv in pack.levels) \
        and len(pack.levels) > 1
    if a.level:
        spec = next(lv for lv in pack.levels if lv.id == a.level)
        level = pack_name(spec.name, lang) + (f" ({'★' * a.stars})" if a.stars else "")
    elif levels_unset:
        level = tr("zc.level.undetermined", lang)
    else:
        level = "–"
    head = [
        html.Div([html.Span(tr("zc.outcome", lang)), html.B(tr(f"zc.outcome.{a.outcome}", lang))],
                 className=f"cc-zc cc-zc-outcome-{a.outcome}"),
        html.Div([html.Span(tr("zc.type", lang)),
                  html.B(pack_name(types[a.type].name, lang) if a.type in types else "–")]),
        html.Div([html.Span(tr("zc.level", lang)), html.B(level)]),
        html.Div([html.Span(tr("zc.score", lang)), html.B(fmt_number(a.score))]),
        html.Div([html.Span(tr("zc.renewable", lang)),
                  html.B(_value(a.renewable_electricity_share, "fraction", lang))]),
        html.Div([html.Span(tr("zc.residual", lang)),
                  html.B(f"{fmt_number(a.residual_tco2e)} / {fmt_number(a.neutralised_tco2e)} tCO2e")]),
    ]
    per_type = [html.Div(f"{pack_name(types[t['type']].name, lang)}: {tr('zc.outcome.' + t['outcome'], lang)}",
                         className="cc-hint") for t in a.types if t["type"] in types] if len(a.types) > 1 else []
    unset = unconfigured_parameters(pack)
    undetermined = ([html.Div(tr("zc.unconfigured", lang).format(names=", ".join(unset)), className="cc-hint",
                              id=f"zc-unset-{node['code']}")]
                    if unset and (levels_unset or any(i.status == "unconfigured" for i in a.items)) else [])
    cols = ("zc.col.item", "zc.col.role", "zc.col.status", "zc.col.value", "zc.col.threshold", "zc.col.evidence",
            "zc.col.gap", "zc.col.next")
    table = html.Table([html.Thead(html.Tr([html.Th(tr(c, lang), className="num" if c in (
        "zc.col.value", "zc.col.threshold", "zc.col.gap") else None) for c in cols])),
        html.Tbody([_item_row(pack, i, lang) for i in a.items])], className="cc-table cc-nowrap-num")
    return card(pick_name(node, lang), [html.Div(head, className="cc-zc-head"), *per_type, *undetermined, table],
                id=f"zc-card-{node['code']}")


def pack_info(pack, lang: str) -> html.Div:
    parts = [html.B(f"{pack.standard} · {pack_name(pack.title, lang)}"),
             html.Span(f" · {tr('admin.version', lang)} {pack.version} · "
                       f"{tr('admin.pack_status.' + pack.status, lang)}")]
    return html.Div(parts, className="cc-card", id="zc-pack-summary")


def register_callbacks(app: Dash, db: Database) -> None:
    @app.callback(Output("zc-pack-info", "children"), Output("zc-cards", "children"),
                  Input("zc-pack", "value"), Input("zc-year", "value"))
    def _zerocarbon(ref: str | None, year: int | None):
        rc = require_context(db)
        if not ref or year is None:
            raise PreventUpdate
        from cms.zerocarbon_pack import builtin_packs

        pack = next((p for p in builtin_packs() if f"{p.id}@{p.version}" == ref), None)
        if pack is None:
            raise PreventUpdate                      # only built-in packs, by id@version
        with db.connection() as conn:
            found = assessments(conn, pack, rc.visible, int(year))
        if not found:
            return pack_info(pack, rc.lang), html.Div(tr("zc.no_plants", rc.lang), className="cc-card cc-empty",
                                                      id="zc-no-plants")
        return pack_info(pack, rc.lang), [scorecard(node, a, pack, rc.lang) for node, a in found]
