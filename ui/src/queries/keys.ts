// Query keys, one family per resource: invalidating a family refreshes every page that shows it.
export const keys = {
  attributes: ["attributes"] as const,
  check: (config: string) => ["configs", "check", config] as const,
  connections: ["discover", "connections"] as const,
  files: (name: string) => ["integrations", "files", name] as const,
  integration: (name: string, offset: number, limit: number) =>
    ["integrations", "detail", name, { limit, offset }] as const,
  integrationAll: (name: string) => ["integrations", "detail", name] as const,
  integrations: ["integrations", "table"] as const,
  rejections: (name: string, key: string) => ["integrations", "rejections", name, key] as const,
  run: (name: string, runId: string) => ["integrations", "run", name, runId] as const,
  segment: (rule: unknown) => ["segments", "evaluate", rule] as const,
  user: (userId: string) => ["users", userId] as const,
};
