// The plugin's JSON API (include/inbound/web/) and the Airflow REST call a re-import
// needs (the trigger; the run's outcome comes from the plugin's API).
// Every call is same-origin with the caller's own session (the `_token` cookie Airflow's UI
// sets), so the plugin can never do more than its user may.

export type Result = "success" | "failed" | "running" | "no new file" | "never run" | "config error";

export interface IntegrationRow {
  name: string;
  dag_id: string | null;
  source: string | null;
  attributes_imported: number | null;
  users: number | null;
  schedule: string | null;
  schedule_words: string | null;
  last_run_at: string | null;
  last_run_result: Result;
  last_run_reason: string | null;
  ready_for_targeting: boolean;
  enabled: boolean | null;
  error: string | null;
  file: string | null;
  start: string | null;
  start_words: string | null;
}

export interface Report {
  kind: string;
  key: string;
  uri: string;
}

export interface ImportEntry {
  id: number;
  integration: string;
  source_file: string;
  config_version: string | null;
  outcome: string;
  rows_read: number;
  rows_written: number;
  rows_rejected: number;
  attributes: number;
  error: string | null;
  triggered_by: string;
  finished_at: string;
  final_key: string | null;
  inserted: number;
  updated: number;
  unchanged: number;
  cleared: number;
  removed: number;
  reports: Report[];
}

export interface Detail {
  name: string;
  dag_id: string;
  description: string | null;
  file: string | null;
  source: { uri: string; bucket: string; key: string; aws_conn_id: string };
  schedule: string;
  schedule_words: string;
  start: string;
  start_words: string;
  mode: string;
  blank: string;
  max_rejected_ratio: number;
  mirror_max_removed: number | null;
  enabled: boolean;
  users: number;
  user_id_column: string;
  mapping: { column: string; attribute: string; type: string; format: string | null }[];
  runs: ImportEntry[];
  runs_total: number;
  can_edit: boolean;
  can_trigger: boolean;
}

/** One file a re-import may name (`GET /inbound/api/integrations/{name}/files`). */
export interface FileEntry {
  key: string;
  folder: "waiting" | "failed" | "success";
  last_modified: string;
  size: number;
  etag: string;
  last_outcome: string | null;
  reason: string | null;
  last_import_at: string | null;
}

export interface Files {
  files: FileEntry[];
  truncated: boolean;
  max_files: number;
}

/** Rejected rows of one kind and column, with their first line numbers (never values). */
export interface RejectedLines {
  kind: string;
  column: string | null;
  rows: number;
  lines: number[];
}

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
export interface RunResult {
  run_id: string;
  state: string;
  result: RunOutcome | null;
}

export interface Attribute {
  attribute: string;
  type: string;
  integration: string;
}

export interface Segment {
  count: number;
  sample: string[];
}

export interface UserAttributes {
  user_id: string;
  attributes: Record<string, unknown>;
  sources: Record<string, { integration: string; file: string; updated_at: string }>;
}

export interface ColumnProfile {
  name: string;
  type: string;
  format: string | null;
  samples: string[];
  empty: number;
  distinct: number;
  attribute: string;
}

export interface Discovery {
  bucket: string;
  key: string;
  uri: string;
  aws_conn_id: string;
  encoding: string;
  delimiter: string;
  decimal: string;
  rows: number;
  complete: boolean;
  compressed: boolean;
  columns: ColumnProfile[];
  user_id_candidates: string[];
  notes: string[];
  pattern: string | null;
  config: string;
}

export interface ConfigCheck {
  ok: boolean;
  name: string | null;
  problems: { line: number | null; setting: string; message: string; context: string }[];
}

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

const call = async <T>(path: string, init?: RequestInit): Promise<T> => {
  const response = await fetch(airflowUrl(path), {
    credentials: "same-origin",
    ...init,
    headers: { Accept: "application/json", "Content-Type": "application/json", ...init?.headers },
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

export const api = {
  integrations: () => call<IntegrationRow[]>("/inbound/api/integrations"),
  integration: (name: string, offset = 0, limit = 20) =>
    call<Detail>(`/inbound/api/integrations/${enc(name)}?runs_offset=${offset}&runs_limit=${limit}`),
  setEnabled: (name: string, enabled: boolean) =>
    call<{ enabled: boolean }>(`/inbound/api/integrations/${enc(name)}/enabled`, {
      method: "POST",
      body: JSON.stringify({ enabled }),
    }),
  attributes: () => call<Attribute[]>("/inbound/api/attributes"),
  segment: (rule: unknown, sample = 10) =>
    call<Segment>(`/inbound/api/segments/evaluate?sample=${sample}`, { method: "POST", body: JSON.stringify(rule) }),
  connections: () => call<string[]>("/inbound/api/discover/connections"),
  discover: (uri: string, awsConnId: string) =>
    call<Discovery>("/inbound/api/discover", { method: "POST", body: JSON.stringify({ uri, aws_conn_id: awsConnId }) }),
  check: (config: string) =>
    call<ConfigCheck>("/inbound/api/configs/check", { method: "POST", body: JSON.stringify({ config }) }),
  user: (userId: string) => call<UserAttributes>(`/inbound/api/users/${enc(userId)}`),
  reportUrl: (name: string, key: string) => airflowUrl(`/inbound/api/integrations/${enc(name)}/reports?key=${enc(key)}`),
  /** Whether a report is still there, and why not when it is gone (answered 200 either way). */
  checkReport: (name: string, key: string) =>
    call<{ key: string; exists: boolean; size: number | null; reason: string | null }>(
      `/inbound/api/integrations/${enc(name)}/reports?key=${enc(key)}&check=true`,
    ),
  files: (name: string) => call<Files>(`/inbound/api/integrations/${enc(name)}/files`),
  run: (name: string, runId: string) => call<RunResult>(`/inbound/api/integrations/${enc(name)}/runs/${enc(runId)}`),
  // Airflow's own REST API, with the caller's rights: a re-import is a DAG run with params.
  trigger: (dagId: string, conf: Record<string, unknown>) =>
    call<{ dag_run_id: string }>(`/api/v2/dags/${enc(dagId)}/dagRuns`, {
      method: "POST",
      body: JSON.stringify({ logical_date: null, conf }),
    }),
};

/** Airflow's pages for a run and for the task that wrote the store, from an import's `triggered_by`. */
export const runLinks = (triggeredBy: string): { run: string; log: string } | null => {
  const match = /^airflow:([^/]+)\/(.+)$/.exec(triggeredBy);
  if (!match) return null;
  const [, dagId, runId] = match;
  const run = airflowUrl(`/dags/${enc(dagId)}/runs/${enc(runId)}`);
  return { run, log: `${run}/tasks/upsert_attributes` };
};
