/**
 * A worker thread of the parallel audit log read (audit-scan.ts): takes parts of the log
 * (seq ranges) one after another from a shared counter, reads each on its own read-only
 * connection (one read transaction for all of them) and verifies it (audit/segment.ts),
 * posting each part's summary. Built as an entry of its own (dist/audit-scan-worker.js).
 */
import { parentPort, workerData } from "node:worker_threads";
import { runScanWorker, type ScanWorkerData } from "./audit-scan.js";

runScanWorker(workerData as ScanWorkerData, (m) => parentPort!.postMessage(m));
