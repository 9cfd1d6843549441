// Config lines to paste (a suggested fix, the mapping of new columns): a title, a copy button and
// the lines in a monospace block, scrolled when long.
import { Box, Button, HStack, Text } from "@chakra-ui/react";
import type { ReactNode } from "react";
import { FiCopy } from "react-icons/fi";

import { toaster } from "./toaster";

const copy = async (text: string, copied: string) => {
  try {
    await navigator.clipboard.writeText(text);
    toaster.create({ title: copied, type: "success" });
  } catch {
    toaster.create({ title: "The clipboard is not available: select the text and copy it", type: "info" });
  }
};

type Props = {
  /** The copy button's accessible name. */
  readonly label: string;
  /** The toast once copied. */
  readonly copied: string;
  readonly lines: string;
  readonly title: ReactNode;
  readonly titleSize?: "sm" | "xs";
  /** The block's own data attribute (what tests and the browser check find it by). */
  readonly blockData?: Record<string, boolean>;
  readonly maxH?: string;
};

export const ConfigSnippet = ({ blockData, copied, label, lines, maxH, title, titleSize = "xs" }: Props) => (
  <>
    <HStack gap={2} justify="space-between" wrap="wrap">
      <Text fontSize={titleSize} fontWeight="semibold">
        {title}
      </Text>
      <Button aria-label={label} onClick={() => void copy(lines, copied)} size="2xs" variant="outline">
        <FiCopy /> Copy
      </Button>
    </HStack>
    <Box
      as="pre"
      bg="bg.muted"
      borderRadius="md"
      fontFamily="mono"
      fontSize="xs"
      maxH={maxH}
      mt={1}
      overflow="auto"
      p={2}
      tabIndex={0}
      {...blockData}
    >
      {lines}
    </Box>
  </>
);
