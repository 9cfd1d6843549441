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

/** A moment relative to now, as a monitor says it: "5 min ago", "in 2 h" ("–" for none). */
export const relative = (iso: string | null | undefined, now: number = Date.now()): string => {
  if (!iso) return "–";
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  if (Number.isNaN(seconds)) return "–";
  const size = Math.abs(seconds);
  const span =
    size < 60
      ? `${size} s`
      : size < 3600
        ? `${Math.round(size / 60)} min`
        : size < 172_800
          ? `${Math.round(size / 3600)} h`
          : `${Math.round(size / 86_400)} d`;
  return seconds < 0 ? `${span} ago` : `in ${span}`;
};
