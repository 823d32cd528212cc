/** The IPC messages between the daemon's HTTP workers and its primary (node:cluster). */
import type { Worker } from "node:cluster";

/** A worker to the primary. */
export type ToPrimary =
  | {
      sigil: "live";
      id: number;
      caId: number;
      items: Array<{ certIdDer: string; serialHex: string }>;
      nonce?: string;
    }
  | { sigil: "metrics"; id: number }
  | { sigil: "listening"; address: string }
  /** The worker could not start (e.g. its listen failed): the one-line reason. */
  | { sigil: "failed"; message: string; internal: boolean };

/** The primary to a worker. */
export type ToWorker =
  | {
      sigil: "live-result";
      id: number;
      result?: { der: string; statuses: string[]; thisUpdate: number; nextUpdate: number };
    }
  | { sigil: "metrics-result"; id: number; contentType: string; body: string }
  | { sigil: "keys"; unsealed: boolean };

/** The environment the primary forks a worker with. */
export const WORKER_ENV = {
  listen: "SIGIL_SERVE_LISTEN",
  keys: "SIGIL_SERVE_KEYS",
  backend: "SIGIL_SERVE_BACKEND",
  workers: "SIGIL_SERVE_WORKERS",
} as const;

/** Sends `msg` to `worker` unless its channel is closed. */
export function send(worker: Worker, msg: ToWorker): void {
  if (worker.isConnected()) worker.send(msg);
}
