// The inbound plugin's React app: the Integrations pages inside Airflow's UI.
//
// Airflow's react_apps loader imports this bundle and renders the component it finds on
// globalThis under the app's name (or `AirflowPlugin`), inside the host's own React tree:
// Chakra UI, its theme and color mode, and React Router are the host's (see vite.config.ts).
import { Box, Text } from "@chakra-ui/react";
import { QueryClientProvider } from "@tanstack/react-query";
import { useState } from "react";
import { useSearchParams } from "react-router-dom";

import { Toaster } from "./common/toaster";
import { IntegrationPage } from "./integration/IntegrationPage";
import { IntegrationsTable } from "./integrations/IntegrationsTable";
import { createQueryClient } from "./queries/queryClient";
import { Targeting } from "./targeting/Targeting";
import { NewIntegration } from "./wizard/NewIntegration";

// `focus`: the part of an integration's page a row's action opens (its re-import, why it failed).
export type Place =
  | { view: "table" }
  | { view: "integration"; name: string; focus?: "reimport" | "why" }
  | { view: "targeting" }
  | { view: "new" };
export type Go = (place: Place) => void;

export interface PluginProps {
  readonly dagId?: string;
}

/** The nav page: the table, an integration, targeting or the wizard, kept in the URL's query. */
const Pages = () => {
  const [params, setParams] = useSearchParams();
  const go: Go = (place) => {
    const next = new URLSearchParams();
    if (place.view !== "table") next.set("view", place.view);
    if (place.view === "integration") next.set("name", place.name);
    if (place.view === "integration" && place.focus) next.set("focus", place.focus);
    setParams(next);
  };
  const view = params.get("view");
  const name = params.get("name");
  if (view === "integration" && name)
    return <IntegrationPage focus={params.get("focus")} go={go} key={name} name={name} />;
  if (view === "targeting") return <Targeting go={go} />;
  if (view === "new") return <NewIntegration go={go} />;
  return <IntegrationsTable go={go} />;
};

/** The DAG tab: the integration a DAG imports, or one line on any other DAG. */
const DagTab = ({ dagId }: { readonly dagId: string }) =>
  dagId.startsWith("inbound_") ? (
    <IntegrationPage name={dagId.slice("inbound_".length)} />
  ) : (
    <Box p={4}>
      <Text color="fg.muted">{dagId} is not an inbound integration.</Text>
    </Box>
  );

// TanStack Query is the plugin's own (bundled, pinned): the host shares React, React Router and
// Chakra UI on globalThis, not its query client. One client per mounted app.
const InboundApp = ({ dagId }: PluginProps) => {
  const [client] = useState(createQueryClient);
  return (
    <QueryClientProvider client={client}>
      <Box data-testid="inbound" id="inbound">
        {dagId ? <DagTab dagId={dagId} /> : <Pages />}
      </Box>
      <Toaster />
    </QueryClientProvider>
  );
};

// The loader looks for the component under the app's name first: one bundle serves both entries.
for (const name of ["Integrations", "Integration"]) {
  Reflect.set(globalThis, name, InboundApp);
}

export default InboundApp;
