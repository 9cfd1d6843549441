import { useMutation, useQueryClient } from "@tanstack/react-query";

import { api } from "../common/api";

/**
 * On/off and "run now": Airflow's own REST API with the caller's session, so Airflow checks the
 * rights (a 403 comes back as the error). Both refresh the table and the integration's page.
 */
export const useSetPaused = () => {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ dagId, paused }: { dagId: string; name: string; paused: boolean }) =>
      api.setPaused(dagId, paused),
    onSettled: (_data, _error, { name }) =>
      Promise.all([
        client.invalidateQueries({ queryKey: ["integrations", "table"] }),
        client.invalidateQueries({ queryKey: ["integrations", "detail", name] }),
      ]),
  });
};

export const useTrigger = () => {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ conf, dagId }: { conf?: Record<string, unknown>; dagId: string; name: string }) =>
      api.trigger(dagId, conf),
    onSuccess: (_data, { name }) =>
      Promise.all([
        client.invalidateQueries({ queryKey: ["integrations", "table"] }),
        client.invalidateQueries({ queryKey: ["integrations", "detail", name] }),
      ]),
  });
};
