import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { RunResult } from "../common/api";
import { StateBadge } from "../common/states";
import { renderWithProviders } from "../test/render";
import { Outcome, verdict } from "./Reimport";

const run = (outcome: string | null, state = "success", message = ""): RunResult => ({
  result: outcome
    ? {
        dry_run: false,
        message,
        outcome,
        state,
        summary: {
          inserted: 2,
          removed: 0,
          results: [
            {
              file: { key: "crm/failed/a.csv" },
              rejected_lines: [{ column: "Tier", kind: "not_a_number", lines: [3, 7], rows: 2 }],
            },
          ],
          rows_rejected: 2,
          updated: 1,
        },
      }
    : null,
  run_id: "manual__1",
  state,
});

describe("the outcome of a re-import", () => {
  it("names a dry run's verdict, never Airflow's state alone", () => {
    expect(verdict(run("previewed"), true)).toEqual({ label: "dry run: would import", state: "previewed" });
    expect(verdict(run("failed", "failed"), true)).toEqual({ label: "dry run: would fail", state: "failed" });
    expect(verdict(run(null, "failed"), false)).toEqual({ label: "run failed, no outcome", state: "none" });
    expect(verdict(run("success"), false)).toEqual({ label: "success", state: "success" });
  });

  it("renders a dry run: badge, message, counts and the rejected rows by column", () => {
    renderWithProviders(
      <Outcome
        dagId="inbound_crm"
        name="crm"
        stage={{
          dryRun: true,
          key: "crm/failed/a.csv",
          run: run("previewed", "success", "would import 3 rows"),
          step: "done",
        }}
      />,
    );
    expect(screen.getByTestId("preview")).toHaveAttribute("data-outcome", "previewed");
    expect(screen.getByText("dry run: would import")).toBeInTheDocument();
    expect(screen.getByText("would import 3 rows")).toBeInTheDocument();
    expect(document.querySelector("[data-count='add'] b")).toHaveTextContent("2");
    expect(document.querySelector("[data-count='reject'] b")).toHaveTextContent("2");
    expect(document.querySelector("[data-count='delete']")).toBeNull(); // it deletes no user
    expect(
      document.querySelector("#rejected-rows tr[data-kind='not_a_number'] [data-lines]"),
    ).toHaveTextContent("3, 7");
  });

  it("counts the users a dry run would delete", () => {
    const deleting = run("previewed", "success", "would import 3 rows");
    if (deleting.result?.summary) deleting.result.summary.deleted = 4;
    renderWithProviders(
      <Outcome
        dagId="inbound_crm"
        name="crm"
        stage={{ dryRun: true, key: "crm/failed/a.csv", run: deleting, step: "done" }}
      />,
    );
    expect(document.querySelector("[data-count='delete'] b")).toHaveTextContent("4");
  });

  it("says so when a run ended without an outcome", () => {
    renderWithProviders(
      <Outcome
        dagId="inbound_crm"
        name="crm"
        stage={{ dryRun: false, key: "k", run: run(null, "failed"), step: "done" }}
      />,
    );
    expect(screen.getByText(/ended failed without reporting an outcome/)).toBeInTheDocument();
    expect(screen.getByTestId("import-result")).toHaveAttribute("data-run-state", "failed");
  });

  it("shows a result badge with its icon and the reason as its title", () => {
    renderWithProviders(<StateBadge reason="Tier: not a number" state="failed" />);
    const badge = screen.getByText("failed").closest("[data-result]");
    expect(badge).toHaveAttribute("title", "Tier: not a number");
    expect(badge?.querySelector("svg")).not.toBeNull();
  });
});
