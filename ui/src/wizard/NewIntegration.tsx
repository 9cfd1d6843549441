import {
  Box,
  Button,
  Checkbox,
  Code,
  HStack,
  Heading,
  Input,
  NativeSelect,
  Table,
  Text,
} from "@chakra-ui/react";
import { useMemo, useState } from "react";

import { PageHeader } from "../common/PageHeader";
import type { Discovery } from "../common/api";
import { ErrorAlert, Loading } from "../common/states";
import { useDebounced } from "../common/useDebounced";
import type { Go } from "../main";
import { useConfigCheck, useConnections, useDiscover } from "../queries/useWizard";

const TYPES = ["string", "integer", "number", "boolean", "date", "timestamp"];

interface Choice {
  column: string;
  include: boolean;
  name: string;
  type: string;
  format: string | null;
}

const quoted = (value: string): string => JSON.stringify(value);

/** The config the wizard's choices make, in the layout `inbound discover` proposes. */
export const toYaml = (
  d: Discovery,
  name: string,
  schedule: string,
  userId: string,
  choices: Choice[],
): string => {
  const lines = [
    "# yaml-language-server: $schema=../../integration.schema.json",
    `# Made with the New integration wizard from ${d.rows} sampled rows of ${d.uri}.`,
    `name: ${name}`,
    `schedule: ${quoted(schedule)}`,
    "source:",
    `  bucket: ${quoted(d.bucket)}`,
    `  key: ${quoted(d.pattern ?? d.key)}`,
    `  aws_conn_id: ${quoted(d.aws_conn_id)}`,
    "format:",
    `  delimiter: ${quoted(d.delimiter)}`,
    `  encoding: ${d.encoding}`,
    `  decimal: ${quoted(d.decimal)}`,
    "user_id:",
    `  column: ${quoted(userId)}`,
    "attributes:",
  ];
  for (const c of choices) {
    if (!c.include || c.column === userId) continue;
    lines.push(`  - column: ${quoted(c.column)}`);
    if (c.name !== c.column) lines.push(`    name: ${c.name}`);
    lines.push(`    type: ${c.type}`);
    if (c.format && (c.type === "date" || c.type === "timestamp"))
      lines.push(`    format: ${quoted(c.format)}`);
  }
  return `${lines.join("\n")}\n`;
};

const proposedName = (config: string): string =>
  /^name: (.+)$/m.exec(config)?.[1]?.trim() ?? "new_integration";

/**
 * New integration: S3 location and connection -> discovery -> user ID, attributes, names and
 * types -> the YAML, checked against the current configs, to copy or download. Nothing is
 * written on the server: the config goes into git like every other.
 */
export const NewIntegration = ({ go }: { readonly go: Go }) => {
  const connectionsQuery = useConnections();
  const connections = connectionsQuery.data;
  const [uri, setUri] = useState("");
  const [picked, setConn] = useState("");
  const conn = picked || connections?.[0] || "";
  const discovery = useDiscover();
  const found: Discovery | undefined = discovery.data;
  const busy = discovery.isPending;
  const [name, setName] = useState("");
  const [schedule, setSchedule] = useState("@daily");
  const [userId, setUserId] = useState("");
  const [choices, setChoices] = useState<Choice[]>([]);
  const [copied, setCopied] = useState(false);

  const discover = () =>
    discovery.mutate(
      { conn, uri: uri.trim() },
      {
        onSuccess: (d) => {
          setName(proposedName(d.config));
          const id = d.user_id_candidates[0] ?? d.columns[0]?.name ?? "";
          setUserId(id);
          setChoices(
            d.columns.map((c) => ({
              column: c.name,
              format: c.format,
              include: c.name !== id,
              name: c.attribute,
              type: c.type,
            })),
          );
        },
      },
    );

  const yaml = useMemo(
    () => (found ? toYaml(found, name, schedule, userId, choices) : ""),
    [found, name, schedule, userId, choices],
  );
  const checked = useConfigCheck(useDebounced(yaml, 300));
  const check = checked.error
    ? {
        name: null,
        ok: false,
        problems: [{ context: "", line: null, message: checked.error.message, setting: "" }],
      }
    : checked.data;

  const set = (i: number, change: Partial<Choice>) =>
    setChoices(choices.map((c, j) => (j === i ? { ...c, ...change } : c)));
  const download = () => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([yaml], { type: "application/yaml" }));
    link.download = `${name}.yaml`;
    link.click();
    URL.revokeObjectURL(link.href);
  };

  return (
    <Box p={4}>
      <PageHeader title={"New integration"} go={go} />
      <Heading size="md" as="h2" mb={2}>
        1. Where is the export?
      </Heading>
      <HStack
        as="form"
        gap={2}
        wrap="wrap"
        onSubmit={(e) => {
          e.preventDefault();
          discover();
        }}
      >
        <Input
          aria-label="S3 location"
          placeholder="s3://bucket/folder/export_*.csv"
          size="sm"
          width="28rem"
          value={uri}
          onChange={(e) => setUri(e.target.value)}
          fontFamily="mono"
        />
        <NativeSelect.Root size="sm" width="14rem" disabled={!connections?.length}>
          <NativeSelect.Field
            aria-label="AWS connection"
            value={conn}
            onChange={(e) => setConn(e.target.value)}
          >
            {(connections ?? []).map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </NativeSelect.Field>
          <NativeSelect.Indicator />
        </NativeSelect.Root>
        <Button size="sm" type="submit" disabled={!uri.trim() || !conn || busy} loading={busy}>
          Discover
        </Button>
      </HStack>
      <Text fontSize="sm" color="fg.muted" mt={1}>
        Reads the first MiB of the file (the newest one for a pattern) with a connection your integrations
        already use.
      </Text>
      <ErrorAlert error={connectionsQuery.error} title="The connections could not be listed" />
      <ErrorAlert error={discovery.error} title="The export could not be read" />
      {connectionsQuery.isPending ? <Loading label="Loading connections" rows={1} /> : null}

      {found ? (
        <Box mt={6} id="discovery">
          <Heading size="md" as="h2" mb={2}>
            2. What is in it
          </Heading>
          <Text fontSize="sm" mb={2}>
            <Code>{found.uri}</Code>: {found.rows.toLocaleString("en-US")} rows sampled
            {found.complete ? " (the whole file)" : ""}, delimiter{" "}
            <Code>{found.delimiter === "\t" ? "tab" : found.delimiter}</Code>, encoding{" "}
            <Code>{found.encoding}</Code>
            {found.compressed ? ", gzip" : ""}.
          </Text>
          {found.notes.map((n) => (
            <Text key={n} fontSize="sm" color="fg.muted">
              {n}
            </Text>
          ))}
          <HStack gap={2} my={3}>
            <Text fontSize="sm">User ID column</Text>
            <NativeSelect.Root size="sm" width="16rem">
              <NativeSelect.Field
                aria-label="User ID column"
                value={userId}
                onChange={(e) => setUserId(e.target.value)}
              >
                {found.columns.map((c) => (
                  <option key={c.name} value={c.name}>
                    {c.name}
                    {found.user_id_candidates.includes(c.name) ? " (filled and unique)" : ""}
                  </option>
                ))}
              </NativeSelect.Field>
              <NativeSelect.Indicator />
            </NativeSelect.Root>
          </HStack>
          <Table.Root size="sm" id="columns">
            <Table.Header>
              <Table.Row>
                <Table.ColumnHeader>Import</Table.ColumnHeader>
                <Table.ColumnHeader>Column</Table.ColumnHeader>
                <Table.ColumnHeader>Samples</Table.ColumnHeader>
                <Table.ColumnHeader>Attribute name</Table.ColumnHeader>
                <Table.ColumnHeader>Type</Table.ColumnHeader>
              </Table.Row>
            </Table.Header>
            <Table.Body>
              {choices.map((c, i) => (
                <Table.Row key={c.column} data-column={c.column}>
                  <Table.Cell>
                    <Checkbox.Root
                      checked={c.include && c.column !== userId}
                      disabled={c.column === userId}
                      onCheckedChange={(e) => set(i, { include: e.checked === true })}
                      size="sm"
                    >
                      <Checkbox.HiddenInput aria-label={`Import ${c.column}`} />
                      <Checkbox.Control />
                    </Checkbox.Root>
                  </Table.Cell>
                  <Table.Cell fontFamily="mono">{c.column}</Table.Cell>
                  <Table.Cell fontSize="xs" color="fg.muted">
                    {found.columns[i]?.samples.slice(0, 3).join(", ")}
                  </Table.Cell>
                  <Table.Cell>
                    <Input
                      aria-label={`Attribute name for ${c.column}`}
                      size="xs"
                      width="12rem"
                      value={c.name}
                      onChange={(e) => set(i, { name: e.target.value })}
                      fontFamily="mono"
                    />
                  </Table.Cell>
                  <Table.Cell>
                    <NativeSelect.Root size="xs" width="8rem">
                      <NativeSelect.Field
                        aria-label={`Type of ${c.column}`}
                        value={c.type}
                        onChange={(e) => set(i, { type: e.target.value })}
                      >
                        {TYPES.map((t) => (
                          <option key={t} value={t}>
                            {t}
                          </option>
                        ))}
                      </NativeSelect.Field>
                      <NativeSelect.Indicator />
                    </NativeSelect.Root>
                  </Table.Cell>
                </Table.Row>
              ))}
            </Table.Body>
          </Table.Root>

          <Heading size="md" as="h2" mt={6} mb={2}>
            3. The config
          </Heading>
          <HStack gap={2} mb={2} wrap="wrap">
            <Input
              aria-label="Integration name"
              size="sm"
              width="14rem"
              value={name}
              onChange={(e) => setName(e.target.value)}
              fontFamily="mono"
            />
            <Input
              aria-label="Schedule"
              size="sm"
              width="10rem"
              value={schedule}
              onChange={(e) => setSchedule(e.target.value)}
              fontFamily="mono"
            />
            <Button
              size="sm"
              variant="outline"
              onClick={() => void navigator.clipboard?.writeText(yaml).then(() => setCopied(true))}
            >
              {copied ? "Copied" : "Copy"}
            </Button>
            <Button size="sm" variant="outline" onClick={download}>
              Download {name}.yaml
            </Button>
          </HStack>
          <Box aria-live="polite" id="config-check" mb={2}>
            {check?.ok ? (
              <Text color="green.fg">Valid: commit it as dags/integrations/{name}.yaml.</Text>
            ) : null}
            {check && !check.ok
              ? check.problems.map((p, i) => (
                  <Text key={i} color="fg.error" fontSize="sm">
                    {p.line ? `line ${p.line}: ` : ""}
                    {p.setting ? `${p.setting}: ` : ""}
                    {p.message}
                  </Text>
                ))
              : null}
          </Box>
          <Code display="block" whiteSpace="pre" p={3} id="config-yaml" overflowX="auto">
            {yaml}
          </Code>
        </Box>
      ) : null}
    </Box>
  );
};
