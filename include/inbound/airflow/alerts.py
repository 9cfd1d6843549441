"""Alerts: what to say when a run fails, rejects too much or a source goes quiet.

The decisions (`failure_alert`, `rejected_alert`, `stale_alert`) are plain functions of the
config and the run's figures. Delivery goes through Airflow's notifiers, so the channels
are the ones Airflow operators already know: `SmtpNotifier` (e-mail through an SMTP
connection) and `HttpNotifier` (a JSON POST to an HTTP connection: Slack and Teams incoming
webhooks take `{"text": ...}`). Addresses and URLs' secrets live in the connections.
A failing channel is logged and never fails the run a second time.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from inbound.config.model import Integration
from inbound.mapping.drift import SHOWN, Shape, config_lines
from inbound.suggest import echo

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.bases.notifier import BaseNotifier

log = logging.getLogger(__name__)

AlertEvent = Literal["failure", "rejected", "stale", "new_columns"]


@dataclass(frozen=True)
class Alert:
    """One message about one integration; `event` says which decision raised it."""

    integration: str
    event: AlertEvent
    subject: str
    text: str

    def payload(self) -> dict[str, str]:
        """The webhook's JSON body: Slack and Teams incoming webhooks show `text`."""
        return {"text": f"{self.subject}\n{self.text}", "integration": self.integration, "event": self.event}


def failure_alert(integration: Integration, run: str, reasons: list[str]) -> Alert | None:
    """A failed run (unless `on_failure: false`), with each reason and how to re-import."""
    if integration.alerts is None or not integration.alerts.on_failure:
        return None
    lines = "\n".join(f"- {r}" for r in reasons) or "- a task failed (see the run's task logs)"
    return Alert(
        integration.name,
        "failure",
        f"[inbound] {integration.name}: run failed",
        f"Run {run} of inbound_{integration.name} failed.\n{lines}\n\n"
        f"Fix the file or the config, then re-import the file: trigger inbound_{integration.name} "
        f"with the param key=<the file's key in failed/>.",
    )


def rejected_alert(integration: Integration, run: str, rows_read: int, rows_rejected: int) -> Alert | None:
    """A run that rejected more than `rejected_ratio_over` of its rows (exactly the threshold: no alert)."""
    threshold = integration.alerts.rejected_ratio_over if integration.alerts else None
    if threshold is None or not rows_read or rows_rejected / rows_read <= threshold:
        return None
    return Alert(
        integration.name,
        "rejected",
        f"[inbound] {integration.name}: {rows_rejected / rows_read:.1%} of rows rejected",
        f"Run {run} of inbound_{integration.name} rejected {rows_rejected} of {rows_read} rows "
        f"({rows_rejected / rows_read:.1%}, alert threshold {threshold:.1%}). Each row's reason is in the "
        f".rejected.csv report beside the file in success/ or failed/.",
    )


def new_columns_alert(integration: Integration, run: str, shapes: Sequence[Shape]) -> Alert | None:
    """Columns the config does not read, first seen in a file this run imported (once per column:
    the next imports still report them, only this one alerts), unless `alerts.on_new_columns: false`."""
    if integration.alerts is None or not integration.alerts.on_new_columns or integration.on_new_columns != "warn":
        return None
    appeared = list(dict.fromkeys(c for shape in shapes for c in shape.appeared))
    if not appeared:
        return None
    s = "s" if len(appeared) != 1 else ""
    shown = ", ".join(echo(c) for c in appeared[:SHOWN]) + (
        f" and {len(appeared) - SHOWN} more" if len(appeared) > SHOWN else ""
    )
    return Alert(
        integration.name,
        "new_columns",
        f"[inbound] {integration.name}: {len(appeared)} new column{s} in the export",
        f"Run {run} of inbound_{integration.name} imported a file whose header has {len(appeared)} column{s} "
        f"the config does not read and the last import's header did not have: {shown}. The file was imported "
        "without them. To import them, add to the config (then choose each type):\n\n"
        f"{config_lines(integration, appeared)}\n"
        "To stop hearing of them, list them under `ignore_columns`.",
    )


def stale_alert(integration: Integration, last_import: datetime | None, now: datetime) -> Alert | None:
    """A source is stale when its last import is older than `stale_after` (never imported: no alert)."""
    channels = integration.alerts
    stale_after = channels.stale_interval if channels else None
    if channels is None or stale_after is None or last_import is None or now - last_import <= stale_after:
        return None
    quiet = now - last_import
    return Alert(
        integration.name,
        "stale",
        f"[inbound] {integration.name}: no new file for {_human(quiet)}",
        f"No new file matched {integration.source.uri} since the last import at {last_import:%Y-%m-%d %H:%M} UTC "
        f"({_human(quiet)} ago; stale_after is {channels.stale_after}). Check the producer's export job.",
    )


def _human(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def notifiers(integration: Integration, alert: Alert) -> list[BaseNotifier]:
    """Airflow notifiers for the integration's channels, carrying this alert.

    The providers are imported here, not at the top: an alert is rare, and the HTTP provider
    (aiohttp, requests: ~0.3 s) would otherwise load with every DAG file, task and sensor.
    """
    channels = integration.alerts
    if channels is None:
        return []
    found: list[BaseNotifier] = []
    if channels.email:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        found.append(
            SmtpNotifier(
                to=list(channels.email),
                subject=alert.subject,
                smtp_conn_id=channels.smtp_conn_id,
                html_content=f"<pre>{html.escape(alert.text)}</pre>",
            )
        )
    if channels.webhook:
        from airflow.providers.http.notifications.http import HttpNotifier

        found.append(HttpNotifier(http_conn_id=channels.webhook, json=alert.payload()))
    return found


def send(integration: Integration, alert: Alert | None, context: Context) -> int:
    """Deliver through every channel; returns how many took it. Never raises."""
    if alert is None:
        return 0
    sent = 0
    for notifier in notifiers(integration, alert):
        try:
            notifier.notify(context)
            sent += 1
        except Exception:  # an alert channel must not fail the run a second time
            log.exception(
                "inbound alert %s of %s could not be sent through %s",
                alert.event,
                integration.name,
                type(notifier).__name__,
            )
    if sent:
        log.info("alert sent (%s) for %s through %d channel(s)", alert.event, integration.name, sent)
    return sent


__all__ = ["Alert", "failure_alert", "new_columns_alert", "notifiers", "rejected_alert", "send", "stale_alert"]
