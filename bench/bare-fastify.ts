/**
 * Child server of bench/ocsp: the framework's floor. The same fastify as `sigil serve`,
 * in node:cluster workers as `sigil serve` runs them, answering POST /ocsp
 * (application/ocsp-request, read as a buffer) with one fixed answer file: no request
 * parsing, no lookup, no metrics, no logger. Prints "listening" once every worker is.
 *
 *   node --import tsx bench/bare-fastify.ts PORT WORKERS ANSWER.der
 */
import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import Fastify from "fastify";

const [portArg, workersArg, answerFile] = process.argv.slice(2);
const port = Number(portArg);
const workers = Number(workersArg);
if (!(port > 0) || !(workers > 0) || !answerFile) {
  process.stderr.write("usage: node --import tsx bench/bare-fastify.ts PORT WORKERS ANSWER.der\n");
  process.exit(2);
}

if (cluster.isPrimary) {
  let up = 0;
  cluster.on("message", (_w, m: unknown) => {
    if (m === "listening" && ++up === workers) process.stdout.write(`listening on 127.0.0.1:${port}\n`);
  });
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGTERM");
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
} else {
  const der = readFileSync(answerFile);
  const app = Fastify({ logger: false, keepAliveTimeout: 10_000 });
  app.addContentTypeParser("application/ocsp-request", { parseAs: "buffer" }, (_req, body, done) =>
    done(null, body),
  );
  app.post("/ocsp", async (_req, reply) => reply.code(200).type("application/ocsp-response").send(der));
  await app.listen({ host: "127.0.0.1", port });
  process.send!("listening");
  process.once("SIGTERM", () => void app.close().then(() => process.exit(0)));
}
