import { Badge, Box, Button, HStack, Input, Link, Text } from "@chakra-ui/react";
import { useState } from "react";

import { api, runLinks } from "./api";

type Stage =
  | { step: "idle" }
  | { step: "running"; what: string }
  | { step: "previewed"; summary: unknown }
  | { step: "done"; state: string; runId: string }
  | { step: "error"; message: string };

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const finish = async (dagId: string, runId: string): Promise<string> => {
  for (;;) {
    const run = await api.dagRun(dagId, runId);
    if (["success", "failed"].includes(run.state)) return run.state;
    await wait(1500);
  }
};

interface Summary {
  rows_read?: number;
  rows_rejected?: number;
  inserted?: number;
  updated?: number;
  cleared?: number;
  removed?: number;
  results?: { error?: string | null; file?: { key?: string } }[];
}

/** What a dry run would do, from its finalize summary: adds, changes, clears, removals and rejects. */
const Counts = ({ summary }: { readonly summary: unknown }) => {
  const s = (summary ?? {}) as Summary;
  const parts: [string, number | undefined][] = [
    ["add", s.inserted],
    ["change", s.updated],
    ["clear", s.cleared],
    ["remove", s.removed],
    ["reject", s.rows_rejected],
  ];
  const errors = (s.results ?? []).filter((r) => r.error);
  return (
    <Box>
      <HStack gap={4} wrap="wrap">
        {parts.map(([label, value]) => (
          <Text key={label} fontSize="sm" data-count={label}>
            {label} <b>{(value ?? 0).toLocaleString("en-US")}</b>
          </Text>
        ))}
      </HStack>
      {errors.map((r, i) => (
        <Text key={i} fontSize="sm" color="red.fg">
          {r.file?.key}: {r.error}
        </Text>
      ))}
    </Box>
  );
};

/**
 * Re-import one file: a dry run first (what it would add, change, clear and reject), then the real
 * import. Both are runs of the integration's DAG with the `key` and `dry_run` params, triggered
 * through Airflow's REST API with the caller's own rights.
 */
export const Reimport = ({
  dagId,
  initialKey,
  canTrigger,
  onDone,
}: {
  readonly dagId: string;
  readonly initialKey: string;
  readonly canTrigger: boolean;
  readonly onDone: () => void;
}) => {
  const [key, setKey] = useState(initialKey);
  const [stage, setStage] = useState<Stage>({ step: "idle" });
  const busy = stage.step === "running";

  const run = async (dryRun: boolean) => {
    setStage({ step: "running", what: dryRun ? "dry run" : "import" });
    try {
      const { dag_run_id: runId } = await api.trigger(dagId, { key, dry_run: dryRun });
      const state = await finish(dagId, runId);
      if (dryRun && state === "success") {
        const summary = await api.finalized(dagId, runId).then((x) => x.value).catch(() => null);
        setStage({ step: "previewed", summary });
      } else {
        setStage({ step: "done", state, runId });
        onDone();
      }
    } catch (e) {
      setStage({ step: "error", message: (e as Error).message });
    }
  };

  return (
    <Box borderWidth="1px" borderRadius="md" p={3} id="reimport">
      <HStack gap={2} wrap="wrap">
        <Input
          aria-label="Object key to re-import"
          size="sm"
          fontFamily="mono"
          value={key}
          onChange={(e) => {
            setKey(e.target.value);
            setStage({ step: "idle" });
          }}
          width="32rem"
          maxW="100%"
        />
        <Button size="sm" onClick={() => void run(true)} disabled={!canTrigger || busy || !key} loading={busy}>
          Re-import (dry run first)
        </Button>
        {stage.step === "previewed" ? (
          <Button size="sm" colorPalette="blue" onClick={() => void run(false)} disabled={!canTrigger}>
            Import now
          </Button>
        ) : null}
      </HStack>
      {!canTrigger ? (
        <Text fontSize="sm" color="fg.muted" mt={2}>
          You may view this integration but not trigger its DAG, so re-import is disabled.
        </Text>
      ) : null}
      {stage.step === "running" ? <Text mt={2}>The {stage.what} is running…</Text> : null}
      {stage.step === "previewed" ? (
        <Box mt={2} data-testid="preview">
          <Text fontWeight="semibold">The dry run would:</Text>
          <Counts summary={stage.summary} />
        </Box>
      ) : null}
      {stage.step === "done" ? (
        <HStack mt={2} gap={2} role="status">
          <Badge colorPalette={stage.state === "success" ? "green" : "red"}>{stage.state}</Badge>
          <Text>The import {stage.state === "success" ? "succeeded" : "failed"}.</Text>
          <Link href={runLinks(`airflow:${dagId}/${stage.runId}`)?.run} colorPalette="blue">
            See the run
          </Link>
        </HStack>
      ) : null}
      {stage.step === "error" ? (
        <Text mt={2} color="red.fg" role="alert">
          {stage.message}
        </Text>
      ) : null}
    </Box>
  );
};
