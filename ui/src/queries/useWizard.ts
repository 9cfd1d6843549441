import { useMutation, useQuery } from "@tanstack/react-query";

import { api } from "../common/api";
import { keys } from "./keys";

/** The AWS connections the configs use (the wizard's choices). */
export const useConnections = () =>
  useQuery({ queryFn: ({ signal }) => api.connections(signal), queryKey: keys.connections });

/** Discovery of one export: a mutation (an action the user starts, not a resource on the page). */
export const useDiscover = () =>
  useMutation({ mutationFn: ({ conn, uri }: { conn: string; uri: string }) => api.discover(uri, conn) });

/** The proposed YAML, checked against the current configs (nothing asked while it is empty). */
export const useConfigCheck = (config: string) =>
  useQuery({
    enabled: config !== "",
    queryFn: ({ signal }) => api.check(config, signal),
    queryKey: keys.check(config),
    retry: false,
  });
