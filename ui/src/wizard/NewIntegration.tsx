import {
  Box,
  Button,
  Checkbox,
  Code,
  Field,
  HStack,
  Heading,
  Input,
  NativeSelect,
  Table,
  Text,
} from "@chakra-ui/react";
import { useEffect, useMemo, useState } from "react";

import { PageHeader } from "../common/PageHeader";
import type { ColumnProfile, ConfigCheck, Discovery } from "../common/api";
import { ErrorAlert, Loading } from "../common/states";
import { useDebounced } from "../common/useDebounced";
import type { Go } from "../main";
import { useConnections, useDiscover, useSampleCheck } from "../queries/useWizard";
import { ProblemList, SampleResult, Verdict, YamlView } from "./Checked";
import {
  type Choice,
  DECIMALS,
  type Settings,
  TYPES,
  example,
  initialChoices,
  isTemporal,
  proposedName,
  retyped,
  toYaml,
} from "./yaml";

/** How much of the export's head discovery and the check read (the API's default, 1 MiB). */
const SAMPLE_BYTES = 1024 * 1024;

/** The layout of a date/timestamp column: discovery's fitting layouts, else a layout to type. */
const LayoutInput = ({
  choice,
  onChange,
  profile,
}: {
  readonly choice: Choice;
  readonly onChange: (format: string | null) => void;
  readonly profile: ColumnProfile | undefined;
}) => {
  const label = `Layout of ${choice.column}`;
  if (!isTemporal(choice.type)) return <Text color="fg.muted">—</Text>;
  if (profile && profile.type === choice.type) {
    // the proposed layout first (ISO-8601 when discovery proposed none), then the other fitting ones
    const layouts = [
      ...(profile.format === null ? [""] : [profile.format]),
      ...profile.formats.filter((f) => f !== profile.format),
    ];
    if (choice.format !== null && !layouts.includes(choice.format)) layouts.push(choice.format);
    return (
      <NativeSelect.Root size="xs" width="19rem">
        <NativeSelect.Field
          aria-label={label}
          fontFamily="mono"
          onChange={(e) => onChange(e.target.value || null)}
          value={choice.format ?? ""}
        >
          {layouts.map((f, i) => (
            <option key={f} value={f}>
              {f
                ? `${f} (${example(f)})`
                : `ISO-8601 (${choice.type === "date" ? "2026-12-31" : "2026-12-31T13:45:30"})`}
              {i === 0 ? " · proposed" : ""}
            </option>
          ))}
        </NativeSelect.Field>
        <NativeSelect.Indicator />
      </NativeSelect.Root>
    );
  }
  return (
    <Input
      aria-label={label}
      fontFamily="mono"
      onChange={(e) => onChange(e.target.value || null)}
      placeholder="ISO-8601, or e.g. %d.%m.%Y"
      size="xs"
      value={choice.format ?? ""}
      width="19rem"
    />
  );
};

/**
 * New integration: S3 location and connection -> discovery -> user ID, decimal mark, attributes,
 * names, types and layouts -> the sample mapped with the config as a run would map it (rejected
 * rows per column) -> the YAML the server checked, with every problem at its line, to copy or
 * download. Nothing is written on the server: the config goes into git like every other.
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
  const [settings, setSettings] = useState<Settings>({
    decimal: ".",
    name: "",
    schedule: "@daily",
    userId: "",
  });
  const [choices, setChoices] = useState<Choice[]>([]);
  const [copied, setCopied] = useState(false);
  const [last, setLast] = useState<ConfigCheck>();

  const discover = () =>
    discovery.mutate(
      { conn, uri: uri.trim() },
      {
        onSuccess: (d) => {
          const userId = d.user_id_candidates[0] ?? d.columns[0]?.name ?? "";
          setSettings((s) => ({ ...s, decimal: d.decimal, name: proposedName(d.config), userId }));
          setChoices(initialChoices(d.columns, userId));
          setLast(undefined);
        },
      },
    );

  const yaml = useMemo(() => (found ? toYaml(found, settings, choices) : ""), [found, settings, choices]);

  // Every change is checked with the sample mapped (debounced while typing); a newer check
  // aborts the older one, and only an answer for the YAML on the page is shown as current.
  const settled = useDebounced(yaml, 300);
  const { data, error, mutate, variables } = useSampleCheck();
  useEffect(() => {
    if (!found || !settled || settled !== yaml || settled === found.check.yaml) return;
    mutate(
      {
        config: settled,
        sample: {
          aws_conn_id: found.aws_conn_id,
          bytes: SAMPLE_BYTES,
          uri: `s3://${found.bucket}/${found.key}`,
        },
      },
      { onSuccess: setLast },
    );
  }, [found, settled, yaml, mutate]);
  const asked = variables?.config === yaml;
  const current: ConfigCheck | undefined =
    data && asked ? data : found?.check.yaml === yaml ? found.check : undefined;
  const failed = asked && error ? error : null;
  const shown = current ?? last; // the last answer stays, dimmed, while the next is asked
  const view = failed ? undefined : shown; // the YAML shown and its problems: one answer's
  const checking = Boolean(found) && !current && !failed;
  // what is offered is what was checked (or, when the check itself failed, the YAML as made)
  const offered = current?.yaml ?? (failed ? yaml : undefined);

  const set = (i: number, change: (c: Choice) => Choice) =>
    setChoices((all) => all.map((c, j) => (j === i ? change(c) : c)));
  const setting = (change: Partial<Settings>) => setSettings((s) => ({ ...s, ...change }));
  const download = () => {
    if (offered === undefined) return;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([offered], { type: "application/yaml" }));
    link.download = `${settings.name}.yaml`;
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
        align="end"
        as="form"
        gap={2}
        wrap="wrap"
        onSubmit={(e) => {
          e.preventDefault();
          discover();
        }}
      >
        <Field.Root width="28rem">
          <Field.Label>S3 location</Field.Label>
          <Input
            placeholder="s3://bucket/folder/export_*.csv"
            size="sm"
            value={uri}
            onChange={(e) => setUri(e.target.value)}
            fontFamily="mono"
          />
        </Field.Root>
        <Field.Root width="14rem" disabled={!connections?.length}>
          <Field.Label>AWS connection</Field.Label>
          <NativeSelect.Root size="sm">
            <NativeSelect.Field value={conn} onChange={(e) => setConn(e.target.value)}>
              {(connections ?? []).map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </NativeSelect.Field>
            <NativeSelect.Indicator />
          </NativeSelect.Root>
        </Field.Root>
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
          <HStack align="start" gap={4} my={3} wrap="wrap">
            <Field.Root width="18rem">
              <Field.Label>User ID column</Field.Label>
              <NativeSelect.Root size="sm">
                <NativeSelect.Field
                  value={settings.userId}
                  onChange={(e) => setting({ userId: e.target.value })}
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
            </Field.Root>
            <Field.Root width="17rem">
              <Field.Label>Decimal mark</Field.Label>
              <NativeSelect.Root size="sm">
                <NativeSelect.Field
                  value={settings.decimal}
                  onChange={(e) => setting({ decimal: e.target.value })}
                >
                  {DECIMALS.map((d) => (
                    <option key={d.value} value={d.value}>
                      {d.label}
                      {d.value === found.decimal ? " · in the sample" : ""}
                    </option>
                  ))}
                </NativeSelect.Field>
                <NativeSelect.Indicator />
              </NativeSelect.Root>
              <Field.HelperText>How numbers write their decimals (format.decimal)</Field.HelperText>
            </Field.Root>
          </HStack>
          <Table.Root size="sm" id="columns">
            <Table.Header>
              <Table.Row>
                <Table.ColumnHeader>Import</Table.ColumnHeader>
                <Table.ColumnHeader>Column</Table.ColumnHeader>
                <Table.ColumnHeader>Samples</Table.ColumnHeader>
                <Table.ColumnHeader>Attribute name</Table.ColumnHeader>
                <Table.ColumnHeader>Type</Table.ColumnHeader>
                <Table.ColumnHeader>Layout</Table.ColumnHeader>
              </Table.Row>
            </Table.Header>
            <Table.Body>
              {choices.map((c, i) => {
                const profile = found.columns[i];
                return (
                  <Table.Row key={c.column} data-column={c.column}>
                    <Table.Cell>
                      <Checkbox.Root
                        checked={c.include && c.column !== settings.userId}
                        disabled={c.column === settings.userId}
                        onCheckedChange={(e) => set(i, (old) => ({ ...old, include: e.checked === true }))}
                        size="sm"
                      >
                        <Checkbox.HiddenInput aria-label={`Import ${c.column}`} />
                        <Checkbox.Control />
                      </Checkbox.Root>
                    </Table.Cell>
                    <Table.Cell fontFamily="mono">{c.column}</Table.Cell>
                    <Table.Cell fontSize="xs" color="fg.muted">
                      {profile?.samples.slice(0, 3).join(", ")}
                    </Table.Cell>
                    <Table.Cell>
                      <Input
                        aria-label={`Attribute name for ${c.column}`}
                        size="xs"
                        width="12rem"
                        value={c.name}
                        onChange={(e) => set(i, (old) => ({ ...old, name: e.target.value }))}
                        fontFamily="mono"
                      />
                    </Table.Cell>
                    <Table.Cell>
                      <NativeSelect.Root size="xs" width="8rem">
                        <NativeSelect.Field
                          aria-label={`Type of ${c.column}`}
                          value={c.type}
                          onChange={(e) => set(i, (old) => retyped(old, profile, e.target.value))}
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
                    <Table.Cell>
                      <LayoutInput
                        choice={c}
                        onChange={(format) => set(i, (old) => ({ ...old, format }))}
                        profile={profile}
                      />
                    </Table.Cell>
                  </Table.Row>
                );
              })}
            </Table.Body>
          </Table.Root>

          <Heading size="md" as="h2" mt={6} mb={2}>
            3. The sample, mapped with this config
          </Heading>
          <Text fontSize="sm" color="fg.muted" mb={2}>
            The sampled rows go through the import&apos;s own reader and mapping, as a run would take them.
          </Text>
          <ErrorAlert error={failed} title="The config could not be checked" />
          <Box aria-busy={checking} opacity={checking && shown ? 0.6 : 1}>
            {shown ? (
              <SampleResult sample={shown.sample} />
            ) : failed ? null : (
              <Loading label="Mapping the sample" rows={2} />
            )}
          </Box>
          <Verdict answer={current} checking={checking} name={settings.name} />

          <Heading size="md" as="h2" mt={6} mb={2}>
            4. The config
          </Heading>
          <HStack align="end" gap={2} mb={3} wrap="wrap">
            <Field.Root width="14rem">
              <Field.Label>Integration name</Field.Label>
              <Input
                size="sm"
                value={settings.name}
                onChange={(e) => setting({ name: e.target.value })}
                fontFamily="mono"
              />
            </Field.Root>
            <Field.Root width="10rem">
              <Field.Label>Schedule</Field.Label>
              <Input
                size="sm"
                value={settings.schedule}
                onChange={(e) => setting({ schedule: e.target.value })}
                fontFamily="mono"
              />
            </Field.Root>
            <Button
              size="sm"
              variant="outline"
              disabled={offered === undefined}
              onClick={() => void navigator.clipboard?.writeText(offered ?? "").then(() => setCopied(true))}
            >
              {copied ? "Copied" : "Copy"}
            </Button>
            <Button size="sm" variant="outline" disabled={offered === undefined} onClick={download}>
              Download {settings.name}.yaml
            </Button>
          </HStack>
          {view ? <ProblemList problems={view.problems} /> : null}
          {view || failed ? (
            <YamlView problems={view?.problems ?? []} stale={!current} yaml={view?.yaml ?? yaml} />
          ) : (
            <Loading label="Checking the config" rows={6} />
          )}
        </Box>
      ) : null}
    </Box>
  );
};
