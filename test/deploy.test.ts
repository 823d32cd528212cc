/**
 * deploy/: the SELinux module (built with Debian's selinux-policy-dev, then linked into
 * Debian's reference policy in a private store and queried with setools), the systemd unit
 * (systemd-analyze verify / security), the service wrapper, file modes of a data folder,
 * and install.sh (run in a private mount namespace, so the host keeps no state).
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { ROOT, PASS, initHome, tempDir, tool } from "./helpers.js";
import { startServe } from "./serve-helpers.js";

const DEPLOY = join(ROOT, "deploy");
const SELINUX_MAKEFILE = "/usr/share/selinux/devel/Makefile";
/** Debian's policy store (selinux-policy-default); the tests link into a private copy. */
const POLICY_STORE = "/var/lib/selinux/default";

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const mode = (p: string): number => statSync(p).mode & 0o777;

describe("SELinux module (deploy/selinux)", () => {
  let t: ReturnType<typeof tempDir>;
  let policy: string;
  let storeRoot: string;

  before(() => {
    t = tempDir("sigil-selinux-");
  });
  after(() => t.cleanup());

  test("compiles with selinux-policy-dev's Makefile, without warnings", () => {
    cpSync(join(DEPLOY, "selinux"), join(t.dir, "src"), { recursive: true });
    const r = run("make", ["-f", SELINUX_MAKEFILE], { cwd: join(t.dir, "src") });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /warning|error/i);
    for (const m of ["sigil.pp", "sigil_roles.pp"]) assert.ok(statSync(join(t.dir, "src", m)).size > 0, m);
  });

  test("links into Debian's reference policy with neverallow checks on", () => {
    // A private copy of the store: semodule -p writes there, the host policy is untouched.
    storeRoot = join(t.dir, "root");
    mkdirSync(join(storeRoot, "var/lib/selinux"), { recursive: true });
    mkdirSync(join(storeRoot, "etc/selinux"), { recursive: true });
    cpSync(POLICY_STORE, join(storeRoot, "var/lib/selinux/default"), { recursive: true });
    // Debian ships expand-check=0; turn it on so the module's neverallow rules are enforced.
    writeFileSync(join(storeRoot, "etc/selinux/semanage.conf"), "module-store = direct\nexpand-check = 1\n");
    const src = join(t.dir, "src");
    const r = run("semodule", ["-p", storeRoot, "-s", "default", "-n", "-i", "sigil.pp", "sigil_roles.pp"], {
      cwd: src,
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    policy = join(storeRoot, "etc/selinux/default/policy/policy.33");
    assert.ok(existsSync(policy), "no linked policy");
  });

  /** allow rules (direct or through attributes) letting SOURCE do PERM on TARGET:CLASS. */
  const allows = (source: string, target: string, cls: string, perm: string): string => {
    const r = run("sesearch", ["-A", "-s", source, "-t", target, "-c", cls, "-p", perm, policy]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };

  test("only the daemon and the security admin can read the CA keys", () => {
    assert.match(
      allows("sigil_t", "sigil_key_t", "file", "read"),
      /allow sigil_t sigil_key_t:file .*\bread\b/,
    );
    assert.match(
      allows("secadm_t", "sigil_key_t", "file", "read"),
      /allow secadm_t sigil_key_t:file .*\bread\b/,
    );
    // The operator CLI, the confined staff and user domains, and the system administrator.
    for (const d of ["sigil_cli_t", "staff_t", "user_t", "sysadm_t"]) {
      assert.equal(allows(d, "sigil_key_t", "file", "read"), "", `${d} can read sigil_key_t`);
      assert.equal(allows(d, "sigil_key_t", "file", "relabelfrom"), "", `${d} can relabel keys`);
      assert.equal(allows(d, "sigil_key_t", "dir", "add_name"), "", `${d} can add keys`);
      assert.equal(allows(d, "sigil_key_t", "dir", "remove_name"), "", `${d} can remove keys`);
    }
    // The system administrator manages the service and may read the public data, not keys.
    assert.match(allows("sysadm_t", "sigil_var_lib_t", "file", "read"), /sigil_var_lib_t/);
    assert.match(allows("sysadm_t", "sigil_t", "process", "signal"), /sigil_t/);
    // ptrace would read the unsealed keys from the daemon: sysadm_t may do it only through
    // Debian's allow_ptrace boolean (README: turn it off), never unconditionally.
    const ptrace = allows("sysadm_t", "sigil_t", "process", "ptrace").split("\n").filter(Boolean);
    assert.ok(ptrace.length > 0, "expected the allow_ptrace rule to be found");
    for (const rule of ptrace) assert.match(rule, /\[ allow_ptrace \]:True$/, rule);
  });

  test("domain transitions: systemd into sigil_t, operators into sigil_cli_t", () => {
    const tt = (s: string, t: string) =>
      run("sesearch", ["-T", "-s", s, "-t", t, "-c", "process", policy]).stdout;
    assert.match(tt("init_t", "sigil_exec_t"), /type_transition init_t sigil_exec_t:process sigil_t;/);
    assert.match(
      tt("staff_t", "sigil_cli_exec_t"),
      /type_transition staff_t sigil_cli_exec_t:process sigil_cli_t;/,
    );
    // systemd sets NoNewPrivileges before exec: the transition needs nnp_transition.
    assert.match(allows("init_t", "sigil_t", "process2", "nnp_transition"), /nnp_transition/);
    // The CLI reaches the daemon over the admin socket and the HTTP port.
    assert.match(allows("sigil_cli_t", "sigil_t", "unix_stream_socket", "connectto"), /sigil_t/);
    assert.match(
      allows("sigil_cli_t", "http_cache_port_t", "tcp_socket", "name_connect"),
      /http_cache_port_t/,
    );
    assert.match(allows("sigil_t", "http_cache_port_t", "tcp_socket", "name_bind"), /http_cache_port_t/);
  });

  test("a module granting the CLI a key read is refused by the neverallow rule", () => {
    const bad = join(t.dir, "bad");
    mkdirSync(bad);
    writeFileSync(
      join(bad, "sigilbad.te"),
      "policy_module(sigilbad, 0.1.0)\ngen_require(`\n\ttype sigil_cli_t, sigil_key_t;\n')\nallow sigil_cli_t sigil_key_t:file { open read };\n",
    );
    const m = run("make", ["-f", SELINUX_MAKEFILE, "sigilbad.pp"], { cwd: bad });
    assert.equal(m.status, 0, m.stdout + m.stderr);
    const r = run("semodule", ["-p", storeRoot, "-s", "default", "-n", "-i", "sigilbad.pp"], { cwd: bad });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /neverallow check failed/);
  });

  test("file contexts label keys sigil_key_t and the data folder sigil_var_lib_t", () => {
    const fc = readFileSync(join(DEPLOY, "selinux", "sigil.fc"), "utf8");
    assert.match(
      fc,
      /^\/var\/lib\/sigil\/keys\(\/\.\*\)\?\s+gen_context\(system_u:object_r:sigil_key_t,s0\)$/m,
    );
    assert.match(
      fc,
      /^\/var\/lib\/sigil\(\/\.\*\)\?\s+gen_context\(system_u:object_r:sigil_var_lib_t,s0\)$/m,
    );
    assert.match(
      fc,
      /^\/opt\/sigil\/bin\/sigil-serve\s+--\s+gen_context\(system_u:object_r:sigil_exec_t,s0\)$/m,
    );
    assert.match(fc, /^\/run\/sigil\(\/\.\*\)\?\s+gen_context\(system_u:object_r:sigil_runtime_t,s0\)$/m);
  });
});

describe("systemd unit (deploy/systemd)", () => {
  const shipped = readFileSync(join(DEPLOY, "systemd", "sigil.service"), "utf8");
  let t: ReturnType<typeof tempDir>;
  let unit: string;

  before(() => {
    t = tempDir("sigil-unit-");
    // verify checks that ExecStart exists: point it at the wrapper in this checkout.
    assert.match(shipped, /^ExecStart=\/opt\/sigil\/bin\/sigil-serve$/m);
    unit = join(t.dir, "sigil.service");
    writeFileSync(
      unit,
      shipped.replace(/^ExecStart=.*$/m, `ExecStart=${join(DEPLOY, "bin", "sigil-serve")}`),
    );
  });
  after(() => t.cleanup());

  test("sets the hardening the issue asks for", () => {
    const values = (k: string): string[] =>
      [...shipped.matchAll(new RegExp(`^${k}=(.*)$`, "gm"))].map((m) => m[1]!.trim());
    const expect: Record<string, string> = {
      User: "sigil",
      Group: "sigil",
      NoNewPrivileges: "yes",
      ProtectSystem: "strict",
      ReadWritePaths: "/var/lib/sigil",
      PrivateTmp: "yes",
      CapabilityBoundingSet: "",
      AmbientCapabilities: "",
      StateDirectory: "sigil",
      StateDirectoryMode: "0700",
      RuntimeDirectory: "sigil",
      UMask: "0077",
      KillSignal: "SIGTERM",
    };
    for (const [k, v] of Object.entries(expect)) assert.deepEqual(values(k), [v], k);
    assert.doesNotMatch(
      shipped,
      /SIGIL_PASSPHRASE|--passphrase-file|^LoadCredential/m,
      "no passphrase in the unit",
    );
  });

  test("systemd-analyze verify accepts the unit and its drop-ins without a warning", () => {
    const r = run("systemd-analyze", ["verify", unit]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), "");
    const dropins = join(t.dir, "sigil.service.d");
    mkdirSync(dropins);
    for (const f of ["sigil-passphrase.conf", "sigil-hsm.conf", "sigil-mdwe.conf"])
      cpSync(join(DEPLOY, "systemd", f), join(dropins, f));
    const d = run("systemd-analyze", ["verify", unit]);
    assert.equal(d.status, 0, d.stderr);
    assert.equal(d.stderr.trim(), "");
    // The check is live: a misspelt directive in a drop-in is reported.
    writeFileSync(join(dropins, "typo.conf"), "[Service]\nProtectSytem=strict\n");
    const bad = run("systemd-analyze", ["verify", unit]);
    assert.match(bad.stderr, /Unknown key 'ProtectSytem'/);
  });

  test("systemd-analyze security rates the unit OK (exposure at most 2.0)", () => {
    const r = run("systemd-analyze", ["security", "--offline=yes", "--no-pager", unit]);
    assert.equal(r.status, 0, r.stderr);
    const m = /Overall exposure level for sigil\.service: (\d+\.\d+) (\w+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]} ${m[2]}`);
  });
});

describe("service wrapper (deploy/bin/sigil-serve)", () => {
  let t: ReturnType<typeof tempDir>;
  let home: string;
  before(() => {
    t = tempDir("sigil-wrapper-");
    home = join(t.dir, "home");
    initHome(home);
  });
  after(() => t.cleanup());

  const wrapper = [join(DEPLOY, "bin", "sigil-serve")];

  test("unlocks the keys from a systemd credential ($CREDENTIALS_DIRECTORY/passphrase)", async () => {
    const creds = join(t.dir, "creds");
    mkdirSync(creds, { mode: 0o700 });
    writeFileSync(join(creds, "passphrase"), PASS + "\n", { mode: 0o400 });
    const s = await startServe(
      home,
      ["--workers", "1"],
      { SIGIL_PASSPHRASE: undefined, SIGIL_ROOT: ROOT, CREDENTIALS_DIRECTORY: creds },
      wrapper,
    );
    try {
      assert.doesNotMatch(s.stderr(), /sealed/);
      const health = (await (await fetch(`${s.url}/healthz`)).json()) as { canSign: boolean };
      assert.equal(health.canSign, true);
    } finally {
      assert.equal(await s.stop(), 0);
    }
    assert.doesNotMatch(s.stdout() + s.stderr(), new RegExp(PASS));
  });

  test("starts sealed without a credential", async () => {
    const s = await startServe(
      home,
      ["--workers", "1"],
      { SIGIL_PASSPHRASE: undefined, SIGIL_ROOT: ROOT, CREDENTIALS_DIRECTORY: undefined },
      wrapper,
    );
    try {
      assert.match(s.stderr(), /sealed: pre-signed answers only/);
      const health = (await (await fetch(`${s.url}/healthz`)).json()) as { canSign: boolean };
      assert.equal(health.canSign, false);
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });
});

describe("file modes of a data folder", () => {
  let t: ReturnType<typeof tempDir>;
  let home: string;
  before(() => {
    t = tempDir("sigil-modes-");
    home = join(t.dir, "fresh"); // created by sigil itself, not by the test
    initHome(home);
  });
  after(() => t.cleanup());

  test("sigil init makes the folder and keys/ 0700, key files 0600, the database private", () => {
    assert.equal(mode(home), 0o700);
    assert.equal(mode(join(home, "keys")), 0o700);
    const keys = readdirSync(join(home, "keys"));
    assert.ok(keys.length >= 3, keys.join(" "));
    for (const k of keys) assert.equal(mode(join(home, "keys", k)), 0o600, k);
    for (const f of readdirSync(home).filter((f) => f.startsWith("sigil.db")))
      assert.equal(mode(join(home, f)) & 0o077, 0, f);
    const r = tool(join(DEPLOY, "check-modes.sh"), [home]);
    assert.equal(r.status, 0, r.stderr);
  });

  test("check-modes.sh reports a loose key file and folder, one line each", () => {
    const key = join(home, "keys", readdirSync(join(home, "keys"))[0]!);
    chmodSync(key, 0o640);
    chmodSync(home, 0o750);
    try {
      const r = tool(join(DEPLOY, "check-modes.sh"), [home]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`${key} has mode 640, want 600`));
      assert.match(r.stderr, /has mode 750, want 700/);
      assert.match(r.stderr, /2 problem\(s\)/);
    } finally {
      chmodSync(key, 0o600);
      chmodSync(home, 0o700);
    }
  });
});

describe("install.sh", () => {
  test("installs twice over in a private mount namespace: user, /opt/sigil, data 0700, working CLI", () => {
    const t = tempDir("sigil-install-");
    try {
      // /etc, /opt, /var/lib and /usr/local/bin are private copies inside the namespace:
      // the user, files and unit the installer creates vanish with it.
      const script = [
        "set -eu",
        "mount --make-rprivate /",
        `W=${t.dir}`,
        'cp -a /etc "$W/etc" && mount --bind "$W/etc" /etc',
        'for d in /opt /var/lib /usr/local/bin; do mkdir -p "$W$d"; mount --bind "$W$d" "$d"; done',
        `bash ${join(DEPLOY, "install.sh")} >/dev/null`,
        `bash ${join(DEPLOY, "install.sh")} >/dev/null`,
        "getent passwd sigil",
        "stat -c '%a %U:%G %n' /var/lib/sigil /opt/sigil /etc/systemd/system/sigil.service",
        "test ! -e /opt/sigil/node_modules/typescript",
        `runuser -u sigil -- env SIGIL_HOME=/var/lib/sigil SIGIL_PASSPHRASE='${PASS}' /usr/local/bin/sigil init >/dev/null`,
        "/opt/sigil/deploy/check-modes.sh --owner sigil /var/lib/sigil",
      ].join("\n");
      const r = run("unshare", ["--mount", "bash", "-c", script]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^sigil:x:\d+:\d+:[^:]*:\/nonexistent:\/usr\/sbin\/nologin$/m);
      assert.match(r.stdout, /^700 sigil:sigil \/var\/lib\/sigil$/m);
      assert.match(r.stdout, /^755 root:root \/opt\/sigil$/m);
      assert.match(r.stdout, /^644 root:root \/etc\/systemd\/system\/sigil.service$/m);
      assert.match(r.stdout, /check-modes: \/var\/lib\/sigil ok/);
    } finally {
      t.cleanup();
    }
  });
});
