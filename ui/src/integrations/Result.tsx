import { Badge } from "@chakra-ui/react";

import type { Result } from "../common/api";
import { resultPalette } from "../common/format";

/** A run's result as a badge; the reason (a failure's error) on hover and for screen readers. */
export const ResultBadge = ({ result, reason }: { readonly result: Result | string; readonly reason?: string | null }) => (
  <Badge colorPalette={resultPalette(result)} title={reason ?? result} variant="subtle" data-result={result}>
    {result}
    {reason ? <span style={{ position: "absolute", left: "-10000px" }}>: {reason}</span> : null}
  </Badge>
);
