"""The Integrations pages in a real browser, inside Airflow's own UI, on the whole deployment.

Every Airflow process runs (`cluster.py`: scheduler, DAG processor, triggerer, API server with
the plugin, a Celery worker; PostgreSQL, Redis, a moto S3 server). Playwright drives Debian's
`chromium` (`/usr/bin/chromium`, installed by `.ci/run`; Playwright's own browser download is
never used). The test logs in through Airflow's login page and checks, in the plugin's React
app (no iframe: Airflow's React, Chakra theme and color mode):

- the table as a monitor: a green row (crm imported its file, then one with a new column: the
  header-drift badge "1 new column since MM-DD" and its details), a red row with the failure's reason
  inline (support's manual run failed on its file: German timestamps `05.01.2026 14:30` for a
  `timestamp` attribute without a format), a never-run row (billing, created paused), the
  recent-runs strip, the last import's counts, the source as chips; the toggle flips the DAG's
  pause state through Airflow's `PATCH /api/v2/dags/{dag_id}`;
- the DAG tab on an integration's DAG (crm's settings: its deletion rule, the volume guard,
  30 days' retention) and on another DAG;
- re-import from support's page (issue 23): the file picker offers exactly support's files in S3
  (its failed one preselected, never a report or another file); before the fix a dry run that
  would fail shows its reason, one with bad rows lists them by kind and column with their line
  numbers, and a key deleted after the list was loaded fails with "does not exist", each leaving
  every S3 object as it was;
- the morning (timed, red -> green, machine time printed): the red row's reason links to the
  page's "Why it failed" panel (one click: the rejected rows by column with counts, lines and
  values, and the suggested `format:`), the suggestion written into the config file as a git
  change would, the page's config-newer state until Airflow re-parses the DAG (asked through
  `PUT /api/v2/parseDagFile`), the re-import from the row (the failed file preselected, no key
  typed): a dry run first (its counts, nothing moved), then the import, which starts within 10 s
  although support's hourly scheduled run is deferred, waiting for a file, says "imported 2 rows
  from <key>" and the key follows the file to success/; the table's row green with the fresh
  counts; the old failed import's report, removed by the re-import, says in the page that it is
  gone and where its file went;
- the rule builder: the brief's three segments with the right counts;
- the new-integration wizard: discovery of an export, the user ID, attributes, a rename, and a
  YAML that `inbound validate` accepts beside the other configs;
- dark mode; no console errors on any page; axe-core (axe-playwright-python) finds no serious or
  critical violation in the plugin's content on any page.

Screenshots of the table, an integration page and the rule builder, light and dark, go to docs/.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.cluster import PASSWORD, USER, Cluster, celery_cluster
from inbound.config.model import Integration
from inbound.s3.layout import is_export_of

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
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
BUCKET = "ui-exports"


# Hourly, half an hour away from now: each DAG's first scheduled run starts at once (the latest
# past interval) and the next one not before the test is over. With `@hourly`, a test that
# crossed the full hour met crm's next run "running" in the table (a red CI at 20:00).
HOURLY = f"{(datetime.now(UTC).minute + 30) % 60} * * * *"


def _config(name: str, column: str, *, enabled: bool = True, attribute: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"{name.upper()} export: plan, department and open tickets per user",
        "schedule": HOURLY,
        "enabled": enabled,
        "source": {"bucket": BUCKET, "key": f"{name}/export_*.csv"},
        "user_id": {"column": "Email"},
        "attributes": [
            {"column": column, "name": attribute or f"{name}_plan"},
            *(
                [
                    {"column": "Department", "name": "department"},
                    {"column": "Open Tickets", "name": "open_tickets", "type": "integer"},
                ]
                if name == "crm"
                else []
            ),
        ],
    }


CRM_CSV = (
    b"Email,Plan,Department,Open Tickets\n"
    b"ada@example.com,premium,Sales,3\n"
    b"grace@example.com,premium,Engineering,0\n"
    b"linus@example.com,basic,Sales,5\n"
    b"margaret@example.com,basic,Support,1\n"
    b"alan@example.com,premium,Sales,2\n"
)
# crm's next export: a column the config does not read (header drift) and one more user (1 written).
CRM_WIDER = (
    b"\n".join(line + (b",Region" if i == 0 else b",EMEA") for i, line in enumerate(CRM_CSV.splitlines()))
    + b"\nken@example.com,basic,Marketing,0,APAC\n"
)
# German timestamps for a `timestamp` attribute without a format: every row rejected, the file fails.
SUPPORT_CSV = (
    b"Email,Tier,Last Ticket At\nada@example.com,gold,05.01.2026 14:30\ngrace@example.com,silver,28.12.2025 17:05\n"
)
GERMAN = "%d.%m.%Y %H:%M"
OTHER_DAG = """from airflow.sdk import DAG

with DAG(dag_id="some_other_dag", schedule=None):
    pass
"""
ACCOUNTS_CSV = b"Email,Tier,Seats\nada@example.com,gold,3\ngrace@example.com,silver,5\n"


def _support() -> dict[str, Any]:
    """support's config before the fix: its `Last Ticket At` is a timestamp in ISO-8601 (the default)."""
    config = _config("support", "Tier")
    config["attributes"].append({"column": "Last Ticket At", "name": "last_ticket_at", "type": "timestamp"})
    return config


def _write(folder: Path, config: dict[str, Any]) -> None:
    (folder / f"{config['name']}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


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


def _finished(cluster: Cluster, dag_id: str, run_type: str) -> list[dict[str, Any]] | None:
    runs = [r for r in cluster.dag_runs(dag_id) if r["run_type"] == run_type]
    return runs if runs and all(r["state"] in ("success", "failed") for r in runs) else None


SETTLED = """() => {
    const app = document.getElementById('inbound');
    return document.getAnimations().every(a => {
        const target = a.effect && a.effect.target;
        const endless = a.effect && a.effect.getTiming().iterations === Infinity;
        return !target || !app || !app.contains(target) || endless || a.playState !== 'running';
    });
}"""


def _a11y(page: Any, where: str) -> None:
    """axe-core on the plugin's content: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    # Colours mid-transition (a button just enabled) are no colours of the page: let the plugin's
    # finite animations settle (Airflow's own page may run endless ones, a spinner).
    page.wait_for_function(SETTLED, timeout=10_000, polling=100)
    results = Axe().run(page, context="#inbound")
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{where}: " + "; ".join(
        f"{v['id']}: {v['help']}: "
        + ", ".join(
            f"{n['target']} {n.get('html', '')[:160]} {n.get('failureSummary', '')[-160:]}" for n in v["nodes"][:5]
        )
        for v in bad
    )


def _shot(page: Any, name: str) -> None:
    DOCS.mkdir(exist_ok=True)
    path = DOCS / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size < 400_000


def _set_dark(page: Any, dark: bool) -> None:
    """Airflow's color mode (next-themes): the `theme` in local storage, applied on reload."""
    page.evaluate(f"localStorage.setItem('theme', '{'dark' if dark else 'light'}')")
    page.reload()


def test_the_integrations_app_inside_airflow(tmp_path: Path) -> None:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver (.ci/run does it)"
    configs = tmp_path / "integrations"
    configs.mkdir()
    # crm deletes a user whose Department is Left (no row is) and keeps its moved files 30 days
    crm = _config("crm", "Plan") | {
        "delete_when": {"column": "Department", "values": ["Left"]},
        "reports": {"retain_days": 30},
    }
    _write(configs, crm)
    _write(configs, _support())  # the file's timestamps are German: it fails until the config is fixed
    _write(configs, _config("billing", "Plan", enabled=False))
    # The DAGs folder: inbound's two files and one DAG that is no integration (for the DAG tab).
    dags = tmp_path / "dags"
    dags.mkdir()
    for name in ("inbound_integrations.py", "inbound_config_errors.py"):
        shutil.copy(ROOT / "dags" / name, dags / name)
    (dags / "other_dag.py").write_text(OTHER_DAG)
    with celery_cluster(tmp_path / "airflow", configs, extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(dags)}) as cluster:
        s3 = cluster.s3()
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="crm/export_1.csv", Body=CRM_CSV)
        cluster.wait_for("crm's scheduled run", lambda: _finished(cluster, "inbound_crm", "scheduled"), timeout=300)
        s3.put_object(Bucket=BUCKET, Key="crm/export_2.csv", Body=CRM_WIDER)  # a new column: header drift
        cluster.trigger("inbound_crm")
        (wider,) = cluster.wait_for(
            "crm's manual run", lambda: _finished(cluster, "inbound_crm", "manual"), timeout=240
        )
        assert wider["state"] == "success", wider

        # support's scheduled run waits deferred (no file); a file that lands then is imported by a
        # manual run, which fails on it (every timestamp rejected: 05.01.2026 14:30 is no ISO-8601).
        def deferred() -> bool:
            runs = [r for r in cluster.dag_runs("inbound_support") if r["run_type"] == "scheduled"]
            return (
                bool(runs)
                and cluster.task_states("inbound_support", runs[0]["dag_run_id"]).get("wait_for_file") == "deferred"
            )

        cluster.wait_for("support's scheduled run to defer", deferred, timeout=240)
        s3.put_object(Bucket=BUCKET, Key="support/export_1.csv", Body=SUPPORT_CSV)
        cluster.trigger("inbound_support")
        (failed,) = cluster.wait_for(
            "support's manual run", lambda: _finished(cluster, "inbound_support", "manual"), timeout=240
        )
        assert failed["state"] == "failed"
        failed_key = next(
            o["Key"]
            for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="support/failed/")["Contents"]
            if o["Key"].endswith(".csv")
        )
        with _chromium() as browser:
            _browse(cluster, browser, configs, failed_key, tmp_path)


def _browse(cluster: Cluster, browser: Any, configs: Path, failed_key: str, tmp: Path) -> None:
    base = cluster.base_url
    context = browser.new_context(viewport={"width": 1400, "height": 760})
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
        page.goto(f"{base}/auth/login?next={base}/plugin/integrations")
        page.locator("input[name='username'], input#username").first.fill(USER)
        page.locator("input[type='password']").first.fill(PASSWORD)
        page.locator("button[type='submit']").first.click()
        page.wait_for_url(f"{base}/plugin/integrations", timeout=30_000)
        _set_dark(page, False)

        # -- the table: green, red (with its reason), never run; no iframe
        assert page.locator("iframe").count() == 0
        page.locator("#inbound table#integrations").wait_for(timeout=30_000)
        result = {n: page.locator(f"tr[data-name='{n}'] [data-result]") for n in ("crm", "support", "billing")}
        assert result["crm"].get_attribute("data-result") == "success"
        assert result["support"].get_attribute("data-result") == "failed"
        reason = page.locator("tr[data-name='support'] [data-reason]")
        assert reason.is_visible() and "rejected" in reason.inner_text(), reason.inner_text()  # inline, no hover
        assert result["billing"].get_attribute("data-result") == "never run"
        crm = page.locator("tr[data-name='crm']")
        assert crm.locator("[data-testid='recent-runs'] [data-outcome='success']").count() >= 1
        assert crm.locator("[data-written]").inner_text() == "1 written"
        # crm's header drift: a badge "1 new column since MM-DD", its details and config lines a click away
        (new,) = cluster.api("GET", "/inbound/api/integrations/crm")["schema_drift"]["new"]
        assert new["column"] == "Region", new
        assert crm.locator("[data-drift]").inner_text() == f"1 new column since {new['since'][5:]}"
        crm.locator("[data-drift]").click()
        popover = page.locator("[data-drift-popover]")
        popover.locator("[data-new-column='Region']").wait_for(timeout=10_000)
        assert "column: Region" in popover.locator("[data-config-lines] pre").inner_text()
        page.keyboard.press("Escape")
        popover.wait_for(state="detached", timeout=10_000)
        assert crm.locator("[data-chip='bucket']").inner_text().replace("\n", "") == f"bucket:{BUCKET}"
        assert crm.locator("[data-chip='key']").inner_text().replace("\n", "") == "key:crm/export_*.csv"
        page.get_by_label("Search integrations").fill("supp")
        assert page.locator("table#integrations tbody tr").count() == 1
        page.get_by_label("Search integrations").fill("")
        _a11y(page, "table")
        _shot(page, "integrations")

        # the toggle is the DAG's pause state
        with page.expect_response(_patched("inbound_billing")) as answer:
            page.locator("tr[data-name='billing'] [data-part='control']").click()
        assert answer.value.status == 200, answer.value.text()
        assert cluster.api("GET", "/api/v2/dags/inbound_billing")["is_paused"] is False
        # The table reloads after a toggle: click again only once the row says "on" and its switch
        # is enabled (a click on the switch while it is busy does nothing: a 30 s wait for nothing).
        billing = page.locator("tr[data-name='billing']")
        billing.get_by_text("on", exact=True).wait_for(timeout=30_000)
        billing.locator("input:not([disabled])").wait_for(state="attached", timeout=30_000)
        with page.expect_response(_patched("inbound_billing")):
            page.locator("tr[data-name='billing'] [data-part='control']").click()
        assert cluster.api("GET", "/api/v2/dags/inbound_billing")["is_paused"] is True

        # -- the rule builder: the brief's three segments
        page.get_by_role("button", name="Targeting").click()
        builder = page.locator("#rule-builder")
        builder.wait_for(timeout=30_000)
        _segment(page, "crm_plan", "eq", "premium", 3)
        _segment(page, "department", "eq", "Sales", 3)
        _segment(page, "open_tickets", "gt", "2", 2)
        _a11y(page, "targeting")
        _shot(page, "targeting")

        # -- the wizard: discovery, choices, a YAML that `inbound validate` accepts with the others
        cluster.s3().put_object(Bucket=BUCKET, Key="billing/accounts_1.csv", Body=ACCOUNTS_CSV)
        page.goto(f"{base}/plugin/integrations?view=new")
        page.get_by_label("S3 location").fill(f"s3://{BUCKET}/billing/accounts_*.csv")
        page.get_by_label("AWS connection").locator("option[value='aws_default']").wait_for(state="attached")
        assert page.get_by_label("AWS connection").input_value() == "aws_default"  # the only one in use
        page.get_by_role("button", name="Discover").click()
        page.locator("#columns").wait_for(timeout=30_000)
        assert page.get_by_label("User ID column").input_value() == "Email"
        page.get_by_label("Integration name").fill("accounts")
        page.get_by_label("Attribute name for Tier").fill("account_tier")
        page.get_by_label("Import Seats").uncheck(force=True)
        page.locator("#config-check").filter(has_text="Valid").wait_for(timeout=30_000)
        config = page.locator("#config-yaml").inner_text()
        assert "name: account_tier" in config and "Seats" not in config
        _a11y(page, "wizard")
        check = tmp / "validate"
        check.mkdir()
        for existing in configs.glob("*.yaml"):
            (check / existing.name).write_text(existing.read_text())
        (check / "accounts.yaml").write_text(config)
        validated = cluster.inbound("validate", str(check))
        assert validated.returncode == 0, validated.stdout + validated.stderr

        # -- support's page, before the fix: the picker offers exactly support's files in S3, a dry
        # run that would fail says why and moves nothing, a key gone since the list loaded fails
        s3 = cluster.s3()
        s3.put_object(Bucket=BUCKET, Key="support/readme.txt", Body=b"not an export")  # not support's pattern
        page.goto(f"{base}/plugin/integrations?view=integration&name=support")
        page.locator("#runs").wait_for(timeout=30_000)
        picker = page.get_by_label("File to re-import")
        page.locator(f"#reimport option[value='{failed_key}']").wait_for(state="attached", timeout=30_000)
        assert picker.input_value() == failed_key  # the page's failed file, preselected
        assert _offered(page) == _exports(s3, "support") == {failed_key}
        before = _objects(s3)
        page.get_by_role("button", name="Re-import (dry run first)").click()
        preview = page.get_by_test_id("preview")
        preview.wait_for(timeout=120_000)
        assert preview.get_attribute("data-outcome") == "failed", preview.inner_text()
        said = preview.locator("[data-message]").inner_text()
        assert said.startswith("dry run: would fail:") and failed_key in said and "rejected" in said, said
        assert page.get_by_role("button", name="Import now").count() == 0
        assert _objects(s3) == before  # nothing moved, no report written
        _a11y(page, "integration page, a dry run that would fail")

        # rows that would be rejected: by kind and column, with their line numbers (never values)
        bad_key = failed_key.replace("_export_1.csv", "_export_8.csv")
        iso = b"2026-01-05T14:30:00"
        s3.put_object(
            Bucket=BUCKET,
            Key=bad_key,
            Body=b"Email,Tier,Last Ticket At\nada@example.com,gold,%s\n,silver,%s\n,bronze,%s\n" % (iso, iso, iso),
        )
        page.get_by_role("button", name="Refresh files").click()
        page.locator(f"#reimport option[value='{bad_key}']").wait_for(state="attached", timeout=30_000)
        picker.select_option(bad_key)
        before = _objects(s3)
        page.get_by_role("button", name="Re-import (dry run first)").click()
        preview.wait_for(timeout=120_000)
        assert preview.get_attribute("data-outcome") == "failed", preview.inner_text()
        assert preview.locator("[data-count='reject'] b").inner_text() == "2"
        rejected = preview.locator("#rejected-rows tr[data-kind='empty_user_id']")
        assert rejected.locator("[data-lines]").inner_text() == "3, 4", preview.inner_text()
        assert "silver" not in preview.inner_text()  # lines, never values
        assert page.get_by_role("button", name="Import now").count() == 0
        assert _objects(s3) == before
        _a11y(page, "integration page, rejected rows of a dry run")
        s3.delete_object(Bucket=BUCKET, Key=bad_key)

        gone_key = failed_key.replace("_export_1.csv", "_export_9.csv")
        s3.put_object(Bucket=BUCKET, Key=gone_key, Body=SUPPORT_CSV)
        page.get_by_role("button", name="Refresh files").click()
        page.locator(f"#reimport option[value='{gone_key}']").wait_for(state="attached", timeout=30_000)
        assert _offered(page) == _exports(s3, "support") == {failed_key, gone_key}
        picker.select_option(gone_key)
        s3.delete_object(Bucket=BUCKET, Key=gone_key)  # gone after the list was loaded
        before = _objects(s3)
        page.get_by_role("button", name="Re-import (dry run first)").click()
        preview.wait_for(timeout=120_000)
        assert preview.get_attribute("data-outcome") == "failed", preview.inner_text()
        said = preview.locator("[data-message]").inner_text()
        assert f"s3://{BUCKET}/{gone_key} does not exist" in said, said
        assert "succeeded" not in preview.inner_text() and "would import" not in preview.inner_text()
        assert _objects(s3) == before
        page.get_by_role("button", name="Refresh files").click()
        page.locator(f"#reimport option[value='{gone_key}']").wait_for(state="detached", timeout=30_000)
        assert _offered(page) == _exports(s3, "support") == {failed_key}

        # -- the morning, timed: the red row, why it failed (one click), the fix, the re-import from
        # the row (a dry run first), the green row with fresh counts
        page.goto(f"{base}/plugin/integrations")
        red = page.locator("tr[data-name='support']")
        red.locator("[data-reason]").wait_for(timeout=30_000)
        morning = time.monotonic()
        checks = 0.0  # the test's own checks in between (axe, a screenshot): no part of the walk
        splits: list[tuple[str, float]] = []

        def split(step: str) -> None:
            splits.append((step, time.monotonic() - morning - checks))

        assert red.locator("[data-result]").get_attribute("data-result") == "failed"
        red.locator("[data-why]").click()  # the one click
        panel = page.locator("#why-failed")
        group = panel.locator("[data-group][data-column='Last Ticket At']")
        group.locator("[data-yaml]").wait_for(timeout=30_000)
        assert group.locator("[data-rows]").inner_text() == "2 rows"
        assert "05.01.2026 14:30" in group.locator("[data-values]").inner_text()
        suggested = group.locator("[data-yaml]").inner_text()
        assert GERMAN in suggested, suggested
        split("why it failed, with the fix, shown")
        aside = time.monotonic()
        _a11y(page, "integration page, why it failed")
        _shot(page, "integration")
        checks += time.monotonic() - aside
        # the fix: the suggested attribute entry written into the config, as a git change would
        config = _support()
        (entry,) = yaml.safe_load(suggested)["attributes"]
        config["attributes"] = [entry if a["column"] == entry["column"] else a for a in config["attributes"]]
        assert entry["format"] == GERMAN
        _write(configs, config)
        fixed = Integration.model_validate(config).version
        freshness = cluster.api("GET", "/inbound/api/integrations/support")["freshness"]
        assert freshness["state"] == "newer" and freshness["config_version"] == fixed, freshness  # the page's notice
        token = cluster.api("GET", "/api/v2/dags/inbound_support/details")["file_token"]
        cluster.api("PUT", f"/api/v2/parseDagFile/{token}")  # as a deployment's git-sync would not wait either
        cluster.wait_for(
            "the DAG processor to parse the fixed config",
            lambda: fixed in (cluster.api("GET", "/api/v2/dags/inbound_support/details").get("doc_md") or ""),
            timeout=120,
            every=0.5,
        )
        assert cluster.api("GET", "/inbound/api/integrations/support")["freshness"]["state"] == "current"
        split("the fixed config parsed")
        # the re-import from the row: the integration page's re-import, its failed file preselected
        page.goto(f"{base}/plugin/integrations")
        page.get_by_role("button", name="Re-import a file of support").click()
        page.locator(f"#reimport option[value='{failed_key}']").wait_for(state="attached", timeout=30_000)
        page.wait_for_function(
            "key => document.querySelector(\"select[aria-label='File to re-import']\").value === key", arg=failed_key
        )
        assert page.locator("#config-newer").count() == 0  # Airflow runs the fixed config
        page.locator("#runs tr[data-outcome='failed']").first.wait_for()
        page.get_by_role("button", name="Re-import (dry run first)").click()
        preview.wait_for(timeout=120_000)
        assert preview.get_attribute("data-outcome") == "previewed", preview.inner_text()
        assert preview.locator("[data-count='add'] b").inner_text() == "2"
        split("the dry run's outcome shown")
        assert _objects(s3) == before  # a dry run that would succeed moves nothing either
        clicked = datetime.now(UTC)
        page.get_by_role("button", name="Import now").click()

        def started() -> float | None:
            runs = [r for r in cluster.dag_runs("inbound_support") if r["run_type"] == "manual" and r.get("start_date")]
            latest = max(runs, key=lambda r: r["start_date"]) if runs else None
            when = datetime.fromisoformat(latest["start_date"].replace("Z", "+00:00")) if latest else None
            return (when - clicked).total_seconds() if when and when >= clicked else None

        delay = cluster.wait_for("the re-import to start", started, timeout=60, every=0.5)
        assert delay <= 10, f"the re-import started {delay:.1f} s after the click"
        scheduled = [r for r in cluster.dag_runs("inbound_support") if r["run_type"] == "scheduled"]
        assert scheduled[0]["state"] == "running"  # still waiting for a file, deferred
        result = page.get_by_test_id("import-result")
        result.wait_for(timeout=120_000)
        assert result.get_attribute("data-outcome") == "success", result.inner_text()
        said = result.locator("[data-message]").inner_text()
        assert said.startswith(f"imported 2 rows from {failed_key}"), said
        split("the import's outcome shown")
        assert result.get_by_role("link", name="See the run").count() == 1
        (moved,) = _exports(s3, "support")
        assert moved.startswith("support/success/")
        # the key follows the file to where it went; the list is what S3 holds now
        page.locator(f"#reimport option[value='{moved}']").wait_for(state="attached", timeout=30_000)
        page.wait_for_function(
            "key => document.querySelector(\"select[aria-label='File to re-import']\").value === key", arg=moved
        )
        assert _offered(page) == {moved}
        # the table: support green, with the fresh import's counts
        page.goto(f"{base}/plugin/integrations")

        def green() -> bool:
            row = page.locator("tr[data-name='support']")
            row.locator("[data-result]").wait_for(timeout=30_000)
            if row.locator("[data-result]").get_attribute("data-result") == "success":
                return True
            page.reload()
            return False

        cluster.wait_for("support's row to turn green", green, timeout=60, every=0.5)
        red_to_green = time.monotonic() - morning
        split("the row green")
        row = page.locator("tr[data-name='support']")
        assert row.locator("[data-written]").inner_text() == "2 written"
        assert row.locator("[data-rejected-share]").inner_text() == "0% rejected"
        assert row.locator("[data-reason]").count() == 0
        print(
            f"\nred -> green: {red_to_green - checks:.1f} s of machine time ({red_to_green:.1f} s with the test's "
            f"axe check and screenshot); " + ", ".join(f"{step} at {at:.1f} s" for step, at in splits)
        )
        # the old failed import's report went with the re-import: the page says so, in place
        page.goto(f"{base}/plugin/integrations?view=integration&name=support")
        page.locator("#runs").wait_for(timeout=30_000)
        old_report = page.locator(f"#runs [data-report='{failed_key}.error.txt']")
        old_report.first.click()
        gone = page.locator(f"[data-report-gone='{failed_key}.error.txt']").first
        gone.wait_for(timeout=30_000)
        assert gone.inner_text().startswith(f"this report is gone: s3://{BUCKET}/{failed_key}.error.txt does not exist")
        assert moved in gone.inner_text()
        _a11y(page, "integration page")

        # -- the DAG tab: on an integration's DAG, and on a DAG that is none
        page.goto(f"{base}/dags/inbound_crm/plugin/integration")
        page.locator("#inbound #mapping").wait_for(timeout=30_000)
        assert page.locator("#inbound h1").inner_text() == "crm"
        settings = page.locator("#settings")  # crm's deletions, volume guard (the defaults) and retention
        assert "Department is Left deletes" in settings.locator("[data-delete-when]").inner_text()
        assert settings.locator("[data-volume-guard]").inner_text().startswith("fails a file with more than 50% fewer")
        assert settings.locator("[data-retention='30']").inner_text().endswith("removed after 30 days")
        _a11y(page, "DAG tab")
        page.goto(f"{base}/dags/some_other_dag/plugin/integration")
        page.locator("#inbound").filter(has_text="some_other_dag is not an inbound integration.").wait_for(
            timeout=30_000
        )

        # -- dark mode: the same pages in Airflow's dark theme
        page.goto(f"{base}/plugin/integrations")
        _set_dark(page, True)
        page.locator("#inbound table#integrations").wait_for(timeout=30_000)
        assert page.evaluate("document.documentElement.classList.contains('dark')")
        assert page.locator("tr[data-name='support'] [data-result]").get_attribute("data-result") == "success"
        _a11y(page, "table, dark")
        _shot(page, "integrations-dark")
        page.goto(f"{base}/plugin/integrations?view=integration&name=crm")
        page.locator("#runs").wait_for(timeout=30_000)
        assert "Region" in page.locator("#header-changes").inner_text()  # crm's drift, on its page too
        assert "header changed: 1 new column" in page.locator("#runs [data-drift]").first.inner_text()
        _a11y(page, "integration page, dark")
        _shot(page, "integration-dark")
        page.goto(f"{base}/plugin/integrations?view=targeting")
        page.locator("#rule-builder").wait_for(timeout=30_000)
        _segment(page, "crm_plan", "eq", "premium", 3)
        _a11y(page, "targeting, dark")
        _shot(page, "targeting-dark")
        _set_dark(page, False)
        time.sleep(0.5)
        assert not errors, errors
    finally:
        context.close()


def _patched(dag_id: str) -> Any:
    """The toggle's answer: Airflow's own `PATCH /api/v2/dags/{dag_id}` (the pause state)."""
    return lambda r: r.request.method == "PATCH" and r.url.split("?")[0].endswith(f"/api/v2/dags/{dag_id}")


def _objects(s3: Any) -> dict[str, str]:
    """Every object of the bucket with its ETag: what a dry run must leave exactly as it was."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def _exports(s3: Any, name: str) -> set[str]:
    """The keys in S3 that are `name`'s exports (waiting or moved), never a report or another file."""
    return {key for key in _objects(s3) if is_export_of(f"{name}/export_*.csv", key)}


def _offered(page: Any) -> set[str]:
    """The keys the re-import's file picker offers."""
    values = page.locator("#reimport select[aria-label='File to re-import'] option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    return {v for v in values if v}


def _segment(page: Any, attribute: str, op: str, value: str, count: int) -> None:
    """Build a one-condition rule in the builder and wait for its count."""
    builder = page.locator("#rule-builder")
    while builder.get_by_role("button", name="Remove condition").count():
        builder.get_by_role("button", name="Remove condition").first.click()
    builder.get_by_role("button", name="+ condition").click()
    builder.get_by_label("Attribute").last.select_option(attribute)
    builder.get_by_label("Operator").last.select_option(op)
    builder.get_by_label("Value").last.fill(value)
    page.locator("#segment-count b").filter(has_text=str(count)).wait_for(timeout=30_000)
