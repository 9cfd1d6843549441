import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useRef } from "react";

import { type CheckBody, api } from "../common/api";
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

/**
 * A config checked with its sample mapped (the wizard asks on every change): a mutation whose
 * newer call supersedes the older one. The older request is aborted, and only the latest call's
 * answer reaches the page (a mutation observer follows its last `mutate`); unmounting aborts too.
 */
export const useSampleCheck = () => {
  const pending = useRef<AbortController | null>(null);
  useEffect(() => () => pending.current?.abort(), []);
  return useMutation({
    mutationFn: (body: CheckBody) => {
      pending.current?.abort();
      const controller = new AbortController();
      pending.current = controller;
      return api.checkConfig(body, controller.signal);
    },
  });
};
