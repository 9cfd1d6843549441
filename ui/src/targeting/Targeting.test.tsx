import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { renderWithProviders, stubFetch } from "../test/render";
import { Targeting, isComplete } from "./Targeting";

const ATTRIBUTES = [
  { attribute: "crm_plan", imported: true, integration: "crm", type: "string" },
  { attribute: "open_tickets", imported: true, integration: "crm", type: "integer" },
  { attribute: "tier", imported: false, integration: "billing", type: "string" },
];

const route = (url: URL) => {
  if (url.pathname === "/inbound/api/attributes") return ATTRIBUTES;
  if (url.pathname === "/inbound/api/segments/evaluate")
    return { count: 2, sample: ["ada@x", "cy@x"], total: 3 };
  throw new Error(`unexpected ${url.pathname}`);
};

const segmentCalls = (calls: { body: unknown; url: URL }[]) =>
  calls.filter((c) => c.url.pathname.endsWith("/segments/evaluate"));

describe("the rule builder", () => {
  it("counts nothing until the rule is complete, then N of M users with the sample as a list", async () => {
    const calls = stubFetch(route);
    renderWithProviders(<Targeting go={vi.fn()} />);
    fireEvent.click(await screen.findByRole("button", { name: "+ condition" }));
    expect(screen.getByTestId("incomplete")).toBeInTheDocument();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(segmentCalls(calls)).toHaveLength(0);
    expect(document.querySelector("#segment-count")).toBeNull();

    fireEvent.change(screen.getByLabelText("Value"), { target: { value: "premium" } });
    await waitFor(() =>
      expect(document.querySelector("#segment-count")).toHaveTextContent("2 of 3 users match"),
    );
    expect(document.querySelector("#segment-count b")).toHaveTextContent("2");
    const asked = segmentCalls(calls);
    expect(asked).toHaveLength(1);
    expect(asked[0].url.searchParams.get("total")).toBe("true");
    expect(asked[0].body).toEqual({ all: [{ attribute: "crm_plan", op: "eq", value: "premium" }] });
    const items = screen.getByTestId("segment-sample").querySelectorAll("li");
    expect([...items].map((li) => li.textContent)).toEqual(["ada@x", "cy@x"]);
  });

  it("marks the attributes of an integration that never imported", async () => {
    stubFetch(route);
    renderWithProviders(<Targeting go={vi.fn()} />);
    fireEvent.click(await screen.findByRole("button", { name: "+ condition" }));
    expect(screen.getByRole("option", { name: /tier \(string\) · never imported/ })).toBeInTheDocument();
    expect(document.querySelector("optgroup[label='billing (never imported)']")).not.toBeNull();
    fireEvent.change(screen.getByLabelText("Attribute"), { target: { value: "tier" } });
    expect(document.querySelector("[data-never-imported]")).toHaveTextContent("never imported");
  });

  it("knows a complete rule", () => {
    const types = { n: "integer", plan: "string" };
    expect(isComplete({ items: [], kind: "all" }, types)).toBe(false);
    expect(isComplete({ items: [{ attribute: "plan", op: "eq", value: "" }], kind: "all" }, types)).toBe(
      false,
    );
    expect(isComplete({ items: [{ attribute: "plan", op: "exists" }], kind: "all" }, types)).toBe(true);
    expect(isComplete({ items: [{ attribute: "n", op: "gt", value: "x" }], kind: "all" }, types)).toBe(false);
    expect(isComplete({ items: [{ attribute: "n", op: "gt", value: 2 }], kind: "all" }, types)).toBe(true);
    expect(isComplete({ items: [{ items: [], kind: "any" }], kind: "all" }, types)).toBe(false);
    expect(
      isComplete({ items: [{ attribute: "plan", op: "in", value: ["a", ""] }], kind: "all" }, types),
    ).toBe(false);
  });
});
