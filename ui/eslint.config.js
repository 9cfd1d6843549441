// ESLint as Airflow's UI and its React plugin template set it up (dev/react-plugin-tools/
// react_plugin_template/eslint.config.js): typescript-eslint's recommended and type-aware rules,
// React hooks, object keys sorted (perfectionist), Prettier's formatting left to Prettier.
import js from "@eslint/js";
import prettierConfig from "eslint-config-prettier";
import perfectionist from "eslint-plugin-perfectionist";
import reactHooks from "eslint-plugin-react-hooks";
import reactRefresh from "eslint-plugin-react-refresh";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "src/common/openapi.ts"] },
  {
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    files: ["**/*.{ts,tsx}"],
    languageOptions: {
      ecmaVersion: "latest",
      globals: globals.browser,
    },
    plugins: {
      perfectionist,
      "react-hooks": reactHooks,
      "react-refresh": reactRefresh,
    },
    rules: {
      ...reactHooks.configs.recommended.rules,
      // As Airflow's UI: no `React.` namespace, no default React import, no `FC`.
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          paths: [
            {
              importNames: ["default"],
              message: "The automatic JSX runtime makes the React default import unnecessary.",
              name: "react",
            },
          ],
        },
      ],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      eqeqeq: "error",
      "no-console": "error",
      "no-restricted-syntax": [
        "error",
        {
          message: "Annotate the props parameter instead of typing a component with `React.FC`.",
          selector: "TSQualifiedName[left.name='React'][right.name=/^(FC|FunctionComponent|VFC)$/]",
        },
        {
          message: 'Import React types by name: `import { type ReactNode } from "react"`.',
          selector: "TSQualifiedName[left.name='React']:not([right.name=/^(FC|FunctionComponent|VFC)$/])",
        },
      ],
      "perfectionist/sort-objects": ["error", { order: "asc", type: "natural" }],
      "react-refresh/only-export-components": ["warn", { allowConstantExport: true }],
    },
  },
  prettierConfig,
);
