/**
 * The `sigil` command line: entry point and the one place errors become exit codes.
 * Kept light: commander is loaded only when a command is parsed, and each command loads
 * the modules it needs when it runs (Node start-up is the cost per process).
 */
import { SigilError, isSigilError, ErrorCodes } from "../errors.js";
import { VERSION } from "./version.js";

/** Exit status for a usage error (bad flags), as DESIGN.md's CLI contract says. */
export const EXIT_USAGE = 2;

/** Runs the CLI with `argv` (without node and script); sets process.exitCode. */
export async function main(argv: string[]): Promise<void> {
  exitQuietlyOnClosedOutput();
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    process.stdout.write(`sigil ${VERSION}\n`);
    return;
  }
  try {
    const { isHandbookInvocation, runHandbook } = await import("./handbook.js");
    if (isHandbookInvocation(argv)) {
      await runHandbook(argv);
    } else {
      const { buildProgram } = await import("./program.js");
      await buildProgram().parseAsync(argv, { from: "user" });
    }
  } catch (e) {
    process.exitCode = reportError(e);
  }
}

/**
 * Ends the process quietly, as Unix tools do, when the reader of its output went away
 * (`sigil certs | head -1`): a write to a closed pipe fails with EPIPE, which would
 * otherwise surface as an unhandled 'error' event and a stack trace. The exit status is
 * the one already set (0 unless an error was reported before). Other stream errors are
 * thrown as before.
 */
export function exitQuietlyOnClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr])
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE") throw e;
      process.exit();
    });
}

/** Prints one line for `e` on stderr and returns the exit status. */
export function reportError(e: unknown): number {
  const err = e as { code?: string; exitCode?: number; message?: string };
  if (typeof err?.code === "string" && err.code.startsWith("commander.")) {
    // commander already printed help/version/usage where it applies
    if (
      err.code === "commander.helpDisplayed" ||
      err.code === "commander.version" ||
      err.code === "commander.help"
    )
      return 0;
    return EXIT_USAGE;
  }
  if (isSigilError(e)) {
    process.stderr.write(`sigil: ${oneLine(e.message)}\n`);
    if (e.code === ErrorCodes.USAGE) return EXIT_USAGE;
    return 1;
  }
  if (process.env.SIGIL_DEBUG) process.stderr.write(String((e as Error)?.stack ?? e) + "\n");
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(
    `sigil: internal error: ${oneLine(msg)}${process.env.SIGIL_DEBUG ? "" : " (set SIGIL_DEBUG=1 for details)"}\n`,
  );
  return 1;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

export { SigilError };
