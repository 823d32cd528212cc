/**
 * The web portal and admin console in a real browser: playwright-core drives Debian's
 * Chromium (headless) against a real `sigil serve` (2 workers) on 127.0.0.1.
 *
 * - A user pastes an `openssl req` CSR; an operator approves it in the console; the status
 *   page's downloads (PEM, DER, chain) pass `openssl verify`.
 * - Browser key generation: the page makes the key and CSR, the operator approves, the
 *   status page builds a .p12 that `openssl pkcs12` opens and whose key matches the
 *   certificate; every request body the browser sent is checked: only the CSR went out.
 * - Revocation from the console, seen by `openssl ocsp` as revoked.
 * - Roles (an operator has no audit page, an auditor sees the chain's verify result), 401 for
 *   anonymous admin calls, 403 for a portal POST without the CSRF token.
 * - Bad input (empty, garbage, weak key, oversized): a message on the page, nothing queued.
 * - Every form field has a label; every page fits 375 px.
 * Screenshots go to test-artifacts/, and to docs/screenshots/ (the README's) when missing or
 * with SIGIL_UPDATE_SCREENSHOTS=1.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { chromium, type Browser, type BrowserContext, type Page, type Request } from "playwright-core";
import { ROOT, initHome, sigilOk, tempDir, tool, write } from "./helpers.js";
import { startServe, type Served } from "./serve-helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join(ROOT, "docs", "screenshots");
const ARTIFACTS = join(ROOT, "test-artifacts");

interface Sent {
  url: string;
  method: string;
  body: string | null;
  headers: Record<string, string>;
}

describe("web portal and admin console (Chromium)", () => {
  const t = tempDir("sigil-web-");
  const home = join(t.dir, "sigil-data");
  const dir = t.dir;
  let s: Served;
  let browser: Browser;
  let userCtx: BrowserContext;
  let adminCtx: BrowserContext;
  /** Every request the user's browser context sent. */
  const sent: Sent[] = [];
  let operator = "";
  let auditor = "";
  let root = "";
  /** The certificate issued from the pasted CSR (revoked later). */
  let pastedCert = "";
  let pastedSerial = "";

  function ok(cmd: string, args: string[]): string {
    const r = tool(cmd, args, { cwd: dir });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  }

  function token(role: string, name: string): string {
    return sigilOk(home, ["admin", "token", "create", "--role", role, "--name", name]).stdout.trim();
  }

  async function adminApi(
    path: string,
    tok = operator,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const r = await fetch(`${s.url}/api/v1/admin${path}`, { headers: { authorization: `Bearer ${tok}` } });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  }

  async function queued(): Promise<number> {
    const r = await adminApi("/requests?state=pending&limit=1000");
    assert.equal(r.status, 200);
    return (r.body.requests as unknown[]).length;
  }

  async function shot(page: Page, name: string): Promise<void> {
    mkdirSync(SHOTS, { recursive: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    const png = await page.screenshot({ fullPage: true });
    writeFileSync(join(ARTIFACTS, `${name}.png`), png);
    // The README's copies change only on request (they hold dates), or when missing.
    const doc = join(SHOTS, `${name}.png`);
    if (process.env.SIGIL_UPDATE_SCREENSHOTS === "1" || !existsSync(doc)) writeFileSync(doc, png);
  }

  /** Every visible form field has a label (label[for], a wrapping label, or aria-label). */
  async function assertLabelled(page: Page, where: string, hasFields = true): Promise<void> {
    // Run in the page (a string: this file is type-checked without the DOM library).
    const unlabelled = (await page.evaluate(`[...document.querySelectorAll("input, select, textarea")]
      .filter((f) => f.type !== "hidden")
      .filter((f) => ![...(f.labels || [])].some((l) => l.textContent.trim()) && !f.getAttribute("aria-label"))
      .map((f) => f.outerHTML.slice(0, 80))`)) as string[];
    assert.deepEqual(unlabelled, [], `unlabelled fields on ${where}`);
    const fields = (await page.evaluate(
      `document.querySelectorAll("input, select, textarea").length`,
    )) as number;
    assert.ok(fields > 0 || !hasFields, `no form fields on ${where}?`);
    const blankButtons = (await page.evaluate(
      `[...document.querySelectorAll("button")].filter((b) => !b.textContent.trim()).length`,
    )) as number;
    assert.equal(blankButtons, 0, `buttons without text on ${where}`);
  }

  /** The page fits a 375 px wide phone: no horizontal scrolling. */
  async function assertFits375(page: Page, where: string): Promise<void> {
    const size = page.viewportSize();
    await page.setViewportSize({ width: 375, height: 800 });
    const width = (await page.evaluate("document.documentElement.scrollWidth")) as number;
    assert.ok(width <= 375, `${where} is ${width} px wide at 375 px`);
    if (size) await page.setViewportSize(size);
  }

  async function alertText(page: Page): Promise<string> {
    const a = page.locator('[role="alert"]').first();
    await a.waitFor({ state: "visible", timeout: 15_000 });
    return (await a.textContent()) ?? "";
  }

  async function download(page: Page, click: () => Promise<void>, name: string): Promise<string> {
    const [d] = await Promise.all([page.waitForEvent("download"), click()]);
    const p = join(dir, name);
    await d.saveAs(p);
    return p;
  }

  async function adminLogin(page: Page, tok: string): Promise<void> {
    await page.goto(`${s.url}/admin`);
    await page.getByLabel("Admin token").fill(tok);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("Signed in as").waitFor();
  }

  /** Approves the pending request whose subject contains `cn`, through the console. */
  async function approveInConsole(page: Page, cn: string, screenshot?: string): Promise<void> {
    await page.getByRole("link", { name: "Request queue" }).click();
    const item = page.locator(".queue-item", { hasText: cn });
    await item.waitFor();
    await item.getByRole("button", { name: "Details" }).click();
    await item.getByRole("button", { name: "Approve and issue" }).waitFor();
    if (screenshot) {
      await assertLabelled(page, "the queue");
      await assertFits375(page, "the queue");
      await shot(page, screenshot);
    }
    await item.getByRole("button", { name: "Approve and issue" }).click();
    await page.getByText(/approved: certificate/).waitFor();
  }

  before(async () => {
    initHome(home);
    root = write(dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    // Certificates expiring over the next months, for the expiry chart.
    const days = [12, 30, 44, 61, 75, 90, 91, 92, 92, 93, 94, 120, 150, 168];
    const reqs: string[] = [];
    for (let i = 0; i < days.length; i++) {
      const base = join(dir, `exp${i}`);
      ok(
        "openssl",
        ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
          "-keyout",
          `${base}.key`,
          "-out",
          `${base}.req`,
          "-subj",
          `/CN=exp${i}.genfic.internal`,
        ]),
      );
      reqs.push(`${base}.req`);
    }
    reqs.forEach((r, i) =>
      sigilOk(
        home,
        ["sign", r, "--ca", i % 3 ? "genfic-system" : "genfic-user", "--profile", "system"].concat([
          "--days",
          String(days[i]),
          "-o",
          `${r}.crt`,
        ]),
      ),
    );
    operator = token("operator", "alice");
    auditor = token("auditor", "carol");
    s = await startServe(home, ["--workers", "2"]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
    });
    userCtx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
    userCtx.on("request", (r: Request) =>
      sent.push({ url: r.url(), method: r.method(), body: r.postData(), headers: r.headers() }),
    );
    adminCtx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
  });

  after(async () => {
    await browser?.close();
    await s?.stop();
    t.cleanup();
  });

  it("serves the SPA with a strict CSP and no inline script", async () => {
    for (const path of [
      "/",
      "/admin",
      "/status/AAAAAAAAAAAAAAAAAAAAAA",
      "/ca",
      `/confirm/${"A".repeat(43)}`,
    ]) {
      const r = await fetch(`${s.url}${path}`);
      assert.equal(r.status, 200, path);
      const csp = r.headers.get("content-security-policy") ?? "";
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      const html = await r.text();
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "inline script");
      assert.doesNotMatch(html, /\sstyle=|<style/, "inline style");
    }
    // The browser reports no CSP violation and no script error on the portal.
    const page = await userCtx.newPage();
    const problems: string[] = [];
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("response", (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
    await page.goto(`${s.url}/`);
    await page.getByRole("heading", { name: "Request a certificate" }).waitFor();
    await page.getByRole("tab", { name: "Create my key in this browser" }).click();
    await page.getByRole("tab", { name: "I have a CSR" }).click();
    assert.deepEqual(problems, []);
    // A mailbox confirmation link that is not known says so (and opening one confirms nothing).
    await page.goto(`${s.url}/confirm/${"A".repeat(43)}`);
    await page.getByRole("heading", { name: "Confirm your e-mail address" }).waitFor();
    assert.match(await page.getByRole("alert").innerText(), /not known/);
    await page.close();
  });

  it("a pasted openssl CSR is approved in the console and the status page's downloads pass openssl verify", async () => {
    ok(
      "openssl",
      ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        .concat(["-keyout", "paste.key", "-out", "paste.csr", "-subj", "/CN=Paste User"])
        .concat(["-addext", "subjectAltName=email:paste.user@genfic.example"]),
    );
    const page = await userCtx.newPage();
    await page.goto(`${s.url}/`);
    await page.getByLabel(/^CSR \(PEM/).fill(readFileSync(join(dir, "paste.csr"), "utf8"));
    await page.getByLabel("Kind of certificate").selectOption("user");
    await page.getByLabel("Contact e-mail").fill("paste.user@genfic.example");
    await assertLabelled(page, "the portal");
    await assertFits375(page, "the portal");
    await shot(page, "portal");
    await page.getByRole("button", { name: "Submit request" }).click();
    const link = page.locator("a.status-link");
    await link.waitFor();
    const href = (await link.getAttribute("href"))!;
    assert.match(href, /^\/status\/[A-Za-z0-9_-]{22}$/);

    const admin = await adminCtx.newPage();
    await adminLogin(admin, operator);
    await approveInConsole(admin, "Paste User", "queue");

    await link.click();
    await page.locator('[data-state="issued"]').waitFor({ timeout: 20_000 });
    await assertLabelled(page, "the status page");
    await assertFits375(page, "the status page");
    const pem = await download(
      page,
      () => page.getByRole("link", { name: "Certificate (PEM)" }).click(),
      "p.pem",
    );
    const der = await download(
      page,
      () => page.getByRole("link", { name: "Certificate (DER)" }).click(),
      "p.der",
    );
    const chain = await download(
      page,
      () => page.getByRole("link", { name: /Full chain/ }).click(),
      "p-chain.pem",
    );
    const fromDer = ok("openssl", ["x509", "-inform", "DER", "-in", der]);
    assert.equal(fromDer.trim(), readFileSync(pem, "utf8").trim());
    assert.match(ok("openssl", ["verify", "-CAfile", root, "-untrusted", chain, pem]), /: OK/);
    assert.match(
      ok("openssl", ["verify", "-x509_strict", "-CAfile", root, "-untrusted", chain, chain]),
      /: OK/,
    );
    // The certificate is for the key the user kept.
    assert.equal(
      ok("openssl", ["x509", "-in", pem, "-noout", "-pubkey"]),
      ok("openssl", ["pkey", "-in", join(dir, "paste.key"), "-pubout"]),
    );
    pastedCert = pem;
    pastedSerial = ok("openssl", ["x509", "-in", pem, "-noout", "-serial"])
      .trim()
      .split("=")[1]!
      .toLowerCase();
    await page.close();
    await admin.close();
  });

  it("a key made in the browser: CSR only to the server, sealed key file, .p12 that openssl opens and matches", async () => {
    const password = "browser key pässword 42";
    const page = await userCtx.newPage();
    await page.goto(`${s.url}/`);
    await page.getByRole("tab", { name: "Create my key in this browser" }).click();
    await page.getByLabel(/^Name on the certificate/).fill("Browser Bob");
    await page.getByLabel("Contact e-mail").fill("bob@genfic.example");
    await page.getByLabel("Key type").selectOption("P-256");
    await page.getByLabel(/^Password for the key/).fill(password);
    await page.getByLabel("Password again").fill(password);
    await assertLabelled(page, "the browser-key form");
    await assertFits375(page, "the browser-key form");
    const before = sent.length;
    await page.getByRole("button", { name: "Generate key and submit" }).click();
    const link = page.locator("a.status-link");
    await link.waitFor({ timeout: 30_000 });
    const statusHref = (await link.getAttribute("href"))!;
    await page.getByText("The private key never leaves this browser").waitFor();
    const keyFile = await download(
      page,
      () => page.getByRole("button", { name: "Save the encrypted key file" }).click(),
      "bob-key.json",
    );
    const sealed = JSON.parse(readFileSync(keyFile, "utf8")) as { format: string; data: string; kdf: object };
    assert.equal(sealed.format, "sigil-sealed-key");
    assert.doesNotMatch(readFileSync(keyFile, "utf8"), /PRIVATE KEY/);

    const admin = await adminCtx.newPage();
    await adminLogin(admin, operator);
    await approveInConsole(admin, "Browser Bob");
    await admin.close();

    await link.click();
    await page.locator('[data-state="issued"]').waitFor({ timeout: 20_000 });
    await page.getByLabel("Key password").fill("not the password");
    await page.getByRole("button", { name: "Build and download the .p12" }).click();
    assert.match(await alertText(page), /wrong password/);
    await page.getByLabel("Key password").fill(password);
    const p12 = await download(
      page,
      () => page.getByRole("button", { name: "Build and download the .p12" }).click(),
      "bob.p12",
    );
    const pem = await download(
      page,
      () => page.getByRole("link", { name: "Certificate (PEM)" }).click(),
      "bob.pem",
    );
    const pw = write(dir, "bob.pass", password);
    const info = tool("openssl", ["pkcs12", "-info", "-in", p12, "-passin", `file:${pw}`, "-nodes"], {
      cwd: dir,
    });
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stderr, /MAC: sha256/);
    const key = write(
      dir,
      "bob.key",
      /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n/.exec(info.stdout)![0],
    );
    assert.equal(
      ok("openssl", ["pkey", "-in", key, "-pubout"]),
      ok("openssl", ["x509", "-in", pem, "-noout", "-pubkey"]),
    );
    assert.match(info.stdout, /subject=.*Browser Bob/);
    assert.match(info.stdout, /GenFic User CA/);

    // Another browser (no IndexedDB copy): the saved key file and the password rebuild the .p12.
    const other = await browser.newContext({ acceptDownloads: true });
    const op = await other.newPage();
    await op.goto(`${s.url}${statusHref}`);
    await op.locator('[data-state="issued"]').waitFor({ timeout: 20_000 });
    await op.getByLabel(/^Encrypted key file/).setInputFiles(keyFile);
    await op.getByLabel("Key password").fill(password);
    const p12b = await download(
      op,
      () => op.getByRole("button", { name: "Build and download the .p12" }).click(),
      "bob-again.p12",
    );
    const again = tool("openssl", ["pkcs12", "-in", p12b, "-passin", `file:${pw}`, "-nodes", "-nocerts"], {
      cwd: dir,
    });
    assert.equal(again.status, 0, again.stderr);
    const key2 = write(dir, "bob2.key", again.stdout);
    assert.equal(
      ok("openssl", ["pkey", "-in", key2, "-pubout"]),
      ok("openssl", ["pkey", "-in", key, "-pubout"]),
    );
    await other.close();

    // What the browser sent while generating and submitting: one JSON body with csr, kind,
    // email; the csr a CERTIFICATE REQUEST; no key, sealed or not, anywhere.
    const keyB64 = readFileSync(key, "utf8").replace(/-----[^-]+-----|\s/g, "");
    const posts = sent.slice(before).filter((r) => r.method !== "GET");
    assert.equal(posts.length, 1, JSON.stringify(posts.map((p) => p.url)));
    for (const r of sent) {
      const body = r.body ?? "";
      assert.doesNotMatch(body, /PRIVATE KEY/);
      assert.ok(!body.includes(keyB64.slice(0, 64)), "the PKCS#8 key went to the server");
      assert.ok(!body.includes(sealed.data.slice(0, 64)), "the sealed key went to the server");
    }
    const sub = JSON.parse(posts[0]!.body!) as Record<string, string>;
    assert.deepEqual(Object.keys(sub).sort(), ["csr", "email", "kind"]);
    assert.match(
      sub.csr!,
      /^-----BEGIN CERTIFICATE REQUEST-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE REQUEST-----\n$/,
    );
    assert.ok(posts[0]!.headers["x-csrf-token"], "the submission carried the CSRF token");
    // And what the server says it received: the same CSR (by hash), those three fields.
    const digest = createHash("sha256").update(sub.csr!).digest("hex");
    const logged = s
      .stdout()
      .split("\n")
      .filter((l) => l.includes('"portal submission"'))
      .map((l) => JSON.parse(l) as { fields: string[]; csrSha256: string });
    const mine = logged.filter((l) => l.csrSha256 === digest);
    assert.equal(mine.length, 1, `the server logged ${logged.length} submissions, none with this CSR`);
    assert.deepEqual(mine[0]!.fields, ["csr", "email", "kind"]);
    assert.doesNotMatch(s.stdout() + s.stderr(), /PRIVATE KEY/);
    await page.close();
  });

  it("an RSA-2048 browser key request rejected in the console shows the reason on its status page", async () => {
    const page = await userCtx.newPage();
    await page.goto(`${s.url}/`);
    await page.getByRole("tab", { name: "Create my key in this browser" }).click();
    await page.getByLabel(/^Name on the certificate/).fill("Rejected Rita");
    await page.getByLabel("Contact e-mail").fill("rita@genfic.example");
    await page.getByLabel("Key type").selectOption("RSA-2048");
    await page.getByLabel(/^Password for the key/).fill("rita password 1234");
    await page.getByLabel("Password again").fill("rita password 1234");
    await page.getByRole("button", { name: "Generate key and submit" }).click();
    const link = page.locator("a.status-link");
    await link.waitFor({ timeout: 60_000 });
    const admin = await adminCtx.newPage();
    await adminLogin(admin, operator);
    const item = admin.locator(".queue-item", { hasText: "Rejected Rita" });
    await item.waitFor();
    await item.getByRole("button", { name: "Details" }).click();
    await item.getByText("key: RSA 2048").waitFor();
    await item.getByRole("button", { name: "Reject" }).click();
    assert.match(await alertText(admin), /Give a reason/);
    await item.getByLabel(/^Reason/).fill("not a GenFic employee");
    await item.getByRole("button", { name: "Reject" }).click();
    await admin.getByText(/rejected\./).waitFor();
    await admin.close();
    await link.click();
    await page.locator('[data-state="rejected"]').waitFor({ timeout: 20_000 });
    await page.getByText("not a GenFic employee").waitFor();
    assert.equal(await page.getByRole("link", { name: "Certificate (PEM)" }).count(), 0);
    await page.close();
  });

  it("revocation from the console shows in openssl ocsp as revoked", async () => {
    assert.ok(pastedCert, "needs the pasted CSR's certificate");
    const issuer = write(dir, "user-ca.pem", sigilOk(home, ["ca", "show", "genfic-user", "--pem"]).stdout);
    const ocsp = () =>
      ok("openssl", [
        "ocsp",
        "-issuer",
        issuer,
        "-cert",
        pastedCert,
        "-url",
        `${s.url}/ocsp`,
        "-CAfile",
        root,
      ]);
    assert.match(ocsp(), /: good\b/);
    const page = await adminCtx.newPage();
    await adminLogin(page, operator);
    await page.getByRole("link", { name: "Certificates", exact: true }).click();
    await page.locator(".cert-item", { hasText: "Paste User" }).waitFor();
    await assertLabelled(page, "the inventory");
    await assertFits375(page, "the inventory");
    await shot(page, "inventory");
    await page.getByLabel(/^Search/).fill("paste.user@genfic");
    assert.equal(await page.locator(".cert-item").count(), 1);
    const item = page.locator(".cert-item", { hasText: "Paste User" });
    await item.getByRole("button", { name: "Revoke" }).click();
    await page.getByLabel("Reason").selectOption("keyCompromise");
    // The confirmation step: nothing happens without the serial typed in.
    await page.getByRole("button", { name: "Confirm revocation" }).click();
    assert.match(await alertText(page), /serial number to confirm/);
    assert.match(ocsp(), /: good\b/);
    await page.getByLabel("Type the serial number to confirm").fill(pastedSerial);
    await page.getByRole("button", { name: "Confirm revocation" }).click();
    await page.getByText(/revoked \(keyCompromise\)/).waitFor();
    const out = ocsp();
    assert.match(out, /: revoked\b/);
    assert.match(out, /Reason: keyCompromise/);
    await page.close();
  });

  it("the expiry chart shows certificates per week per CA, and the CA hierarchy", async () => {
    const page = await adminCtx.newPage();
    await adminLogin(page, operator);
    await page.getByRole("link", { name: "Expiry" }).click();
    await page.locator("svg.chart-svg rect.bar").first().waitFor();
    const bars = await page.locator("svg.chart-svg rect.bar").count();
    assert.ok(bars >= 5, `${bars} bars`);
    await page.locator(".legend li", { hasText: "genfic-system:" }).waitFor();
    await page.locator(".tree").getByText("genfic-user").waitFor();
    await assertLabelled(page, "the expiry page", false);
    await assertFits375(page, "the expiry page");
    await shot(page, "expiry-chart");
    await page.close();
  });

  it("roles: an operator has no audit page, an auditor sees the log and the chain's verify result", async () => {
    const page = await adminCtx.newPage();
    await adminLogin(page, operator);
    assert.equal(await page.getByRole("link", { name: "Audit log" }).count(), 0);
    // Going to the audit page's address anyway shows a refusal, not the log.
    await page.evaluate(
      "history.pushState(null, '', '/admin/audit'); dispatchEvent(new PopStateEvent('popstate'))",
    );
    assert.match(await alertText(page), /may not open \/admin\/audit/);
    assert.equal(await page.locator("table.audit").count(), 0);
    // The operator's token is refused by the audit API itself.
    assert.equal((await adminApi("/audit?after=0&limit=10", operator)).status, 403);
    await page.close();

    const ap = await adminCtx.newPage();
    await adminLogin(ap, auditor);
    await ap.getByRole("link", { name: "Audit log" }).click();
    await ap.locator('[data-verify="ok"]').waitFor();
    await ap.getByRole("cell", { name: "cert.revoke" }).first().waitFor();
    assert.equal(await ap.getByRole("button", { name: "Revoke" }).count(), 0);
    await assertLabelled(ap, "the audit page");
    await assertFits375(ap, "the audit page");
    await ap.close();
  });

  it("anonymous calls to the admin API get 401; the console asks for a token", async () => {
    for (const path of ["/whoami", "/requests?state=pending", "/certs", "/audit", "/stats/expiry?weeks=26"]) {
      const r = await fetch(`${s.url}/api/v1/admin${path}`);
      assert.equal(r.status, 401, path);
    }
    const r = await fetch(`${s.url}/api/v1/admin/certs/revoke`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ca: "genfic-user", serial: pastedSerial, reason: "superseded" }),
    });
    assert.equal(r.status, 401);
    const page = await browser.newPage();
    await page.goto(`${s.url}/admin/queue`);
    await page.getByLabel("Admin token").waitFor();
    await page
      .getByLabel("Admin token")
      .fill("sigil_0000000000000000_notarealtokennotarealtokennotarealtoken1");
    await page.getByRole("button", { name: "Sign in" }).click();
    assert.ok((await alertText(page)).length > 0);
    await assertLabelled(page, "the login page");
    await assertFits375(page, "the login page");
    await page.close();
  });

  it("a portal submission without the CSRF token is refused and queues nothing", async () => {
    const n = await queued();
    const page = await userCtx.newPage();
    await page.goto(`${s.url}/`);
    const csr = readFileSync(join(dir, "paste.csr"), "utf8");
    const answer = await page.evaluate(async (csr) => {
      // Same origin, with the session cookie, but no x-csrf-token header.
      await fetch("/api/v1/portal/session", { credentials: "same-origin" });
      const r = await fetch("/api/v1/portal/requests", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ csr, kind: "user", email: "x@genfic.example" }),
      });
      const wrong = await fetch("/api/v1/portal/requests", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": "forged" },
        body: JSON.stringify({ csr, kind: "user", email: "x@genfic.example" }),
      });
      return { status: r.status, body: await r.json(), wrong: wrong.status };
    }, csr);
    assert.equal(answer.status, 403);
    assert.equal((answer.body as { error: { code: string } }).error.code, "csrf");
    assert.equal(answer.wrong, 403);
    // A cross-site form post (no header possible, no SameSite=Strict cookie) fails too.
    const r = await fetch(`${s.url}/api/v1/portal/requests`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://evil.example" },
      body: JSON.stringify({ csr, kind: "user", email: "x@genfic.example" }),
    });
    assert.equal(r.status, 403);
    assert.equal(await queued(), n);
    await page.close();
  });

  it("bad input in the portal: a clear message on the page and nothing queued", async () => {
    const n = await queued();
    const page = await userCtx.newPage();
    await page.goto(`${s.url}/`);
    /** Submits the text from a fresh page; returns the message shown. */
    const tryCsr = async (text: string): Promise<string> => {
      await page.goto(`${s.url}/`);
      await page.getByLabel("Contact e-mail").fill("someone@genfic.example");
      await page.getByLabel(/^CSR \(PEM/).fill(text);
      await page.getByRole("button", { name: "Submit request" }).click();
      const msg = await alertText(page);
      assert.equal(await page.locator("a.status-link").count(), 0);
      return msg;
    };
    assert.match(await tryCsr(""), /empty/i);
    const garbage = await tryCsr("this is not a CSR at all");
    assert.ok(garbage.length > 5 && garbage.length < 300, garbage);
    // A certificate is not a request.
    assert.ok((await tryCsr(readFileSync(root, "utf8"))).length > 5);
    ok(
      "openssl",
      ["req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", "weak.key", "-out", "weak.csr"].concat([
        "-subj",
        "/CN=Weak Key",
        "-addext",
        "subjectAltName=email:weak@genfic.example",
      ]),
    );
    assert.match(await tryCsr(readFileSync(join(dir, "weak.csr"), "utf8")), /1024|weak|too short|small/i);
    // An oversized paste goes to the server and is refused by its body cap.
    const huge = readFileSync(join(dir, "paste.csr"), "utf8") + "x".repeat(150 * 1024);
    assert.match(await tryCsr(huge), /large|too big|size|limit/i);
    // An oversized file is refused before it is read.
    await page.goto(`${s.url}/`);
    const big = write(dir, "big.csr", Buffer.alloc(200 * 1024, 0x41));
    await page.getByLabel(/upload a CSR file/).setInputFiles(big);
    assert.match(await alertText(page), /too large/);
    assert.equal(await page.getByLabel(/^CSR \(PEM/).inputValue(), "");
    assert.equal(await queued(), n);
    await page.close();
  });

  it("the CA page offers certificates, CRLs and trust-store instructions", async () => {
    const page = await userCtx.newPage();
    await page.goto(`${s.url}/ca`);
    await page
      .getByRole("cell", { name: /genfic-user/ })
      .first()
      .waitFor();
    for (const text of [
      "update-ca-certificates",
      "certutil -d sql:",
      "certutil -addstore",
      "add-trusted-cert",
    ])
      await page.getByText(text, { exact: false }).first().waitFor();
    const crt = await download(
      page,
      () => page.getByRole("link", { name: "PEM", exact: true }).first().click(),
      "ca1.pem",
    );
    assert.match(ok("openssl", ["x509", "-in", crt, "-noout", "-subject"]), /GenFic/);
    const crl = await download(
      page,
      () => page.getByRole("link", { name: "CRL", exact: true }).first().click(),
      "ca1.crl",
    );
    const crlText = tool("openssl", ["crl", "-inform", "DER", "-in", crl, "-noout", "-issuer"], { cwd: dir });
    const crlPem = tool("openssl", ["crl", "-in", crl, "-noout", "-issuer"], { cwd: dir });
    assert.ok(crlText.status === 0 || crlPem.status === 0, crlText.stderr);
    await assertLabelled(page, "the CA page", false);
    await assertFits375(page, "the CA page");
    await page.close();
    for (const n of ["portal", "queue", "inventory", "expiry-chart"])
      assert.ok(existsSync(join(ARTIFACTS, `${n}.png`)), n);
  });
});
