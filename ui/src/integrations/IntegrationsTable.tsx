import { Box, Button, HStack, Heading, Input, Link, Spinner, Switch, Table, Text } from "@chakra-ui/react";
import { useCallback, useEffect, useMemo, useState } from "react";

import { api, type IntegrationRow } from "../common/api";
import { number, when } from "../common/format";
import { ResultBadge } from "./Result";
import type { Go } from "../main";

type SortKey = "name" | "source" | "attributes_imported" | "users" | "schedule" | "start" | "last_run_at" | "last_run_result";

const COLUMNS: { key: SortKey; label: string; numeric?: boolean }[] = [
  { key: "name", label: "Name" },
  { key: "source", label: "Source" },
  { key: "attributes_imported", label: "Attributes imported", numeric: true },
  { key: "users", label: "Users", numeric: true },
  { key: "schedule", label: "Schedule" },
  { key: "start", label: "Runs start" },
  { key: "last_run_at", label: "Last run" },
  { key: "last_run_result", label: "Result" },
];

const compare = (a: IntegrationRow, b: IntegrationRow, key: SortKey): number => {
  const x = a[key];
  const y = b[key];
  if (x === y) return 0;
  if (x === null || x === undefined) return 1;
  if (y === null || y === undefined) return -1;
  return typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
};

const Toggle = ({ row, onChange }: { readonly row: IntegrationRow; readonly onChange: () => void }) => {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (row.enabled === null) return <Text color="fg.muted">–</Text>;
  const flip = (enabled: boolean) => {
    setBusy(true);
    setError(null);
    api
      .setEnabled(row.name, enabled)
      .then(onChange)
      .catch((e: Error) => setError(e.message))
      .finally(() => setBusy(false));
  };
  return (
    <Box>
      <Switch.Root
        checked={row.enabled}
        disabled={busy}
        onCheckedChange={(e) => flip(e.checked)}
        size="sm"
        data-name={row.name}
      >
        <Switch.HiddenInput aria-label={`${row.name} on or off`} />
        <Switch.Control />
        <Switch.Label>{row.enabled ? "on" : "off"}</Switch.Label>
      </Switch.Root>
      {error ? (
        <Text color="red.fg" fontSize="xs" role="alert">
          {error}
        </Text>
      ) : null}
    </Box>
  );
};

export const IntegrationsTable = ({ go }: { readonly go: Go }) => {
  const [rows, setRows] = useState<IntegrationRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState<{ key: SortKey; up: boolean }>({ key: "name", up: true });

  const load = useCallback(() => {
    api
      .integrations()
      .then((r) => {
        setRows(r);
        setError(null);
      })
      .catch((e: Error) => setError(e.message));
  }, []);
  useEffect(load, [load]);

  const shown = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const found = (rows ?? []).filter(
      (r) => !needle || [r.name, r.source, r.error, r.last_run_result].some((v) => v?.toLowerCase().includes(needle)),
    );
    return found.sort((a, b) => compare(a, b, sort.key) * (sort.up ? 1 : -1));
  }, [rows, search, sort]);

  return (
    <Box p={4}>
      <HStack justify="space-between" mb={4} wrap="wrap" gap={2}>
        <Heading size="lg" as="h1">
          Integrations
        </Heading>
        <HStack gap={2}>
          <Input
            aria-label="Search integrations"
            placeholder="Search name, source, error"
            size="sm"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            width="18rem"
          />
          <Button size="sm" variant="outline" onClick={() => go({ view: "targeting" })}>
            Targeting
          </Button>
          <Button size="sm" variant="outline" onClick={() => go({ view: "new" })}>
            New integration
          </Button>
        </HStack>
      </HStack>
      {error ? (
        <Text color="red.fg" role="alert">
          {error}
        </Text>
      ) : null}
      {rows === null && !error ? <Spinner /> : null}
      {rows !== null ? (
        <Table.Root size="sm" interactive id="integrations">
          <Table.Header>
            <Table.Row>
              {COLUMNS.map((c) => (
                <Table.ColumnHeader
                  key={c.key}
                  textAlign={c.numeric ? "end" : "start"}
                  aria-sort={sort.key === c.key ? (sort.up ? "ascending" : "descending") : "none"}
                >
                  <Button
                    variant="plain"
                    size="xs"
                    px={0}
                    fontWeight="semibold"
                    onClick={() => setSort({ key: c.key, up: sort.key === c.key ? !sort.up : true })}
                  >
                    {c.label}
                    {sort.key === c.key ? (sort.up ? " ▲" : " ▼") : ""}
                  </Button>
                </Table.ColumnHeader>
              ))}
              <Table.ColumnHeader fontSize="xs" fontWeight="semibold">
                Ready for targeting
              </Table.ColumnHeader>
              <Table.ColumnHeader fontSize="xs" fontWeight="semibold">
                On/off
              </Table.ColumnHeader>
            </Table.Row>
          </Table.Header>
          <Table.Body>
            {shown.length === 0 ? (
              <Table.Row>
                <Table.Cell colSpan={10} color="fg.muted">
                  {rows.length ? "no integration matches the search" : "no integration configs"}
                </Table.Cell>
              </Table.Row>
            ) : null}
            {shown.map((row) =>
              row.dag_id === null ? (
                <Table.Row key={`broken-${row.file ?? row.name}`} data-name={row.name} className="broken">
                  <Table.Cell>{row.name}</Table.Cell>
                  <Table.Cell colSpan={6} color="red.fg" whiteSpace="pre-wrap">
                    {row.error}
                  </Table.Cell>
                  <Table.Cell>
                    <ResultBadge result={row.last_run_result} reason={row.error} />
                  </Table.Cell>
                  <Table.Cell>–</Table.Cell>
                  <Table.Cell>–</Table.Cell>
                </Table.Row>
              ) : (
                <Table.Row key={row.name} data-name={row.name}>
                  <Table.Cell>
                    <Link
                      colorPalette="blue"
                      href={`#${row.name}`}
                      onClick={(e) => {
                        e.preventDefault();
                        go({ view: "integration", name: row.name });
                      }}
                    >
                      {row.name}
                    </Link>
                  </Table.Cell>
                  <Table.Cell fontFamily="mono" fontSize="xs">
                    {row.source}
                  </Table.Cell>
                  <Table.Cell textAlign="end">{number(row.attributes_imported)}</Table.Cell>
                  <Table.Cell textAlign="end">{number(row.users)}</Table.Cell>
                  <Table.Cell title={row.schedule ?? ""}>{row.schedule_words}</Table.Cell>
                  <Table.Cell title={row.start_words ?? ""}>{row.start}</Table.Cell>
                  <Table.Cell>{when(row.last_run_at)}</Table.Cell>
                  <Table.Cell>
                    <ResultBadge result={row.last_run_result} reason={row.last_run_reason} />
                  </Table.Cell>
                  <Table.Cell>{row.ready_for_targeting ? "yes" : "no"}</Table.Cell>
                  <Table.Cell>
                    <Toggle row={row} onChange={load} />
                  </Table.Cell>
                </Table.Row>
              ),
            )}
          </Table.Body>
        </Table.Root>
      ) : null}
    </Box>
  );
};
