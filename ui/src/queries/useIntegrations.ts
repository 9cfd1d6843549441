import { keepPreviousData, useQuery } from "@tanstack/react-query";

import { api } from "../common/api";
import { keys } from "./keys";

/** The management table. */
export const useIntegrations = () =>
  useQuery({ queryFn: ({ signal }) => api.integrations(signal), queryKey: keys.integrations });

/** One integration with a page of its imports (the previous page stays shown while the next loads). */
export const useIntegration = (name: string, offset: number, limit: number) =>
  useQuery({
    placeholderData: keepPreviousData,
    queryFn: ({ signal }) => api.integration(name, offset, limit, signal),
    queryKey: keys.integration(name, offset, limit),
  });
