import { Box, Button, HStack, Link, NativeSelect, Table, Text } from "@chakra-ui/react";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";

import {
  api,
  type FileEntry,
  type FileOutcome,
  type RejectedLines,
  type RunResult,
  type RunSummary,
  runLinks,
} from "../common/api";
import { number, when } from "../common/format";
import { ErrorAlert, StateBadge } from "../common/states";
import { toaster } from "../common/toaster";
import { keys } from "../queries/keys";
import { useTrigger } from "../queries/useDagActions";
import { useFiles, useRunStatus } from "../queries/useReimport";
import { ReportLink } from "./ReportLink";

type Stage =
  | { step: "idle" }
  | { step: "running"; dryRun: boolean; key: string; runId: string | null }
  | { step: "done"; dryRun: boolean; key: string; run: RunResult }
  | { step: "error"; message: string };

/** A file's last outcome in words: what the import log says of it (or that nothing has read it yet). */
const lastOutcome = (f: FileEntry): string => {
  if (!f.last_outcome) return f.folder === "waiting" ? "not imported yet" : "no outcome in the recent log";
  if (f.last_outcome === "success" && (f.reason ?? "").startsWith("skipped"))
    return "last import: skipped (same content)";
  return `last import: ${f.last_outcome}`;
};

const FOLDER_WORDS: Record<string, string> = {
  failed: "in failed/",
  success: "in success/",
  waiting: "waiting",
};

const optionLabel = (f: FileEntry): string =>
  `${f.key} (${FOLDER_WORDS[f.folder] ?? f.folder}; ${lastOutcome(f)}; ${when(f.last_modified)})`;

/** The run's own outcome, never Airflow's state alone: what the badge says and the state it shows. */
export const verdict = (run: RunResult, dryRun: boolean): { label: string; state: string } => {
  const outcome = run.result?.outcome;
  if (!outcome) return { label: `run ${run.state}, no outcome`, state: "none" };
  if (dryRun) {
    if (outcome === "previewed") return { label: "dry run: would import", state: "previewed" };
    if (outcome === "failed") return { label: "dry run: would fail", state: "failed" };
    return { label: `dry run: ${outcome}`, state: outcome };
  }
  return { label: outcome, state: outcome };
};

/** What a dry run would do: adds, changes, clears, removals, deletions (`delete_when`, when any) and rejects. */
const Counts = ({ summary }: { readonly summary: RunSummary }) => {
  const parts: [string, number | undefined][] = [
    ["add", summary.inserted],
    ["change", summary.updated],
    ["clear", summary.cleared],
    ["remove", summary.removed],
    ...(summary.deleted ? ([["delete", summary.deleted]] as [string, number][]) : []),
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
    (r.rejected_lines?.length
      ? r.rejected_lines
      : (r.rejected_by ?? []).map((g) => ({ ...g, lines: [] }))
    ).map((g) => ({ ...g, file: r.file?.key ?? "" })),
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
          <Table.Row
            key={`${g.file}|${g.kind}|${g.column ?? ""}`}
            data-kind={g.kind}
            data-column={g.column ?? ""}
          >
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
export const Outcome = ({
  dagId,
  name,
  stage,
}: {
  readonly name: string;
  readonly dagId: string;
  readonly stage: Extract<Stage, { step: "done" }>;
}) => {
  const { dryRun, run } = stage;
  const result = run.result;
  const { label, state } = verdict(run, dryRun);
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
        <StateBadge state={state}>{label}</StateBadge>
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
          <Link href={runLink} colorPalette="brand">
            See the run
          </Link>
        ) : null}
        {reports.map((key) => (
          <ReportLink key={key} name={name} reportKey={key}>
            {key.endsWith(".error.txt")
              ? "error report"
              : key.endsWith(".rejected.csv")
                ? "rejected rows"
                : "report"}
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
  canTrigger,
  dagId,
  name,
  preferredKey,
  request,
}: {
  readonly canTrigger: boolean;
  readonly dagId: string;
  readonly name: string;
  readonly preferredKey: string | null;
  readonly request: { key: string; n: number } | null;
}) => {
  const client = useQueryClient();
  const filesQuery = useFiles(name);
  const files = filesQuery.data;
  const trigger = useTrigger();
  const [key, setKey] = useState("");
  const [note, setNote] = useState<string | null>(null);
  const [stage, setStage] = useState<Stage>({ step: "idle" });
  const runId = stage.step === "running" ? stage.runId : null;
  const status = useRunStatus(name, runId);

  // First list: the page's latest failed file if it is still there, else the newest file in
  // failed/, else none chosen. Chosen once: later lists do not take the pick away.
  // (State adjusted while rendering, as React advises, rather than in an effect.)
  const [preselected, setPreselected] = useState(false);
  if (files && !preselected) {
    setPreselected(true);
    const failed = files.files.filter((f) => f.folder === "failed");
    setKey(failed.find((f) => f.key === preferredKey)?.key ?? failed[0]?.key ?? "");
  }

  // A history row's "re-import": that file, if it is still in the bucket; else say where it is not.
  // Only on a new request (not on each refreshed list, which must not replay an old one).
  const [seenRequest, setSeenRequest] = useState(request);
  if (request && files && request !== seenRequest) {
    setSeenRequest(request);
    setStage({ step: "idle" });
    if (files.files.some((f) => f.key === request.key)) {
      setKey(request.key);
      setNote(null);
    } else {
      setNote(
        `${request.key} is no longer in the bucket (a later run moved it on, or it was removed): pick a file from the list.`,
      );
    }
  }

  // What the page shows: the run's outcome once it ended, a message when its polling gave up.
  const shown: Stage =
    stage.step !== "running" || !stage.runId
      ? stage
      : status.ended && status.run
        ? { dryRun: stage.dryRun, key: stage.key, run: status.run, step: "done" }
        : status.timedOut
          ? {
              message: "The run is still not finished after 10 minutes: see the run in Airflow.",
              step: "error",
            }
          : status.error
            ? { message: status.error.message, step: "error" }
            : stage;

  // Once per ended run: a toast; after an import, the page's data refreshed and the key following
  // the file to where the run moved it.
  const handled = useRef<string | null>(null);
  const endedRun = shown.step === "done" && stage.step === "running" ? stage.runId : null;
  useEffect(() => {
    if (!endedRun || handled.current === endedRun || shown.step !== "done") return;
    handled.current = endedRun;
    const { dryRun, key: picked, run } = shown;
    toaster.create({
      title: `${dryRun ? "Dry run" : "Import"} of ${picked}: ${verdict(run, dryRun).label}`,
      type: run.result?.outcome === "failed" ? "error" : "success",
    });
    if (dryRun) return;
    const moved = (run.result?.summary?.results ?? []).find((r) => r.file?.key === picked)?.final_key;
    void Promise.all([
      client.invalidateQueries({ queryKey: ["integrations", "table"] }),
      client.invalidateQueries({ queryKey: keys.integrationAll(name) }),
      client.fetchQuery({
        queryFn: ({ signal }) => api.files(name, signal),
        queryKey: keys.files(name),
        staleTime: 0,
      }),
    ]).then(([, , found]) => {
      const present = new Set(found.files.map((f) => f.key));
      setKey(moved && present.has(moved) ? moved : present.has(picked) ? picked : "");
    });
  }, [endedRun, shown, client, name]);

  const start = (dryRun: boolean) => {
    const picked = key;
    setNote(null);
    setStage({ dryRun, key: picked, runId: null, step: "running" });
    trigger.mutate(
      { conf: { dry_run: dryRun, key: picked }, dagId, name },
      {
        onError: (error) => {
          setStage({ message: error.message, step: "error" });
          toaster.create({
            closable: true,
            description: error.message,
            title: "The run could not start",
            type: "error",
          });
        },
        onSuccess: ({ dag_run_id: started }) =>
          setStage({ dryRun, key: picked, runId: started, step: "running" }),
      },
    );
  };

  const busy = shown.step === "running";
  const chosen = files?.files.find((f) => f.key === key);
  const wouldImport =
    shown.step === "done" &&
    shown.dryRun &&
    shown.key === key &&
    shown.run.result?.state === "success" &&
    shown.run.result?.outcome === "previewed";
  const runLink =
    shown.step === "running" && shown.runId ? runLinks(`airflow:${dagId}/${shown.runId}`)?.run : null;
  return (
    <Box borderRadius="md" borderWidth="1px" id="reimport" p={3}>
      <HStack gap={2} wrap="wrap">
        <NativeSelect.Root disabled={!files || busy} maxW="100%" size="sm" width="44rem">
          <NativeSelect.Field
            aria-label="File to re-import"
            fontFamily="mono"
            onChange={(e) => {
              setKey(e.target.value);
              setNote(null);
              setStage({ step: "idle" });
            }}
            value={key}
          >
            <option value="">
              {files ? (files.files.length ? "Choose a file…" : "No files in the bucket") : "Loading files…"}
            </option>
            {(files?.files ?? []).map((f) => (
              <option data-folder={f.folder} key={f.key} value={f.key}>
                {optionLabel(f)}
              </option>
            ))}
          </NativeSelect.Field>
          <NativeSelect.Indicator />
        </NativeSelect.Root>
        <Button
          disabled={!canTrigger || busy || !key}
          loading={busy && shown.dryRun}
          onClick={() => start(true)}
          size="sm"
        >
          Re-import (dry run first)
        </Button>
        {wouldImport ? (
          <Button colorPalette="brand" disabled={!canTrigger || busy} onClick={() => start(false)} size="sm">
            Import now
          </Button>
        ) : null}
        <Button disabled={busy} onClick={() => void filesQuery.refetch()} size="sm" variant="ghost">
          Refresh files
        </Button>
      </HStack>
      {chosen ? (
        <Text color="fg.muted" data-testid="chosen-file" fontSize="xs" mt={1}>
          {FOLDER_WORDS[chosen.folder] ?? chosen.folder}, {number(chosen.size)} bytes, {lastOutcome(chosen)}
          {chosen.reason ? `: ${chosen.reason}` : ""}
        </Text>
      ) : null}
      {files?.truncated ? (
        <Text color="fg.muted" fontSize="xs" mt={1}>
          Only the newest {files.files.length} files are listed; older ones exist.
        </Text>
      ) : null}
      <ErrorAlert error={filesQuery.error} title="The files could not be listed" />
      {note ? (
        <Text color="fg.muted" fontSize="sm" mt={2}>
          {note}
        </Text>
      ) : null}
      {!canTrigger ? (
        <Text color="fg.muted" fontSize="sm" mt={2}>
          You may view this integration but not trigger its DAG, so re-import is disabled.
        </Text>
      ) : null}
      {shown.step === "running" ? (
        <HStack gap={2} mt={2}>
          <StateBadge state="running" />
          <Text>
            The {shown.dryRun ? "dry run" : "import"} of <code>{shown.key}</code> is running…
          </Text>
          {runLink ? (
            <Link colorPalette="brand" fontSize="sm" href={runLink}>
              See the run
            </Link>
          ) : null}
        </HStack>
      ) : null}
      {shown.step === "done" ? <Outcome dagId={dagId} name={name} stage={shown} /> : null}
      {shown.step === "done" && shown.dryRun && !wouldImport && shown.key === key && shown.run.result ? (
        <Text color="fg.muted" fontSize="sm" mt={1}>
          Fix the config or the file, then run the dry run again.
        </Text>
      ) : null}
      {shown.step === "error" ? <ErrorAlert error={shown.message} /> : null}
    </Box>
  );
};
