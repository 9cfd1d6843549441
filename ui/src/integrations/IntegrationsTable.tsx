import {
  Box,
  Button,
  ButtonGroup,
  HStack,
  Heading,
  IconButton,
  Input,
  Link,
  Pagination,
  Stack,
  Switch,
  Table,
  Text,
} from "@chakra-ui/react";
import { useMemo, useState } from "react";
import {
  FiChevronDown,
  FiChevronLeft,
  FiChevronRight,
  FiChevronUp,
  FiPlay,
  FiRotateCcw,
} from "react-icons/fi";

import type { IntegrationRow } from "../common/api";
import { duration, number, relative, when } from "../common/format";
import { ErrorAlert, Loading, StateBadge } from "../common/states";
import { toaster } from "../common/toaster";
import type { Go } from "../main";
import { useSetPaused, useTrigger } from "../queries/useDagActions";
import { useIntegrations } from "../queries/useIntegrations";
import { HeaderDrift, LastImport, LastSuccess, Reason, RecentRuns, SourceChips } from "./cells";

export const PAGE_SIZE = 50;

type SortKey =
  | "attributes_imported"
  | "last_run_at"
  | "last_run_result"
  | "last_success_at"
  | "name"
  | "next_run_at"
  | "source"
  | "users";

// A column sorts when it has a key.
const COLUMNS: { key?: SortKey; label: string; numeric?: boolean }[] = [
  { key: "name", label: "Name" },
  { key: "last_run_result", label: "Status" },
  { label: "Recent runs" },
  { key: "last_run_at", label: "Last run" },
  { key: "last_success_at", label: "Last success" },
  { key: "next_run_at", label: "Next run" },
  { label: "Last import" },
  { key: "source", label: "Source" },
  { key: "users", label: "Users", numeric: true },
  { key: "attributes_imported", label: "Attributes", numeric: true },
];
const WIDTH = COLUMNS.length + 2; // with on/off and the actions

const compare = (a: IntegrationRow, b: IntegrationRow, key: SortKey): number => {
  const x = a[key];
  const y = b[key];
  if (x === y) return 0;
  if (x === null || x === undefined) return 1;
  if (y === null || y === undefined) return -1;
  return typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
};

/** Whether the row says the caller may edit its DAG (absent: Airflow answers, a 403 becomes a toast). */
const mayEdit = (row: IntegrationRow): boolean => row.can_edit !== false;

const failure = (title: string, error: Error) =>
  toaster.create({ closable: true, description: error.message, title, type: "error" });

const Toggle = ({ row }: { readonly row: IntegrationRow }) => {
  const pause = useSetPaused();
  if (row.enabled === null || row.dag_id === null) return <Text color="fg.muted">–</Text>;
  const dagId = row.dag_id;
  return (
    <Switch.Root
      checked={row.enabled}
      data-name={row.name}
      disabled={pause.isPending}
      onCheckedChange={(e) =>
        pause.mutate(
          { dagId, name: row.name, paused: !e.checked },
          {
            onError: (error) =>
              failure(`${row.name} could not be switched ${e.checked ? "on" : "off"}`, error),
            onSuccess: () =>
              toaster.create({ title: `${row.name} is ${e.checked ? "on" : "off"}`, type: "success" }),
          },
        )
      }
      size="sm"
    >
      <Switch.HiddenInput aria-label={`${row.name} on or off`} />
      <Switch.Control />
      <Switch.Label>{row.enabled ? "on" : "off"}</Switch.Label>
    </Switch.Root>
  );
};

const RunNow = ({ row }: { readonly row: IntegrationRow }) => {
  const trigger = useTrigger();
  if (row.dag_id === null) return null;
  const dagId = row.dag_id;
  return (
    <Button
      aria-label={`Run ${row.name} now`}
      loading={trigger.isPending}
      onClick={() =>
        trigger.mutate(
          { dagId, name: row.name },
          {
            onError: (error) => failure(`${row.name} could not be started`, error),
            onSuccess: ({ dag_run_id: runId }) =>
              toaster.create({ description: runId, title: `${row.name}: run started`, type: "success" }),
          },
        )
      }
      size="xs"
      variant="outline"
    >
      <FiPlay /> Run now
    </Button>
  );
};

/** Re-import: the integration page's re-import (its failed file preselected, a dry run first). */
const Reimport = ({ go, row }: { readonly go: Go; readonly row: IntegrationRow }) => (
  <Button
    aria-label={`Re-import a file of ${row.name}`}
    onClick={() => go({ focus: "reimport", name: row.name, view: "integration" })}
    size="xs"
    variant="outline"
  >
    <FiRotateCcw /> Re-import
  </Button>
);

const Row = ({ go, row }: { readonly go: Go; readonly row: IntegrationRow }) => {
  const reason = row.reason ?? row.last_run_reason ?? row.error ?? null;
  if (row.dag_id === null) {
    return (
      <Table.Row className="broken" data-name={row.name}>
        <Table.Cell>{row.name}</Table.Cell>
        <Table.Cell>
          <StateBadge reason={row.error} state={row.last_run_result} />
        </Table.Cell>
        <Table.Cell color="red.fg" colSpan={WIDTH - 2} whiteSpace="pre-wrap">
          {row.file ? `${row.file}: ` : ""}
          {row.error}
        </Table.Cell>
      </Table.Row>
    );
  }
  const failed = row.last_run_result === "failed";
  return (
    <Table.Row data-name={row.name}>
      <Table.Cell>
        <Link
          colorPalette="brand"
          href={`#${row.name}`}
          onClick={(e) => {
            e.preventDefault();
            go({ name: row.name, view: "integration" });
          }}
        >
          {row.name}
        </Link>
        <Text color="fg.muted" fontSize="xs" title={row.schedule ?? ""}>
          {row.schedule_words}
        </Text>
      </Table.Cell>
      <Table.Cell>
        <StateBadge reason={row.last_run_reason} state={row.last_run_result} />
        {reason && failed ? (
          <Reason onWhy={() => go({ focus: "why", name: row.name, view: "integration" })} reason={reason} />
        ) : null}
      </Table.Cell>
      <Table.Cell>
        <RecentRuns name={row.name} runs={row.recent_runs ?? []} />
      </Table.Cell>
      <Table.Cell>
        <Stack gap={0}>
          <Text title={when(row.last_run_at)} whiteSpace="nowrap">
            {relative(row.last_run_at)}
          </Text>
          {row.last_run_duration_s !== null && row.last_run_duration_s !== undefined ? (
            <Text color="fg.muted" data-duration fontSize="xs" whiteSpace="nowrap">
              took {duration(row.last_run_duration_s)}
            </Text>
          ) : null}
        </Stack>
      </Table.Cell>
      <Table.Cell>
        <LastSuccess row={row} />
      </Table.Cell>
      <Table.Cell title={when(row.next_run_at)} whiteSpace="nowrap">
        {row.enabled ? relative(row.next_run_at) : "paused"}
      </Table.Cell>
      <Table.Cell>
        <LastImport row={row} />
        <HeaderDrift drift={row.schema_drift} name={row.name} />
      </Table.Cell>
      <Table.Cell>
        <SourceChips row={row} />
      </Table.Cell>
      <Table.Cell textAlign="end">{number(row.users)}</Table.Cell>
      <Table.Cell textAlign="end">{number(row.attributes_imported)}</Table.Cell>
      <Table.Cell>{mayEdit(row) ? <Toggle row={row} /> : row.enabled ? "on" : "off"}</Table.Cell>
      <Table.Cell>
        <HStack gap={1}>
          {mayEdit(row) ? <RunNow row={row} /> : null}
          {mayEdit(row) ? <Reimport go={go} row={row} /> : null}
        </HStack>
      </Table.Cell>
    </Table.Row>
  );
};

export const IntegrationsTable = ({ go }: { readonly go: Go }) => {
  const { data: rows, error, isPending } = useIntegrations();
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState<{ key: SortKey; up: boolean }>({ key: "name", up: true });
  const [page, setPage] = useState(1);

  const shown = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const found = (rows ?? []).filter(
      (r) =>
        !needle ||
        [r.name, r.source, r.error, r.reason, r.last_run_result].some((v) =>
          v?.toLowerCase().includes(needle),
        ),
    );
    return found.sort((a, b) => compare(a, b, sort.key) * (sort.up ? 1 : -1));
  }, [rows, search, sort]);
  const pages = Math.max(1, Math.ceil(shown.length / PAGE_SIZE));
  const current = Math.min(page, pages);
  const visible = shown.slice((current - 1) * PAGE_SIZE, current * PAGE_SIZE);

  return (
    <Box p={4}>
      <HStack gap={2} justify="space-between" mb={4} wrap="wrap">
        <Heading as="h1" size="lg">
          Integrations
        </Heading>
        <HStack gap={2}>
          <Input
            aria-label="Search integrations"
            onChange={(e) => {
              setSearch(e.target.value);
              setPage(1);
            }}
            placeholder="Search name, source, reason"
            size="sm"
            value={search}
            width="18rem"
          />
          <Button onClick={() => go({ view: "targeting" })} size="sm" variant="outline">
            Targeting
          </Button>
          <Button colorPalette="brand" onClick={() => go({ view: "new" })} size="sm">
            New integration
          </Button>
        </HStack>
      </HStack>
      <ErrorAlert error={error} title="The integrations could not be loaded" />
      {isPending ? <Loading label="Loading integrations" rows={6} /> : null}
      {rows ? (
        <Table.Root id="integrations" interactive size="sm">
          <Table.Header>
            <Table.Row>
              {COLUMNS.map(({ key, label, numeric }) =>
                key === undefined ? (
                  <Table.ColumnHeader fontSize="xs" fontWeight="semibold" key={label}>
                    {label}
                  </Table.ColumnHeader>
                ) : (
                  <Table.ColumnHeader
                    aria-sort={sort.key === key ? (sort.up ? "ascending" : "descending") : "none"}
                    key={key}
                    textAlign={numeric ? "end" : "start"}
                  >
                    <Button
                      fontWeight="semibold"
                      onClick={() => setSort({ key, up: sort.key === key ? !sort.up : true })}
                      px={0}
                      size="xs"
                      variant="plain"
                    >
                      {label}
                      {sort.key === key ? (
                        sort.up ? (
                          <FiChevronUp aria-hidden />
                        ) : (
                          <FiChevronDown aria-hidden />
                        )
                      ) : null}
                    </Button>
                  </Table.ColumnHeader>
                ),
              )}
              <Table.ColumnHeader fontSize="xs" fontWeight="semibold">
                On/off
              </Table.ColumnHeader>
              <Table.ColumnHeader fontSize="xs" fontWeight="semibold">
                Actions
              </Table.ColumnHeader>
            </Table.Row>
          </Table.Header>
          <Table.Body>
            {shown.length === 0 ? (
              <Table.Row>
                <Table.Cell color="fg.muted" colSpan={WIDTH}>
                  {rows.length ? "no integration matches the search" : "no integration configs"}
                </Table.Cell>
              </Table.Row>
            ) : null}
            {visible.map((row) => (
              <Row
                go={go}
                key={row.dag_id === null ? `broken-${row.file ?? row.name}` : row.name}
                row={row}
              />
            ))}
          </Table.Body>
        </Table.Root>
      ) : null}
      {shown.length > PAGE_SIZE ? (
        <Pagination.Root
          count={shown.length}
          mt={3}
          onPageChange={(e) => setPage(e.page)}
          page={current}
          pageSize={PAGE_SIZE}
        >
          <ButtonGroup size="sm" variant="ghost">
            <Pagination.PrevTrigger asChild>
              <IconButton aria-label="Previous page">
                <FiChevronLeft />
              </IconButton>
            </Pagination.PrevTrigger>
            <Pagination.Items
              render={(item) => (
                <IconButton
                  aria-label={`Page ${item.value}`}
                  variant={{ _selected: "outline", base: "ghost" }}
                >
                  {item.value}
                </IconButton>
              )}
            />
            <Pagination.NextTrigger asChild>
              <IconButton aria-label="Next page">
                <FiChevronRight />
              </IconButton>
            </Pagination.NextTrigger>
          </ButtonGroup>
        </Pagination.Root>
      ) : null}
    </Box>
  );
};
