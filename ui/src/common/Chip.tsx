import { Badge, Text } from "@chakra-ui/react";

/** A labelled value as a chip: `bucket: acme-exports`, `key: crm/*.csv`. */
export const Chip = ({ label, value }: { readonly label: string; readonly value: string }) => (
  <Badge
    data-chip={label}
    fontFamily="mono"
    fontWeight="normal"
    maxW="22rem"
    overflow="hidden"
    textOverflow="ellipsis"
    title={`${label}: ${value}`}
    variant="outline"
    width="fit-content"
  >
    <Text as="span" fontFamily="body" fontWeight="semibold">
      {label}:
    </Text>
    {value}
  </Badge>
);

/** A config value as shown: one from `!env NAME` as `$NAME` (its value is the deployment's). */
export const shownValue = (value: string | null | undefined): string =>
  value === null || value === undefined ? "–" : value.startsWith("!env ") ? `$${value.slice(5)}` : value;
