// Loading, error and run-state display, with Chakra v3's components as Airflow's UI uses them:
// Skeleton while loading, an Alert with the server's message, a Badge with an icon per state.
import { Alert, Badge, Skeleton, Stack } from "@chakra-ui/react";
import type { ReactNode } from "react";
import { FiAlertTriangle, FiCheck, FiClock, FiMinus, FiPause, FiPlay, FiX } from "react-icons/fi";

/** Rows of skeleton where a table or a page is about to be. */
export const Loading = ({
  label = "Loading",
  rows = 4,
}: {
  readonly label?: string;
  readonly rows?: number;
}) => (
  <Stack aria-busy="true" aria-label={label} data-testid="loading" gap={2} role="status">
    {Array.from({ length: rows }, (_, i) => (
      <Skeleton height="6" key={i} />
    ))}
  </Stack>
);

/** An error the server gave (its `detail`), as an Alert, never bare red text. */
export const ErrorAlert = ({
  error,
  title,
}: {
  readonly error: Error | string | null | undefined;
  readonly title?: ReactNode;
}) => {
  if (!error) return null;
  const message = typeof error === "string" ? error : error.message;
  return (
    <Alert.Root my={2} role="alert" status="error">
      <Alert.Indicator />
      <Alert.Content>
        {title ? <Alert.Title>{title}</Alert.Title> : null}
        <Alert.Description whiteSpace="pre-wrap" wordBreak="break-word">
          {message}
        </Alert.Description>
      </Alert.Content>
    </Alert.Root>
  );
};

// The host theme's state palettes (Airflow's semantic tokens: success, failed, running, ...).
// `subtle` where the palette's solid colour is too light for white text (axe: the host's dark
// "running" is white on #0092b8, 3.6:1); the others stay solid.
const STATES: Record<string, { icon: ReactNode; palette: string; variant?: "solid" | "subtle" }> = {
  "config error": { icon: <FiAlertTriangle />, palette: "failed" },
  failed: { icon: <FiX />, palette: "failed" },
  "never run": { icon: <FiMinus />, palette: "none" },
  "no new file": { icon: <FiPause />, palette: "none" },
  previewed: { icon: <FiCheck />, palette: "brand" },
  queued: { icon: <FiClock />, palette: "queued" },
  running: { icon: <FiPlay />, palette: "running", variant: "subtle" },
  skipped: { icon: <FiPause />, palette: "none" },
  success: { icon: <FiCheck />, palette: "success" },
};

export const statePalette = (state: string): string => STATES[state]?.palette ?? "none";

/** A run's result or an import's outcome as a badge with its icon (the text says it too). */
export const StateBadge = ({
  children,
  reason,
  state,
}: {
  readonly children?: ReactNode;
  readonly reason?: string | null;
  readonly state: string;
}) => (
  <Badge
    colorPalette={statePalette(state)}
    data-result={state}
    gap={1}
    title={reason ?? state}
    variant={STATES[state]?.variant ?? "solid"}
    whiteSpace="nowrap"
  >
    {STATES[state]?.icon ?? <FiMinus />}
    {children ?? state}
  </Badge>
);
