// The management table's cells that make it a monitor: the recent-runs strip, freshness, the
// last import's counts with the header's drift, the reason inline, the source as labelled chips.
import { Badge, Box, HStack, Link, Popover, Portal, Stack, Text } from "@chakra-ui/react";
import { Fragment, useState } from "react";
import { FiAlertTriangle } from "react-icons/fi";

import { Chip } from "../common/Chip";
import { DriftDetails, shortDays } from "../common/Drift";
import type { IntegrationRow, RecentRun, SchemaDrift } from "../common/api";
import { number, percent, relative, when } from "../common/format";
import { statePalette } from "../common/states";

/** The latest runs, oldest to newest, as small coloured squares (Airflow's DAG list strip). */
export const RecentRuns = ({ name, runs }: { readonly name: string; readonly runs: RecentRun[] }) => {
  if (!runs.length) return <Text color="fg.muted">–</Text>;
  return (
    <HStack
      aria-label={`${name}: the last ${runs.length} runs, oldest first`}
      data-testid="recent-runs"
      gap="2px"
      role="list"
    >
      {runs.map((run) => {
        const said = `${run.outcome}, ${when(run.at)} (${run.run_id})`;
        return (
          <Box
            aria-label={said}
            bg="colorPalette.solid"
            borderRadius="2px"
            colorPalette={statePalette(run.outcome)}
            data-outcome={run.outcome}
            flexShrink={0}
            height="14px"
            key={run.run_id}
            role="listitem"
            title={said}
            width="8px"
          />
        );
      })}
    </HStack>
  );
};

/** When the last import succeeded, with "stale" past the integration's stale_after (or twice its interval). */
export const LastSuccess = ({ row }: { readonly row: IntegrationRow }) => (
  <Stack gap={0.5}>
    <Text title={when(row.last_success_at)} whiteSpace="nowrap">
      {row.last_success_at ? relative(row.last_success_at) : "never"}
    </Text>
    {row.stale ? (
      <Badge
        colorPalette="orange"
        data-stale
        title="no successful import for longer than stale_after (else twice the schedule's interval)"
        variant="subtle"
        width="fit-content"
      >
        stale
      </Badge>
    ) : null}
  </Stack>
);

/** The last import's rows written, the share it rejected and the users it deleted (`delete_when`), if any. */
export const LastImport = ({ row }: { readonly row: IntegrationRow }) => {
  const last = row.last_import;
  if (!last) return <Text color="fg.muted">–</Text>;
  const share = last.rejected_share ?? 0;
  return (
    <Stack data-testid="last-import" gap={0}>
      <Text data-written={last.rows_written} whiteSpace="nowrap">
        {number(last.rows_written)} written
      </Text>
      <Text
        color={share > 0 ? "red.fg" : undefined}
        data-rejected-share={share}
        fontSize="xs"
        title={`${number(last.rows_rejected)} of ${number(last.rows_read)} rows rejected`}
        whiteSpace="nowrap"
      >
        {percent(last.rejected_share)} rejected
      </Text>
      {last.deleted > 0 ? (
        <Text
          data-deleted={last.deleted}
          fontSize="xs"
          title={`${number(last.deleted)} ${last.deleted === 1 ? "user" : "users"} deleted by delete_when`}
          whiteSpace="nowrap"
        >
          {number(last.deleted)} deleted
        </Text>
      ) : null}
    </Stack>
  );
};

/**
 * Why the last run failed, on one line (visible without hover), the whole reason a click or a key
 * press away (a button), and a link to the page's "Why it failed" panel with the suggested fix.
 */
export const Reason = ({ onWhy, reason }: { readonly onWhy?: () => void; readonly reason: string }) => {
  const [open, setOpen] = useState(false);
  return (
    <Stack align="start" gap={0.5} maxW="24rem" mt={1}>
      <Text
        aria-expanded={open}
        as="button"
        color="red.fg"
        cursor="pointer"
        data-reason
        display="block"
        fontSize="xs"
        lineClamp={open ? undefined : 1}
        onClick={() => setOpen(!open)}
        textAlign="start"
        wordBreak={open ? "break-word" : undefined}
      >
        {reason}
      </Text>
      {onWhy ? (
        <Link
          colorPalette="brand"
          data-why
          fontSize="xs"
          href="#why-failed"
          onClick={(e) => {
            e.preventDefault();
            onWhy();
          }}
        >
          Why it failed, and the fix
        </Link>
      ) : null}
    </Stack>
  );
};

/** The source as labelled chips: the bucket (a variable's name where it comes from `!env`) and the key pattern. */
export const SourceChips = ({ row }: { readonly row: IntegrationRow }) => {
  const parts = row.source_parts;
  if (!parts) return <Text fontFamily="mono">{row.source ?? "–"}</Text>;
  return (
    <Stack gap={1}>
      <Chip label="bucket" value={parts.bucket_env ? `$${parts.bucket_env}` : (parts.bucket ?? "–")} />
      <Chip label="key" value={parts.key_env ? `$${parts.key_env}` : (parts.key ?? "–")} />
    </Stack>
  );
};

/**
 * The management table's drift badge: the summary with its days as `MM-DD` ("2 new columns since
 * 12-01"), a button opening the details in a popover. Nothing when the header did not drift.
 */
export const HeaderDrift = ({
  drift,
  name,
}: {
  readonly drift: SchemaDrift | null | undefined;
  readonly name: string;
}) => {
  if (!drift) return null;
  const short = shortDays(drift.summary);
  return (
    <Popover.Root lazyMount positioning={{ placement: "bottom-start" }} unmountOnExit>
      <Popover.Trigger asChild>
        <Badge
          asChild
          colorPalette="orange"
          cursor="pointer"
          data-drift={short}
          gap={1}
          maxW="14rem"
          mt={1}
          textAlign="start"
          title={drift.summary}
          variant="subtle"
          whiteSpace="normal"
          width="fit-content"
        >
          <button type="button">
            <FiAlertTriangle aria-hidden style={{ flexShrink: 0 }} />
            <span>
              {short.split(", ").map((clause, i) => (
                // each clause on one line ("1 new column since 12-07"), the clauses wrapping between them
                <Fragment key={clause}>
                  {i ? ", " : null}
                  <Box as="span" whiteSpace="nowrap">
                    {clause}
                  </Box>
                </Fragment>
              ))}
            </span>
          </button>
        </Badge>
      </Popover.Trigger>
      <Portal>
        <Popover.Positioner>
          <Popover.Content data-drift-popover maxW="90vw" width="28rem">
            <Popover.Arrow>
              <Popover.ArrowTip />
            </Popover.Arrow>
            <Popover.Body p={3}>
              <Popover.Title fontSize="sm" fontWeight="semibold" mb={2}>
                {name}: header changed ({drift.summary})
              </Popover.Title>
              <DriftDetails drift={drift} />
            </Popover.Body>
          </Popover.Content>
        </Popover.Positioner>
      </Portal>
    </Popover.Root>
  );
};
