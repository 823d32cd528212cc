/**
 * The commander program: the root's flags and help, then every command of the table
 * (commands/index.ts), each declared once in the file of its group.
 */
import { Command } from "commander";
import { VERSION } from "./version.js";
import { COMMANDS } from "./commands/index.js";
import { register } from "./commands/table.js";

/** Builds the program. */
export function buildProgram(): Command {
  const program = new Command("sigil")
    .description("Sigil: a private certificate authority")
    .version(`sigil ${VERSION}`, "-V, --version")
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s.startsWith("error:") ? `sigil: ${s.slice(7)}` : s),
    })
    .addHelpText(
      "after",
      `
The handbook's scripted flags also work (value last):
  sigil -r genfic -v 7300                      create a root CA
  sigil -p genfic -c genfic-system -v 3650     create a child CA
  sigil -R /var/db/ca/self/myhostname          key + request myhostname.key / .req
  sigil -p genfic-system -s x.req -o x.crt     sign a request
  sigil -p genfic-system -x VALUE              revoke the certificate matching VALUE`,
    );
  // --home is global: before the subcommand (`sigil --home DIR ca list`) or after it. The
  // program parses it wherever it stands, and hands it to the command that runs.
  program.option("--home <dir>", "data folder for any command (default: $SIGIL_HOME or ./sigil-data)");
  program.hook("preAction", (root, action) => {
    const home = root.opts<{ home?: string }>().home;
    if (home !== undefined && action !== root) action.setOptionValue("home", home);
  });
  for (const entry of COMMANDS) register(program, entry);
  for (const c of allCommands(program)) c.exitOverride();
  return program;
}

function allCommands(c: Command): Command[] {
  return [c, ...c.commands.flatMap(allCommands)];
}
