/**
 * The admin token tests (test/tokens.test.ts) once more, with the home's data in
 * PostgreSQL: the insider's rows are written with psql into the service's database.
 */
import { after } from "node:test";
import { usePostgresHomes } from "./helpers.js";
import { dropTestDatabases, testCluster } from "./postgres.js";

await testCluster();
usePostgresHomes();
after(() => dropTestDatabases());
await import("./tokens.test.js");
