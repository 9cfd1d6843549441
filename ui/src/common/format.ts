import type { ImportEntry } from "./api";

export const number = (value: number | null | undefined): string =>
  value === null || value === undefined ? "–" : value.toLocaleString("en-US");

export const when = (iso: string | null | undefined): string =>
  iso ? iso.slice(0, 19).replace("T", " ") : "–";

export const percent = (share: number | null | undefined): string =>
  share === null || share === undefined
    ? "–"
    : `${(share * 100).toFixed(share > 0 && share < 0.01 ? 2 : 0)}%`;

export const duration = (seconds: number | null | undefined): string => {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60
    ? `${minutes} min ${Math.round(seconds % 60)} s`
    : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
};

/** An import "skipped: same content, config and data" is benign: neutral, never red. */
export const isSkip = (entry: ImportEntry): boolean =>
  entry.outcome === "success" && (entry.error ?? "").startsWith("skipped");

export const outcomeOf = (entry: ImportEntry): string => (isSkip(entry) ? "skipped" : entry.outcome);
