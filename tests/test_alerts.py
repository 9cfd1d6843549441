"""Alerts: the decisions, and delivery through Airflow's real notifiers to loopback sinks.

E-mail goes through `SmtpNotifier` to an aiosmtpd server on 127.0.0.1; the webhook through
`HttpNotifier` to a tiny HTTP server on 127.0.0.1. Both are found via Airflow connections
in the environment, as in production.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from conftest import integration_dict
from inbound.airflow import alerts
from inbound.config.model import Integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def webhook(monkeypatch) -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(
                {"path": self.path, "body": json.loads(self.rfile.read(int(self.headers["Content-Length"])))}
            )
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_OPS_WEBHOOK",
        json.dumps(
            {
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": server.server_port,
                "schema": "http",
            }
        ),
    )
    yield received
    server.shutdown()


def crm(**alert_config: Any) -> Integration:
    config = {"email": ["data-team@acme.test"], **alert_config}
    return Integration.model_validate(integration_dict("crm", alerts=config))


def test_alert_config_needs_a_channel_and_a_real_duration() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="alerts need a channel"):
        Integration.model_validate(integration_dict("crm", alerts={"on_failure": True}))
    with pytest.raises(ValidationError, match="not an ISO-8601 duration"):
        crm(stale_after="2 days")
    assert crm(stale_after="P2D").alerts.stale_interval == timedelta(days=2)


def test_alerts_do_not_change_the_config_version() -> None:
    plain = Integration.model_validate(integration_dict("crm"))
    assert crm(stale_after="P2D").version == plain.version


def test_the_decisions() -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    quiet = crm(stale_after="P2D", rejected_ratio_over=0.01)
    assert alerts.stale_alert(quiet, now - timedelta(days=1), now) is None
    assert alerts.stale_alert(quiet, None, now) is None  # never imported: nothing to compare with
    stale = alerts.stale_alert(quiet, now - timedelta(days=3), now)
    assert (
        stale.subject == "[inbound] crm: no new file for 3.0 days" and "s3://acme-exports/crm/users_*.csv" in stale.text
    )
    assert alerts.rejected_alert(quiet, "r1", 1000, 10) is None  # 1.0% is not over 1%
    assert "11 of 1000 rows" in alerts.rejected_alert(quiet, "r1", 1000, 11).text
    assert alerts.rejected_alert(crm(), "r1", 1000, 999) is None  # no threshold set
    failed = alerts.failure_alert(quiet, "manual__1", ["s3://b/crm/users.csv: no Email column"])
    assert "- s3://b/crm/users.csv: no Email column" in failed.text and "key=" in failed.text
    assert alerts.failure_alert(crm(on_failure=False), "r", ["x"]) is None
    assert alerts.failure_alert(Integration.model_validate(integration_dict("crm")), "r", ["x"]) is None


def test_email_goes_through_airflows_smtp_notifier(smtp) -> None:
    integration = crm()
    alert = alerts.failure_alert(integration, "manual__2026", ["s3://acme-exports/crm/users_1.csv: <no Email column>"])
    assert alerts.send(integration, alert, {}) == 1
    ((recipients, message),) = smtp.messages
    assert recipients == ["data-team@acme.test"]
    assert message["Subject"] == "[inbound] crm: run failed" and message["From"] == "inbound@acme.test"
    body = (
        next(part for part in message.walk() if part.get_content_type() == "text/html")
        .get_payload(decode=True)
        .decode()
    )
    assert "manual__2026" in body and "&lt;no Email column&gt;" in body  # escaped into the HTML


def test_webhook_gets_json_with_text(webhook) -> None:
    integration = Integration.model_validate(integration_dict("crm", alerts={"webhook": "ops_webhook"}))
    alert = alerts.rejected_alert(
        integration.model_copy(update={"alerts": integration.alerts.model_copy(update={"rejected_ratio_over": 0.1})}),
        "r9",
        10,
        5,
    )
    assert alerts.send(integration, alert, {}) == 1
    ((request),) = webhook
    assert request["body"]["event"] == "rejected" and request["body"]["integration"] == "crm"
    assert request["body"]["text"].startswith("[inbound] crm: 50.0% of rows rejected")


def test_a_broken_channel_is_logged_not_raised(monkeypatch, caplog) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": _free_port(),
                "extra": {
                    "disable_ssl": True,
                    "disable_tls": True,
                    "from_email": "inbound@acme.test",
                    "timeout": 2,
                    "retry_limit": 0,
                },
            }
        ),
    )
    integration = crm()
    assert alerts.send(integration, alerts.failure_alert(integration, "r", ["x"]), {}) == 0
    assert "could not be sent through SmtpNotifier" in caplog.text


def test_new_columns_alert_once_per_column_with_the_config_lines(webhook) -> None:
    from inbound.mapping.drift import Shape

    integration = Integration.model_validate(integration_dict("crm", alerts={"webhook": "ops_webhook"}))
    appeared = Shape(columns=("Email", "Region", "Last Login"), new=(("Region", "2026-12-07"),), appeared=("Region",))
    carried = Shape(columns=("Email", "Region"), new=(("Region", "2026-12-01"),))
    assert alerts.new_columns_alert(integration, "r1", [carried]) is None  # told when it appeared
    alert = alerts.new_columns_alert(integration, "r1", [appeared, appeared])
    assert alert is not None and alert.subject == "[inbound] crm: 1 new column in the export"
    assert "'Region'" in alert.text and "  - column: Region\n    type: string\n" in alert.text
    assert alerts.send(integration, alert, {}) == 1
    assert webhook[0]["body"]["event"] == "new_columns"
    off = integration.model_copy(update={"alerts": integration.alerts.model_copy(update={"on_new_columns": False})})
    assert alerts.new_columns_alert(off, "r1", [appeared]) is None
    assert alerts.new_columns_alert(integration.model_copy(update={"on_new_columns": "fail"}), "r1", [appeared]) is None
    assert alerts.new_columns_alert(Integration.model_validate(integration_dict("crm")), "r1", [appeared]) is None
