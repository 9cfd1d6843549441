import { screen, within } from "@testing-library/react";
import { beforeAll, describe, expect, it, vi } from "vitest";

import type { Detail, ImportEntry } from "../common/api";
import { importEntry, integrationDetail } from "../test/fixtures";
import { renderWithProviders, stubFetch } from "../test/render";
import { IntegrationPage } from "./IntegrationPage";

beforeAll(() => {
  Element.prototype.scrollIntoView = vi.fn(); // jsdom lays nothing out
});

const HOSTILE = "<img src=x onerror=alert(1)>";
const LINES = "attributes:\n  - column: Region\n    name: region\n    type: string\n";
const NOTE =
  "header changed: 1 new column since 2026-12-07 not read by the config ('Region'): map them or list them under `ignore_columns`";

const serve = (runs: ImportEntry[], overrides: Partial<Detail> = {}) =>
  stubFetch((url) => {
    if (url.pathname.endsWith("/files")) return { files: [], max_files: 200, truncated: false };
    return { ...integrationDetail(runs), ...overrides };
  });

describe("the integration page's header changes", () => {
  it("shows the drift in a section: new columns with their day, gone ones, the reordering, the config lines", async () => {
    serve([importEntry(4)], {
      schema_drift: {
        compared_with: "2026-12-07",
        config_lines: LINES,
        gone: ["Fax"],
        new: [
          { column: "Region", since: "2026-12-07" },
          { column: HOSTILE, since: "2026-12-08" },
        ],
        reordered: true,
        summary: "2 new columns since 2026-12-07, 1 column gone, columns reordered",
      },
    });
    renderWithProviders(<IntegrationPage name="support" />);
    const section = await screen.findByRole("region", {
      name: "Header changes: 2 new columns since 2026-12-07, 1 column gone, columns reordered",
    });
    expect([...section.querySelectorAll("[data-new-column]")].map((c) => c.textContent)).toEqual([
      "Regionsince 2026-12-07",
      `${HOSTILE}since 2026-12-08`,
    ]);
    expect(section.querySelector("[data-gone-column]")).toHaveTextContent("Fax");
    expect(section.querySelector("[data-reordered]")).toHaveTextContent("Columns reordered");
    expect(section.querySelector("[data-config-lines] pre")?.textContent).toBe(LINES);
    expect(
      within(section).getByRole("button", { name: "Copy the config lines to map the new columns" }),
    ).toBeInTheDocument();
    // a column name from an export's header is text, never HTML
    expect(within(section).getByText(HOSTILE)).toHaveAttribute("title", HOSTILE);
    expect(document.querySelector("img")).toBeNull();
  });

  it("shows no section when the header did not drift", async () => {
    serve([importEntry(4)]);
    renderWithProviders(<IntegrationPage name="support" />);
    await screen.findByText("support.yaml");
    expect(document.getElementById("header-changes")).toBeNull();
  });

  it("shows on_new_columns and ignore_columns among the settings, and whether new columns alert", async () => {
    serve([importEntry(4)], {
      alerts: {
        email: [],
        on_failure: true,
        on_new_columns: true,
        rejected_ratio_over: null,
        smtp_conn_id: "smtp_default",
        stale_after: null,
        webhook: null,
      },
      ignore_columns: ["Fax", HOSTILE],
      on_new_columns: "fail",
    });
    renderWithProviders(<IntegrationPage name="support" />);
    await screen.findByText("support.yaml");
    const settings = document.getElementById("settings") as HTMLElement;
    expect(settings.querySelector("[data-on-new-columns='fail']")).toHaveTextContent(
      "fail (a file with new columns the config does not read is not imported)",
    );
    const ignored = within(settings).getByTestId("ignore-columns");
    expect(within(ignored).getByText("Fax")).toBeInTheDocument();
    expect(within(ignored).getByText(HOSTILE)).toBeInTheDocument();
    expect(within(settings).getByText(/new columns: yes/)).toBeInTheDocument();
  });

  it("says none when no column is ignored", async () => {
    serve([importEntry(4)]);
    renderWithProviders(<IntegrationPage name="support" />);
    await screen.findByText("support.yaml");
    const settings = document.getElementById("settings") as HTMLElement;
    expect(settings.querySelector("[data-on-new-columns='warn']")).toHaveTextContent("warn");
    expect(within(settings).queryByTestId("ignore-columns")).toBeNull();
  });

  it("shows each import's header change under its outcome, and nothing for an import without one", async () => {
    serve([importEntry(5, { drift: NOTE }), importEntry(4)]);
    renderWithProviders(<IntegrationPage name="support" />);
    await screen.findByText("support.yaml");
    const rows = document.querySelectorAll("#runs tbody tr");
    expect(rows[0]?.querySelector("[data-drift]")).toHaveTextContent(NOTE);
    expect(rows[1]?.querySelector("[data-drift]")).toBeNull();
  });
});
