import { useQuery, useQueryClient } from "@tanstack/react-query";

import { api, type RunResult } from "../common/api";
import { keys } from "./keys";

export const POLL_MS = 1000;
/** A run's status is polled at most this long; past it the page says so and stops asking. */
export const MAX_POLL_MS = 10 * 60 * 1000;
// A run that ended without an outcome (finalize never ran: marked by hand, or killed): after this
// many more looks the page says so rather than wait for one.
export const GRACE_POLLS = 8;
const TERMINAL = new Set(["failed", "success"]);

/** An integration's files in S3 (what a re-import may name). */
export const useFiles = (name: string) =>
  useQuery({ queryFn: ({ signal }) => api.files(name, signal), queryKey: keys.files(name) });

/** A run as polled: its status, when the polling began, when it last answered, its looks at an ended run. */
export interface Polled {
  at: number;
  firstAt: number;
  looks: number;
  run: RunResult;
}

/**
 * Whether the run has ended: its outcome is pushed (finalize, the last task, pushes it as its last
 * act: the run's truth, also while Airflow still marks the run), or Airflow's state is terminal
 * and the grace for an outcome is spent.
 */
export const runEnded = (polled: Polled | undefined): boolean =>
  polled !== undefined &&
  (polled.run.result !== null || (TERMINAL.has(polled.run.state) && polled.looks > GRACE_POLLS));

const gaveUp = (polled: Polled | undefined): boolean =>
  polled !== undefined && !runEnded(polled) && polled.at - polled.firstAt > MAX_POLL_MS;

/**
 * One run's status, polled every POLL_MS until it ends, for at most MAX_POLL_MS, and never after
 * the page unmounts (a query without observers stops polling; its fetch is aborted).
 */
export const useRunStatus = (name: string, runId: string | null) => {
  const client = useQueryClient();
  const queryKey = keys.run(name, runId ?? "");
  const query = useQuery({
    enabled: runId !== null,
    queryFn: async ({ signal }): Promise<Polled> => {
      const before = client.getQueryData<Polled>(queryKey);
      const run = await api.run(name, runId ?? "", signal);
      const at = Date.now();
      return {
        at,
        firstAt: before?.firstAt ?? at,
        looks: (before?.looks ?? 0) + (TERMINAL.has(run.state) ? 1 : 0),
        run,
      };
    },
    queryKey,
    refetchInterval: (q) => (runEnded(q.state.data) || gaveUp(q.state.data) ? false : POLL_MS),
    refetchIntervalInBackground: true,
    retry: 3,
    staleTime: 0,
  });
  return { ...query, ended: runEnded(query.data), run: query.data?.run, timedOut: gaveUp(query.data) };
};
