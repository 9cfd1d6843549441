import { Alert, Box, Button, Code, Grid, HStack, Heading, Link, Stack, Table, Text } from "@chakra-ui/react";
import { Fragment, type ReactNode, useCallback, useEffect, useRef, useState } from "react";

import { Chip, shownValue } from "../common/Chip";
import { DriftDetails } from "../common/Drift";
import { PageHeader } from "../common/PageHeader";
import { type Detail, type ImportEntry, runLinks } from "../common/api";
import { isSkip, number, outcomeOf, percent, when } from "../common/format";
import { ErrorAlert, Loading, StateBadge } from "../common/states";
import type { Go } from "../main";
import { useIntegration } from "../queries/useIntegrations";
import { ImportsChart } from "./Chart";
import { Reimport } from "./Reimport";
import { ReportLink } from "./ReportLink";
import { WhyFailed, hasWhy } from "./WhyFailed";

const PAGE = 20;

const Fact = ({ children, label }: { readonly label: string; readonly children: ReactNode }) => (
  <>
    <Text color="fg.muted" fontSize="sm">
      {label}
    </Text>
    <Box fontSize="sm">{children}</Box>
  </>
);

/** N days, in words ("1 day", "30 days"). */
const days = (n: number): string => `${number(n)} ${n === 1 ? "day" : "days"}`;

const ImportRow = ({
  entry,
  name,
  onReimport,
  onWhy,
  retainDays,
}: {
  readonly entry: ImportEntry;
  readonly name: string;
  readonly onReimport: (key: string) => void;
  readonly onWhy: (entry: ImportEntry) => void;
  readonly retainDays: number | null;
}) => {
  const links = runLinks(entry.triggered_by);
  const outcome = outcomeOf(entry);
  const counts = [
    ["added", entry.inserted],
    ["changed", entry.updated],
    ["cleared", entry.cleared],
    ["removed", entry.removed],
    ["deleted", entry.deleted],
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
          <Text fontSize="xs" color="red.fg" mt={1}>
            {entry.error}
          </Text>
        ) : null}
        {isSkip(entry) ? (
          <Text fontSize="xs" color="fg.muted" mt={1}>
            {entry.error}
          </Text>
        ) : null}
        {entry.drift ? (
          <Text color="orange.fg" data-drift fontSize="xs" maxW="28rem" mt={1} wordBreak="break-word">
            {entry.drift}
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
        {entry.past_retention ? (
          // the daily inbound-retention DAG removed the moved file and its reports: nothing to open or re-import
          <Text color="fg.muted" data-past-retention fontSize="xs">
            file and reports removed{retainDays === null ? "" : ` after ${days(retainDays)}`} (retention)
          </Text>
        ) : (
          <HStack gap={2} wrap="wrap">
            {entry.reports.map((r) => (
              <ReportLink key={r.key} name={name} reportKey={r.key}>
                {r.kind}
              </ReportLink>
            ))}
            {hasWhy(entry) ? (
              <Button
                aria-label={`Why the import of ${entry.final_key ?? ""} ${entry.outcome === "failed" ? "failed" : "rejected rows"}`}
                colorPalette={entry.outcome === "failed" ? "failed" : undefined}
                data-why
                onClick={() => onWhy(entry)}
                size="2xs"
                variant="outline"
              >
                why
              </Button>
            ) : null}
            {entry.final_key ? (
              <Button size="2xs" variant="outline" onClick={() => onReimport(entry.final_key ?? "")}>
                re-import
              </Button>
            ) : null}
          </HStack>
        )}
      </Table.Cell>
    </Table.Row>
  );
};

const yesNo = (value: boolean): string => (value ? "yes" : "no");

const ON_NEW_COLUMNS: Record<string, string> = {
  fail: "a file with new columns the config does not read is not imported",
  ignore: "not reported",
  warn: "imported, the new columns shown as header changes",
};

/** A value of a config (its text, never HTML) on one line, cut past its space, whole in a title. */
const Value = ({ value }: { readonly value: string }) => (
  <Code
    display="inline-block"
    maxW="20rem"
    overflow="hidden"
    textOverflow="ellipsis"
    title={value}
    verticalAlign="bottom"
    whiteSpace="nowrap"
  >
    {value}
  </Code>
);

/** `delete_when` in words ("Status is deleted or erased"), with the share of users one file may delete. */
const DeleteWhen = ({ detail }: { readonly detail: Detail }) => {
  const rule = detail.delete_when;
  if (!rule) return <Text as="span">none</Text>;
  return (
    <Text as="span" data-delete-when={rule.column}>
      a row whose <Value value={rule.column} /> is{" "}
      {rule.values.map((v, i) => (
        <Fragment key={`${i}-${v}`}>
          {i === 0 ? null : i === rule.values.length - 1 ? " or " : ", "}
          <Value value={v} />
        </Fragment>
      ))}{" "}
      deletes its user (trimmed, ignoring case); at most {percent(detail.max_deleted)} of users per file
    </Text>
  );
};

/** The volume guard (`max_row_drop`, `guard_empty_columns`) in a sentence. */
const volumeGuard = (detail: Detail): string => {
  const drop =
    detail.max_row_drop === null
      ? null
      : `more than ${percent(detail.max_row_drop)} fewer rows than the median of the last 5 imports`;
  const empty = detail.guard_empty_columns ? "a read column emptied in every row" : null;
  if (drop && empty) return `fails a file with ${drop}, and one with ${empty}`;
  if (drop) return `fails a file with ${drop}`;
  if (empty) return `fails a file with ${empty} (row counts not compared)`;
  return "off";
};

/** Every setting of the config, as the run reads it (a value from `!env` as its variable's name). */
const Settings = ({ detail }: { readonly detail: Detail }) => {
  const { alerts, events, format } = detail;
  return (
    <Grid columnGap={4} id="settings" mb={4} rowGap={1} templateColumns="max-content 1fr">
      <Fact label="Source">
        <HStack gap={1} wrap="wrap">
          <Chip label="bucket" value={shownValue(detail.source.bucket)} />
          <Chip label="key" value={shownValue(detail.source.key)} />
          <Text as="span" fontSize="sm">
            connection <Code>{detail.source.aws_conn_id}</Code>
          </Text>
        </HStack>
      </Fact>
      <Fact label="Completion marker">
        {detail.marker ? <Code>{shownValue(detail.marker)}</Code> : "none (a file is read once it is there)"}
      </Fact>
      <Fact label="Schedule">
        {detail.schedule_words} <Code>{detail.schedule}</Code>
      </Fact>
      <Fact label="Runs start">
        {detail.start_words}
        {events ? (
          <>
            {" "}
            (queue <Code>{shownValue(events.queue)}</Code>
            {events.aws_conn_id ? (
              <>
                , connection <Code>{events.aws_conn_id}</Code>
              </>
            ) : null}
            )
          </>
        ) : null}
      </Fact>
      <Fact label="Format">
        <HStack data-testid="format" gap={1} wrap="wrap">
          <Chip
            label="delimiter"
            value={format.delimiter === null ? "detected" : JSON.stringify(format.delimiter)}
          />
          <Chip label="encoding" value={format.encoding} />
          <Chip label="decimal" value={JSON.stringify(format.decimal)} />
        </HStack>
      </Fact>
      <Fact label="Mode">
        {detail.mode}
        {detail.mirror_max_removed !== null
          ? ` (at most ${Math.round(detail.mirror_max_removed * 100)}% of users removed per file)`
          : ""}
      </Fact>
      <Fact label="Empty cells">
        {detail.blank === "clear" ? "clear the stored value" : "keep the stored value"}
      </Fact>
      <Fact label="New columns">
        <Text as="span" data-on-new-columns={detail.on_new_columns}>
          <Code>{detail.on_new_columns}</Code>
          {ON_NEW_COLUMNS[detail.on_new_columns] ? ` (${ON_NEW_COLUMNS[detail.on_new_columns]})` : ""}
        </Text>
      </Fact>
      <Fact label="Ignored columns">
        {detail.ignore_columns.length ? (
          <HStack data-testid="ignore-columns" gap={1} minW={0} wrap="wrap">
            {detail.ignore_columns.map((c) => (
              <Code
                key={c}
                maxW="20rem"
                overflow="hidden"
                textOverflow="ellipsis"
                title={c}
                whiteSpace="nowrap"
              >
                {c}
              </Code>
            ))}
          </HStack>
        ) : (
          "none"
        )}
      </Fact>
      <Fact label="Deletions">
        <DeleteWhen detail={detail} />
      </Fact>
      <Fact label="Rejected rows allowed">{percent(detail.max_rejected_ratio)} of a file</Fact>
      <Fact label="Volume guard">
        <Text as="span" data-volume-guard>
          {volumeGuard(detail)}
        </Text>
      </Fact>
      <Fact label="Retention">
        <Text as="span" data-retention={detail.retain_days ?? "none"}>
          {detail.retain_days === null
            ? "moved files and reports are kept until deleted"
            : `moved files and reports are removed after ${days(detail.retain_days)}`}
        </Text>
      </Fact>
      <Fact label="Time zone">{detail.timezone} (timestamps without a zone)</Fact>
      <Fact label="Largest file">{number(detail.max_file_mb)} MiB</Fact>
      <Fact label="Alerts">
        {alerts ? (
          <Stack data-testid="alerts" gap={0}>
            <Text>
              {alerts.email.length
                ? `e-mail ${alerts.email.join(", ")} (${alerts.smtp_conn_id})`
                : "no e-mail"}
              {alerts.webhook ? `; webhook ${shownValue(alerts.webhook)}` : ""}
            </Text>
            <Text fontSize="xs">
              on failure: {yesNo(alerts.on_failure)}; rejected share over:{" "}
              {alerts.rejected_ratio_over === null ? "–" : percent(alerts.rejected_ratio_over)}; stale after:{" "}
              {alerts.stale_after ?? "–"}; new columns: {yesNo(alerts.on_new_columns)}
            </Text>
          </Stack>
        ) : (
          "none"
        )}
      </Fact>
      <Fact label="User ID column">
        <Code>{detail.user_id_column}</Code>
      </Fact>
      <Fact label="Users">{number(detail.users)}</Fact>
      <Fact label="Config">
        <HStack data-testid="config-file" gap={2} wrap="wrap">
          {detail.config.url ? (
            <Link colorPalette="brand" href={detail.config.url} rel="noreferrer" target="_blank">
              {detail.config.path}
            </Link>
          ) : (
            <Code>{detail.config.path ?? "–"}</Code>
          )}
          <Text as="span" fontSize="xs">
            version <Code>{detail.config_version}</Code>
          </Text>
        </HStack>
      </Fact>
    </Grid>
  );
};

/** A notice when the DAG Airflow runs is not of the config on disk (compared by config version). */
const Freshness = ({ detail }: { readonly detail: Detail }) => {
  const { freshness } = detail;
  if (freshness.state !== "newer" && freshness.state !== "unparsed") return null;
  return (
    <Alert.Root
      data-freshness={freshness.state}
      id="config-newer"
      mb={3}
      status={freshness.state === "newer" ? "warning" : "info"}
    >
      <Alert.Indicator />
      <Alert.Content>
        <Alert.Title>
          {freshness.state === "newer" ? "The config changed since Airflow parsed the DAG" : "Not parsed yet"}
        </Alert.Title>
        <Alert.Description>{freshness.message}</Alert.Description>
      </Alert.Content>
    </Alert.Root>
  );
};

/** How the export's header changed as of the last successful import, with the config lines to map it. */
const HeaderChanges = ({ detail }: { readonly detail: Detail }) => {
  const drift = detail.schema_drift;
  if (!drift) return null;
  return (
    <Alert.Root
      aria-labelledby="header-changes-title"
      id="header-changes"
      mb={3}
      role="region"
      status="warning"
    >
      <Alert.Indicator />
      <Alert.Content minW={0}>
        <Alert.Title id="header-changes-title">Header changes: {drift.summary}</Alert.Title>
        <Box mt={2}>
          <DriftDetails drift={drift} />
        </Box>
      </Alert.Content>
    </Alert.Root>
  );
};

/** One integration: its settings, mapping, import history with a chart, reports, and re-import. */
export const IntegrationPage = ({
  focus,
  go,
  name,
}: {
  readonly name: string;
  readonly go?: Go;
  readonly focus?: string | null;
}) => {
  const [offset, setOffset] = useState(0);
  const [request, setRequest] = useState<{ key: string; n: number } | null>(null);
  const [why, setWhy] = useState<ImportEntry | null>(null);
  const reimport = useCallback((key: string) => {
    setRequest((last) => ({ key, n: (last?.n ?? 0) + 1 }));
    document.getElementById("reimport")?.scrollIntoView({ block: "nearest" });
  }, []);
  const explain = useCallback((entry: ImportEntry) => {
    setWhy(entry);
    requestAnimationFrame(() => document.getElementById("why-failed")?.scrollIntoView({ block: "start" }));
  }, []);

  const { data: detail, error, isPending } = useIntegration(name, offset, PAGE);

  // A row's action opens its part of the page: the re-import, or why the last import failed (once).
  const focused = useRef(false);
  const loaded = detail !== undefined;
  useEffect(() => {
    if (!loaded || focused.current || !focus) return;
    focused.current = true;
    const target = document.getElementById(focus === "reimport" ? "reimport" : "why-failed");
    target?.scrollIntoView({ block: "start" });
  }, [focus, loaded]);

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
  const failed = detail.runs.find((r) => r.outcome === "failed" && r.final_key && !r.past_retention);
  const latest = offset === 0 ? detail.runs[0] : undefined;
  const explained = why ?? (latest && hasWhy(latest) ? latest : null);
  return (
    <Box p={4}>
      <PageHeader title={detail.name} go={go}>
        <Link href={`${document.baseURI}dags/${detail.dag_id}`} colorPalette="brand" fontSize="sm">
          DAG {detail.dag_id}
        </Link>
      </PageHeader>
      {detail.description ? <Text mb={3}>{detail.description}</Text> : null}
      <Freshness detail={detail} />
      <HeaderChanges detail={detail} />
      {explained ? <WhyFailed entry={explained} key={explained.id} name={detail.name} /> : null}
      <Settings detail={detail} />

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
            <ImportRow
              entry={entry}
              key={entry.id}
              name={detail.name}
              onReimport={reimport}
              onWhy={explain}
              retainDays={detail.retain_days}
            />
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
