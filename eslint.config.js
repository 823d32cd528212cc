import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "sigil-data/", "coverage/", "bench/out/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: globals.node,
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    // The web portal (web/, bundled by Vite for browsers).
    files: ["web/**/*.ts", "web/**/*.tsx"],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ["src/x509/**/*.ts", "src/policy/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            { name: "node:fs", message: "x509/ and policy/ are pure: no I/O." },
            { name: "node:fs/promises", message: "x509/ and policy/ are pure: no I/O." },
            { name: "fs", message: "x509/ and policy/ are pure: no I/O." },
            { name: "better-sqlite3", message: "x509/ and policy/ are pure: no I/O." },
            { name: "kysely", message: "x509/ and policy/ are pure: no I/O." },
          ],
        },
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: "Pure code takes `now` as a parameter.",
        },
        {
          selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message: "Pure code takes `now` as a parameter.",
        },
      ],
    },
  },
);
