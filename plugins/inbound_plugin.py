"""The inbound Airflow plugin: the "Integrations" page in the Airflow UI and its JSON API.

Airflow's API server mounts the FastAPI app of `inbound.api` under /inbound; the
external view puts it in the UI's navigation, shown inside the UI. Every route checks
the caller through Airflow's auth manager (see inbound.api); Airflow does not do it
for plugin apps.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from inbound.api import PREFIX, app


class InboundPlugin(AirflowPlugin):
    name = "inbound"
    fastapi_apps = [{"app": app, "url_prefix": PREFIX, "name": "inbound"}]
    external_views = [
        {
            "name": "Integrations",
            "href": f"{PREFIX}/",
            "destination": "nav",
            "url_route": "integrations",  # the page is /plugin/integrations in the UI
            "nav_top_level": True,  # a button of its own, not under "Plugins"
        }
    ]
