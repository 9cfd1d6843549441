import { QueryClient } from "@tanstack/react-query";

import { ApiError } from "../common/api";

/** The app's query client: no refetch on focus (an operator's page, not a feed), no retry of a 4xx. */
export const createQueryClient = () =>
  new QueryClient({
    defaultOptions: {
      mutations: { retry: false },
      queries: {
        refetchOnWindowFocus: false,
        retry: (failures, error) => !(error instanceof ApiError && error.status < 500) && failures < 2,
        staleTime: 10_000,
      },
    },
  });
