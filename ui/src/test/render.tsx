// Test helpers: the app's providers around a component, and fetch stubbed at the network boundary.
import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { vi } from "vitest";

import { createQueryClient } from "../queries/queryClient";

// jsdom lays nothing out and has no ResizeObserver: Chakra's popovers position themselves with one.
globalThis.ResizeObserver ??= class {
  disconnect() {}
  observe() {}
  unobserve() {}
};

export const renderWithProviders = (ui: ReactNode) => {
  const client = createQueryClient();
  client.setDefaultOptions({ queries: { ...client.getDefaultOptions().queries, retry: false } });
  return render(
    <ChakraProvider value={defaultSystem}>
      <QueryClientProvider client={client}>{ui}</QueryClientProvider>
    </ChakraProvider>,
  );
};

export type Route = (url: URL, init: RequestInit | undefined) => unknown;

/** `fetch` answering JSON from `route` (a thrown Response is answered as is); every call recorded. */
export const stubFetch = (route: Route) => {
  const calls: { body: unknown; method: string; url: URL }[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    calls.push({
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
      method: init?.method ?? "GET",
      url,
    });
    try {
      return new Response(JSON.stringify(route(url, init)), {
        headers: { "Content-Type": "application/json" },
      });
    } catch (answer) {
      if (answer instanceof Response) return answer;
      throw answer;
    }
  });
  vi.stubGlobal("fetch", fetch);
  return calls;
};
