import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { beforeAll, describe, expect, it, vi } from "vitest";

import type { Detail, ImportEntry, Rejections } from "../common/api";
import { importEntry as entry, integrationDetail as detail } from "../test/fixtures";
import { renderWithProviders, stubFetch } from "../test/render";
import { IntegrationPage } from "./IntegrationPage";

beforeAll(() => {
  Element.prototype.scrollIntoView = vi.fn(); // jsdom lays nothing out
});

const FAILED_KEY = "support/failed/20260105T080000Z_export_1.csv";

const FAILED = entry(5, {
  error: "2 of 2 rows rejected (100%), more than max_rejected_ratio 5%",
  final_key: FAILED_KEY,
  outcome: "failed",
  rows_rejected: 2,
  rows_written: 0,
});

const YAML =
  "attributes:\n  - column: Last Ticket At\n    name: last_ticket_at\n    type: timestamp\n    format: '%d.%m.%Y %H:%M'\n";

const REJECTIONS: Rejections = {
  counted: "all 2 rows of the report",
  error: FAILED.error,
  groups: [
    {
      attribute: "last_ticket_at",
      column: "Last Ticket At",
      kind: "bad_timestamp",
      lines: [2, 3],
      reason: "not a timestamp",
      rows: 2,
      suggestion: {
        changes: { format: "%d.%m.%Y %H:%M" },
        checked: 2,
        note: "the values also read as %m.%d.%Y %H:%M: check which one the export writes",
        yaml: YAML,
      },
      values: ["05.01.2026 14:30", "06.01.2026 09:15"],
    },
    {
      attribute: null,
      column: "Email",
      kind: "empty_user_id",
      lines: [7],
      reason: "empty user ID",
      rows: 1,
      suggestion: null,
      values: [""],
    },
  ],
  integration: "support",
  key: FAILED_KEY,
  report: `${FAILED_KEY}.rejected.csv`,
  truncated: false,
};

const serve = (runs: ImportEntry[], overrides: Partial<Detail> = {}) =>
  stubFetch((url) => {
    if (url.pathname.endsWith("/rejections")) return REJECTIONS;
    if (url.pathname.endsWith("/files")) return { files: [], max_files: 200, truncated: false };
    return { ...detail(runs), ...overrides };
  });

describe("Why it failed", () => {
  it("groups the last failed import's rejected rows, with counts, lines, values and the fix to paste", async () => {
    const calls = serve([FAILED, entry(4)]);
    renderWithProviders(<IntegrationPage name="support" />);
    const panel = await screen.findByRole("region", { name: "Why it failed" });
    await within(panel).findByText("not a timestamp");
    const asked = calls.find((c) => c.url.pathname === "/inbound/api/integrations/support/rejections");
    expect(asked?.url.searchParams.get("key")).toBe(FAILED_KEY);
    const groups = panel.querySelectorAll("[data-group]");
    expect([...groups].map((g) => g.getAttribute("data-column"))).toEqual(["Last Ticket At", "Email"]);
    const timestamps = within(groups[0] as HTMLElement);
    expect(timestamps.getByText("2 rows")).toBeInTheDocument();
    expect(timestamps.getByText("first lines: 2, 3")).toBeInTheDocument();
    expect(timestamps.getByText("05.01.2026 14:30")).toBeInTheDocument();
    expect(panel.querySelector("[data-yaml]")?.textContent).toBe(YAML);
    expect(timestamps.getByText(/Check first: the values also read as/)).toBeInTheDocument();
    expect(
      timestamps.getByRole("button", { name: "Copy the suggested config for Last Ticket At" }),
    ).toBeEnabled();
    expect(within(groups[1] as HTMLElement).getByText("(empty)")).toBeInTheDocument();
    expect(groups[1]?.querySelector("[data-suggestion]")).toBeNull(); // no fix offered where none was found
  });

  it("shows no panel when the last import rejected nothing, and asks for no rejections", async () => {
    const calls = serve([entry(4), FAILED]);
    renderWithProviders(<IntegrationPage name="support" />);
    await screen.findByText("support.yaml");
    expect(document.getElementById("why-failed")).toBeNull();
    expect(calls.some((c) => c.url.pathname.endsWith("/rejections"))).toBe(false);
  });

  it("opens the panel for an older import from the history", async () => {
    serve([entry(4), FAILED]);
    renderWithProviders(<IntegrationPage name="support" />);
    const why = await screen.findByRole("button", { name: `Why the import of ${FAILED_KEY} failed` });
    expect(screen.queryByRole("button", { name: /Why the import of support\/success/ })).toBeNull();
    fireEvent.click(why);
    const panel = await screen.findByRole("region", { name: "Why it failed" });
    await waitFor(() => expect(panel.querySelector("[data-yaml]")?.textContent).toBe(YAML));
  });
});

describe("the integration page's settings", () => {
  it("shows every setting, the config's link, and a notice when the config is newer than the DAG", async () => {
    serve([entry(4)], {
      alerts: {
        email: ["ops@example.com"],
        on_failure: true,
        on_new_columns: true,
        rejected_ratio_over: 0.01,
        smtp_conn_id: "smtp_default",
        stale_after: "P2D",
        webhook: null,
      },
      format: { decimal: ",", delimiter: ";", encoding: "cp1252" },
      freshness: {
        config_version: "0123456789ab",
        dag_version: "ba9876543210",
        message:
          "The config on disk (version 0123456789ab) is newer than the DAG Airflow runs (version ba9876543210)",
        parsed_at: null,
        state: "newer",
      },
      marker: "_SUCCESS",
      timezone: "Europe/Berlin",
    });
    renderWithProviders(<IntegrationPage name="support" />);
    const link = await screen.findByRole("link", { name: "support.yaml" });
    expect(link).toHaveAttribute("href", "https://github.com/acme/configs/blob/main/support.yaml");
    const settings = document.getElementById("settings") as HTMLElement;
    expect(settings.querySelector("[data-chip='bucket']")).toHaveTextContent("bucket:$INBOUND_CONFIG_BUCKET");
    expect(settings.querySelector("[data-chip='delimiter']")).toHaveTextContent('delimiter:";"');
    expect(settings.querySelector("[data-chip='decimal']")).toHaveTextContent('decimal:","');
    expect(settings.querySelector("[data-chip='encoding']")).toHaveTextContent("encoding:cp1252");
    expect(within(settings).getByText("_SUCCESS")).toBeInTheDocument();
    expect(within(settings).getByText("Europe/Berlin (timestamps without a zone)")).toBeInTheDocument();
    expect(within(settings).getByText(/e-mail ops@example.com/)).toBeInTheDocument();
    expect(within(settings).getByText(/stale after: P2D/)).toBeInTheDocument();
    expect(document.getElementById("config-newer")).toHaveTextContent("newer than the DAG Airflow runs");
  });

  it("shows the config's relative path without a link template, and no notice when Airflow runs it", async () => {
    serve([entry(4)], { config: { path: "team/support.yaml", url: null } });
    renderWithProviders(<IntegrationPage name="support" />);
    expect(await screen.findByText("team/support.yaml")).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "team/support.yaml" })).toBeNull();
    expect(document.getElementById("config-newer")).toBeNull();
  });
});
