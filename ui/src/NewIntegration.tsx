import { Box, Button, Heading, Text } from "@chakra-ui/react";

import type { Go } from "./main";

/** The new-integration wizard (location -> discovery -> user ID -> attributes -> YAML). */
export const NewIntegration = ({ go }: { readonly go: Go }) => (
  <Box p={4}>
    <Heading size="lg" as="h1" mb={2}>
      New integration
    </Heading>
    <Text mb={4}>
      Until the wizard lands here, <code>uv run inbound discover s3://BUCKET/KEY</code> samples an export and prints a
      ready config to commit.
    </Text>
    <Button size="sm" variant="outline" onClick={() => go({ view: "table" })}>
      All integrations
    </Button>
  </Box>
);
