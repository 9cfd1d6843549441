"""The inbound Airflow plugin: the "Integrations" pages in the Airflow UI and their JSON API.

Airflow's API server mounts the plugin's FastAPI app under /inbound: the JSON API of
`inbound.web.app` and the built React app (`ui/`, served from `include/inbound/web/static`). Two
React app entries show it inside Airflow's own UI, on its React, Chakra theme and color
mode: "Integrations" in the navigation and an "Integration" tab on every DAG page. Every
API route checks the caller through Airflow's auth manager (see inbound.web.app); Airflow does
not do it for plugin apps. The bundle itself is code, served to anyone, like Airflow's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.plugins_manager import AirflowPlugin

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import Receive, Scope, Send

PREFIX = "/inbound"  # the same as inbound.web.app.PREFIX (checked in tests/test_api.py)
# Relative to Airflow's base URL (the loader resolves it against the page), so a deployment
# under a path prefix works too.
BUNDLE = f"{PREFIX.lstrip('/')}/static/inbound-ui.js"


class LazyApp:
    """The plugin's ASGI app, built at its first request.

    Airflow loads every plugin in every task process (for macros), but only the API server
    serves the app: importing FastAPI and `inbound.web` up front cost each
    task about a second (see tests/benchmarks/load_celery.py).
    """

    def __init__(self) -> None:
        self._app: FastAPI | None = None

    def load(self) -> FastAPI:
        """The JSON API and the pages in one app (built once)."""
        if self._app is None:
            from inbound.web.app import create_app  # here, not at the top: see the class docstring

            self._app = create_app()
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.load()(scope, receive, send)


app = LazyApp()


class InboundPlugin(AirflowPlugin):
    name = "inbound"
    fastapi_apps = [{"app": app, "url_prefix": PREFIX, "name": "inbound"}]
    react_apps = [
        {
            "name": "Integrations",
            "bundle_url": BUNDLE,
            "destination": "nav",
            "url_route": "integrations",  # the page is /plugin/integrations in the UI
            "nav_top_level": True,  # a button of its own, not under "Plugins"
        },
        {
            "name": "Integration",
            "bundle_url": BUNDLE,
            "destination": "dag",  # a tab on every DAG page; on a DAG that is no integration it says so
            "url_route": "integration",
        },
    ]
