import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";
import { readdirSync } from "node:fs";
import { builtinRules } from "eslint/use-at-your-own-risk";

// ---------------------------------------------------------------------------------------------
// The layering (issue 15, point 5; docs/architecture.md). Imports are relative with ".js"
// suffixes, so a folder is reached by a different number of "../" from each depth: the rules
// are generated per top folder of src/ and per depth, each pattern anchored on exactly the
// "../" that climbs back to src/. Static imports and re-exports (type-only ones too, except
// where `allowTypeImports` says otherwise) go through @typescript-eslint/no-restricted-imports;
// dynamic `import("...")` (the CLI loads most modules lazily) through a copy of
// no-restricted-syntax registered as `layering/no-dynamic-import`, so that it never overrides
// (nor is overridden by) the purity rules below.
// ---------------------------------------------------------------------------------------------

/** The edges: they parse, authenticate and render (DESIGN.md). */
const EDGES = ["cli", "http", "mail", "acme", "intake"];
/** The process model and the composition root: above the core, like the edges. */
const ROOTS = ["daemon", "app"];
/** The core: nothing here imports an edge, the daemon or the composition root. */
const CORE = ["x509", "policy", "keys", "store", "audit", "authority", "asn1"];
/** Store implementations (src/store/types.ts, the contract, stays importable). */
const STORE_IMPLEMENTATIONS = ["store/sqlite", "store/postgres", "store/kysely"];
const DATABASE_MODULES = ["kysely", "pg", "better-sqlite3"];

// "/" is left as it is: a RegExp source needs no escape for it, and the esquery form below
// spells it \x2f.
const alt = (names) => names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
/** A regex (as source) for an import that, from `up` folders below src/, reaches one of `targets`. */
const reaching = (up, targets) => `^(?:\\.\\./){${up}}(?:${alt(targets)})(?:/|$)`;

/**
 * The restrictions that hold for files of src/FOLDER (FOLDER "" is src/ itself), each
 * { id, message, regex(up), names?, allowTypeImports? }.
 */
function restrictionsFor(folder) {
  const out = [];
  if (folder !== "store")
    out.push({
      id: "database",
      message: "kysely, pg and better-sqlite3 are imported only under src/store/ (issue 15 layering).",
      names: DATABASE_MODULES,
      regex: () => `^(?:${alt(DATABASE_MODULES)})/`,
    });
  if (CORE.includes(folder))
    out.push({
      id: "edge",
      message: `src/${folder}/ is core: it imports no edge (${[...EDGES, ...ROOTS].join(", ")}) (issue 15 layering).`,
      regex: (up) => reaching(up, [...EDGES, ...ROOTS]),
    });
  if (EDGES.includes(folder))
    out.push({
      id: "store-implementation",
      message: `An edge (src/${folder}/) imports no store implementation (src/store/sqlite, postgres, kysely); only the contracts in src/store/ (issue 15 layering).`,
      regex: (up) => reaching(up, STORE_IMPLEMENTATIONS),
    });
  if (["x509", "policy", "keys", "asn1"].includes(folder))
    out.push({
      id: "store",
      message: `src/${folder}/ imports nothing from src/store/: it owns its words and the store borrows them (issue 15 layering).`,
      regex: (up) => reaching(up, ["store"]),
    });
  if (folder === "keys")
    out.push({
      id: "keys-x509",
      message:
        "src/keys/ imports no value from src/x509/ (type-only imports are fine); shared DER/OID code is in src/asn1/ (issue 15 layering).",
      regex: (up) => reaching(up, ["x509"]),
      allowTypeImports: true,
    });
  if (folder === "asn1")
    out.push({
      id: "asn1",
      message: "src/asn1/ is shared by x509/ and keys/: it imports no value from either (issue 15 layering).",
      regex: (up) => reaching(up, ["x509", "keys"]),
      allowTypeImports: true,
    });
  return out;
}

/** The two rules that carry `restrictions` for files `up` folders below src/. */
function layeringRules(restrictions, up) {
  const paths = [];
  const patterns = [];
  const selectors = [];
  for (const r of restrictions) {
    for (const name of r.names ?? []) paths.push({ name, message: r.message });
    const regex = r.regex(up);
    patterns.push({ regex, message: r.message, ...(r.allowTypeImports ? { allowTypeImports: true } : {}) });
    // esquery regexes cannot hold "/": spell it \x2f.
    const names = r.names ? `|^(?:${alt(r.names)})$` : "";
    const esq = (regex + names).replaceAll("/", "\\x2f");
    selectors.push({ selector: `ImportExpression[source.value=/${esq}/]`, message: r.message });
  }
  return {
    "@typescript-eslint/no-restricted-imports": ["error", { paths, patterns }],
    // With no selectors, "off": a bare ["error"] would keep an earlier block's selectors.
    "layering/no-dynamic-import": selectors.length > 0 ? ["error", ...selectors] : "off",
  };
}

const MAX_DEPTH = 6;
const srcFolders = [
  ...new Set([
    ...readdirSync(new URL("./src/", import.meta.url), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name),
    ...EDGES,
    ...ROOTS,
    ...CORE,
  ]),
].sort();

/** Files of src/FOLDER exactly `up` folders below src/ (src/FOLDER/x.ts: up = 1). */
const filesAt = (folder, up) => (folder === "" ? ["src/*.ts"] : [`src/${folder}/${"*/".repeat(up - 1)}*.ts`]);

const layering = [
  {
    plugins: { layering: { rules: { "no-dynamic-import": builtinRules.get("no-restricted-syntax") } } },
  },
  { files: filesAt("", 0), rules: layeringRules(restrictionsFor(""), 0) },
  ...srcFolders.flatMap((folder) =>
    Array.from({ length: MAX_DEPTH }, (_, i) => ({
      files: filesAt(folder, i + 1),
      rules: layeringRules(restrictionsFor(folder), i + 1),
    })),
  ),
];

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
  ...layering,
  {
    files: ["src/x509/**/*.ts", "src/policy/**/*.ts", "src/asn1/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            { name: "node:fs", message: "x509/, policy/ and asn1/ are pure: no I/O." },
            { name: "node:fs/promises", message: "x509/, policy/ and asn1/ are pure: no I/O." },
            { name: "fs", message: "x509/, policy/ and asn1/ are pure: no I/O." },
            { name: "better-sqlite3", message: "x509/, policy/ and asn1/ are pure: no I/O." },
            { name: "kysely", message: "x509/, policy/ and asn1/ are pure: no I/O." },
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
