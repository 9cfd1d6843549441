// Header ("schema") drift: how an integration's export header changed since the imports before
// (new columns the config does not read, unread columns gone, the columns reordered), with the
// config lines that would map the new ones. Column names are an export's header: untrusted text,
// rendered as text (never as HTML) and cut visually, their whole name in a title.
import { Box, Code, HStack, Stack, Text } from "@chakra-ui/react";

import { ConfigSnippet } from "./ConfigSnippet";
import type { SchemaDrift } from "./api";

/** A day `YYYY-MM-DD` as `MM-DD`, in a text (the badge's short form). */
export const shortDays = (text: string): string => text.replace(/\b\d{4}-(\d{2}-\d{2})\b/g, "$1");

/** A column name on one line, cut with an ellipsis past the space it has (the whole name as its title). */
const ColumnName = ({ name }: { readonly name: string }) => (
  <Code
    display="inline-block"
    maxW="100%"
    minW={0}
    overflow="hidden"
    textOverflow="ellipsis"
    title={name}
    verticalAlign="bottom"
    whiteSpace="nowrap"
  >
    {name}
  </Code>
);

/** The config lines to paste, in a monospace block with a copy button. */
export const ConfigLines = ({ lines }: { readonly lines: string }) => (
  <Box data-config-lines>
    <ConfigSnippet
      copied="Copied the config lines"
      label="Copy the config lines to map the new columns"
      lines={lines}
      maxH="16rem"
      title="Config lines to map the new columns"
    />
  </Box>
);

/** What drifted: the new columns with the day each appeared, the gone ones, a reordering, the config lines. */
export const DriftDetails = ({ drift }: { readonly drift: SchemaDrift }) => (
  <Stack data-drift-details gap={2} minW={0}>
    {drift.new.length ? (
      <Box>
        <Text fontSize="xs" fontWeight="semibold">
          New {drift.new.length === 1 ? "column" : "columns"} the config does not read
        </Text>
        <Stack as="ul" gap={0.5} listStyleType="none" maxH="12rem" overflowY="auto">
          {drift.new.map((c) => (
            <HStack as="li" data-new-column={c.column} fontSize="xs" gap={1} key={c.column} minW={0}>
              <ColumnName name={c.column} />
              <Text as="span" flexShrink={0} whiteSpace="nowrap">
                since {c.since}
              </Text>
            </HStack>
          ))}
        </Stack>
        <Text fontSize="xs" mt={1}>
          Map them, or list them under <Code>ignore_columns</Code>.
        </Text>
      </Box>
    ) : null}
    {drift.gone.length ? (
      <Box>
        <Text fontSize="xs" fontWeight="semibold">
          Gone from the export (not read by the config)
        </Text>
        <Stack as="ul" gap={0.5} listStyleType="none" maxH="8rem" overflowY="auto">
          {drift.gone.map((c) => (
            <Box as="li" data-gone-column={c} fontSize="xs" key={c} minW={0}>
              <ColumnName name={c} />
            </Box>
          ))}
        </Stack>
      </Box>
    ) : null}
    {drift.reordered ? (
      <Text data-reordered fontSize="xs">
        Columns reordered
        {drift.compared_with ? ` since the import of ${drift.compared_with}` : ""} (the config reads them by
        name).
      </Text>
    ) : null}
    {drift.compared_with ? (
      <Text fontSize="xs">Compared with the header of the import of {drift.compared_with}.</Text>
    ) : null}
    {drift.config_lines ? <ConfigLines lines={drift.config_lines} /> : null}
  </Stack>
);
