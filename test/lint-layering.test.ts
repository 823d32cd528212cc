/**
 * The layering is enforced by lint (eslint.config.js, issue 15 point 5): each rule fires on a
 * deliberate violation, placed (as a virtual file: nothing is written into src/) where the
 * rule applies, and a clean counterpart passes.
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";

const root = fileURLToPath(new URL("..", import.meta.url));
const LAYERING_RULES = new Set(["@typescript-eslint/no-restricted-imports", "layering/no-dynamic-import"]);

const DATABASE = /kysely, pg and better-sqlite3 are imported only under src\/store\//;
const EDGE = /is core: it imports no edge/;
const STORE_IMPLEMENTATION = /imports no store implementation/;
const KEYS_X509 = /src\/keys\/ imports no value from src\/x509\//;
const STORE = /imports nothing from src\/store\//;

let eslint: ESLint;

/** The layering messages lint gives for `code` at `filePath` (relative to the repository). */
async function layering(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  assert.ok(result, filePath);
  const fatal = result.messages.filter((m) => m.fatal);
  assert.deepEqual(fatal, [], `${filePath} does not parse`);
  return result.messages
    .filter((m) => m.ruleId !== null && LAYERING_RULES.has(m.ruleId))
    .map((m) => m.message);
}

async function refused(filePath: string, code: string, expected: RegExp): Promise<void> {
  const messages = await layering(filePath, code);
  assert.equal(messages.length, 1, `${filePath}: ${code}\n${messages.join("\n")}`);
  assert.match(messages[0]!, expected, filePath);
}

async function clean(filePath: string, code: string): Promise<void> {
  assert.deepEqual(await layering(filePath, code), [], `${filePath}: ${code}`);
}

describe("lint: layering", () => {
  before(() => {
    eslint = new ESLint({ cwd: root });
  });

  it("kysely, pg and better-sqlite3 are imported only under src/store/ (type-only and dynamic too)", async () => {
    await refused("src/x509/__fixture__.ts", 'import type { Kysely } from "kysely";\n', DATABASE);
    await refused("src/cli/__fixture__.ts", 'import pg from "pg";\nexport const P = pg.Pool;\n', DATABASE);
    await refused(
      "src/authority/acme/__fixture__.ts",
      'export const m = await import("better-sqlite3");\n',
      DATABASE,
    );
    await refused("src/http/__fixture__.ts", 'export { sql } from "kysely/helpers/postgres";\n', DATABASE);
    await refused(
      "src/__fixture__.ts",
      'import Database from "better-sqlite3";\nexport const D = Database;\n',
      DATABASE,
    );
    await refused("src/daemon/__fixture__.ts", 'export const m = await import("pg");\n', DATABASE);

    await clean(
      "src/store/sqlite/__fixture__.ts",
      'import Database from "better-sqlite3";\nexport const D = Database;\n',
    );
    await clean(
      "src/store/__fixture__.ts",
      'import type { Kysely } from "kysely";\nexport type K = Kysely<object>;\n',
    );
    await clean(
      "test/__fixture__.ts",
      'import Database from "better-sqlite3";\nexport const D = Database;\n',
    );
    // A package whose name merely starts the same way is not one of them.
    await clean("src/cli/__fixture__.ts", 'export const m = await import("pgx-not-a-database");\n');
  });

  it("the core (x509, policy, keys, store, audit, authority) imports no edge, daemon or app", async () => {
    await refused(
      "src/x509/__fixture__.ts",
      'import { out } from "../cli/output.js";\nexport { out };\n',
      EDGE,
    );
    await refused(
      "src/policy/__fixture__.ts",
      'import type { AcmeIdentifier } from "../acme/types.js";\nexport type A = AcmeIdentifier;\n',
      EDGE,
    );
    await refused("src/keys/__fixture__.ts", 'export { x } from "../mail/parse.js";\n', EDGE);
    await refused(
      "src/store/sqlite/__fixture__.ts",
      'export const m = await import("../../intake/drop-folder.js");\n',
      EDGE,
    );
    await refused("src/audit/__fixture__.ts", 'import { a } from "../app/home.js";\nexport { a };\n', EDGE);
    await refused(
      "src/authority/__fixture__.ts",
      'import { s } from "../http/unix-socket.js";\nexport { s };\n',
      EDGE,
    );
    await refused(
      "src/authority/acme/__fixture__.ts",
      'import { d } from "../../daemon/primary.js";\nexport { d };\n',
      EDGE,
    );

    // authority/acme is the authority's own folder, not the acme edge.
    await clean("src/authority/__fixture__.ts", 'import { o } from "./acme/orders.js";\nexport { o };\n');
    await clean(
      "src/authority/acme/__fixture__.ts",
      'import { o } from "../acme/orders.js";\nexport { o };\n',
    );
    await clean(
      "src/authority/__fixture__.ts",
      'import type { Store } from "../store/types.js";\nexport type S = Store;\n',
    );
    // Edges may import each other and the core.
    await clean("src/cli/__fixture__.ts", 'import { s } from "../http/server.js";\nexport { s };\n');
  });

  it("an edge (cli, http, mail, acme, intake) imports no store implementation, only the contracts", async () => {
    await refused(
      "src/http/__fixture__.ts",
      'import { S } from "../store/sqlite/sqlite-store.js";\nexport { S };\n',
      STORE_IMPLEMENTATION,
    );
    await refused(
      "src/cli/__fixture__.ts",
      'import type { P } from "../store/postgres/pg-store.js";\nexport type Q = P;\n',
      STORE_IMPLEMENTATION,
    );
    await refused(
      "src/acme/__fixture__.ts",
      'export const m = await import("../store/kysely/store.js");\n',
      STORE_IMPLEMENTATION,
    );
    await refused(
      "src/mail/__fixture__.ts",
      'export * from "../store/sqlite/index.js";\n',
      STORE_IMPLEMENTATION,
    );
    await refused(
      "src/intake/__fixture__.ts",
      'import { S } from "../store/postgres/pg-store.js";\nexport { S };\n',
      STORE_IMPLEMENTATION,
    );

    await clean(
      "src/http/__fixture__.ts",
      'import type { Store } from "../store/types.js";\nexport type S = Store;\n',
    );
    await clean("src/cli/__fixture__.ts", 'export const m = await import("../store/types.js");\n');
  });

  it("no file is exempted: the former ACME store path may not import kysely nor a store implementation", async () => {
    await refused("src/acme/store.ts", 'import { Kysely } from "kysely";\nexport { Kysely };\n', DATABASE);
    await refused(
      "src/acme/store.ts",
      'import { S } from "../store/sqlite/sqlite-store.js";\nexport { S };\n',
      STORE_IMPLEMENTATION,
    );
  });

  it("src/keys/ imports no value from src/x509/ (types are fine)", async () => {
    await refused(
      "src/keys/__fixture__.ts",
      'import { seq } from "../x509/der.js";\nexport const s = seq;\n',
      KEYS_X509,
    );
    await refused(
      "src/keys/__fixture__.ts",
      'export const m = await import("../x509/algorithms.js");\n',
      KEYS_X509,
    );

    await clean(
      "src/keys/__fixture__.ts",
      'import type { GeneralName } from "../x509/types.js";\nexport type G = GeneralName;\n',
    );
    await clean("src/keys/__fixture__.ts", 'import { seq } from "../asn1/der.js";\nexport const s = seq;\n');
  });

  it("x509/, policy/ and keys/ import nothing from src/store/ (they own their words)", async () => {
    await refused(
      "src/policy/__fixture__.ts",
      'import type { RequestChannel } from "../store/types.js";\nexport type C = RequestChannel;\n',
      STORE,
    );
    await refused(
      "src/x509/__fixture__.ts",
      'import type { RevokedEntry } from "../store/types.js";\nexport type R = RevokedEntry;\n',
      STORE,
    );

    await clean(
      "src/policy/__fixture__.ts",
      'import type { RequestChannel } from "./channels.js";\nexport type C = RequestChannel;\n',
    );
  });
});
