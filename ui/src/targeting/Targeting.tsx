import { Box, Button, Code, HStack, Heading, Input, NativeSelect, Spinner, Table, Text, VStack } from "@chakra-ui/react";
import { useEffect, useMemo, useState } from "react";

import { api, type Attribute, type Segment, type UserAttributes } from "../common/api";
import type { Go } from "../main";
import { PageHeader } from "../common/PageHeader";

// The rule JSON `inbound.rules` takes: {"all"|"any": [...]} groups of {"attribute", "op", "value"}.
export type Condition = { attribute: string; op: string; value?: unknown };
export type Group = { kind: "all" | "any"; items: Node[] };
export type Node = Condition | Group;

const isGroup = (node: Node): node is Group => "kind" in node;

const OPS_BY_TYPE: Record<string, [string, string][]> = {
  string: [
    ["eq", "is"],
    ["ne", "is not"],
    ["in", "is one of"],
    ["not_in", "is none of"],
    ["contains", "contains"],
    ["exists", "is set"],
    ["not_exists", "is not set"],
  ],
  boolean: [
    ["eq", "is"],
    ["exists", "is set"],
    ["not_exists", "is not set"],
  ],
};
const ORDERED_OPS: [string, string][] = [
  ["eq", "="],
  ["ne", "≠"],
  ["gt", ">"],
  ["gte", "≥"],
  ["lt", "<"],
  ["lte", "≤"],
  ["in", "is one of"],
  ["exists", "is set"],
  ["not_exists", "is not set"],
];
export const opsFor = (type: string): [string, string][] => OPS_BY_TYPE[type] ?? ORDERED_OPS;

/** A condition's value in the type of its attribute (what the rule's JSON carries). */
const typed = (raw: string, type: string, op: string): unknown => {
  if (op === "in" || op === "not_in") return raw.split(",").map((v) => typed(v.trim(), type, "eq"));
  if (type === "integer" || type === "number") return raw === "" || Number.isNaN(Number(raw)) ? raw : Number(raw);
  if (type === "boolean") return raw === "true";
  return raw;
};

export const toRule = (node: Node): unknown =>
  isGroup(node)
    ? { [node.kind]: node.items.map(toRule) }
    : node.op === "exists" || node.op === "not_exists"
      ? { attribute: node.attribute, op: node.op }
      : { attribute: node.attribute, op: node.op, value: node.value };

const inputType = (type: string): string =>
  type === "integer" || type === "number" ? "number" : type === "date" ? "date" : type === "timestamp" ? "datetime-local" : "text";

const ConditionEditor = ({
  condition,
  attributes,
  onChange,
  onRemove,
  path,
}: {
  readonly condition: Condition;
  readonly attributes: Attribute[];
  readonly onChange: (c: Condition) => void;
  readonly onRemove: () => void;
  readonly path: string;
}) => {
  const type = attributes.find((a) => a.attribute === condition.attribute)?.type ?? "string";
  const ops = opsFor(type);
  const byIntegration = useMemo(() => {
    const groups = new Map<string, Attribute[]>();
    for (const a of attributes) groups.set(a.integration, [...(groups.get(a.integration) ?? []), a]);
    return [...groups.entries()];
  }, [attributes]);
  const [raw, setRaw] = useState(condition.value === undefined ? "" : String(condition.value));
  const needsValue = condition.op !== "exists" && condition.op !== "not_exists";
  return (
    <HStack gap={2} wrap="wrap" data-condition={path}>
      <NativeSelect.Root size="sm" width="14rem">
        <NativeSelect.Field
          aria-label="Attribute"
          value={condition.attribute}
          onChange={(e) => {
            const next = attributes.find((a) => a.attribute === e.target.value);
            const op = opsFor(next?.type ?? "string")[0][0];
            setRaw(next?.type === "boolean" ? "true" : "");
            onChange({ attribute: e.target.value, op, value: next?.type === "boolean" ? true : "" });
          }}
        >
          {byIntegration.map(([integration, list]) => (
            <optgroup key={integration} label={integration}>
              {list.map((a) => (
                <option key={a.attribute} value={a.attribute}>
                  {a.attribute} ({a.type})
                </option>
              ))}
            </optgroup>
          ))}
        </NativeSelect.Field>
        <NativeSelect.Indicator />
      </NativeSelect.Root>
      <NativeSelect.Root size="sm" width="9rem">
        <NativeSelect.Field
          aria-label="Operator"
          value={condition.op}
          onChange={(e) => onChange({ ...condition, op: e.target.value, value: typed(raw, type, e.target.value) })}
        >
          {ops.map(([op, label]) => (
            <option key={op} value={op}>
              {label}
            </option>
          ))}
        </NativeSelect.Field>
        <NativeSelect.Indicator />
      </NativeSelect.Root>
      {needsValue && type === "boolean" ? (
        <NativeSelect.Root size="sm" width="7rem">
          <NativeSelect.Field
            aria-label="Value"
            value={String(condition.value ?? "true")}
            onChange={(e) => {
              setRaw(e.target.value);
              onChange({ ...condition, value: e.target.value === "true" });
            }}
          >
            <option value="true">true</option>
            <option value="false">false</option>
          </NativeSelect.Field>
          <NativeSelect.Indicator />
        </NativeSelect.Root>
      ) : null}
      {needsValue && type !== "boolean" ? (
        <Input
          aria-label="Value"
          size="sm"
          width="14rem"
          type={condition.op === "in" || condition.op === "not_in" ? "text" : inputType(type)}
          placeholder={condition.op === "in" || condition.op === "not_in" ? "a, b, c" : type}
          value={raw}
          onChange={(e) => {
            setRaw(e.target.value);
            onChange({ ...condition, value: typed(e.target.value, type, condition.op) });
          }}
        />
      ) : null}
      <Button size="xs" variant="ghost" onClick={onRemove} aria-label="Remove condition">
        ✕
      </Button>
    </HStack>
  );
};

const GroupEditor = ({
  group,
  attributes,
  onChange,
  onRemove,
  path,
}: {
  readonly group: Group;
  readonly attributes: Attribute[];
  readonly onChange: (g: Group) => void;
  readonly onRemove?: () => void;
  readonly path: string;
}) => {
  const first = attributes[0];
  const blank = (): Condition => ({
    attribute: first?.attribute ?? "",
    op: opsFor(first?.type ?? "string")[0][0],
    value: first?.type === "boolean" ? true : "",
  });
  const set = (i: number, node: Node) => onChange({ ...group, items: group.items.map((x, j) => (j === i ? node : x)) });
  const drop = (i: number) => onChange({ ...group, items: group.items.filter((_, j) => j !== i) });
  return (
    <Box borderLeftWidth="3px" borderColor="border.emphasized" pl={3} py={1} data-group={path}>
      <HStack gap={2} mb={2}>
        <NativeSelect.Root size="xs" width="11rem">
          <NativeSelect.Field
            aria-label="Match"
            value={group.kind}
            onChange={(e) => onChange({ ...group, kind: e.target.value as "all" | "any" })}
          >
            <option value="all">all of these</option>
            <option value="any">any of these</option>
          </NativeSelect.Field>
          <NativeSelect.Indicator />
        </NativeSelect.Root>
        <Button size="xs" variant="outline" onClick={() => onChange({ ...group, items: [...group.items, blank()] })}>
          + condition
        </Button>
        <Button
          size="xs"
          variant="outline"
          onClick={() => onChange({ ...group, items: [...group.items, { kind: "any", items: [blank()] }] })}
        >
          + group
        </Button>
        {onRemove ? (
          <Button size="xs" variant="ghost" onClick={onRemove} aria-label="Remove group">
            ✕
          </Button>
        ) : null}
      </HStack>
      <VStack align="stretch" gap={2}>
        {group.items.map((node, i) =>
          isGroup(node) ? (
            <GroupEditor
              key={i}
              path={`${path}.${i}`}
              group={node}
              attributes={attributes}
              onChange={(g) => set(i, g)}
              onRemove={() => drop(i)}
            />
          ) : (
            <ConditionEditor
              key={`${i}-${node.attribute}`}
              path={`${path}.${i}`}
              condition={node}
              attributes={attributes}
              onChange={(c) => set(i, c)}
              onRemove={() => drop(i)}
            />
          ),
        )}
      </VStack>
    </Box>
  );
};

const UserLookup = () => {
  const [userId, setUserId] = useState("");
  const [found, setFound] = useState<UserAttributes | null>(null);
  const [error, setError] = useState<string | null>(null);
  const look = () => {
    setError(null);
    api
      .user(userId.trim())
      .then(setFound)
      .catch((e: Error) => setError(e.message));
  };
  return (
    <Box>
      <HStack as="form" gap={2} onSubmit={(e) => { e.preventDefault(); look(); }}>
        <Input aria-label="User ID" placeholder="user ID, e.g. ada@example.com" size="sm" width="20rem" value={userId} onChange={(e) => setUserId(e.target.value)} />
        <Button size="sm" type="submit" disabled={!userId.trim()}>
          Look up
        </Button>
      </HStack>
      {error ? <Text color="red.fg" role="alert">{error}</Text> : null}
      {found ? (
        <Table.Root size="sm" mt={2} id="user-attributes">
          <Table.Header>
            <Table.Row>
              <Table.ColumnHeader>Attribute</Table.ColumnHeader>
              <Table.ColumnHeader>Value</Table.ColumnHeader>
              <Table.ColumnHeader>Integration</Table.ColumnHeader>
              <Table.ColumnHeader>File</Table.ColumnHeader>
              <Table.ColumnHeader>Time</Table.ColumnHeader>
            </Table.Row>
          </Table.Header>
          <Table.Body>
            {Object.keys(found.attributes).length === 0 ? (
              <Table.Row>
                <Table.Cell colSpan={5} color="fg.muted">no attributes for this user</Table.Cell>
              </Table.Row>
            ) : null}
            {Object.entries(found.attributes).map(([name, value]) => (
              <Table.Row key={name}>
                <Table.Cell fontFamily="mono">{name}</Table.Cell>
                <Table.Cell>{JSON.stringify(value)}</Table.Cell>
                <Table.Cell>{found.sources[name]?.integration}</Table.Cell>
                <Table.Cell fontFamily="mono" fontSize="xs">{found.sources[name]?.file}</Table.Cell>
                <Table.Cell fontSize="xs">{found.sources[name]?.updated_at}</Table.Cell>
              </Table.Row>
            ))}
          </Table.Body>
        </Table.Root>
      ) : null}
    </Box>
  );
};

/** Targeting: a rule builder with a live count and sample, and the user lookup. */
export const Targeting = ({ go }: { readonly go: Go }) => {
  const [attributes, setAttributes] = useState<Attribute[] | null>(null);
  const [root, setRoot] = useState<Group>({ kind: "all", items: [] });
  const [segment, setSegment] = useState<Segment | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  useEffect(() => {
    api.attributes().then(setAttributes).catch((e: Error) => setLoadError(e.message));
  }, []);

  const rule = useMemo(() => toRule(root), [root]);
  const ruleText = JSON.stringify(rule);
  useEffect(() => {
    if (!root.items.length) {
      setSegment(null);
      setError(null);
      return;
    }
    const timer = setTimeout(() => {
      api
        .segment(rule, 10)
        .then((s) => {
          setSegment(s);
          setError(null);
        })
        .catch((e: Error) => {
          setSegment(null);
          setError(e.message);
        });
    }, 250);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ruleText]);

  return (
    <Box p={4}>
      <PageHeader title={"Targeting"} go={go} />
      <Heading size="md" as="h2" mb={2}>
        Segment
      </Heading>
      {loadError ? <Text color="red.fg" role="alert">{loadError}</Text> : null}
      {attributes === null && !loadError ? <Spinner /> : null}
      {attributes !== null ? (
        <Box id="rule-builder">
          <GroupEditor group={root} attributes={attributes} onChange={setRoot} path="root" />
          <Box mt={3} aria-live="polite">
            {segment ? (
              <Text id="segment-count">
                <b>{segment.count.toLocaleString("en-US")}</b> users match
                {segment.sample.length ? `, e.g. ${segment.sample.join(", ")}` : ""}
              </Text>
            ) : null}
            {error ? <Text color="red.fg" role="alert">{error}</Text> : null}
          </Box>
          <details>
            <summary>The rule as JSON</summary>
            <Code display="block" whiteSpace="pre-wrap" p={2} id="rule-json">
              {JSON.stringify(rule, null, 2)}
            </Code>
          </details>
        </Box>
      ) : null}
      <Heading size="md" as="h2" mt={6} mb={2}>
        User lookup
      </Heading>
      <UserLookup />
    </Box>
  );
};
