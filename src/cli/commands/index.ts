/**
 * The table of every `sigil` command, in the order of `sigil --help`.
 */
import type { Entry } from "./table.js";
import { initCommand } from "./init.js";
import { caGroup } from "./ca.js";
import { keyGroup } from "./custody.js";
import { requestGroup } from "./request.js";
import { signCommand } from "./sign.js";
import { revokeCommand } from "./revoke.js";
import { backupCommand, restoreCommand } from "./backup.js";
import { crlCommand } from "./crl.js";
import { certGroup, certsCommand } from "./certs.js";
import { auditGroup } from "./audit.js";
import { intakeGroup, notifyCommand, requestsGroup } from "./requests.js";
import { ocspGroup, serveCommand } from "./serve.js";
import { exportGroup, importGroup } from "./openssl.js";
import { adminGroup } from "./tokens.js";
import { serviceCommands } from "./seal.js";
import { acmeGroup } from "./acme.js";
import { trustGroup } from "./trust.js";
import { instanceGroup } from "./instance.js";

export const COMMANDS: Entry[] = [
  initCommand,
  caGroup,
  keyGroup,
  requestGroup,
  signCommand,
  revokeCommand,
  backupCommand,
  restoreCommand,
  crlCommand,
  certsCommand,
  certGroup,
  auditGroup,
  requestsGroup,
  intakeGroup,
  notifyCommand,
  serveCommand,
  ocspGroup,
  importGroup,
  exportGroup,
  adminGroup,
  ...serviceCommands,
  instanceGroup,
  acmeGroup,
  trustGroup,
];
