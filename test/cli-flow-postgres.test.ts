/**
 * The CLI flow tests (test/cli-flow.test.ts) once more, with every home's data in
 * PostgreSQL: a private test cluster (test/postgres.ts, or SIGIL_TEST_DATABASE_URL), one
 * fresh database per home, dropped at the end.
 */
import { after } from "node:test";
import { usePostgresHomes } from "./helpers.js";
import { dropTestDatabases, testCluster } from "./postgres.js";

await testCluster();
usePostgresHomes();
after(() => dropTestDatabases());
await import("./cli-flow.test.js");
