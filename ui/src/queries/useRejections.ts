import { useQuery } from "@tanstack/react-query";

import { api } from "../common/api";
import { keys } from "./keys";

/** Why one import failed: its rejected rows grouped, with the fix (nothing asked without a key). */
export const useRejections = (name: string, key: string | null) =>
  useQuery({
    enabled: key !== null,
    queryFn: ({ signal }) => api.rejections(name, key ?? "", signal),
    queryKey: keys.rejections(name, key ?? ""),
    retry: false,
    staleTime: 60_000,
  });
