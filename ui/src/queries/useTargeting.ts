import { keepPreviousData, useQuery } from "@tanstack/react-query";

import { api } from "../common/api";
import { keys } from "./keys";

/** The attributes a rule may use, each saying whether its integration ever imported. */
export const useAttributes = () =>
  useQuery({ queryFn: ({ signal }) => api.attributes(signal), queryKey: keys.attributes, staleTime: 60_000 });

/**
 * A complete rule's count, of how many users, with a sample; nothing is asked for an incomplete
 * rule (`rule` null). A rule that changes while its count is on the way cancels that request.
 */
export const useSegment = (rule: unknown, sample = 10) =>
  useQuery({
    enabled: rule !== null,
    placeholderData: keepPreviousData,
    queryFn: ({ signal }) => api.segment(rule, sample, signal),
    queryKey: keys.segment(rule),
    retry: false,
  });

/** One user's attributes, once an ID is submitted. */
export const useUser = (userId: string | null) =>
  useQuery({
    enabled: Boolean(userId),
    queryFn: ({ signal }) => api.user(userId ?? "", signal),
    queryKey: keys.user(userId ?? ""),
    retry: false,
  });
