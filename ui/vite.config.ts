// The library build Airflow's react_apps loader expects (as in Airflow's template for React
// plugins, dev/react-plugin-tools): one UMD file that registers the plugin's component on
// globalThis. React, React Router, Chakra UI and Emotion are the host's own (Airflow's UI puts
// them on globalThis), so the plugin shares its theme, color mode and router and stays small.
// Paths are relative to this folder: `npm run build` runs here.
import react from "@vitejs/plugin-react";
import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

const HOST_GLOBALS: Record<string, string> = {
  "@chakra-ui/react": "ChakraUI",
  "@emotion/react": "EmotionReact",
  react: "React",
  "react-dom": "ReactDOM",
  "react-router-dom": "ReactRouterDOM",
  "react/jsx-runtime": "ReactJSXRuntime",
};

export default defineConfig({
  build: {
    emptyOutDir: true,
    lib: {
      entry: resolve("src/main.tsx"),
      fileName: () => "inbound-ui.js",
      formats: ["umd"],
      name: "AirflowPlugin",
    },
    minify: true,
    outDir: resolve("../include/inbound/web/static"),
    rollupOptions: {
      external: Object.keys(HOST_GLOBALS),
      output: { exports: "default", globals: HOST_GLOBALS },
    },
    sourcemap: false,
  },
  define: { "process.env.NODE_ENV": JSON.stringify(process.env.VITEST ? "test" : "production") },
  plugins: [react()],
  // Vitest + Testing Library, as Airflow's plugin template runs them (jsdom here: Node 20).
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    mockReset: true,
    restoreMocks: true,
    setupFiles: "./testsSetup.ts",
    testTimeout: 30_000,
  },
});
