import { Box, Button, Code, Grid, HStack, Heading, Link, Table, Text } from "@chakra-ui/react";
import { type ReactNode, useCallback, useState } from "react";

import { PageHeader } from "../common/PageHeader";
import { type ImportEntry, runLinks } from "../common/api";
import { isSkip, number, outcomeOf, when } from "../common/format";
import { ErrorAlert, Loading, StateBadge } from "../common/states";
import type { Go } from "../main";
import { useIntegration } from "../queries/useIntegrations";
import { ImportsChart } from "./Chart";
import { Reimport } from "./Reimport";
import { ReportLink } from "./ReportLink";

const PAGE = 20;

const Fact = ({ children, label }: { readonly label: string; readonly children: ReactNode }) => (
  <>
    <Text color="fg.muted" fontSize="sm">
      {label}
    </Text>
    <Box fontSize="sm">{children}</Box>
  </>
);

const ImportRow = ({
  entry,
  name,
  onReimport,
}: {
  readonly entry: ImportEntry;
  readonly name: string;
  readonly onReimport: (key: string) => void;
}) => {
  const links = runLinks(entry.triggered_by);
  const outcome = outcomeOf(entry);
  const counts = [
    ["added", entry.inserted],
    ["changed", entry.updated],
    ["cleared", entry.cleared],
    ["removed", entry.removed],
  ].filter(([, n]) => Number(n) > 0);
  return (
    <Table.Row data-outcome={outcome}>
      <Table.Cell whiteSpace="nowrap">{when(entry.finished_at)}</Table.Cell>
      <Table.Cell fontFamily="mono" fontSize="xs" wordBreak="break-all">
        {entry.final_key ?? entry.source_file}
      </Table.Cell>
      <Table.Cell>
        <StateBadge reason={entry.error ?? outcome} state={outcome} />
        {entry.error && !isSkip(entry) ? (
          <Text fontSize="xs" color="fg.error" mt={1}>
            {entry.error}
          </Text>
        ) : null}
        {isSkip(entry) ? (
          <Text fontSize="xs" color="fg.muted" mt={1}>
            {entry.error}
          </Text>
        ) : null}
      </Table.Cell>
      <Table.Cell textAlign="end">{number(entry.rows_read)}</Table.Cell>
      <Table.Cell textAlign="end">{number(entry.rows_written)}</Table.Cell>
      <Table.Cell textAlign="end">{number(entry.rows_rejected)}</Table.Cell>
      <Table.Cell fontSize="xs">
        {counts.map(([k, n]) => `${String(n)} ${String(k)}`).join(", ") || "–"}
      </Table.Cell>
      <Table.Cell fontSize="xs">
        {links ? (
          <HStack gap={2}>
            <Link href={links.run} colorPalette="brand">
              run
            </Link>
            <Link href={links.log} colorPalette="brand">
              log
            </Link>
          </HStack>
        ) : (
          entry.triggered_by
        )}
      </Table.Cell>
      <Table.Cell fontSize="xs">
        <HStack gap={2} wrap="wrap">
          {entry.reports.map((r) => (
            <ReportLink key={r.key} name={name} reportKey={r.key}>
              {r.kind}
            </ReportLink>
          ))}
          {entry.final_key ? (
            <Button size="2xs" variant="outline" onClick={() => onReimport(entry.final_key ?? "")}>
              re-import
            </Button>
          ) : null}
        </HStack>
      </Table.Cell>
    </Table.Row>
  );
};

/** One integration: its settings, mapping, import history with a chart, reports, and re-import. */
export const IntegrationPage = ({ go, name }: { readonly name: string; readonly go?: Go }) => {
  const [offset, setOffset] = useState(0);
  const [request, setRequest] = useState<{ key: string; n: number } | null>(null);
  const reimport = useCallback((key: string) => {
    setRequest((last) => ({ key, n: (last?.n ?? 0) + 1 }));
    document.getElementById("reimport")?.scrollIntoView({ block: "nearest" });
  }, []);

  const { data: detail, error, isPending } = useIntegration(name, offset, PAGE);

  if (isPending) {
    return (
      <Box p={4}>
        <Loading label={`Loading ${name}`} rows={8} />
      </Box>
    );
  }
  if (!detail) {
    return (
      <Box p={4}>
        <ErrorAlert error={error} title={`${name} could not be loaded`} />
      </Box>
    );
  }
  const failed = detail.runs.find((r) => r.outcome === "failed" && r.final_key);
  return (
    <Box p={4}>
      <PageHeader title={detail.name} go={go}>
        <Link href={`${document.baseURI}dags/${detail.dag_id}`} colorPalette="brand" fontSize="sm">
          DAG {detail.dag_id}
        </Link>
      </PageHeader>
      {detail.description ? <Text mb={3}>{detail.description}</Text> : null}
      <Grid templateColumns="max-content 1fr" columnGap={4} rowGap={1} mb={4}>
        <Fact label="Source">
          <Code>{detail.source.uri}</Code> (connection <Code>{detail.source.aws_conn_id}</Code>)
        </Fact>
        <Fact label="Schedule">
          {detail.schedule_words} <Code>{detail.schedule}</Code>
        </Fact>
        <Fact label="Runs start">{detail.start_words}</Fact>
        <Fact label="Mode">
          {detail.mode}
          {detail.mirror_max_removed !== null
            ? ` (at most ${Math.round(detail.mirror_max_removed * 100)}% of users removed per file)`
            : ""}
        </Fact>
        <Fact label="Empty cells">{detail.blank}</Fact>
        <Fact label="Rejected rows allowed">{Math.round(detail.max_rejected_ratio * 100)}%</Fact>
        <Fact label="User ID column">
          <Code>{detail.user_id_column}</Code>
        </Fact>
        <Fact label="Users">{number(detail.users)}</Fact>
        <Fact label="Config">
          <Code>{detail.file ?? "–"}</Code>
        </Fact>
      </Grid>

      <Heading size="md" as="h2" mt={4} mb={2}>
        Mapping
      </Heading>
      <Table.Root size="sm" id="mapping" mb={4}>
        <Table.Header>
          <Table.Row>
            <Table.ColumnHeader>Column</Table.ColumnHeader>
            <Table.ColumnHeader>Attribute</Table.ColumnHeader>
            <Table.ColumnHeader>Type</Table.ColumnHeader>
            <Table.ColumnHeader>Format</Table.ColumnHeader>
          </Table.Row>
        </Table.Header>
        <Table.Body>
          {detail.mapping.map((m) => (
            <Table.Row key={m.attribute}>
              <Table.Cell fontFamily="mono">{m.column}</Table.Cell>
              <Table.Cell fontFamily="mono">{m.attribute}</Table.Cell>
              <Table.Cell>{m.type}</Table.Cell>
              <Table.Cell>{m.format ?? "–"}</Table.Cell>
            </Table.Row>
          ))}
        </Table.Body>
      </Table.Root>

      <Heading size="md" as="h2" mt={4} mb={2}>
        Re-import a file
      </Heading>
      <Reimport
        name={detail.name}
        dagId={detail.dag_id}
        preferredKey={failed?.final_key ?? null}
        request={request}
        canTrigger={detail.can_trigger}
      />

      <Heading size="md" as="h2" mt={6} mb={2}>
        Imports
      </Heading>
      <ImportsChart runs={detail.runs} />
      <Table.Root size="sm" id="runs" mt={2}>
        <Table.Header>
          <Table.Row>
            <Table.ColumnHeader>Finished</Table.ColumnHeader>
            <Table.ColumnHeader>File</Table.ColumnHeader>
            <Table.ColumnHeader>Outcome</Table.ColumnHeader>
            <Table.ColumnHeader textAlign="end">Read</Table.ColumnHeader>
            <Table.ColumnHeader textAlign="end">Written</Table.ColumnHeader>
            <Table.ColumnHeader textAlign="end">Rejected</Table.ColumnHeader>
            <Table.ColumnHeader>Users</Table.ColumnHeader>
            <Table.ColumnHeader>Airflow</Table.ColumnHeader>
            <Table.ColumnHeader>Reports</Table.ColumnHeader>
          </Table.Row>
        </Table.Header>
        <Table.Body>
          {detail.runs.length === 0 ? (
            <Table.Row>
              <Table.Cell colSpan={9} color="fg.muted">
                no imports yet
              </Table.Cell>
            </Table.Row>
          ) : null}
          {detail.runs.map((entry) => (
            <ImportRow key={entry.id} entry={entry} name={detail.name} onReimport={reimport} />
          ))}
        </Table.Body>
      </Table.Root>
      <HStack mt={2} gap={2}>
        <Button
          size="xs"
          variant="outline"
          disabled={offset === 0}
          onClick={() => setOffset(Math.max(0, offset - PAGE))}
        >
          Newer
        </Button>
        <Text fontSize="sm" color="fg.muted">
          {detail.runs_total ? `${offset + 1}–${offset + detail.runs.length} of ${detail.runs_total}` : ""}
        </Text>
        <Button
          size="xs"
          variant="outline"
          disabled={offset + PAGE >= detail.runs_total}
          onClick={() => setOffset(offset + PAGE)}
        >
          Older
        </Button>
      </HStack>
    </Box>
  );
};
