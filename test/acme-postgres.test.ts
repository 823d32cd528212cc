/**
 * The ACME protocol tests (test/acme.test.ts) once more with the home's data in PostgreSQL:
 * nonces, accounts, orders and challenges through the same Kysely code in transactions on
 * one client, with row locks (a private test cluster, test/postgres.ts).
 */
import { after } from "node:test";
import { usePostgresHomes } from "./helpers.js";
import { dropTestDatabases, testCluster } from "./postgres.js";

await testCluster();
usePostgresHomes();
after(() => dropTestDatabases());
await import("./acme.test.js");
