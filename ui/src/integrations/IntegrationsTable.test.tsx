import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import type { IntegrationRow } from "../common/api";
import { renderWithProviders, stubFetch } from "../test/render";
import { IntegrationsTable } from "./IntegrationsTable";

const row = (name: string, overrides: Partial<IntegrationRow> = {}): IntegrationRow => ({
  attributes_imported: 2,
  dag_id: `inbound_${name}`,
  enabled: true,
  last_run_at: "2026-01-02T03:04:05+00:00",
  last_run_result: "success",
  name,
  schedule: "@daily",
  schedule_words: "every day at midnight",
  source: `s3://acme/${name}/*.csv`,
  users: 3,
  ...overrides,
});

const names = () =>
  screen
    .getAllByRole("row")
    .slice(1)
    .map((r) => r.getAttribute("data-name"));

describe("IntegrationsTable", () => {
  it("renders a row per integration with its state as a badge with an icon", async () => {
    stubFetch(() => [
      row("crm"),
      row("support", {
        last_run_reason: "Tier: not a number",
        last_run_result: "failed",
        reason: "Tier: not a number",
      }),
    ]);
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    expect(screen.getByTestId("loading")).toBeInTheDocument();
    await screen.findByText("crm");
    expect(names()).toEqual(["crm", "support"]);
    const badge = document.querySelector("tr[data-name='support'] [data-result]");
    expect(badge).toHaveAttribute("data-result", "failed");
    expect(badge?.querySelector("svg")).not.toBeNull();
    expect(
      within(screen.getByRole("row", { name: /support/ })).getByText("Tier: not a number"),
    ).toBeVisible();
  });

  it("shows the server's error in an alert", async () => {
    stubFetch(() => {
      throw new Response(JSON.stringify({ detail: "the store is unreachable" }), { status: 503 });
    });
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    expect(await screen.findByText("the store is unreachable", {}, { timeout: 5000 })).toBeInTheDocument();
    expect(screen.getByRole("alert")).toBeInTheDocument();
  });

  it("sorts by a column, and back", async () => {
    stubFetch(() => [row("b", { users: 1 }), row("a", { users: 5 }), row("c", { users: 3 })]);
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("a");
    expect(names()).toEqual(["a", "b", "c"]);
    fireEvent.click(screen.getByRole("button", { name: "Name" }));
    expect(names()).toEqual(["c", "b", "a"]);
    fireEvent.click(screen.getByRole("button", { name: "Users" }));
    expect(names()).toEqual(["b", "c", "a"]);
    expect(screen.getByRole("columnheader", { name: "Users" })).toHaveAttribute("aria-sort", "ascending");
  });

  it("pages past 50 rows", async () => {
    stubFetch(() => Array.from({ length: 120 }, (_, i) => row(`int_${String(i).padStart(3, "0")}`)));
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("int_000");
    expect(names()).toHaveLength(50);
    fireEvent.click(screen.getByRole("button", { name: "Page 3" }));
    await waitFor(() => expect(names()).toHaveLength(20));
    expect(names()[0]).toBe("int_100");
  });

  it("has no pagination for 50 rows or fewer", async () => {
    stubFetch(() => Array.from({ length: 50 }, (_, i) => row(`int_${i}`)));
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("int_0");
    expect(screen.queryByRole("button", { name: "Next page" })).toBeNull();
  });

  it("switches a DAG off through Airflow's REST API and runs it now", async () => {
    const calls = stubFetch((url) => {
      if (url.pathname.endsWith("/dagRuns")) return { dag_run_id: "manual__1" };
      if (url.pathname.startsWith("/api/v2/dags/")) return { dag_id: "inbound_crm", is_paused: true };
      return [row("crm")];
    });
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("crm");
    fireEvent.click(screen.getByLabelText("crm on or off"));
    await waitFor(() => expect(calls.some((c) => c.method === "PATCH")).toBe(true));
    const patch = calls.find((c) => c.method === "PATCH");
    expect(patch?.url.pathname + (patch?.url.search ?? "")).toBe(
      "/api/v2/dags/inbound_crm?update_mask=is_paused",
    );
    expect(patch?.body).toEqual({ is_paused: true });
    fireEvent.click(screen.getByRole("button", { name: "Run crm now" }));
    await waitFor(() =>
      expect(calls.some((c) => c.url.pathname === "/api/v2/dags/inbound_crm/dagRuns")).toBe(true),
    );
    expect(calls.find((c) => c.url.pathname.endsWith("/dagRuns"))?.body).toEqual({
      conf: {},
      logical_date: null,
    });
    // the table is fetched again after each action
    await waitFor(() =>
      expect(
        calls.filter((c) => c.url.pathname === "/inbound/api/integrations").length,
      ).toBeGreaterThanOrEqual(3),
    );
  });

  it("hides the actions when the row says the caller may not edit", async () => {
    stubFetch(() => [row("crm", { can_edit: false })]);
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("crm");
    expect(screen.queryByLabelText("crm on or off")).toBeNull();
    expect(screen.queryByRole("button", { name: "Run crm now" })).toBeNull();
  });

  it("shows a drifted header as a badge in the last import's cell, and none where it did not drift", async () => {
    stubFetch(() => [
      row("crm", {
        last_import: { deleted: 0, rejected_share: 0, rows_read: 10, rows_rejected: 0, rows_written: 10 },
        schema_drift: {
          compared_with: "2026-12-01",
          config_lines: "attributes:\n  - column: Region\n    name: region\n    type: string\n",
          gone: [],
          new: [
            { column: "Region", since: "2026-12-01" },
            { column: "Segment", since: "2026-12-03" },
          ],
          reordered: false,
          summary: "2 new columns since 2026-12-01",
        },
      }),
      row("hr", { schema_drift: null }),
    ]);
    renderWithProviders(<IntegrationsTable go={vi.fn()} />);
    await screen.findByText("crm");
    const header = screen.getAllByRole("columnheader").map((h) => h.textContent);
    const cell = screen.getByRole("row", { name: /crm/ }).querySelectorAll("td")[
      header.indexOf("Last import")
    ];
    expect(within(cell as HTMLElement).getByText("10 written")).toBeInTheDocument();
    fireEvent.click(within(cell as HTMLElement).getByRole("button", { name: "2 new columns since 12-01" }));
    const popover = await waitFor(() => {
      const found = document.querySelector("[data-drift-popover]");
      expect(found).not.toBeNull();
      return found as HTMLElement;
    });
    expect(
      [...popover.querySelectorAll("[data-new-column]")].map((c) => c.getAttribute("data-new-column")),
    ).toEqual(["Region", "Segment"]);
    expect(
      within(popover).getByText("crm: header changed (2 new columns since 2026-12-01)"),
    ).toBeInTheDocument();
    expect(screen.getByRole("row", { name: /hr/ }).querySelector("[data-drift]")).toBeNull();
  });
});
