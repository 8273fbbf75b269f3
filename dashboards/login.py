"""Log-in for the cockpit: a Flask session on the Dash server, a login page, and a gate.

The gate runs before every request. Only ``/login`` and ``/logout`` are open; any other request
without a logged-in, enabled user is refused: page requests are redirected to the login page, Dash's
own endpoints (``/_dash-layout``, ``/_dash-update-component``, component bundles ...) and non-GET
requests get ``401`` with no data. The session cookie is signed with the secret key from
``EMS_SECRET_KEY`` or, when unset, a random key kept in ``$EMS_DATA_DIR/secret_key``.
"""

from __future__ import annotations

import html
import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import flask

from dashboards.auth import User, authenticate, get_user
from ems.db.connection import Database

SESSION_LIFETIME = timedelta(hours=12)
_OPEN_PATHS = frozenset({"/login", "/logout"})


def load_secret_key(data_dir: Path) -> str:
    """``EMS_SECRET_KEY``, else the key in ``data_dir/secret_key`` (created, mode 0600, if missing)."""
    from_env = os.environ.get("EMS_SECRET_KEY")
    if from_env:
        return from_env
    path = Path(data_dir) / "secret_key"
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


def current_user(db: Database) -> User | None:
    """The logged-in user of this request (loaded once per request), or None."""
    if "ems_user" in flask.g:
        return flask.g.ems_user
    user = None
    user_id = flask.session.get("user_id")
    if isinstance(user_id, int):
        with db.connection() as conn:
            user = get_user(conn, user_id)
        if user is None:
            flask.session.clear()
    flask.g.ems_user = user
    return user


def _safe_next(target: str | None) -> str:
    """A local path to go to after login (no open redirects to other sites)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def install_login(server: flask.Flask, db: Database, data_dir: Path) -> None:
    """Configure the session, add ``/login`` and ``/logout`` and the gate to the Flask server."""
    server.secret_key = load_secret_key(data_dir)
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                         SESSION_COOKIE_NAME="ems_session", PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME)

    @server.before_request
    def _gate():
        if flask.request.path in _OPEN_PATHS or current_user(db) is not None:
            return None
        path = flask.request.path
        if flask.request.method != "GET" or path.startswith("/_") or path.startswith("/assets/"):
            return flask.jsonify({"error": "not logged in"}), 401
        full = flask.request.full_path.rstrip("?")
        return flask.redirect("/login?next=" + quote(full, safe="/"))

    @server.route("/login", methods=["GET", "POST"])
    def login():
        request = flask.request
        next_url = _safe_next(request.values.get("next"))
        if request.method == "GET":
            return _login_page(next_url, _new_csrf_token())
        if not secrets.compare_digest(request.form.get("csrf", ""), flask.session.get("csrf", "")):
            return _login_page(next_url, _new_csrf_token(), error=True), 400
        with db.connection() as conn:
            user = authenticate(conn, request.form.get("username", ""), request.form.get("password", ""))
        if user is None:
            return _login_page(next_url, _new_csrf_token(), error=True), 401
        flask.session.clear()
        flask.session.permanent = True
        flask.session["user_id"] = user.user_id
        return flask.redirect(next_url)

    @server.route("/logout", methods=["GET", "POST"])
    def logout():
        flask.session.clear()
        return flask.redirect("/login")


def _new_csrf_token() -> str:
    token = secrets.token_urlsafe(24)
    flask.session["csrf"] = token
    return token


_PAGE = """<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>Carbon Cockpit 碳管理驾驶舱 — 登录 Log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>
 body {{ font-family: system-ui, "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif; background: #f3f6f4; margin: 0; }}
 form {{ max-width: 340px; margin: 12vh auto; background: #fff; padding: 28px 32px; border-radius: 8px;
        box-shadow: 0 2px 10px rgba(0,0,0,.08); }}
 h1 {{ font-size: 20px; color: #1b5e20; margin: 0 0 18px; }}
 label {{ display: block; font-size: 13px; color: #444; margin-top: 12px; }}
 input[type=text], input[type=password] {{ width: 100%; box-sizing: border-box; padding: 8px; font-size: 15px;
        border: 1px solid #bbb; border-radius: 4px; margin-top: 4px; }}
 button {{ margin-top: 20px; width: 100%; padding: 9px; font-size: 15px; background: #2e7d32; color: #fff;
        border: 0; border-radius: 4px; cursor: pointer; }}
 .error {{ color: #b71c1c; font-size: 13px; margin-top: 12px; }}
</style></head>
<body><form method="post" action="/login">
<h1>Carbon Cockpit 碳管理驾驶舱</h1>
<input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="next" value="{next}">
<label for="username">用户名 User name</label><input id="username" name="username" type="text" autofocus
 autocomplete="username" required>
<label for="password">密码 Password</label><input id="password" name="password" type="password"
 autocomplete="current-password" required>
{error}<button type="submit" id="login-submit">登录 Log in</button>
</form></body></html>"""


def _login_page(next_url: str, csrf: str, *, error: bool = False) -> str:
    message = '<div class="error">用户名或密码错误 Wrong user name or password</div>' if error else ""
    return _PAGE.format(csrf=html.escape(csrf), next=html.escape(next_url), error=message)
