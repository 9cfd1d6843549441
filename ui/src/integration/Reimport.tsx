import { Badge, Box, Button, HStack, Link, NativeSelect, Table, Text } from "@chakra-ui/react";
import { useCallback, useEffect, useRef, useState } from "react";

import {
  api,
  type FileEntry,
  type FileOutcome,
  type Files,
  type RejectedLines,
  type RunResult,
  type RunSummary,
  runLinks,
} from "../common/api";
import { number, when } from "../common/format";
import { ReportLink } from "./ReportLink";

const POLL_MS = 1500;
// A run that ended without an outcome (finalize never ran: the run was marked by hand, or killed):
// after this many more looks, the page says so rather than wait forever.
const GRACE_POLLS = 8;
const TERMINAL = new Set(["success", "failed"]);

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Stage =
  | { step: "idle" }
  | { step: "running"; dryRun: boolean; key: string; runId?: string }
  | { step: "done"; dryRun: boolean; key: string; run: RunResult }
  | { step: "error"; message: string };

/** A file's last outcome in words: what the import log says of it (or that nothing has read it yet). */
const lastOutcome = (f: FileEntry): string => {
  if (!f.last_outcome) return f.folder === "waiting" ? "not imported yet" : "no outcome in the recent log";
  if (f.last_outcome === "success" && (f.reason ?? "").startsWith("skipped")) return "last import: skipped (same content)";
  return `last import: ${f.last_outcome}`;
};

const FOLDER_WORDS: Record<string, string> = { waiting: "waiting", failed: "in failed/", success: "in success/" };

const optionLabel = (f: FileEntry): string =>
  `${f.key} (${FOLDER_WORDS[f.folder] ?? f.folder}; ${lastOutcome(f)}; ${when(f.last_modified)})`;

/** The run's own outcome, never Airflow's state alone: what the badge says and its color. */
const verdict = (run: RunResult, dryRun: boolean): { label: string; palette: string } => {
  const outcome = run.result?.outcome;
  if (!outcome) return { label: `run ${run.state}, no outcome`, palette: "gray" };
  if (dryRun) {
    if (outcome === "previewed") return { label: "dry run: would import", palette: "blue" };
    if (outcome === "failed") return { label: "dry run: would fail", palette: "red" };
    return { label: `dry run: ${outcome}`, palette: "gray" };
  }
  return { label: outcome, palette: outcome === "success" ? "green" : outcome === "failed" ? "red" : "gray" };
};

/** What a dry run would do: adds, changes, clears, removals and rejects. */
const Counts = ({ summary }: { readonly summary: RunSummary }) => {
  const parts: [string, number | undefined][] = [
    ["add", summary.inserted],
    ["change", summary.updated],
    ["clear", summary.cleared],
    ["remove", summary.removed],
    ["reject", summary.rows_rejected],
  ];
  return (
    <HStack gap={4} wrap="wrap" mt={1}>
      {parts.map(([label, value]) => (
        <Text key={label} fontSize="sm" data-count={label}>
          {label} <b>{number(value ?? 0)}</b>
        </Text>
      ))}
    </HStack>
  );
};

/** The rejected rows of a run's files, by kind and column, with their first line numbers (no values). */
const Rejected = ({ results }: { readonly results: FileOutcome[] }) => {
  const groups: (RejectedLines & { file: string })[] = results.flatMap((r) =>
    (r.rejected_lines?.length ? r.rejected_lines : (r.rejected_by ?? []).map((g) => ({ ...g, lines: [] }))).map(
      (g) => ({ ...g, file: r.file?.key ?? "" }),
    ),
  );
  if (!groups.length) return null;
  const files = new Set(groups.map((g) => g.file)).size;
  return (
    <Table.Root size="sm" mt={2} id="rejected-rows" maxW="60rem">
      <Table.Caption captionSide="top" textAlign="start" fontWeight="semibold" mt={0} mb={1}>
        Rejected rows by reason and column
      </Table.Caption>
      <Table.Header>
        <Table.Row>
          {files > 1 ? <Table.ColumnHeader>File</Table.ColumnHeader> : null}
          <Table.ColumnHeader>Reason</Table.ColumnHeader>
          <Table.ColumnHeader>Column</Table.ColumnHeader>
          <Table.ColumnHeader textAlign="end">Rows</Table.ColumnHeader>
          <Table.ColumnHeader>Lines</Table.ColumnHeader>
        </Table.Row>
      </Table.Header>
      <Table.Body>
        {groups.map((g) => (
          <Table.Row key={`${g.file}|${g.kind}|${g.column ?? ""}`} data-kind={g.kind} data-column={g.column ?? ""}>
            {files > 1 ? (
              <Table.Cell fontFamily="mono" fontSize="xs">
                {g.file}
              </Table.Cell>
            ) : null}
            <Table.Cell>{g.kind.replaceAll("_", " ")}</Table.Cell>
            <Table.Cell fontFamily="mono">{g.column ?? "–"}</Table.Cell>
            <Table.Cell textAlign="end">{number(g.rows)}</Table.Cell>
            <Table.Cell fontSize="xs" data-lines>
              {g.lines.length ? `${g.lines.join(", ")}${g.rows > g.lines.length ? ", …" : ""}` : "–"}
            </Table.Cell>
          </Table.Row>
        ))}
      </Table.Body>
    </Table.Root>
  );
};

/** A finished run as the page reports it: its outcome and message, the run, its reports, and for a dry run the detail. */
const Outcome = ({
  name,
  dagId,
  stage,
}: {
  readonly name: string;
  readonly dagId: string;
  readonly stage: Extract<Stage, { step: "done" }>;
}) => {
  const { run, dryRun } = stage;
  const result = run.result;
  const { label, palette } = verdict(run, dryRun);
  const results = result?.summary?.results ?? [];
  const reports = dryRun ? [] : results.flatMap((r) => r.report_keys ?? []);
  const runLink = runLinks(`airflow:${dagId}/${run.run_id}`)?.run;
  return (
    <Box
      mt={2}
      data-testid={dryRun ? "preview" : "import-result"}
      data-outcome={result?.outcome ?? ""}
      data-run-state={run.state}
      role="status"
    >
      <HStack gap={2} wrap="wrap" align="baseline">
        <Badge colorPalette={palette}>{label}</Badge>
        <Text color={result?.outcome === "failed" ? "red.fg" : undefined} data-message wordBreak="break-word">
          {result
            ? result.message
            : `The run ended ${run.state} without reporting an outcome (its finalize task did not run); see the run.`}
        </Text>
      </HStack>
      {dryRun && result?.summary ? <Counts summary={result.summary} /> : null}
      {dryRun ? <Rejected results={results} /> : null}
      <HStack gap={3} mt={1} wrap="wrap" fontSize="sm">
        {runLink ? (
          <Link href={runLink} colorPalette="blue">
            See the run
          </Link>
        ) : null}
        {reports.map((key) => (
          <ReportLink key={key} name={name} reportKey={key}>
            {key.endsWith(".error.txt") ? "error report" : key.endsWith(".rejected.csv") ? "rejected rows" : "report"}
          </ReportLink>
        ))}
      </HStack>
    </Box>
  );
};

/**
 * Re-import one file: picked from the integration's files (waiting, failed/, success/, newest first,
 * with their last outcome), a dry run first, then the import. Both are runs of the integration's DAG
 * with the `key` and `dry_run` params, triggered through Airflow's REST API with the caller's own
 * rights; what the page says comes from the outcome the run's `finalize` task reports, never from
 * Airflow's run state alone. After an import the key follows the file to where it went.
 */
export const Reimport = ({
  name,
  dagId,
  preferredKey,
  request,
  canTrigger,
  onDone,
}: {
  readonly name: string;
  readonly dagId: string;
  readonly preferredKey: string | null;
  readonly request: { key: string; n: number } | null;
  readonly canTrigger: boolean;
  readonly onDone: () => void;
}) => {
  const [files, setFiles] = useState<Files | null>(null);
  const [filesError, setFilesError] = useState<string | null>(null);
  const [key, setKey] = useState("");
  const [note, setNote] = useState<string | null>(null);
  const [stage, setStage] = useState<Stage>({ step: "idle" });
  const alive = useRef(true);
  useEffect(
    () => () => {
      alive.current = false;
    },
    [],
  );

  const loadFiles = useCallback(async (): Promise<Files | null> => {
    try {
      const found = await api.files(name);
      if (alive.current) {
        setFiles(found);
        setFilesError(null);
      }
      return found;
    } catch (e) {
      if (alive.current) setFilesError((e as Error).message);
      return null;
    }
  }, [name]);

  // First load: the page's latest failed file if it is still there, else the newest file in
  // failed/, else none chosen. Chosen once: later reloads of the page do not take the pick away.
  const preselected = useRef(false);
  const preferred = useRef(preferredKey);
  preferred.current = preferredKey;
  useEffect(() => {
    void loadFiles().then((found) => {
      if (!found || !alive.current || preselected.current) return;
      preselected.current = true;
      const failed = found.files.filter((f) => f.folder === "failed");
      setKey(failed.find((f) => f.key === preferred.current)?.key ?? failed[0]?.key ?? "");
    });
  }, [loadFiles]);

  // A history row's "re-import": that file, if it is still in the bucket; else say where it is not.
  useEffect(() => {
    if (!request || !files) return;
    setStage({ step: "idle" });
    if (files.files.some((f) => f.key === request.key)) {
      setKey(request.key);
      setNote(null);
    } else {
      setNote(`${request.key} is no longer in the bucket (a later run moved it on, or it was removed): pick a file from the list.`);
    }
    // Only on a new request (not on each refreshed list, which must not replay an old one).
  }, [request]);

  const follow = async (runId: string): Promise<RunResult> => {
    let grace = GRACE_POLLS;
    for (;;) {
      const run = await api.run(name, runId);
      if (TERMINAL.has(run.state) && (run.result || grace-- <= 0)) return run;
      await wait(POLL_MS);
      if (!alive.current) return run;
    }
  };

  const start = async (dryRun: boolean) => {
    const picked = key;
    setNote(null);
    setStage({ step: "running", dryRun, key: picked });
    try {
      const { dag_run_id: runId } = await api.trigger(dagId, { key: picked, dry_run: dryRun });
      setStage({ step: "running", dryRun, key: picked, runId });
      const run = await follow(runId);
      if (!alive.current) return;
      setStage({ step: "done", dryRun, key: picked, run });
      if (dryRun) return;
      onDone();
      // The key follows the file: where this run moved it, if it is there; else nothing is chosen.
      const moved = (run.result?.summary?.results ?? []).find((r) => r.file?.key === picked)?.final_key;
      const found = await loadFiles();
      const keys = new Set((found?.files ?? []).map((f) => f.key));
      const next = moved && keys.has(moved) ? moved : keys.has(picked) ? picked : "";
      if (alive.current) setKey(next);
    } catch (e) {
      if (alive.current) setStage({ step: "error", message: (e as Error).message });
    }
  };

  const busy = stage.step === "running";
  const chosen = files?.files.find((f) => f.key === key);
  const wouldImport =
    stage.step === "done" &&
    stage.dryRun &&
    stage.key === key &&
    stage.run.state === "success" &&
    stage.run.result?.outcome === "previewed";
  const runLink = stage.step === "running" && stage.runId ? runLinks(`airflow:${dagId}/${stage.runId}`)?.run : null;
  return (
    <Box borderWidth="1px" borderRadius="md" p={3} id="reimport">
      <HStack gap={2} wrap="wrap">
        <NativeSelect.Root size="sm" width="44rem" maxW="100%" disabled={!files || busy}>
          <NativeSelect.Field
            aria-label="File to re-import"
            fontFamily="mono"
            value={key}
            onChange={(e) => {
              setKey(e.target.value);
              setNote(null);
              setStage({ step: "idle" });
            }}
          >
            <option value="">{files ? (files.files.length ? "Choose a file…" : "No files in the bucket") : "Loading files…"}</option>
            {(files?.files ?? []).map((f) => (
              <option key={f.key} value={f.key} data-folder={f.folder}>
                {optionLabel(f)}
              </option>
            ))}
          </NativeSelect.Field>
          <NativeSelect.Indicator />
        </NativeSelect.Root>
        <Button size="sm" onClick={() => void start(true)} disabled={!canTrigger || busy || !key} loading={busy && stage.dryRun}>
          Re-import (dry run first)
        </Button>
        {wouldImport ? (
          <Button size="sm" colorPalette="blue" onClick={() => void start(false)} disabled={!canTrigger || busy}>
            Import now
          </Button>
        ) : null}
        <Button size="sm" variant="ghost" onClick={() => void loadFiles()} disabled={busy}>
          Refresh files
        </Button>
      </HStack>
      {chosen ? (
        <Text fontSize="xs" color="fg.muted" mt={1} data-testid="chosen-file">
          {FOLDER_WORDS[chosen.folder] ?? chosen.folder}, {number(chosen.size)} bytes, {lastOutcome(chosen)}
          {chosen.reason ? `: ${chosen.reason}` : ""}
        </Text>
      ) : null}
      {files?.truncated ? (
        <Text fontSize="xs" color="fg.muted" mt={1}>
          Only the newest {files.files.length} files are listed; older ones exist.
        </Text>
      ) : null}
      {filesError ? (
        <Text mt={2} color="red.fg" role="alert">
          The files could not be listed: {filesError}
        </Text>
      ) : null}
      {note ? (
        <Text mt={2} fontSize="sm" color="fg.muted">
          {note}
        </Text>
      ) : null}
      {!canTrigger ? (
        <Text fontSize="sm" color="fg.muted" mt={2}>
          You may view this integration but not trigger its DAG, so re-import is disabled.
        </Text>
      ) : null}
      {stage.step === "running" ? (
        <HStack mt={2} gap={2}>
          <Text>
            The {stage.dryRun ? "dry run" : "import"} of <code>{stage.key}</code> is running…
          </Text>
          {runLink ? (
            <Link href={runLink} colorPalette="blue" fontSize="sm">
              See the run
            </Link>
          ) : null}
        </HStack>
      ) : null}
      {stage.step === "done" ? <Outcome name={name} dagId={dagId} stage={stage} /> : null}
      {stage.step === "done" && stage.dryRun && !wouldImport && stage.key === key && stage.run.result ? (
        <Text fontSize="sm" color="fg.muted" mt={1}>
          Fix the config or the file, then run the dry run again.
        </Text>
      ) : null}
      {stage.step === "error" ? (
        <Text mt={2} color="red.fg" role="alert">
          {stage.message}
        </Text>
      ) : null}
    </Box>
  );
};
