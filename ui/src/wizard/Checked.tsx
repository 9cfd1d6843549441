// What the check answered (POST /inbound/api/configs/check): the sample mapped with the config,
// the verdict ("valid" only when the answer says so), every problem with its level, setting and
// line, and the very YAML that was checked, with line numbers and the problem lines marked.
import { Alert, Badge, Box, Code, HStack, List, Stack, Table, Text } from "@chakra-ui/react";
import { FiAlertTriangle, FiCheck, FiX } from "react-icons/fi";

import type { ConfigCheck, Problem, SampleCheck } from "../common/api";

const percent = (share: number): string => `${(share * 100).toFixed(1)}%`;

const plural = (n: number, one: string, many = `${one}s`): string =>
  `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;

/** Why a run would not import the file with this config: one sentence per cause, no value. */
export const whyNot = (answer: ConfigCheck): string[] => {
  const errors = answer.problems.filter((p) => p.level === "error");
  const sample = answer.sample;
  const causes: string[] = [];
  if (!answer.ok)
    causes.push(
      `The config does not load or clashes with the other configs (${plural(errors.length, "error")} below).`,
    );
  if (sample === null) {
    if (answer.ok) causes.push("The sample was not mapped with it.");
  } else if (sample.error !== null) {
    causes.push(`A run would fail the whole file: ${sample.error}`);
  } else if (sample.rejected_ratio > sample.max_rejected_ratio) {
    causes.push(
      `${sample.rejected.toLocaleString("en-US")} of ${plural(sample.rows, "sampled row")} rejected ` +
        `(${percent(sample.rejected_ratio)}), above max_rejected_ratio ${percent(sample.max_rejected_ratio)}: ` +
        "a run would import nothing of the file.",
    );
  }
  if (causes.length === 0) causes.push(`${plural(errors.length, "error")} below.`);
  return causes;
};

/** The verdict: "Valid" only when the answer says valid; otherwise what fails and why. */
export const Verdict = ({
  answer,
  checking,
  name,
}: {
  readonly answer: ConfigCheck | undefined;
  readonly checking: boolean;
  readonly name: string;
}) => (
  <Box
    aria-busy={checking}
    aria-live="polite"
    data-valid={answer ? String(answer.valid) : undefined}
    id="config-check"
    my={3}
  >
    {checking || !answer ? (
      <Text color="fg.muted" fontSize="sm">
        Mapping the sample with this config…
      </Text>
    ) : answer.valid ? (
      <Alert.Root status="success">
        <Alert.Indicator />
        <Alert.Content>
          <Alert.Title>Valid</Alert.Title>
          <Alert.Description>
            The sample maps{answer.sample ? ` (${plural(answer.sample.rejected, "row")} rejected)` : ""} and
            the config fits the other configs: commit it as dags/integrations/{answer.name ?? name}.yaml.
          </Alert.Description>
        </Alert.Content>
      </Alert.Root>
    ) : (
      <Alert.Root status="error">
        <Alert.Indicator />
        <Alert.Content>
          <Alert.Title>A run would not import this export with this config</Alert.Title>
          {whyNot(answer).map((cause) => (
            <Alert.Description key={cause} display="block">
              {cause}
            </Alert.Description>
          ))}
        </Alert.Content>
      </Alert.Root>
    )}
  </Box>
);

const lines = (shown: number[], rows: number): string =>
  shown.join(", ") + (rows > shown.length ? ", …" : "");

/** The sample as a run would map it: rows, rejected rows, and the rejected rows per column and reason. */
export const SampleResult = ({ sample }: { readonly sample: SampleCheck | null }) => {
  if (sample === null)
    return (
      <Text fontSize="sm" color="fg.muted" data-testid="sample-result">
        The sample is mapped once the config loads (see the problems below).
      </Text>
    );
  if (sample.error !== null)
    return (
      <Alert.Root data-testid="sample-result" status="error">
        <Alert.Indicator />
        <Alert.Content>
          <Alert.Title>A run would fail the whole file</Alert.Title>
          <Alert.Description>{sample.error}</Alert.Description>
        </Alert.Content>
      </Alert.Root>
    );
  const over = sample.rejected_ratio > sample.max_rejected_ratio;
  return (
    <Box data-testid="sample-result">
      <HStack gap={2} wrap="wrap" fontSize="sm">
        <Text>
          <b>{sample.rows.toLocaleString("en-US")}</b> sampled rows of <Code>{sample.uri}</Code>:
        </Text>
        <Badge
          colorPalette={sample.rejected === 0 ? "green" : over ? "red" : "orange"}
          data-testid="rejected-total"
          gap={1}
          variant="solid"
        >
          {sample.rejected === 0 ? <FiCheck /> : over ? <FiX /> : <FiAlertTriangle />}
          {sample.rejected.toLocaleString("en-US")} rejected
        </Badge>
        <Text color="fg.muted">
          {percent(sample.rejected_ratio)}; a run imports the file up to max_rejected_ratio{" "}
          {percent(sample.max_rejected_ratio)}
        </Text>
      </HStack>
      {sample.columns.length ? (
        <Table.Root size="sm" mt={2} id="rejected-columns">
          <Table.Header>
            <Table.Row>
              <Table.ColumnHeader>Column</Table.ColumnHeader>
              <Table.ColumnHeader>Attribute</Table.ColumnHeader>
              <Table.ColumnHeader textAlign="end">Rejected rows</Table.ColumnHeader>
              <Table.ColumnHeader>First lines</Table.ColumnHeader>
              <Table.ColumnHeader>Reason</Table.ColumnHeader>
              <Table.ColumnHeader>Values</Table.ColumnHeader>
            </Table.Row>
          </Table.Header>
          <Table.Body>
            {sample.columns.map((g) => (
              <Table.Row data-column={g.column ?? ""} key={`${g.column ?? ""} ${g.kind}`}>
                <Table.Cell fontFamily="mono">{g.column ?? "(whole row)"}</Table.Cell>
                <Table.Cell fontFamily="mono">{g.attribute ?? (g.column ? "user ID" : "")}</Table.Cell>
                <Table.Cell data-rejected-rows textAlign="end">
                  {g.rows.toLocaleString("en-US")}
                </Table.Cell>
                <Table.Cell data-lines>{lines(g.lines, g.rows)}</Table.Cell>
                <Table.Cell>{g.reason}</Table.Cell>
                <Table.Cell fontFamily="mono" fontSize="xs">
                  {g.values.join(", ")}
                </Table.Cell>
              </Table.Row>
            ))}
          </Table.Body>
        </Table.Root>
      ) : null}
    </Box>
  );
};

const LEVEL = {
  error: { icon: <FiX />, palette: "red" },
  warning: { icon: <FiAlertTriangle />, palette: "orange" },
} as const;

/** Every problem, in the answer's order: level, the line of the YAML shown, the setting, the message. */
export const ProblemList = ({ problems }: { readonly problems: Problem[] }) =>
  problems.length ? (
    <List.Root aria-label="Problems" gap={1} id="config-problems" listStyle="none" mb={3} ms={0}>
      {problems.map((p, i) => (
        <List.Item data-level={p.level} data-line={p.line ?? undefined} fontSize="sm" key={i}>
          <HStack align="baseline" gap={2} wrap="wrap">
            <Badge colorPalette={LEVEL[p.level].palette} gap={1} variant="solid">
              {LEVEL[p.level].icon}
              {p.level}
            </Badge>
            <Text as="span" data-testid="problem-line" fontFamily="mono" whiteSpace="nowrap">
              {p.line ? `line ${p.line}` : "the file"}
            </Text>
            {p.setting ? <Code data-testid="problem-setting">{p.setting}</Code> : null}
            <Text as="span">{p.message}</Text>
          </HStack>
        </List.Item>
      ))}
    </List.Root>
  ) : null;

const MARK = { error: "red.subtle", warning: "orange.subtle" } as const;

/** The YAML with line numbers; the lines a problem cites are marked (errors red, warnings orange). */
export const YamlView = ({
  problems,
  stale,
  yaml,
}: {
  readonly problems: Problem[];
  readonly stale: boolean;
  readonly yaml: string;
}) => {
  const text = yaml.endsWith("\n") ? yaml.slice(0, -1) : yaml;
  const rows = text.split("\n");
  const marked = new Map<number, Problem[]>();
  for (const p of problems) if (p.line) marked.set(p.line, [...(marked.get(p.line) ?? []), p]);
  const level = (n: number) =>
    marked.get(n)?.some((p) => p.level === "error") ? "error" : marked.has(n) ? "warning" : undefined;
  const bg = (n: number): string | undefined => {
    const at = level(n);
    return at === undefined ? undefined : MARK[at];
  };
  return (
    <Stack
      bg="bg.muted"
      borderRadius="md"
      direction="row"
      fontFamily="mono"
      fontSize="sm"
      gap={0}
      lineHeight="1.5"
      opacity={stale ? 0.6 : 1}
      overflow="hidden"
    >
      <Box
        aria-hidden="true"
        as="pre"
        color="fg.muted"
        flexShrink={0}
        px={2}
        py={3}
        textAlign="end"
        userSelect="none"
      >
        {rows.map((_, i) => (
          <Box as="span" bg={bg(i + 1)} display="block" key={i}>
            {i + 1}
          </Box>
        ))}
      </Box>
      <Box as="pre" flex="1" id="config-yaml" overflowX="auto" pe={3} py={3}>
        {rows.map((row, i) => (
          <Box
            as="span"
            bg={bg(i + 1)}
            data-level={level(i + 1)}
            data-line={i + 1}
            display="block"
            key={i}
            title={marked
              .get(i + 1)
              ?.map((p) => p.message)
              .join("\n")}
          >
            {row || " "}
          </Box>
        ))}
      </Box>
    </Stack>
  );
};
