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

describe("the integration page's deletions, volume guard and retention", () => {
  const settings = () => document.getElementById("settings") as HTMLElement;

  it("shows the deletion rule with the share of users a file may delete, its values as text", async () => {
    serve([importEntry(4)], {
      delete_when: { column: "Status", values: ["deleted", "erased", HOSTILE] },
      max_deleted: 0.1,
    });
    renderWithProviders(<IntegrationPage name="support" />);
    await screen.findByText("support.yaml");
    const rule = settings().querySelector("[data-delete-when='Status']");
    expect(rule).toHaveTextContent(
      `a row whose Status is deleted, erased or ${HOSTILE} deletes its user (trimmed, ignoring case); at most 10% of users per file`,
    );
    // a value from a config is text, never HTML
    expect(within(rule as HTMLElement).getByText(HOSTILE)).toHaveAttribute("title", HOSTILE);
    expect(document.querySelector("img")).toBeNull();
  });

  it("says none without a deletion rule, and the guard and retention in words", async () => {
    serve([importEntry(4)], { retain_days: 30 });
    renderWithProviders(<IntegrationPage name="support" />);
    await screen.findByText("support.yaml");
    expect(within(settings()).getByText("Deletions").nextElementSibling).toHaveTextContent(/^none$/);
    expect(settings().querySelector("[data-delete-when]")).toBeNull();
    expect(settings().querySelector("[data-volume-guard]")).toHaveTextContent(
      "fails a file with more than 50% fewer rows than the median of the last 5 imports, and one with a read column emptied in every row",
    );
    expect(settings().querySelector("[data-retention='30']")).toHaveTextContent(
      "moved files and reports are removed after 30 days",
    );
  });

  it("says the volume guard is off and the files are kept when nothing is set", async () => {
    serve([importEntry(4)], { guard_empty_columns: false, max_row_drop: null, retain_days: null });
    renderWithProviders(<IntegrationPage name="support" />);
    await screen.findByText("support.yaml");
    expect(settings().querySelector("[data-volume-guard]")).toHaveTextContent(/^off$/);
    expect(settings().querySelector("[data-retention='none']")).toHaveTextContent(
      "moved files and reports are kept until deleted",
    );
  });

  it("shows only the row-count guard when empty columns are not guarded", async () => {
    serve([importEntry(4)], { guard_empty_columns: false, max_row_drop: 0.3 });
    renderWithProviders(<IntegrationPage name="support" />);
    await screen.findByText("support.yaml");
    expect(settings().querySelector("[data-volume-guard]")).toHaveTextContent(
      /^fails a file with more than 30% fewer rows than the median of the last 5 imports$/,
    );
  });

  it("shows an import's deleted users with its other counts, and none where it deleted none", async () => {
    serve([importEntry(5, { deleted: 3, updated: 1 }), importEntry(4)]);
    renderWithProviders(<IntegrationPage name="support" />);
    await screen.findByText("support.yaml");
    const rows = document.querySelectorAll("#runs tbody tr");
    expect(within(rows[0] as HTMLElement).getByText("2 added, 1 changed, 3 deleted")).toBeInTheDocument();
    expect(rows[1]?.textContent).not.toContain("deleted");
  });

  it("shows an import past retention with a note instead of its reports, why and re-import", async () => {
    const rejected = {
      final_key: "support/failed/20260104T000000Z_export_4.csv",
      outcome: "failed",
      reports: [
        {
          key: "support/failed/20260104T000000Z_export_4.csv.rejected.csv",
          kind: "rejected rows",
          uri: "s3://exports/support/failed/20260104T000000Z_export_4.csv.rejected.csv",
        },
      ],
      rows_rejected: 2,
    };
    serve(
      [
        importEntry(5, { past_retention: true, reports: [], rows_rejected: 2 }),
        importEntry(4, rejected),
        importEntry(3, {
          ...rejected,
          final_key: "support/failed/x_3.csv",
          past_retention: true,
          reports: [],
        }),
      ],
      { retain_days: 30 },
    );
    renderWithProviders(<IntegrationPage name="support" />);
    await screen.findByText("support.yaml");
    const rows = [...document.querySelectorAll("#runs tbody tr")] as HTMLElement[];
    for (const past of [rows[0], rows[2]] as HTMLElement[]) {
      expect(past.querySelector("[data-past-retention]")).toHaveTextContent(
        "file and reports removed after 30 days (retention)",
      );
      expect(past.querySelector("[data-report]")).toBeNull();
      expect(past.querySelector("[data-why]")).toBeNull();
      expect(within(past).queryByRole("button", { name: "re-import" })).toBeNull();
    }
    // the import within retention keeps its links
    const kept = rows[1] as HTMLElement;
    expect(kept.querySelector("[data-past-retention]")).toBeNull();
    expect(within(kept).getByText("rejected rows")).toHaveAttribute("data-report");
    expect(kept.querySelector("[data-why]")).not.toBeNull();
    expect(within(kept).getByRole("button", { name: "re-import" })).toBeInTheDocument();
    // the latest import is past retention: no "why it failed" panel opens for it (its reports are gone)
    expect(document.getElementById("why-failed")).toBeNull();
  });
});
