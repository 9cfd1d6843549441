// The library build Airflow's react_apps loader expects (as in Airflow's template for React
// plugins, dev/react-plugin-tools): one UMD file that registers the plugin's component on
// globalThis. React, React Router, Chakra UI and Emotion are the host's own (Airflow's UI puts
// them on globalThis), so the plugin shares its theme, color mode and router and stays small.
// Paths are relative to this folder: `npm run build` runs here.
import react from "@vitejs/plugin-react";
import { resolve } from "node:path";
import { defineConfig } from "vite";

const HOST_GLOBALS: Record<string, string> = {
  react: "React",
  "react-dom": "ReactDOM",
  "react/jsx-runtime": "ReactJSXRuntime",
  "react-router-dom": "ReactRouterDOM",
  "@chakra-ui/react": "ChakraUI",
  "@emotion/react": "EmotionReact",
};

export default defineConfig({
  plugins: [react()],
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir: resolve("../include/inbound/web/static"),
    emptyOutDir: true,
    minify: true,
    sourcemap: false,
    lib: {
      entry: resolve("src/main.tsx"),
      formats: ["umd"],
      name: "AirflowPlugin",
      fileName: () => "inbound-ui.js",
    },
    rollupOptions: {
      external: Object.keys(HOST_GLOBALS),
      output: { globals: HOST_GLOBALS, exports: "default" },
    },
  },
});
