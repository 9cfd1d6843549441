import { Box, HStack, Text } from "@chakra-ui/react";

import type { ImportEntry } from "../common/api";
import { when } from "../common/format";

/** Rows written and rejected per import, oldest left: a plain SVG, in the theme's colors. */
export const ImportsChart = ({ runs }: { readonly runs: ImportEntry[] }) => {
  const shown = [...runs].reverse().filter((r) => r.source_file !== "-");
  if (shown.length === 0) return null;
  const top = Math.max(1, ...shown.map((r) => r.rows_written + r.rows_rejected));
  const width = 640;
  const height = 120;
  const step = width / shown.length;
  const bar = Math.max(2, Math.min(28, step - 4));
  return (
    <Box>
      <svg
        role="img"
        aria-label={`Rows written and rejected for the last ${shown.length} imports`}
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        height={height}
        preserveAspectRatio="none"
        style={{ maxWidth: width }}
      >
        {shown.map((r, i) => {
          const written = (r.rows_written / top) * (height - 4);
          const rejected = (r.rows_rejected / top) * (height - 4);
          const x = i * step + (step - bar) / 2;
          return (
            <g key={r.id}>
              <title>{`${when(r.finished_at)}: ${r.rows_written} written, ${r.rows_rejected} rejected`}</title>
              <rect
                x={x}
                y={height - written}
                width={bar}
                height={written}
                fill="var(--chakra-colors-green-solid)"
              />
              <rect
                x={x}
                y={height - written - rejected}
                width={bar}
                height={rejected}
                fill="var(--chakra-colors-red-solid)"
              />
            </g>
          );
        })}
      </svg>
      <HStack gap={4} fontSize="xs" color="fg.muted">
        <Text>
          <span style={{ color: "var(--chakra-colors-green-solid)" }}>■</span> rows written
        </Text>
        <Text>
          <span style={{ color: "var(--chakra-colors-red-solid)" }}>■</span> rows rejected
        </Text>
        <Text>largest: {top.toLocaleString("en-US")} rows</Text>
      </HStack>
    </Box>
  );
};
