import type { ImportEntry, Result } from "./api";

export const number = (value: number | null | undefined): string =>
  value === null || value === undefined ? "–" : value.toLocaleString("en-US");

export const when = (iso: string | null | undefined): string =>
  iso ? iso.slice(0, 19).replace("T", " ") : "–";

/** A result's color: green for success, red for a failure, neutral for everything benign. */
export const resultPalette = (result: Result | string): string =>
  result === "success" ? "green" : result === "failed" || result === "config error" ? "red" : "gray";

/** An import "skipped: same content, config and data" is benign: neutral, never red. */
export const isSkip = (entry: ImportEntry): boolean =>
  entry.outcome === "success" && (entry.error ?? "").startsWith("skipped");

export const outcomeOf = (entry: ImportEntry): string => (isSkip(entry) ? "skipped" : entry.outcome);
