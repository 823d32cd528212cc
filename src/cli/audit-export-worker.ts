/**
 * A worker thread of the parallel read of an audit export (audit-export.ts): takes byte
 * ranges of events.jsonl from a shared queue, verifies the lines that start in each
 * (audit/segment.ts) and posts each part's summary. Built as an entry of its own
 * (dist/audit-export-worker.js).
 */
import { parentPort, workerData } from "node:worker_threads";
import { runExportWorker, type ExportWorkerData } from "./audit-export.js";

runExportWorker(workerData as ExportWorkerData, (m) => parentPort!.postMessage(m));
