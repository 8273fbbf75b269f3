"""Cockpit log-in: password hashes, users and scope, and the gate in front of every Dash endpoint."""

from __future__ import annotations

import json
import re

import pytest
from test_dashboard_queries import load_small_plant

from dashboards.app import create_app
from dashboards.auth import authenticate, create_user, hash_password, verify_password, visible_node_ids
from dashboards.login import load_secret_key
from ems.errors import UserError


def test_hash_round_trip_and_wrong_password():
    encoded = hash_password("correct horse 电池")
    assert encoded.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse 电池", encoded)
    assert not verify_password("correct horse", encoded)
    assert hash_password("same") != hash_password("same")  # random salt
    assert not verify_password("x", "not-a-hash") and not verify_password("x", "md5$1$2$3$aa$bb")


def test_create_and_authenticate(conn):
    user = create_user(conn, "alice", "s3cret", "energy_manager", language="en", display_name="Alice")
    assert (user.username, user.role, user.language, user.label) == ("alice", "energy_manager", "en", "Alice")
    stored = conn.execute("SELECT password_hash FROM app_user WHERE username = 'alice'").fetchone()[0]
    assert "s3cret" not in stored
    assert authenticate(conn, "alice", "s3cret") == user
    assert authenticate(conn, "alice", "S3cret") is None
    assert authenticate(conn, "bob", "s3cret") is None
    conn.execute("UPDATE app_user SET disabled = true WHERE username = 'alice'")
    conn.commit()
    assert authenticate(conn, "alice", "s3cret") is None


def test_create_user_refuses_bad_input(conn):
    create_user(conn, "alice", "pw", "viewer")
    with pytest.raises(UserError, match="already exists"):
        create_user(conn, "alice", "pw", "viewer")
    with pytest.raises(UserError, match="role"):
        create_user(conn, "carol", "pw", "superuser")
    with pytest.raises(UserError, match="NOPE"):
        create_user(conn, "dave", "pw", "viewer", scope_codes=["NOPE"])
    with pytest.raises(UserError, match="password"):
        create_user(conn, "erin", "", "viewer")
    assert conn.execute("SELECT count(*) FROM app_user").fetchone()[0] == 1


def test_no_default_users(conn):
    assert conn.execute("SELECT count(*) FROM app_user").fetchone()[0] == 0


def test_secret_key_from_env_or_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("EMS_SECRET_KEY", raising=False)
    key = load_secret_key(tmp_path)
    assert len(key) == 64 and load_secret_key(tmp_path) == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("EMS_SECRET_KEY", "from-env")
    assert load_secret_key(tmp_path) == "from-env"


# --- the gate, through Flask's test client --------------------------------------------------------

def _callback_body(start: str, end: str) -> dict:
    return {"output": "by-plant.figure", "outputs": {"id": "by-plant", "property": "figure"},
            "inputs": [{"id": "date-range", "property": "start_date", "value": start},
                       {"id": "date-range", "property": "end_date", "value": end}],
            "changedPropIds": ["date-range.start_date"], "state": []}


def _login(client, username: str, password: str, next_url: str = "/"):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf": csrf,
                                       "next": next_url})


@pytest.fixture
def client(db, tmp_path, monkeypatch):
    monkeypatch.delenv("EMS_SECRET_KEY", raising=False)
    with db.connection() as conn:
        load_small_plant(conn)
        create_user(conn, "qd", "pw-qd", "energy_manager", scope_codes=["PA"], language="en")
    app = create_app(db, data_dir=tmp_path)
    return app.server.test_client()


def test_anonymous_requests_are_refused(client):
    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=/")
    for path in ("/_dash-layout", "/_dash-dependencies", "/assets/cockpit.css"):
        assert client.get(path).status_code == 401, path
    refused = client.post("/_dash-update-component", json=_callback_body("2025-07-01", "2025-07-01"))
    assert refused.status_code == 401
    assert "response" not in refused.get_data(as_text=True) and "PA" not in refused.get_data(as_text=True)
    login_page = client.get("/login")
    assert login_page.status_code == 200 and "Carbon Cockpit 碳管理驾驶舱" in login_page.get_data(as_text=True)


def test_login_wrong_password_and_csrf(client):
    assert _login(client, "qd", "wrong").status_code == 401
    assert client.get("/_dash-layout").status_code == 401
    no_csrf = client.post("/login", data={"username": "qd", "password": "pw-qd"})
    assert no_csrf.status_code == 400 and client.get("/_dash-layout").status_code == 401


def test_login_then_scoped_data_then_logout(client):
    ok = _login(client, "qd", "pw-qd", next_url="//evil.example/")
    assert ok.status_code == 302 and ok.headers["Location"] == "/"  # no open redirect
    assert client.get("/_dash-layout").status_code == 200
    routed = client.post("/_dash-update-component", json={
        "output": "page.children", "outputs": {"id": "page", "property": "children"},
        "inputs": [{"id": "url", "property": "pathname", "value": "/"}], "changedPropIds": ["url.pathname"],
        "state": []})
    assert routed.status_code == 200
    text = routed.get_data(as_text=True)
    assert "Qingdao Plant" in text and "Foshan Plant" not in text and "Energy by plant and medium" in text
    answer = client.post("/_dash-update-component", json=_callback_body("2025-07-01", "2025-07-01"))
    assert answer.status_code == 200
    figure = json.loads(answer.get_data(as_text=True))["response"]["by-plant"]["figure"]
    names = {trace["name"] for trace in figure["data"]}
    assert names == {"Qingdao Plant"}  # PB (Foshan) is outside the user's scope
    assert client.get("/logout").status_code == 302
    assert client.post("/_dash-update-component",
                       json=_callback_body("2025-07-01", "2025-07-01")).status_code == 401


def test_disabled_user_loses_the_session(client, db):
    assert _login(client, "qd", "pw-qd").status_code == 302
    assert client.get("/_dash-layout").status_code == 200
    with db.connection() as conn:
        conn.execute("UPDATE app_user SET disabled = true WHERE username = 'qd'")
    assert client.get("/_dash-layout").status_code == 401


def test_scope_is_read_from_the_database(conn):
    load_small_plant(conn)
    admin = create_user(conn, "root", "pw", "admin")
    plant_b = create_user(conn, "fs", "pw", "viewer", scope_codes=["PB"])
    codes = dict(conn.execute("SELECT node_id, code FROM node").fetchall())
    assert sorted(codes[i] for i in visible_node_ids(conn, admin)) == ["GRP", "PA", "PA.CHP", "PB"]
    assert [codes[i] for i in visible_node_ids(conn, plant_b)] == ["PB"]


def _update(client, outputs: list[tuple[str, str]], inputs: list[tuple[str, str, object]],
            state: list[tuple[str, str, object]] = (), changed: str | None = None):
    """POST one Dash callback request (as the browser sends it) and return the response."""
    out = [{"id": i, "property": p} for i, p in outputs]
    return client.post("/_dash-update-component", json={
        "output": f"{outputs[0][0]}.{outputs[0][1]}" if len(outputs) == 1
        else ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": out[0] if len(outputs) == 1 else out,
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [changed or f"{inputs[0][0]}.{inputs[0][1]}"]})


_USER_OUTPUTS = [("admin-users", "children"), ("admin-user", "options"), ("admin-result", "children")]


def _create_user_request(client, name: str):
    return _update(client, _USER_OUTPUTS, [("admin-create", "n_clicks", 1), ("admin-update", "n_clicks", 0)],
                   [("admin-new-name", "value", name), ("admin-new-password", "value", "pw-new-1"),
                    ("admin-new-role", "value", "admin"), ("admin-new-scope", "value", []),
                    ("admin-new-language", "value", "en"), ("admin-user", "value", None),
                    ("admin-role", "value", None), ("admin-scope", "value", None)], changed="admin-create.n_clicks")


def test_admin_page_and_callbacks_refuse_non_admins(client, db):
    with db.connection() as conn:
        create_user(conn, "root", "pw-root", "admin", language="en")
    assert _login(client, "qd", "pw-qd").status_code == 302
    routed = _update(client, [("page", "children")], [("url", "pathname", "/admin")]).get_data(as_text=True)
    assert "admin-denied" in routed and "Only administrators may open this page" in routed
    assert "admin-user-list" not in routed and "nav-admin" not in routed and "CN-GD-IND-TOU" not in routed
    assert _update(client, [("admin-factors", "children")], [("admin-factor-family", "value", None)]).status_code == 204
    assert _create_user_request(client, "mallory").status_code == 204          # refused: no data, no user
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM app_user WHERE username = 'mallory'").fetchone()[0] == 0
    client.get("/logout")
    assert _login(client, "root", "pw-root").status_code == 302
    routed = _update(client, [("page", "children")], [("url", "pathname", "/admin")]).get_data(as_text=True)
    assert "admin-user-list" not in routed and "nav-admin" in routed and "CN-GD-IND-TOU" in routed
    answer = _create_user_request(client, "carol")
    assert answer.status_code == 200 and "User created: carol" in answer.get_data(as_text=True)
    factors = _update(client, [("admin-factors", "children")], [("admin-factor-family", "value", None)])
    assert factors.status_code == 200
    with db.connection() as conn:
        assert conn.execute("SELECT role FROM app_user WHERE username = 'carol'").fetchone()[0] == "admin"


def test_recommendation_callback_scope_and_role(client, db):
    import pandas as pd

    from ems.optimize import store

    t0 = pd.Timestamp("2025-07-15 14:00", tz="Asia/Shanghai")
    with db.connection() as conn:
        create_user(conn, "pa-viewer", "pw-v", "viewer", scope_codes=["PA"], language="en")
        ids = {plant: store.insert_recommendation(conn, {
            "plant_code": plant, "system": "compressed_air", "valid_from": t0, "valid_to": t0 + pd.Timedelta("1h"),
            "inputs": {}, "baseline_decision": {"pressure_bar": 7.0}, "decision": {"pressure_bar": 6.6},
            "expected_kwh_saved": 30.0, "expected_cost_cny_saved": 24.0, "expected_tco2_saved": 0.017})
            for plant in ("PA", "PB")}

    def accept(rec_id: int):
        return _update(client, [("rec-table", "children"), ("rec-totals", "children"), ("rec-choice", "options"),
                                ("rec-result", "children")],
                       [("rec-status", "value", "all"), ("rec-accept", "n_clicks", 1), ("rec-reject", "n_clicks", 0)],
                       [("rec-choice", "value", rec_id), ("rec-reason", "value", None)], changed="rec-accept.n_clicks")

    assert _login(client, "qd", "pw-qd").status_code == 302           # energy manager of PA
    assert accept(ids["PB"]).status_code == 204                       # another plant's: nothing, no change
    answer = accept(ids["PA"])
    assert answer.status_code == 200 and "Accepted" in answer.get_data(as_text=True)
    assert f"#{ids['PB']}" not in answer.get_data(as_text=True)
    client.get("/logout")
    assert _login(client, "pa-viewer", "pw-v").status_code == 302
    with db.connection() as conn:
        rid = store.insert_recommendation(conn, {**store.get(conn, ids["PA"]), "inputs": {}, "valid_from": t0,
                                                 "valid_to": t0 + pd.Timedelta("1h")})
    denied = accept(rid).get_data(as_text=True)
    assert "Your role may not decide recommendations" in denied
    with db.connection() as conn:
        states = {r: store.get(conn, r)["status"] for r in (*ids.values(), rid)}
    assert states == {ids["PA"]: "accepted", ids["PB"]: "proposed", rid: "proposed"}
