/**
 * The trust-boundary tests whose guarantees live in the store (internal profiles and
 * blocked keys, CA revocation checked at commit, CA rules) once more, with every home's
 * data in PostgreSQL (test/postgres.ts: a private cluster, one database per home).
 */
import { after } from "node:test";
import { usePostgresHomes } from "./helpers.js";
import { dropTestDatabases, testCluster } from "./postgres.js";

await testCluster();
usePostgresHomes();
after(() => dropTestDatabases());
await import("./internal-profiles.test.js");
await import("./ca-revocation.test.js");
await import("./ca-rules.test.js");
