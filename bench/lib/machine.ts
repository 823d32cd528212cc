/**
 * The machine a benchmark ran on, as every report states it: cores, CPU model, memory,
 * Node version.
 */
import { cpus, totalmem } from "node:os";
import { run } from "./proc.js";

/** What every benchmark report says about the machine. */
export interface Machine {
  nproc: string;
  cpu: string;
  memGb: number;
  node: string;
}

/** Describes this machine. */
export function machineInfo(): Machine {
  return {
    nproc: run("nproc", []).stdout.trim(),
    cpu: cpus()[0]?.model ?? "unknown",
    memGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}
