/**
 * Separation of duties (the handbook's SELinux roles, in userland): who may do what
 * through the admin API. Pure: a fixed matrix, no I/O.
 *
 * - `operator` (the handbook's CA admin): daily operations: sign, approve, reject, revoke,
 *   list, publish CRLs, expiry notices. Never custody of keys.
 * - `security` (the security admin): custody and policy: create and retire CAs, unseal and seal,
 *   read the policy, tokens, a CA's ACME settings and EAB keys, the audit log. Not in daily operations: no signing. Key
 *   backup and restore (`sigil ca export`, `key split`, `key restore`) need the data
 *   folder itself and are not API acts: custody of the files is the security role's.
 * - `auditor`: reads the audit log and the inventories; changes nothing.
 */
/** A role of the admin API. */
export type AdminRole = "operator" | "security" | "auditor";

/** Every act of the admin API. */
export const ADMIN_ACTIONS = [
  "status",
  "cert.sign",
  "cert.list",
  "cert.show",
  "cert.revoke",
  "request.list",
  "request.show",
  "request.approve",
  "request.reject",
  "crl.publish",
  "expiring.list",
  "notices.run",
  "ca.list",
  "ca.create",
  "ca.retire",
  "ca.revoke",
  "acme.enable",
  "acme.disable",
  "acme.eab.create",
  "acme.eab.list",
  "seal",
  "unseal",
  "policy.read",
  "token.list",
  "token.create",
  "token.revoke",
  "audit.read",
  "audit.verify",
] as const;

/** One act of the admin API. */
export type AdminAction = (typeof ADMIN_ACTIONS)[number];

/** The roles, in the order shown in help texts. */
export const ADMIN_ROLES: readonly AdminRole[] = ["operator", "security", "auditor"];

const READ_INVENTORY: AdminAction[] = [
  "status",
  "cert.list",
  "cert.show",
  "request.list",
  "request.show",
  "expiring.list",
  "ca.list",
];

/** The matrix: what each role may do. Anything not listed is denied. */
const MATRIX: Record<AdminRole, ReadonlySet<AdminAction>> = {
  operator: new Set<AdminAction>([
    ...READ_INVENTORY,
    "cert.sign",
    "cert.revoke",
    "request.approve",
    "request.reject",
    "crl.publish",
    "notices.run",
  ]),
  security: new Set<AdminAction>([
    "status",
    "ca.list",
    "ca.create",
    "ca.retire",
    "ca.revoke",
    "acme.enable",
    "acme.disable",
    "acme.eab.create",
    "acme.eab.list",
    "seal",
    "unseal",
    "policy.read",
    "token.list",
    "token.create",
    "token.revoke",
    "audit.read",
    "audit.verify",
  ]),
  auditor: new Set<AdminAction>([...READ_INVENTORY, "audit.read", "audit.verify"]),
};

/**
 * Reads and writes, the one place that says which is which: a read only looks (an inventory,
 * the policy, the audit log and its verification); a write changes state, signs, or opens
 * or closes the keys. The audit log records every write per call and reads bounded
 * (authority/admin-reads.ts), so anything that changes state or signs must be a write. A
 * `Record` over every action: a new action does not compile until it is classified here.
 */
const ACTION_KIND: Readonly<Record<AdminAction, "read" | "write">> = {
  status: "read",
  "cert.sign": "write",
  "cert.list": "read",
  "cert.show": "read",
  "cert.revoke": "write",
  "request.list": "read",
  "request.show": "read",
  "request.approve": "write",
  "request.reject": "write",
  "crl.publish": "write",
  "expiring.list": "read",
  "notices.run": "write",
  "ca.list": "read",
  "ca.create": "write",
  "ca.retire": "write",
  "ca.revoke": "write",
  "acme.enable": "write",
  "acme.disable": "write",
  "acme.eab.create": "write",
  "acme.eab.list": "read",
  seal: "write",
  unseal: "write",
  "policy.read": "read",
  "token.list": "read",
  "token.create": "write",
  "token.revoke": "write",
  "audit.read": "read",
  "audit.verify": "read",
};

/**
 * True when `action` only reads (see {@link ACTION_KIND}). Anything else, an unknown name
 * too, is a write: audited per call.
 */
export function isReadAction(action: AdminAction): boolean {
  return Object.hasOwn(ACTION_KIND, action) && ACTION_KIND[action] === "read";
}

/** True when `role` may perform `action`. Unknown roles may do nothing. */
export function allowed(role: string, action: AdminAction): boolean {
  // Own keys only: a role named "__proto__" or "constructor" must not reach Object.prototype.
  return Object.hasOwn(MATRIX, role) && MATRIX[role as AdminRole].has(action);
}

/** The acts a role may perform, in {@link ADMIN_ACTIONS} order. */
export function actionsOf(role: AdminRole): AdminAction[] {
  return ADMIN_ACTIONS.filter((a) => MATRIX[role].has(a));
}

/** True for a known role name. */
export function isAdminRole(s: string): s is AdminRole {
  return (ADMIN_ROLES as readonly string[]).includes(s);
}
