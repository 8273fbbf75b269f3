"""Send an alarm notification: webhook (HTTP POST of a JSON body) or e-mail (SMTP).

The payload is the same for both: the event's fields and whether it was raised or cleared. A failure
raises :class:`NotifyError` with the reason; the caller records it and retries on the next run.
"""

from __future__ import annotations

import json
import os
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage

from ems.alarms.rules import Notifier


class NotifyError(Exception):
    pass


def payload(event: dict, kind: str) -> dict:
    """JSON-ready body of a notification; ``event`` is an ``alarm_event`` row as a dict."""
    body = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in event.items()}
    return {"kind": kind, **body}


def subject_line(event: dict, kind: str) -> str:
    word = "RAISED" if kind == "raised" else "CLEARED"
    return f"[{event['severity']}] {word}: {event['message']}"


def send(notifier: Notifier, event: dict, kind: str) -> None:
    if notifier.type == "webhook":
        _webhook(notifier, payload(event, kind))
    else:
        _email(notifier, event, kind)


def _webhook(n: Notifier, body: dict) -> None:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(n.url, data=data, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8", **n.headers})
    try:
        with urllib.request.urlopen(req, timeout=n.timeout_s) as resp:
            if not 200 <= resp.status < 300:
                raise NotifyError(f"webhook answered HTTP {resp.status}")
    except urllib.error.HTTPError as exc:
        raise NotifyError(f"webhook answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise NotifyError(f"webhook not reachable: {getattr(exc, 'reason', exc)}") from exc


def _email(n: Notifier, event: dict, kind: str) -> None:
    msg = EmailMessage()
    msg["From"] = n.sender
    msg["To"] = ", ".join(n.to)
    msg["Subject"] = subject_line(event, kind)
    lines = [f"{k}: {v}" for k, v in payload(event, kind).items() if v is not None]
    msg.set_content("\n".join(lines) + "\n")
    try:
        with smtplib.SMTP(n.smtp_host, n.smtp_port, timeout=n.timeout_s) as smtp:
            if n.starttls:
                smtp.starttls()
            if n.username:
                smtp.login(n.username, os.environ.get(n.password_env or "", ""))
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise NotifyError(f"e-mail not sent: {exc}") from exc
