import { Button, HStack, Heading } from "@chakra-ui/react";
import type { ReactNode } from "react";

import type { Go } from "../main";

/** A page's title, with the way back to the table (and any further actions). */
export const PageHeader = ({
  children,
  go,
  title,
}: {
  readonly title: string;
  readonly go?: Go;
  readonly children?: ReactNode;
}) => (
  <HStack justify="space-between" mb={4} wrap="wrap" gap={2}>
    <Heading size="lg" as="h1">
      {title}
    </Heading>
    <HStack gap={2}>
      {go ? (
        <Button size="sm" variant="outline" onClick={() => go({ view: "table" })}>
          All integrations
        </Button>
      ) : null}
      {children}
    </HStack>
  </HStack>
);
