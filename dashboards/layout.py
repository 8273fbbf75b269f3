"""The page shell shared by every cockpit page: header (product, page, user, language, log-out)."""

from __future__ import annotations

from dash import dcc, html

from dashboards.auth import User
from dashboards.i18n import tr

PAGES = (("page.overview", "/overview"), ("page.energy", "/"), ("page.systems", "/systems"),
         ("page.recommendations", "/recommendations"), ("page.forecasts", "/forecasts"), ("page.carbon", "/carbon"),
         ("page.zerocarbon", "/zerocarbon"), ("page.alarms", "/alarms"), ("page.reports", "/reports"),
         ("page.admin", "/admin"))   # (title key, path) in menu order
ADMIN_ONLY = frozenset({"page.admin"})   # menu entries shown to admins only (the page itself refuses others too)


def header(user: User | None, lang: str, page_key: str) -> html.Header:
    """Product name, page title, the user and their role, the language toggle and log-out."""
    who = f"{user.label} · {tr('role.' + user.role, lang)}" if user else ""
    nav = [html.A(tr(key, lang), href=path, className="cc-nav" + (" cc-nav-on" if key == page_key else ""),
                  id=f"nav-{key.split('.')[-1]}") for key, path in PAGES
           if key not in ADMIN_ONLY or (user is not None and user.is_admin)]
    return html.Header(className="cc-header", children=[
        html.Span(tr("product", lang), className="cc-product"),
        html.Nav(nav, className="cc-navbar"),
        html.Span(className="cc-spacer"),
        html.Span(who, id="user-label", className="cc-user"),
        html.Button(tr("language.toggle", lang), id="lang-toggle", n_clicks=0),
        html.A(tr("logout", lang), href="/logout", id="logout"),
    ])


def page(user: User | None, lang: str, page_key: str, body: list) -> list:
    """Header + page body: what the router callback puts into the ``page`` container."""
    return [header(user, lang, page_key), html.Main(body, className="cc-main")]


def shell(user: User | None, lang: str, page_key: str, body: list) -> html.Div:
    """The whole document: ``url`` (the router's input; callbacks set it to reload the page after a
    language switch) and the ``page`` container."""
    return html.Div([dcc.Location(id="url", refresh=True), html.Div(page(user, lang, page_key, body), id="page")])


def card(title: str, children: list, hint: str | None = None, **kwargs) -> html.Section:
    """A titled white panel."""
    top = [html.H2(title)] + ([html.Div(hint, className="cc-hint")] if hint else [])
    return html.Section(top + children, className="cc-card", **kwargs)
