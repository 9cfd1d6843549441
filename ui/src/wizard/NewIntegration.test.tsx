import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import type { CheckBody, ColumnProfile, ConfigCheck, Discovery, Problem } from "../common/api";
import { renderWithProviders, stubFetch } from "../test/render";
import { NewIntegration } from "./NewIntegration";
import { example, toYaml } from "./yaml";

// Discovery answers as POST /inbound/api/discover gives them for these exports (the fields the
// backend's discovery returns for them; tests/test_wizard_api.py checks the backend side).
const column = (name: string, type: string, samples: string[], more: Partial<ColumnProfile> = {}) => ({
  attribute: name,
  distinct: 1,
  empty: 0,
  format: null,
  formats: [],
  name,
  samples,
  type,
  ...more,
});

const discovery = (key: string, more: Partial<Discovery>): Discovery => ({
  aws_conn_id: "aws_default",
  bom: false,
  bucket: "acme",
  check: { name: null, ok: false, problems: [], sample: null, valid: false, yaml: "" },
  columns: [],
  complete: true,
  compressed: false,
  config: `name: ${key.replace(/\W+/g, "_").replace(/_csv$/, "")}\nsource:\n  key: "${key}"\n`,
  decimal: ".",
  delimiter: ";",
  encoding: "utf-8",
  encoding_hint: null,
  key,
  notes: [],
  pattern: null,
  read_bytes: 100,
  rows: 3,
  size: 100,
  uri: `s3://acme/${key}`,
  user_id_candidates: ["Email"],
  ...more,
});

const SCORES = discovery("crm/scores.csv", {
  columns: [
    column("Email", "string", ["a@x.io", "b@x.io", "c@x.io"]),
    column("Score", "number", ["38,5", "7", "12,25"]),
    column("Plan", "string", ["gold", "silver"]),
  ],
  decimal: ",",
});

const KUNDEN = discovery("crm/kunden.csv", {
  columns: [
    column("Kundennr.", "integer", ["1001", "1002"], { attribute: "kundennr" }),
    column("E-Mail", "string", ["anna@example.de", "ben@example.de"], { attribute: "e_mail" }),
    column("Geburtsdatum", "date", ["01.03.1980", "24.12.1975"], {
      format: "%d.%m.%Y",
      formats: ["%d.%m.%Y"],
    }),
    column("Vertragsbeginn", "date", ["01/02/2024", "03/04/2025"], {
      format: "%m/%d/%Y",
      formats: ["%m/%d/%Y", "%d/%m/%Y"],
    }),
  ],
  rows: 2,
  user_id_candidates: ["E-Mail", "Kundennr."],
});

const lineOf = (yaml: string, text: string): number => yaml.split("\n").indexOf(text) + 1;

/** POST /inbound/api/configs/check as the backend answers it: the yaml echoed, lines of that yaml. */
const answer = (body: CheckBody, more: Partial<ConfigCheck> = {}): ConfigCheck => ({
  name: /^name: (.+)$/m.exec(body.config)?.[1] ?? null,
  ok: true,
  problems: [],
  sample: {
    columns: [],
    error: null,
    max_rejected_ratio: 0.05,
    rejected: 0,
    rejected_ratio: 0,
    rows: 3,
    uri: body.sample?.uri ?? "",
  },
  valid: true,
  yaml: body.config,
  ...more,
});

/** Score typed integer: 2 of 3 sampled rows rejected, an error at the `type: integer` line. */
const misfit = (body: CheckBody): ConfigCheck => {
  const line = lineOf(body.config, "    type: integer");
  return answer(body, {
    problems: [
      {
        context: "",
        level: "error",
        line,
        message:
          "Score: 2 of 3 sampled rows: not a whole number (lines 2, 4); 2 of 3 sampled rows rejected (66.7%), max_rejected_ratio is 5.0%",
        setting: "attributes[0].type",
      },
    ],
    sample: {
      columns: [
        {
          attribute: "Score",
          column: "Score",
          kind: "invalid_value",
          lines: [2, 4],
          reason: "Score: '38,5' is not a whole number",
          rows: 2,
          values: ["38,5", "12,25"],
        },
      ],
      error: null,
      max_rejected_ratio: 0.05,
      rejected: 2,
      rejected_ratio: 2 / 3,
      rows: 3,
      uri: "s3://acme/crm/scores.csv",
    },
    valid: false,
  });
};

const wizard = (found: Discovery, check: (body: CheckBody) => ConfigCheck = answer) =>
  stubFetch((url, init) => {
    if (url.pathname === "/inbound/api/discover/connections") return ["aws_default"];
    if (url.pathname === "/inbound/api/discover") return found;
    if (url.pathname === "/inbound/api/configs/check")
      return check(JSON.parse(String(init?.body)) as CheckBody);
    throw new Error(`unexpected ${url.pathname}`);
  });

const checks = (calls: { body: unknown; url: URL }[]) =>
  calls.filter((c) => c.url.pathname === "/inbound/api/configs/check").map((c) => c.body as CheckBody);

const discover = async (key: string) => {
  renderWithProviders(<NewIntegration go={vi.fn()} />);
  await waitFor(() => expect(screen.getByLabelText("AWS connection")).toHaveValue("aws_default"));
  fireEvent.change(screen.getByLabelText("S3 location"), { target: { value: `s3://acme/${key}` } });
  fireEvent.click(screen.getByRole("button", { name: "Discover" }));
  await screen.findByText("1. Where is the export?");
  await waitFor(() => expect(document.querySelector("#columns")).not.toBeNull());
};

const verdict = () => document.querySelector("#config-check") as HTMLElement;
const checked = () => waitFor(() => expect(verdict()).toHaveAttribute("aria-busy", "false"));

describe("the new-integration wizard", () => {
  it('gives a decimal-comma export `number` with decimal ",", maps the sample and says valid', async () => {
    const calls = wizard(SCORES);
    await discover("crm/scores.csv");
    expect(screen.getByLabelText("Decimal mark")).toHaveValue(",");
    expect(screen.getByLabelText("Type of Score")).toHaveValue("number");
    expect(screen.getByLabelText("User ID column")).toHaveValue("Email");
    expect(screen.getByLabelText("Integration name")).toHaveValue("crm_scores");
    await checked();
    expect(within(verdict()).getByText("Valid")).toBeInTheDocument();
    expect(verdict()).toHaveAttribute("data-valid", "true");
    expect(screen.getByTestId("rejected-total")).toHaveTextContent("0 rejected");
    // the sample the check maps is the very file discovery read, with the same connection
    const [body] = checks(calls);
    expect(body.sample).toEqual({
      aws_conn_id: "aws_default",
      bytes: 1048576,
      uri: "s3://acme/crm/scores.csv",
    });
    expect(body.config).toContain('  decimal: ","');
    expect(body.config).toContain('  - column: "Score"\n    type: number');
    expect(document.querySelector("#config-yaml")).toHaveTextContent('decimal: ","');
  });

  it("gives a German-date export `date` with %d.%m.%Y selected, and offers the fitting layouts", async () => {
    const calls = wizard(KUNDEN);
    await discover("crm/kunden.csv");
    expect(screen.getByLabelText("User ID column")).toHaveValue("E-Mail");
    expect(screen.getByLabelText("Type of Geburtsdatum")).toHaveValue("date");
    const born = screen.getByLabelText("Layout of Geburtsdatum");
    expect(born).toHaveValue("%d.%m.%Y");
    expect(
      within(born)
        .getAllByRole("option")
        .map((o) => o.textContent),
    ).toEqual(["%d.%m.%Y (31.12.2026) · proposed"]);
    const since = screen.getByLabelText("Layout of Vertragsbeginn");
    expect(since).toHaveValue("%m/%d/%Y");
    expect(
      within(since)
        .getAllByRole("option")
        .map((o) => (o as HTMLOptionElement).value),
    ).toEqual(["%m/%d/%Y", "%d/%m/%Y"]);
    await checked();
    expect(within(verdict()).getByText("Valid")).toBeInTheDocument();
    expect(checks(calls)[0].config).toContain(
      '  - column: "Geburtsdatum"\n    type: date\n    format: "%d.%m.%Y"',
    );

    // another layout is checked again, with the sample
    fireEvent.change(since, { target: { value: "%d/%m/%Y" } });
    await waitFor(() => expect(checks(calls)).toHaveLength(2));
    expect(checks(calls)[1].config).toContain('format: "%d/%m/%Y"');
    expect(checks(calls)[1].sample?.uri).toBe("s3://acme/crm/kunden.csv");
    await checked();
  });

  it("shows the rejected rows of a misfitting type per column, and never says valid", async () => {
    const calls = wizard(SCORES, (body) =>
      body.config.includes("type: integer") ? misfit(body) : answer(body),
    );
    await discover("crm/scores.csv");
    await checked();
    expect(verdict()).toHaveAttribute("data-valid", "true");

    fireEvent.change(screen.getByLabelText("Type of Score"), { target: { value: "integer" } });
    await waitFor(() => expect(verdict()).toHaveAttribute("data-valid", "false"));
    expect(checks(calls).at(-1)?.config).toContain("type: integer");
    expect(verdict()).not.toHaveTextContent(/valid/i);
    expect(verdict()).toHaveTextContent(
      "2 of 3 sampled rows rejected (66.7%), above max_rejected_ratio 5.0%",
    );
    expect(screen.getByTestId("rejected-total")).toHaveTextContent("2 rejected");
    const score = document.querySelector("#rejected-columns tr[data-column='Score']") as HTMLElement;
    expect(score.querySelector("[data-rejected-rows]")).toHaveTextContent("2");
    expect(score.querySelector("[data-lines]")).toHaveTextContent("2, 4");
    expect(score).toHaveTextContent("is not a whole number");
  });

  it("lists every problem with its level, setting and line, the lines of the YAML shown", async () => {
    const twoProblems = (body: CheckBody): ConfigCheck => {
      const problems: Problem[] = [
        {
          context: "",
          level: "error",
          line: lineOf(body.config, "name: crm_scores"),
          message: "an integration named crm_scores exists already",
          setting: "name",
        },
        {
          context: "",
          level: "warning",
          line: lineOf(body.config, "    type: string"),
          message: "Plan: 1 of 3 sampled rows: value too long (line 3)",
          setting: "attributes[1].type",
        },
      ];
      return answer(body, { ok: false, problems, sample: null, valid: false });
    };
    wizard(SCORES, twoProblems);
    await discover("crm/scores.csv");
    await checked();
    const items = within(document.querySelector("#config-problems") as HTMLElement).getAllByRole("listitem");
    expect(items).toHaveLength(2);
    const yaml = document.querySelector("#config-yaml") as HTMLElement;
    const expected = [
      ["error", "name", "name: crm_scores"],
      ["warning", "attributes[1].type", "    type: string"],
    ];
    items.forEach((item, i) => {
      const [level, setting, text] = expected[i];
      const line = Number(item.getAttribute("data-line"));
      expect(item).toHaveTextContent(level);
      expect(within(item).getByTestId("problem-setting")).toHaveTextContent(setting);
      expect(within(item).getByTestId("problem-line")).toHaveTextContent(`line ${line}`);
      const shown = yaml.querySelector(`[data-line='${line}']`) as HTMLElement;
      expect(shown.textContent).toBe(text); // the line the problem cites, in the YAML on the page
      expect(shown).toHaveAttribute("data-level", level);
    });
    expect(yaml.querySelectorAll("[data-level]")).toHaveLength(2);
    expect(verdict()).not.toHaveTextContent(/valid/i);
    expect(verdict()).toHaveTextContent("does not load or clashes with the other configs (1 error below)");
  });

  it("labels every input", async () => {
    wizard(KUNDEN);
    await discover("crm/kunden.csv");
    for (const label of [
      "S3 location",
      "AWS connection",
      "User ID column",
      "Decimal mark",
      "Import Geburtsdatum",
      "Attribute name for Geburtsdatum",
      "Type of Geburtsdatum",
      "Layout of Geburtsdatum",
      "Integration name",
      "Schedule",
    ])
      expect(screen.getByLabelText(label)).toBeInTheDocument();
    const unlabelled = [...document.querySelectorAll("input, select")].filter(
      (el) =>
        !el.getAttribute("aria-label") &&
        !(el.id && document.querySelector(`label[for='${CSS.escape(el.id)}']`)),
    );
    expect(unlabelled).toEqual([]);
    // a type with no layout of discovery's gets a layout to type, labelled too
    fireEvent.change(screen.getByLabelText("Type of Geburtsdatum"), { target: { value: "timestamp" } });
    expect(screen.getByLabelText("Layout of Geburtsdatum")).toHaveValue("");
  });

  it("aborts a check a newer one supersedes, and shows only the newer answer", async () => {
    const signals: AbortSignal[] = [];
    const answers: ((body: ConfigCheck) => void)[] = [];
    const bodies: CheckBody[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
        const url = new URL(String(input));
        const json = (value: unknown) => new Response(JSON.stringify(value));
        if (url.pathname === "/inbound/api/discover/connections") return json(["aws_default"]);
        if (url.pathname === "/inbound/api/discover") return json(SCORES);
        const body = JSON.parse(String(init?.body)) as CheckBody;
        bodies.push(body);
        if (init?.signal) signals.push(init.signal);
        return new Promise<Response>((resolve, reject) => {
          init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
          answers.push((value) => resolve(json(value)));
        });
      }),
    );
    await discover("crm/scores.csv");
    await waitFor(() => expect(bodies).toHaveLength(1));
    fireEvent.change(screen.getByLabelText("Type of Score"), { target: { value: "integer" } });
    await waitFor(() => expect(bodies).toHaveLength(2));
    expect(signals[0].aborted).toBe(true);
    expect(signals[1].aborted).toBe(false);
    answers[1](misfit(bodies[1]));
    await waitFor(() => expect(verdict()).toHaveAttribute("data-valid", "false"));
    expect(screen.getByTestId("rejected-total")).toHaveTextContent("2 rejected");
  });
});

describe("the YAML the choices make", () => {
  it("writes the decimal mark and a layout only for dates and timestamps", () => {
    const yaml = toYaml(SCORES, { decimal: ",", name: "scores", schedule: "@daily", userId: "Email" }, [
      { column: "Email", format: null, include: true, name: "Email", type: "string" },
      { column: "Score", format: "%d.%m.%Y", include: true, name: "score", type: "number" },
      { column: "Plan", format: "%d.%m.%Y", include: true, name: "Plan", type: "date" },
    ]);
    expect(yaml).toContain('  decimal: ","\n');
    expect(yaml).toContain('  - column: "Score"\n    name: score\n    type: number\n  - column: "Plan"');
    expect(yaml).toContain('    type: date\n    format: "%d.%m.%Y"\n');
    expect(yaml).not.toContain('column: "Email"\n    type');
  });

  it("writes a layout out as an example date", () => {
    expect(example("%m/%d/%Y")).toBe("12/31/2026");
    expect(example("%d/%m/%Y")).toBe("31/12/2026");
    expect(example("%d.%m.%y %I:%M %p")).toBe("31.12.26 01:45 PM");
  });
});
