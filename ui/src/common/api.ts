// The plugin's JSON API (include/inbound/web/) and the Airflow REST calls the pages make (a
// re-import or "run now" is a DAG run; on/off is the DAG's pause state).
// Every call is same-origin with the caller's own session (the `_token` cookie Airflow's UI
// sets), so the plugin can never do more than its user may. Every call takes an AbortSignal:
// TanStack Query cancels a request whose page is gone (src/queries/).
//
// The types come from the plugin's OpenAPI schema (ui/openapi.json, written by
// scripts/openapi.py; src/common/openapi.ts by `npm run gen:types`). Where a route has no
// response model yet, a hand type stands in, marked TODO(openapi).
import type { components } from "./openapi";

type Schemas = components["schemas"];

export type Result = Schemas["Outcome"];
// `can_edit`: the caller's edit right on the row's DAG (null for a broken config).
export type IntegrationRow = Schemas["IntegrationRow"];
export type RecentRun = Schemas["RecentRun"];
export type MappingView = Schemas["MappingView"];
/** How an integration's header drifted as of its last successful import (null: it did not). */
export type SchemaDrift = Schemas["SchemaDrift"];

// TODO(openapi): GET /api/integrations/{name} types `runs` as plain objects (dict[str, Any]).
export interface Report {
  key: string;
  kind: string;
  uri: string;
}

// TODO(openapi): GET /api/integrations/{name} has no model for an import-log entry.
export interface ImportEntry {
  attributes: number;
  cleared: number;
  config_version: string | null;
  /** Users the import deleted (`delete_when`). */
  deleted: number;
  /** How this import's header changed from the one before, in a sentence (null: it did not). */
  drift: string | null;
  error: string | null;
  final_key: string | null;
  finished_at: string;
  id: number;
  inserted: number;
  integration: string;
  outcome: string;
  /** Its moved file and reports are past retention (`retain_days`): removed daily, so no links (`reports` empty). */
  past_retention: boolean;
  removed: number;
  reports: Report[];
  rows_read: number;
  rows_rejected: number;
  rows_written: number;
  source_file: string;
  triggered_by: string;
  unchanged: number;
  updated: number;
}

export type Detail = Omit<Schemas["Detail"], "runs"> & { runs: ImportEntry[] };

/** One import's rejected rows grouped by column and reason, with a verified fix (`GET .../rejections`). */
export type Rejections = Schemas["Rejections"];
export type RejectionGroup = Schemas["RejectionGroup"];

/** One file a re-import may name (`GET /inbound/api/integrations/{name}/files`). */
export type FileEntry = Schemas["FileView"];
export type Files = Schemas["FilesView"];

/** Rejected rows of one kind and column, with their first line numbers (never values). */
export interface RejectedLines {
  kind: string;
  column: string | null;
  rows: number;
  lines: number[];
}

// TODO(openapi): a run's outcome (`inbound_outcome`) is untyped in the schema; these mirror FileResult/RunSummary.
/** One file of a run's summary (`FileResult.to_json`), the fields the UI reads. */
export interface FileOutcome {
  file?: { key?: string; bucket?: string };
  outcome?: string;
  error?: string | null;
  rows_read?: number;
  rows_rejected?: number;
  rejected_by?: { kind: string; column: string | null; rows: number }[];
  rejected_lines?: RejectedLines[];
  final_key?: string | null;
  report_keys?: string[];
}

/** A run's summary (`RunSummary.to_json`). */
export interface RunSummary {
  outcome?: string;
  rows_read?: number;
  rows_written?: number;
  rows_rejected?: number;
  inserted?: number;
  updated?: number;
  unchanged?: number;
  cleared?: number;
  removed?: number;
  deleted?: number;
  results?: FileOutcome[];
}

/** What a run's `finalize` task pushes as `inbound_outcome`: the truth about the run. */
export interface RunOutcome {
  outcome: string; // success | failed | previewed | no new file
  state: string; // success | failed | skipped
  dry_run: boolean;
  message: string;
  summary: RunSummary | null;
}

/** `GET /inbound/api/integrations/{name}/runs/{run_id}`: Airflow's state, and the outcome once pushed. */
// TODO(openapi): GET /api/integrations/{name}/runs/{run_id} has no response model.
export interface RunResult {
  run_id: string;
  state: string;
  result: RunOutcome | null;
}

export type Attribute = Schemas["AttributeView"];
export type Segment = Schemas["SegmentView"];

// TODO(openapi): GET /api/users/{user_id} has no response model (response_model=None).
export interface UserAttributes {
  user_id: string;
  attributes: Record<string, unknown>;
  sources: Record<string, { integration: string; file: string; updated_at: string }>;
}

export type ColumnProfile = Schemas["Column"];
export type Discovery = Schemas["Discovery"];
export type ConfigCheck = Schemas["ConfigCheck"];
export type CheckBody = Schemas["CheckBody"];
export type SampleCheck = Schemas["SampleCheck"];
export type Problem = Schemas["Problem"];
export type RejectedColumn = Schemas["RejectedColumn"];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A URL under Airflow's base (Airflow may be served under a path prefix). */
export const airflowUrl = (path: string): string => new URL(path.replace(/^\//, ""), document.baseURI).href;

type Init = Omit<RequestInit, "body"> & { body?: unknown };

const call = async <T>(path: string, { body, headers, ...init }: Init = {}): Promise<T> => {
  const response = await fetch(airflowUrl(path), {
    credentials: "same-origin",
    ...init,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { Accept: "application/json", "Content-Type": "application/json", ...headers },
  });
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      const parsed = JSON.parse(text) as { detail?: unknown };
      message = typeof parsed.detail === "string" ? parsed.detail : JSON.stringify(parsed.detail ?? parsed);
    } catch {
      // not JSON: the text as it came
    }
    throw new ApiError(response.status, message || response.statusText);
  }
  return (text ? JSON.parse(text) : null) as T;
};

const enc = encodeURIComponent;
type Signal = AbortSignal | undefined;

// TODO(openapi): GET /api/integrations/{name}/reports?check=true has no response model.
export interface ReportCheck {
  exists: boolean;
  key: string;
  reason: string | null;
  size: number | null;
}

export const api = {
  attributes: (signal?: Signal) => call<Attribute[]>("/inbound/api/attributes?imports=true", { signal }),
  check: (config: string, signal?: Signal) =>
    call<ConfigCheck>("/inbound/api/configs/check", { body: { config }, method: "POST", signal }),
  /** A config checked against the others and, given `sample`, that export mapped with it. */
  checkConfig: (body: CheckBody, signal?: Signal) =>
    call<ConfigCheck>("/inbound/api/configs/check", { body, method: "POST", signal }),
  /** Whether a report is still there, and why not when it is gone (answered 200 either way). */
  checkReport: (name: string, key: string, signal?: Signal) =>
    call<ReportCheck>(`/inbound/api/integrations/${enc(name)}/reports?key=${enc(key)}&check=true`, {
      signal,
    }),
  connections: (signal?: Signal) => call<string[]>("/inbound/api/discover/connections", { signal }),
  discover: (uri: string, awsConnId: string, signal?: Signal) =>
    call<Discovery>("/inbound/api/discover", {
      body: { aws_conn_id: awsConnId, uri },
      method: "POST",
      signal,
    }),
  files: (name: string, signal?: Signal) =>
    call<Files>(`/inbound/api/integrations/${enc(name)}/files`, { signal }),
  integration: (name: string, offset: number, limit: number, signal?: Signal) =>
    call<Detail>(`/inbound/api/integrations/${enc(name)}?runs_offset=${offset}&runs_limit=${limit}`, {
      signal,
    }),
  integrations: (signal?: Signal) => call<IntegrationRow[]>("/inbound/api/integrations", { signal }),
  /** One import's rejected rows by column and reason, with the suggested fix (`key`: the moved file). */
  rejections: (name: string, key: string, signal?: Signal) =>
    call<Rejections>(`/inbound/api/integrations/${enc(name)}/rejections?key=${enc(key)}`, { signal }),
  reportUrl: (name: string, key: string) =>
    airflowUrl(`/inbound/api/integrations/${enc(name)}/reports?key=${enc(key)}`),
  run: (name: string, runId: string, signal?: Signal) =>
    call<RunResult>(`/inbound/api/integrations/${enc(name)}/runs/${enc(runId)}`, { signal }),
  segment: (rule: unknown, sample: number, signal?: Signal) =>
    call<Segment>(`/inbound/api/segments/evaluate?sample=${sample}&total=true`, {
      body: rule,
      method: "POST",
      signal,
    }),
  // Airflow's own REST API, with the caller's rights: on/off is the DAG's pause state.
  setPaused: (dagId: string, isPaused: boolean) =>
    call<{ dag_id: string; is_paused: boolean }>(`/api/v2/dags/${enc(dagId)}?update_mask=is_paused`, {
      body: { is_paused: isPaused },
      method: "PATCH",
    }),
  // A re-import or "run now" is a DAG run (with params for a re-import).
  trigger: (dagId: string, conf: Record<string, unknown> = {}) =>
    call<{ dag_run_id: string }>(`/api/v2/dags/${enc(dagId)}/dagRuns`, {
      body: { conf, logical_date: null },
      method: "POST",
    }),
  user: (userId: string, signal?: Signal) =>
    call<UserAttributes>(`/inbound/api/users/${enc(userId)}`, { signal }),
};

/** Airflow's pages for a run and for the task that wrote the store, from an import's `triggered_by`. */
export const runLinks = (triggeredBy: string): { log: string; run: string } | null => {
  const match = /^airflow:([^/]+)\/(.+)$/.exec(triggeredBy);
  if (!match) return null;
  const [, dagId, runId] = match;
  const run = airflowUrl(`/dags/${enc(dagId)}/runs/${enc(runId)}`);
  return { log: `${run}/tasks/upsert_attributes`, run };
};
