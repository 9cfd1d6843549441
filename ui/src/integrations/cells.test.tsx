import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import type { IntegrationRow, SchemaDrift } from "../common/api";
import { renderWithProviders, stubFetch } from "../test/render";
import { IntegrationsTable } from "./IntegrationsTable";

const hour = (h: number) => `2026-01-05T${String(h).padStart(2, "0")}:00:00+00:00`;

const row = (name: string, overrides: Partial<IntegrationRow> = {}): IntegrationRow => ({
  attributes_imported: 2,
  can_edit: true,
  dag_id: `inbound_${name}`,
  enabled: true,
  last_import: { deleted: 0, rejected_share: 0.25, rows_read: 400, rows_rejected: 100, rows_written: 300 },
  last_run_at: hour(9),
  last_run_duration_s: 12,
  last_run_result: "success",
  last_success_at: hour(9),
  name,
  next_run_at: hour(10),
  recent_runs: [
    { at: hour(7), outcome: "success", run_id: "scheduled__7", state: "success" },
    { at: hour(8), outcome: "no new file", run_id: "scheduled__8", state: "success" },
    { at: hour(9), outcome: "failed", run_id: "manual__9", state: "failed" },
  ],
  schedule: "@hourly",
  schedule_words: "every hour",
  source: "s3://!env INBOUND_CONFIG_BUCKET/crm/export_*.csv",
  source_parts: { bucket: null, bucket_env: "INBOUND_CONFIG_BUCKET", key: "crm/export_*.csv", key_env: null },
  stale: false,
  users: 3,
  ...overrides,
});

const HOSTILE = "<img src=x onerror=alert(1)>";
const LONG = `Region ${"x".repeat(190)}`;

const DRIFT: SchemaDrift = {
  compared_with: "2026-12-07",
  config_lines: "attributes:\n  - column: Region\n    name: region\n    type: string\n",
  gone: ["Fax"],
  new: [
    { column: "Region", since: "2026-12-01" },
    { column: HOSTILE, since: "2026-12-08" },
  ],
  reordered: true,
  summary: "2 new columns since 2026-12-01, 1 column gone, columns reordered",
};

const rowOf = (name: string) => document.querySelector(`tr[data-name='${name}']`) as HTMLElement;

describe("the table's monitor cells", () => {
  it("shows the recent runs as a strip, oldest to newest, each labelled", async () => {
    stubFetch(() => [row("crm")]);
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("crm");
    const strip = within(rowOf("crm")).getByTestId("recent-runs");
    const squares = within(strip).getAllByRole("listitem");
    expect(squares.map((s) => s.getAttribute("data-outcome"))).toEqual(["success", "no new file", "failed"]);
    expect(squares[2]).toHaveAttribute("aria-label", "failed, 2026-01-05 09:00:00 (manual__9)");
    expect(squares[2]).toHaveAttribute("title", "failed, 2026-01-05 09:00:00 (manual__9)");
    expect(strip).toHaveAttribute("aria-label", "crm: the last 3 runs, oldest first");
    // the strip's squares are no result badge: the row has exactly one
    expect(rowOf("crm").querySelectorAll("[data-result]")).toHaveLength(1);
  });

  it("marks a stale integration, and only that one", async () => {
    stubFetch(() => [row("crm", { stale: true }), row("hr", { stale: false }), row("new", { stale: null })]);
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("crm");
    expect(within(rowOf("crm")).getByText("stale")).toHaveAttribute("data-stale");
    expect(within(rowOf("hr")).queryByText("stale")).toBeNull();
    expect(within(rowOf("new")).queryByText("stale")).toBeNull();
  });

  it("shows the last import's rows written and rejected share, and the run's duration", async () => {
    stubFetch(() => [row("crm")]);
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("crm");
    const cells = within(rowOf("crm"));
    expect(cells.getByText("300 written")).toBeInTheDocument();
    expect(cells.getByText("25% rejected")).toHaveAttribute("title", "100 of 400 rows rejected");
    expect(cells.getByText("took 12 s")).toBeInTheDocument();
  });

  it("shows the users the last import deleted, and nothing about deletions where it deleted none", async () => {
    stubFetch(() => [
      row("crm", {
        last_import: { deleted: 2, rejected_share: 0, rows_read: 10, rows_rejected: 0, rows_written: 8 },
      }),
      row("hr"),
    ]);
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("crm");
    const counts = within(within(rowOf("crm")).getByTestId("last-import"));
    expect(counts.getByText("2 deleted")).toHaveAttribute("data-deleted", "2");
    expect(counts.getByText("2 deleted")).toHaveAttribute("title", "2 users deleted by delete_when");
    expect(within(rowOf("hr")).getByTestId("last-import").textContent).not.toContain("deleted");
    expect(rowOf("hr").querySelector("[data-deleted]")).toBeNull();
  });

  it("shows the reason on one line, expands it (a button: click, key or touch), and links to why it failed", async () => {
    const go = vi.fn();
    const reason = "2 of 2 rows rejected (100%): Last Ticket At: not a timestamp (05.01.2026 14:30)";
    stubFetch(() => [row("support", { last_run_reason: reason, last_run_result: "failed", reason })]);
    renderWithProviders(<IntegrationsTable go={go} />);
    const shown = await screen.findByText(reason);
    expect(shown.tagName).toBe("BUTTON"); // reachable by keyboard and touch, no hover needed
    expect(shown).toHaveAttribute("aria-expanded", "false");
    fireEvent.click(shown);
    expect(shown).toHaveAttribute("aria-expanded", "true");
    fireEvent.click(shown);
    expect(shown).toHaveAttribute("aria-expanded", "false");
    fireEvent.click(within(rowOf("support")).getByText("Why it failed, and the fix"));
    expect(go).toHaveBeenCalledWith({ focus: "why", name: "support", view: "integration" });
  });

  it("shows no reason on a green row", async () => {
    stubFetch(() => [row("crm", { reason: null })]);
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("crm");
    expect(rowOf("crm").querySelector("[data-reason]")).toBeNull();
  });

  it("shows the source as labelled chips: a variable's name where the bucket is from !env", async () => {
    stubFetch(() => [
      row("crm"),
      row("hr", { source_parts: { bucket: "acme", bucket_env: null, key: "hr/*.csv", key_env: null } }),
    ]);
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("crm");
    const chip = (name: string, label: string) => rowOf(name).querySelector(`[data-chip='${label}']`);
    expect(chip("crm", "bucket")).toHaveTextContent("bucket:$INBOUND_CONFIG_BUCKET");
    expect(chip("crm", "key")).toHaveTextContent("key:crm/export_*.csv");
    expect(chip("hr", "bucket")).toHaveTextContent("bucket:acme");
    expect(rowOf("crm").textContent).not.toContain("s3://!env");
  });

  it("re-imports from the row on the integration page, and only for an editor", async () => {
    const go = vi.fn();
    stubFetch(() => [row("crm"), row("hr", { can_edit: false })]);
    renderWithProviders(<IntegrationsTable go={go} />);
    await screen.findByText("crm");
    fireEvent.click(screen.getByRole("button", { name: "Re-import a file of crm" }));
    expect(go).toHaveBeenCalledWith({ focus: "reimport", name: "crm", view: "integration" });
    expect(screen.queryByRole("button", { name: "Re-import a file of hr" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Run hr now" })).toBeNull();
  });

  it("shows the header's drift as a short badge, its days as MM-DD, and only where the header drifted", async () => {
    stubFetch(() => [
      row("crm", {
        schema_drift: { ...DRIFT, gone: [], reordered: false, summary: "2 new columns since 2026-12-01" },
      }),
      row("hr", { schema_drift: DRIFT }),
      row("new", { schema_drift: null }),
      row("old"), // an answer without the field
    ]);
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("crm");
    const badge = rowOf("crm").querySelector("[data-drift]");
    expect(badge).toHaveTextContent(/^2 new columns since 12-01$/);
    expect(badge?.tagName).toBe("BUTTON"); // the details a click or a key press away
    expect(badge).toHaveAttribute("title", "2 new columns since 2026-12-01");
    expect(rowOf("hr").querySelector("[data-drift]")).toHaveTextContent(
      "2 new columns since 12-01, 1 column gone, columns reordered",
    );
    expect(rowOf("new").querySelector("[data-drift]")).toBeNull();
    expect(rowOf("old").querySelector("[data-drift]")).toBeNull();
    expect(document.querySelector("[data-drift-popover]")).toBeNull(); // closed until asked
  });

  it("opens the drift's details: new columns with their day, gone ones, the reordering, the config lines", async () => {
    const writeText = vi.fn(async () => undefined);
    vi.stubGlobal("navigator", { ...navigator, clipboard: { writeText } });
    stubFetch(() => [
      row("hr", { schema_drift: { ...DRIFT, new: [...DRIFT.new, { column: LONG, since: "2026-12-09" }] } }),
    ]);
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("hr");
    fireEvent.click(rowOf("hr").querySelector("[data-drift]") as HTMLElement);
    const details = await waitFor(() => {
      const found = document.querySelector("[data-drift-popover] [data-drift-details]");
      expect(found).not.toBeNull();
      return found as HTMLElement;
    });
    const shown = [...details.querySelectorAll("[data-new-column]")].map((li) => li.textContent);
    expect(shown).toEqual([
      "Regionsince 2026-12-01",
      `${HOSTILE}since 2026-12-08`,
      `${LONG}since 2026-12-09`,
    ]);
    // a long name is cut on screen, whole in its title
    const long = within(details).getByText(LONG);
    expect(long).toHaveAttribute("title", LONG);
    expect(long).toHaveStyle({ textOverflow: "ellipsis", whiteSpace: "nowrap" });
    expect(details.querySelector("[data-gone-column]")).toHaveTextContent("Fax");
    expect(details.querySelector("[data-reordered]")).toHaveTextContent(
      "Columns reordered since the import of 2026-12-07",
    );
    expect(details.querySelector("[data-config-lines] pre")?.textContent).toBe(DRIFT.config_lines);
    fireEvent.click(
      within(details).getByRole("button", { name: "Copy the config lines to map the new columns" }),
    );
    await waitFor(() => expect(writeText).toHaveBeenCalledWith(DRIFT.config_lines));
  });

  it("shows a hostile column name as text, never as HTML", async () => {
    stubFetch(() => [row("hr", { schema_drift: DRIFT })]);
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("hr");
    fireEvent.click(rowOf("hr").querySelector("[data-drift]") as HTMLElement);
    expect(await screen.findByText(HOSTILE)).toHaveAttribute("title", HOSTILE);
    expect(document.querySelector("img")).toBeNull();
  });
});
