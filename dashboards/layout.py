"""The page shell shared by every cockpit page: header (product, page, user, language, log-out)."""

from __future__ import annotations

from dash import dcc, html

from dashboards.auth import User
from dashboards.i18n import tr


def header(user: User | None, lang: str, page_key: str) -> html.Header:
    """Product name, page title, the user and their role, the language toggle and log-out."""
    who = f"{user.label} · {tr('role.' + user.role, lang)}" if user else ""
    return html.Header(className="cc-header", children=[
        html.Span(tr("product", lang), className="cc-product"),
        html.Span(tr(page_key, lang), className="cc-page"),
        html.Span(className="cc-spacer"),
        html.Span(who, id="user-label", className="cc-user"),
        html.Button(tr("language.toggle", lang), id="lang-toggle", n_clicks=0),
        html.A(tr("logout", lang), href="/logout", id="logout"),
    ])


def shell(user: User | None, lang: str, page_key: str, body: list) -> html.Div:
    """Header + page body. ``url`` lets callbacks reload the page (after a language switch)."""
    return html.Div([dcc.Location(id="url", refresh=True), header(user, lang, page_key),
                     html.Main(body, className="cc-main")])


def card(title: str, children: list, hint: str | None = None, **kwargs) -> html.Section:
    """A titled white panel."""
    top = [html.H2(title)] + ([html.Div(hint, className="cc-hint")] if hint else [])
    return html.Section(top + children, className="cc-card", **kwargs)
