import { Badge, Box, Code, HStack, Heading, Stack, Text } from "@chakra-ui/react";

import { ConfigSnippet } from "../common/ConfigSnippet";
import type { ImportEntry, RejectionGroup } from "../common/api";
import { number, when } from "../common/format";
import { ErrorAlert, Loading } from "../common/states";
import { useRejections } from "../queries/useRejections";

/**
 * Whether an import has something to explain: it failed, or it rejected rows (and its file was moved,
 * its reports not yet removed by retention).
 */
export const hasWhy = (entry: ImportEntry): boolean =>
  entry.final_key !== null &&
  !entry.past_retention &&
  (entry.outcome === "failed" || entry.rows_rejected > 0);

/** The fix the rejected values show, as the config lines to paste, with what to check first. */
const Suggestion = ({ group }: { readonly group: RejectionGroup }) => {
  const suggestion = group.suggestion;
  if (!suggestion) return null;
  return (
    <Box data-suggestion mt={2}>
      <ConfigSnippet
        blockData={{ "data-yaml": true }}
        copied="Copied the suggested config"
        label={`Copy the suggested config for ${group.column ?? "the file"}`}
        lines={suggestion.yaml}
        title={`Suggested fix (checked on ${number(suggestion.checked)} rejected ${suggestion.checked === 1 ? "value" : "values"})`}
        titleSize="sm"
      />
      {suggestion.note ? (
        <Text data-note fontSize="xs" mt={1}>
          Check first: {suggestion.note}
        </Text>
      ) : null}
    </Box>
  );
};

const Group = ({ group }: { readonly group: RejectionGroup }) => (
  <Box
    borderRadius="md"
    borderWidth="1px"
    data-column={group.column ?? ""}
    data-group
    data-kind={group.kind}
    p={2}
  >
    <HStack gap={2} wrap="wrap">
      {group.column ? <Code>{group.column}</Code> : null}
      <Text fontSize="sm">{group.reason}</Text>
      <Badge colorPalette="failed" data-rows={group.rows} variant="subtle">
        {number(group.rows)} {group.rows === 1 ? "row" : "rows"}
      </Badge>
    </HStack>
    {group.lines.length ? (
      <Text data-lines fontSize="xs" mt={1}>
        first lines: {group.lines.join(", ")}
        {group.rows > group.lines.length ? ", …" : ""}
      </Text>
    ) : null}
    {group.values.length ? (
      <HStack data-values fontSize="xs" gap={1} mt={1} wrap="wrap">
        <Text as="span">first values:</Text>
        {group.values.map((v, i) => (
          <Code key={`${i}-${v}`}>{v === "" ? "(empty)" : v}</Code>
        ))}
      </HStack>
    ) : null}
    <Suggestion group={group} />
  </Box>
);

/**
 * Why an import failed (or rejected rows), on the page: its rejected rows grouped by column and
 * reason with counts, first line numbers and first values, and the verified fix to paste.
 */
export const WhyFailed = ({ entry, name }: { readonly entry: ImportEntry; readonly name: string }) => {
  const { data, error, isPending } = useRejections(name, entry.final_key);
  const failed = entry.outcome === "failed";
  return (
    <Box
      aria-labelledby="why-failed-title"
      borderColor={failed ? "border.error" : undefined}
      borderRadius="md"
      borderWidth="1px"
      data-key={entry.final_key ?? ""}
      id="why-failed"
      mb={4}
      p={3}
      role="region"
    >
      <Heading as="h2" id="why-failed-title" mb={1} size="md">
        {failed ? "Why it failed" : "Why rows were rejected"}
      </Heading>
      <Text fontSize="sm" mb={2} wordBreak="break-all">
        Import of {when(entry.finished_at)}: <Code>{entry.final_key}</Code>
      </Text>
      {isPending ? <Loading label="Loading the rejected rows" rows={3} /> : null}
      <ErrorAlert error={error} title="The rejected rows could not be read" />
      {data ? (
        <Stack gap={2}>
          {data.error ? (
            <Text color="red.fg" data-error fontSize="sm">
              {data.error}
            </Text>
          ) : null}
          <Text fontSize="xs">Counted: {data.counted}</Text>
          {data.groups.map((g) => (
            <Group group={g} key={`${g.kind}|${g.column ?? ""}`} />
          ))}
          {data.groups.length === 0 ? (
            <Text fontSize="sm">No rejected rows to group: see the error report of the import.</Text>
          ) : null}
        </Stack>
      ) : null}
    </Box>
  );
};
