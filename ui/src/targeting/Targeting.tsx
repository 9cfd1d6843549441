import {
  Badge,
  Box,
  Button,
  Code,
  HStack,
  Heading,
  Input,
  List,
  NativeSelect,
  Table,
  Text,
  VStack,
} from "@chakra-ui/react";
import { useMemo, useState } from "react";

import { PageHeader } from "../common/PageHeader";
import type { Attribute } from "../common/api";
import { ErrorAlert, Loading } from "../common/states";
import { useDebounced } from "../common/useDebounced";
import type { Go } from "../main";
import { useAttributes, useSegment, useUser } from "../queries/useTargeting";

// The rule JSON `inbound.rules` takes: {"all"|"any": [...]} groups of {"attribute", "op", "value"}.
export type Condition = { attribute: string; op: string; value?: unknown };
export type Group = { kind: "all" | "any"; items: Node[] };
export type Node = Condition | Group;

const isGroup = (node: Node): node is Group => "kind" in node;

const OPS_BY_TYPE: Record<string, [string, string][]> = {
  boolean: [
    ["eq", "is"],
    ["exists", "is set"],
    ["not_exists", "is not set"],
  ],
  string: [
    ["eq", "is"],
    ["ne", "is not"],
    ["in", "is one of"],
    ["not_in", "is none of"],
    ["contains", "contains"],
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
  if (type === "integer" || type === "number")
    return raw === "" || Number.isNaN(Number(raw)) ? raw : Number(raw);
  if (type === "boolean") return raw === "true";
  return raw;
};

export const toRule = (node: Node): unknown =>
  isGroup(node)
    ? { [node.kind]: node.items.map(toRule) }
    : node.op === "exists" || node.op === "not_exists"
      ? { attribute: node.attribute, op: node.op }
      : { attribute: node.attribute, op: node.op, value: node.value };

const needsValue = (op: string): boolean => op !== "exists" && op !== "not_exists";

/** A value a condition can be asked with: typed, and not empty (nor an empty item of a list). */
const filled = (value: unknown): boolean => {
  if (Array.isArray(value)) return value.length > 0 && value.every(filled);
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value === "boolean") return true;
  return typeof value === "string" && value.trim() !== "";
};

/**
 * Whether a rule can be counted: at least one condition, every group non-empty, every condition
 * with an attribute and, unless it tests presence, a value of its type (a number for a number).
 */
export const isComplete = (node: Node, types: Record<string, string> = {}): boolean => {
  if (isGroup(node)) return node.items.length > 0 && node.items.every((n) => isComplete(n, types));
  if (!node.attribute) return false;
  if (!needsValue(node.op)) return true;
  const type = types[node.attribute];
  const numeric = type === "integer" || type === "number";
  const values = Array.isArray(node.value) ? node.value : [node.value];
  return filled(node.value) && (!numeric || values.every((v) => typeof v === "number"));
};

const inputType = (type: string): string =>
  type === "integer" || type === "number"
    ? "number"
    : type === "date"
      ? "date"
      : type === "timestamp"
        ? "datetime-local"
        : "text";

const ConditionEditor = ({
  attributes,
  condition,
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
  const chosen = attributes.find((a) => a.attribute === condition.attribute);
  const type = chosen?.type ?? "string";
  const ops = opsFor(type);
  const byIntegration = useMemo(() => {
    const groups = new Map<string, Attribute[]>();
    for (const a of attributes) groups.set(a.integration, [...(groups.get(a.integration) ?? []), a]);
    return [...groups.entries()];
  }, [attributes]);
  const [raw, setRaw] = useState(condition.value === undefined ? "" : String(condition.value));
  const valueNeeded = needsValue(condition.op);
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
            <optgroup
              key={integration}
              label={list[0]?.imported === false ? `${integration} (never imported)` : integration}
            >
              {list.map((a) => (
                <option key={a.attribute} value={a.attribute}>
                  {a.attribute} ({a.type}){a.imported === false ? " · never imported" : ""}
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
          onChange={(e) =>
            onChange({ ...condition, op: e.target.value, value: typed(raw, type, e.target.value) })
          }
        >
          {ops.map(([op, label]) => (
            <option key={op} value={op}>
              {label}
            </option>
          ))}
        </NativeSelect.Field>
        <NativeSelect.Indicator />
      </NativeSelect.Root>
      {valueNeeded && type === "boolean" ? (
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
      {valueNeeded && type !== "boolean" ? (
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
      {chosen?.imported === false ? (
        <Badge
          colorPalette="orange"
          data-never-imported
          title={`${chosen.integration} has never imported: no user has this attribute yet`}
        >
          never imported
        </Badge>
      ) : null}
    </HStack>
  );
};

const GroupEditor = ({
  attributes,
  group,
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
  const set = (i: number, node: Node) =>
    onChange({ ...group, items: group.items.map((x, j) => (j === i ? node : x)) });
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
        <Button
          size="xs"
          variant="outline"
          onClick={() => onChange({ ...group, items: [...group.items, blank()] })}
        >
          + condition
        </Button>
        <Button
          size="xs"
          variant="outline"
          onClick={() => onChange({ ...group, items: [...group.items, { items: [blank()], kind: "any" }] })}
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
  const [asked, setAsked] = useState<string | null>(null);
  const { data: found, error } = useUser(asked);
  const look = () => setAsked(userId.trim());
  return (
    <Box>
      <HStack
        as="form"
        gap={2}
        onSubmit={(e) => {
          e.preventDefault();
          look();
        }}
      >
        <Input
          aria-label="User ID"
          placeholder="user ID, e.g. ada@example.com"
          size="sm"
          width="20rem"
          value={userId}
          onChange={(e) => setUserId(e.target.value)}
        />
        <Button size="sm" type="submit" disabled={!userId.trim()}>
          Look up
        </Button>
      </HStack>
      <ErrorAlert error={error} />
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
                <Table.Cell colSpan={5} color="fg.muted">
                  no attributes for this user
                </Table.Cell>
              </Table.Row>
            ) : null}
            {Object.entries(found.attributes).map(([name, value]) => (
              <Table.Row key={name}>
                <Table.Cell fontFamily="mono">{name}</Table.Cell>
                <Table.Cell>{JSON.stringify(value)}</Table.Cell>
                <Table.Cell>{found.sources[name]?.integration}</Table.Cell>
                <Table.Cell fontFamily="mono" fontSize="xs">
                  {found.sources[name]?.file}
                </Table.Cell>
                <Table.Cell fontSize="xs">{found.sources[name]?.updated_at}</Table.Cell>
              </Table.Row>
            ))}
          </Table.Body>
        </Table.Root>
      ) : null}
    </Box>
  );
};

const SegmentResult = ({
  segment,
}: {
  readonly segment: { count: number; sample: string[]; total?: number };
}) => (
  <Box>
    <Text id="segment-count">
      <b>{segment.count.toLocaleString("en-US")}</b>
      {segment.total === undefined ? "" : ` of ${segment.total.toLocaleString("en-US")}`} users match
    </Text>
    {segment.sample.length ? (
      <Box mt={1}>
        <Text color="fg.muted" fontSize="sm">
          {segment.count > segment.sample.length ? `The first ${segment.sample.length}:` : "They are:"}
        </Text>
        <List.Root data-testid="segment-sample" fontFamily="mono" fontSize="sm" ps={5}>
          {segment.sample.map((user) => (
            <List.Item key={user}>{user}</List.Item>
          ))}
        </List.Root>
      </Box>
    ) : null}
  </Box>
);

/** Targeting: a rule builder with a live count and sample, and the user lookup. */
export const Targeting = ({ go }: { readonly go: Go }) => {
  const attributesQuery = useAttributes();
  const attributes = attributesQuery.data;
  const [root, setRoot] = useState<Group>({ items: [], kind: "all" });
  const types = useMemo(
    () => Object.fromEntries((attributes ?? []).map((a) => [a.attribute, a.type])),
    [attributes],
  );
  const rule = useMemo(() => toRule(root), [root]);
  // No count until the rule is complete; a rule being typed is asked once it settles.
  const complete = isComplete(root, types);
  const asked = useDebounced(complete ? rule : null, 250);
  const segment = useSegment(complete ? asked : null, 10);
  const shown = complete && asked !== null ? segment.data : undefined;

  return (
    <Box p={4}>
      <PageHeader title={"Targeting"} go={go} />
      <Heading size="md" as="h2" mb={2}>
        Segment
      </Heading>
      <ErrorAlert error={attributesQuery.error} title="The attributes could not be loaded" />
      {attributesQuery.isPending ? <Loading label="Loading attributes" rows={2} /> : null}
      {attributes ? (
        <Box id="rule-builder">
          <GroupEditor group={root} attributes={attributes} onChange={setRoot} path="root" />
          <Box mt={3} aria-live="polite">
            {!complete && root.items.length ? (
              <Text color="fg.muted" fontSize="sm" data-testid="incomplete">
                Complete every condition to count the users it matches.
              </Text>
            ) : null}
            {shown ? <SegmentResult segment={shown} /> : null}
            {complete ? <ErrorAlert error={segment.error} title="The rule could not be evaluated" /> : null}
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
