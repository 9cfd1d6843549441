// The config the wizard's choices make, in the layout `inbound discover` proposes, and the
// date/timestamp layouts shown as an example date (so %m/%d/%Y and %d/%m/%Y read apart).
import type { ColumnProfile, Discovery } from "../common/api";

export const TYPES = ["string", "integer", "number", "boolean", "date", "timestamp"];
export const DECIMALS = [
  { label: '"." (1234.5)', value: "." },
  { label: '"," (1.234,5)', value: "," },
];

/** One column as the user chose to import it. */
export interface Choice {
  column: string;
  format: string | null; // the date/timestamp layout; null: ISO-8601
  include: boolean;
  name: string;
  type: string;
}

/** The choices that are not per column. */
export interface Settings {
  decimal: string;
  name: string;
  schedule: string;
  userId: string;
}

const quoted = (value: string): string => JSON.stringify(value);

export const isTemporal = (type: string): boolean => type === "date" || type === "timestamp";

/** The key (or key pattern) the proposal's config names: a date in the file name became `*` there. */
export const proposedKey = (d: Discovery): string => {
  const written = /^ {2}key: (".*?")(?: {2}#.*)?$/m.exec(d.config)?.[1];
  if (written) {
    try {
      return JSON.parse(written) as string;
    } catch {
      // not a JSON string: the sampled key below
    }
  }
  return d.pattern ?? d.key;
};

export const proposedName = (config: string): string =>
  /^name: (.+)$/m.exec(config)?.[1]?.trim() ?? "new_integration";

/** The first choices: every column as discovery typed it, all but the user ID imported. */
export const initialChoices = (columns: ColumnProfile[], userId: string): Choice[] =>
  columns.map((c) => ({
    column: c.name,
    format: c.format,
    include: c.name !== userId,
    name: c.attribute,
    type: c.type,
  }));

/** A type change: discovery's layout back for its own type, ISO-8601 for another date/timestamp type. */
export const retyped = (choice: Choice, profile: ColumnProfile | undefined, type: string): Choice => ({
  ...choice,
  format: profile && type === profile.type ? profile.format : null,
  type,
});

export const toYaml = (d: Discovery, s: Settings, choices: Choice[]): string => {
  const lines = [
    "# yaml-language-server: $schema=../../integration.schema.json",
    `# Made with the New integration wizard from ${d.rows} sampled rows of ${d.uri}.`,
    `name: ${s.name}`,
    `schedule: ${quoted(s.schedule)}`,
    "source:",
    `  bucket: ${quoted(d.bucket)}`,
    `  key: ${quoted(proposedKey(d))}`,
    `  aws_conn_id: ${quoted(d.aws_conn_id)}`,
    "format:",
    `  delimiter: ${quoted(d.delimiter)}`,
    `  encoding: ${d.encoding}`,
    `  decimal: ${quoted(s.decimal)}`,
    "user_id:",
    `  column: ${quoted(s.userId)}`,
    "attributes:",
  ];
  for (const c of choices) {
    if (!c.include || c.column === s.userId) continue;
    lines.push(`  - column: ${quoted(c.column)}`);
    if (c.name !== c.column) lines.push(`    name: ${c.name}`);
    lines.push(`    type: ${c.type}`);
    if (c.format && isTemporal(c.type)) lines.push(`    format: ${quoted(c.format)}`);
  }
  return `${lines.join("\n")}\n`;
};

const EXAMPLE: Record<string, string> = {
  d: "31",
  H: "13",
  I: "01",
  M: "45",
  m: "12",
  p: "PM",
  S: "30",
  Y: "2026",
  y: "26",
};

/** A layout written out for 31 December 2026, 13:45:30 (`%d.%m.%Y` -> `31.12.2026`). */
export const example = (layout: string): string =>
  layout.replace(/%([A-Za-z%])/g, (all, code: string) => (code === "%" ? "%" : (EXAMPLE[code] ?? all)));
