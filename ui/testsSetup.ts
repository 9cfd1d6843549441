// Vitest's setup, as in Airflow's plugin template: Testing Library's DOM matchers, and the DOM
// of each test cleaned up after it (Vitest runs without globals here).
import "@testing-library/jest-dom/vitest";
import { cleanup, configure } from "@testing-library/react";
import { afterEach } from "vitest";

afterEach(cleanup);
// Chakra's first render in jsdom is slow on a busy machine: wait up to 10 s for what a test finds.
configure({ asyncUtilTimeout: 10_000 });
