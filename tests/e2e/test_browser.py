"""The Integrations page in a real browser: the real Airflow API server with the plugin, headless Chromium.

The API server runs as a subprocess on a free loopback port, on a temp AIRFLOW_HOME with a
migrated SQLite metadata DB, the simple auth manager (user admin, password from a
passwords file written here) and three integration configs. Playwright drives Debian's
`chromium` (`/usr/bin/chromium`, installed by `.ci/run`; Playwright's own browser
download is never used). The test logs in through the real login page, opens the page
inside the UI (`/plugin/integrations`, an iframe of `/inbound/`), checks the rows against
the configs, flips one toggle and checks the DAG's pause state through the REST API, and
saves `docs/integrations.png` (shown in the README).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import integration_dict
from e2e.cluster import free_port, stop_group

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOT = ROOT / "docs" / "integrations.png"
USER, PASSWORD = "admin", "admin"
NAMES = ["crm_users", "billing_accounts", "support_tickets"]
DISABLED = "billing_accounts"  # `enabled: false` in its config: its DAG is created paused


def _config(name: str) -> dict[str, Any]:
    return integration_dict(name, enabled=False) if name == DISABLED else integration_dict(name)


def _request(url: str, *, data: dict[str, Any] | None = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """The real Airflow API server with the inbound plugin, on loopback; stopped at teardown."""
    tmp = tmp_path_factory.mktemp("browser")
    home, configs = tmp / "airflow_home", tmp / "integrations"
    home.mkdir()
    configs.mkdir()
    for name in NAMES:
        (configs / f"{name}.yaml").write_text(yaml.safe_dump(_config(name), sort_keys=False))
    passwords = home / "simple_auth_manager_passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__BASE_URL": base,
        "INBOUND_CONFIG_DIR": str(configs),
        "INBOUND_STAGING_DIR": str(tmp / "staging"),
        "AIRFLOW_CONN_INBOUND_STORE": json.dumps({"conn_type": "sqlite", "host": str(tmp / "store.db")}),
    }
    env.pop("AWS_ENDPOINT_URL", None)
    airflow = str(BIN / "airflow")
    for command in (["db", "migrate"], ["dags", "reserialize"]):
        done = subprocess.run([airflow, *command], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"airflow {' '.join(command)}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"

    log_path = tmp / "api-server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: teardown stops the workers too
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the API server exited ({proc.returncode}):\n{log_path.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the API server did not answer in 120 s:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.5)
        status, answer = _request(f"{base}/auth/token", data={"username": USER, "password": PASSWORD})
        assert status in (200, 201), answer
        yield {"base": base, "token": answer["access_token"], "configs": configs, "log": log_path}
    finally:
        stop_group(proc)


@contextmanager
def _chromium() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (never Playwright's own browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _dag(server: dict[str, Any], dag_id: str) -> dict[str, Any]:
    status, dag = _request(f"{server['base']}/api/v2/dags/{dag_id}", token=server["token"])
    assert status == 200, dag
    return dag


def test_integrations_page_in_the_airflow_ui(airflow_server) -> None:
    # A missing browser fails the test, it never skips it.
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver (.ci/run does it)"
    with _chromium() as browser:
        _check_page(airflow_server, browser)


def _check_page(airflow_server: dict[str, Any], browser: Any) -> None:
    base = airflow_server["base"]
    # The DAGs are in the metadata DB, paused at creation only where the config says `enabled: false`.
    paused = {name: name == DISABLED for name in NAMES}
    for name in NAMES:
        assert _dag(airflow_server, f"inbound_{name}")["is_paused"] is paused[name]

    context = browser.new_context(viewport={"width": 1280, "height": 560})
    try:
        page = context.new_page()
        # Log in through the simple auth manager's real login page; it sets the `_token` cookie.
        page.goto(f"{base}/auth/login?next={base}/plugin/integrations")
        page.locator("input[name='username'], input#username").first.fill(USER)
        page.locator("input[type='password']").first.fill(PASSWORD)
        page.locator("button[type='submit']").first.click()
        page.wait_for_url(f"{base}/plugin/integrations", timeout=30_000)
        assert any(c["name"] == "_token" for c in context.cookies()), context.cookies()

        # The UI's own navigation has the Integrations button; the page is an iframe of /inbound/.
        frame = page.frame_locator("iframe")
        table = frame.locator("table#integrations")
        table.wait_for(timeout=30_000)
        rows = frame.locator("table#integrations tbody tr")
        expected = {name: _config(name) for name in NAMES}
        assert rows.count() == len(expected)
        seen = {}
        for i in range(rows.count()):
            row = rows.nth(i)
            cells = row.locator("td")
            name = cells.nth(0).locator("a").first.inner_text().strip()  # the name (a link)
            seen[row.get_attribute("data-name")] = (name, cells.nth(1).inner_text().strip())
            # and a link to the DAG in Airflow (its grid view)
            assert row.locator(f"a[href$='/dags/inbound_{name}']").count() == 1
        assert seen == {
            name: (name, f"s3://{c['source']['bucket']}/{c['source']['key']}") for name, c in expected.items()
        }
        for name in NAMES:  # every toggle shows the DAG's state: paused = off
            assert frame.locator(f"tr[data-name='{name}'] input.toggle").is_checked() is not paused[name]
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))  # the README shows it; kept small (one viewport)
        assert SCREENSHOT.stat().st_size < 300_000

        # Flip the disabled integration on in the page: its DAG is unpaused in Airflow.
        flipped = DISABLED
        box = frame.locator(f"tr[data-name='{flipped}'] input.toggle")
        with page.expect_response(lambda r: r.url.endswith(f"/inbound/api/integrations/{flipped}/enabled")) as answer:
            box.check()
        assert answer.value.status == 200, answer.value.text()
        assert answer.value.json() == {"name": flipped, "dag_id": f"inbound_{flipped}", "enabled": True}
        assert _dag(airflow_server, f"inbound_{flipped}")["is_paused"] is False
        for name in NAMES:
            if name != flipped:
                assert _dag(airflow_server, f"inbound_{name}")["is_paused"] is paused[name]

        # A reload shows the new state from Airflow (the toggle *is* the pause state).
        page.reload()
        frame = page.frame_locator("iframe")
        frame.locator("table#integrations").wait_for(timeout=30_000)
        assert frame.locator(f"tr[data-name='{flipped}'] input.toggle").is_checked()

        # And back off from the page: paused again.
        box = frame.locator(f"tr[data-name='{flipped}'] input.toggle")
        with page.expect_response(lambda r: r.url.endswith(f"/inbound/api/integrations/{flipped}/enabled")) as answer:
            box.uncheck()
        assert answer.value.status == 200, answer.value.text()
        assert _dag(airflow_server, f"inbound_{flipped}")["is_paused"] is True
    finally:
        context.close()
