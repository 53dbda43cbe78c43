// The linter of the front end: typescript-eslint's type-checked rules over src/,
// React's hook rules, and a guard that keeps the shared views free of anywidget
// and JupyterLab so the lab extension can import them.
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["scripts/**", "eslint.config.mjs"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    files: ["src/**/*.{ts,tsx}"],
    languageOptions: {
      globals: globals.browser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "react-hooks": reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
    },
  },
  {
    files: ["src/views/**/*.{ts,tsx}"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["@anywidget/*", "anywidget"], message: "Views take their data through props; only js/src/widgets/ speaks anywidget." },
            { group: ["@jupyterlab/*", "@lumino/*"], message: "Views are shared with hosts other than JupyterLab." },
          ],
        },
      ],
    },
  },
);
