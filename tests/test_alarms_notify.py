"""Notifications reach real local servers: a webhook (http.server) gets a JSON POST and an SMTP server
(aiosmtpd) gets an e-mail, once per event and state; a failed delivery is recorded and retried."""

from __future__ import annotations

import json
import socket
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ems.alarms.engine import run_alarms
from ems.alarms.rules import parse_rules
from tests.test_alarms import FLAP, NOW, SINCE, flapping  # noqa: F401  (flapping is a fixture)


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "type": self.headers["Content-Type"],
                             "token": self.headers.get("X-Token"), "body": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    messages: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
            messages.append((envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, messages
    controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rules(url: str, smtp_port: int, dead_port: int):
    return parse_rules(f"""
version: 1
notifiers:
  - {{id: hook, type: webhook, url: "{url}", headers: {{X-Token: s3cret}}}}
  - {{id: mail, type: email, smtp_host: 127.0.0.1, smtp_port: {smtp_port}, from: ems@plant.example,
     to: [energy@plant.example, ops@plant.example]}}
  - {{id: dead, type: webhook, url: "http://127.0.0.1:{dead_port}/nobody", timeout_s: 1}}
rules:
  - {{id: hot, type: threshold, point: QP.T, above: 28, clear: 24, min_duration: 30min, min_clear: 30min,
     severity: critical, notify: [hook, mail, dead]}}
""", "inline.yaml")


def test_webhook_and_email_once_per_event_and_state(flapping, conn, webhook, smtp):  # noqa: F811
    url, posts = webhook
    port, mails = smtp
    rule_set = rules(url, port, free_port())
    res = run_alarms(conn, rule_set, now=NOW, since=SINCE)
    assert (res.raised, res.cleared, res.notified, res.failed) == (1, 1, 4, 2)
    assert [p["body"]["kind"] for p in posts] == ["raised", "cleared"]
    first = posts[0]
    assert first["path"] == "/hook" and first["token"] == "s3cret" and first["type"].startswith("application/json")
    assert first["body"]["rule_id"] == "hot" and first["body"]["subject"] == "QP.T"
    assert first["body"]["started_at"] == "2025-06-30T16:00:00+00:00" and first["body"]["peak_value"] == 30.0
    assert posts[1]["body"]["ended_at"] == "2025-06-30T20:00:00+00:00"
    assert len(mails) == 2
    sender, rcpts, msg = mails[0]
    assert sender == "ems@plant.example" and rcpts == ["energy@plant.example", "ops@plant.example"]
    assert msg["Subject"] == "[critical] RAISED: hot: QP.T value 30 above 28"
    assert "subject: QP.T" in msg.get_payload()
    assert mails[1][2]["Subject"].startswith("[critical] CLEARED:")
    failed = conn.execute("SELECT kind, status, attempts, error FROM alarm_notification WHERE channel = 'dead' "
                          "ORDER BY kind").fetchall()
    assert [(k, s, a) for k, s, a, _ in failed] == [("cleared", "failed", 1), ("raised", "failed", 1)]
    assert all("not reachable" in e for *_, e in failed)
    # next run: nothing new is sent twice; only the failed channel is tried again
    again = run_alarms(conn, rule_set, now=NOW)
    assert (again.notified, again.failed) == (0, 2)
    assert len(posts) == 2 and len(mails) == 2
    assert conn.execute("SELECT max(attempts) FROM alarm_notification WHERE channel = 'dead'").fetchone()[0] == 2
