/**
 * The public portal: submit a CSR (paste or upload), or create the key in this browser.
 * A browser-made key is sealed under the user's password at once (lib/custody.ts), kept in
 * IndexedDB and offered as a file; only the CSR goes to the server.
 */
import { useState } from "preact/hooks";
import type { ComponentChildren } from "preact";
import { portal, errorText, type SubmitAnswer } from "../api";
import { Alert, Notice } from "../components";
import { Link } from "../router";
import { buildCsr, generateKeyPair, type KeyAlg } from "../lib/csr";
import { sealPrivateKey, type SealedKey } from "../lib/custody";
import { saveSealedKey } from "../lib/keydb";
import { saveFile } from "../lib/download";
import { toPem } from "../lib/pem";

/** The server's body cap is 100 KiB; a larger file is refused before it is sent. */
export const MAX_UPLOAD = 100 * 1024;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

type Mode = "csr" | "browser";

export function Portal() {
  const [mode, setMode] = useState<Mode>("csr");
  return (
    <section>
      <h1>Request a certificate</h1>
      <p>
        Send a certificate signing request (CSR) to the Sigil certificate authority. An operator checks it;
        you follow it on its status page and download the certificate there.
      </p>
      <div class="tabs" role="tablist" aria-label="How to request">
        <button
          type="button"
          role="tab"
          aria-selected={mode === "csr"}
          class={mode === "csr" ? "tab active" : "tab"}
          onClick={() => setMode("csr")}
        >
          I have a CSR
        </button>
        <button
          type="button"
          role="tab"
          aria-selected={mode === "browser"}
          class={mode === "browser" ? "tab active" : "tab"}
          onClick={() => setMode("browser")}
        >
          Create my key in this browser
        </button>
      </div>
      {mode === "csr" ? <CsrForm /> : <BrowserKeyForm />}
    </section>
  );
}

function Submitted(props: { answer: SubmitAnswer; children?: ComponentChildren }) {
  const url = props.answer.statusUrl || `/status/${props.answer.id}`;
  return (
    <Notice>
      <p>
        Your request was received
        {props.answer.state === "issued"
          ? " and issued at once"
          : props.answer.waitingFor
            ? " and waits for your e-mail address to be confirmed: open the link in the mail we sent you"
            : " and is waiting for review"}
        . Keep this link, in this browser: it is the way to your certificate.
      </p>
      <p>
        <Link href={url} class="status-link">
          {location.origin}
          {url}
        </Link>
      </p>
      {props.children}
    </Notice>
  );
}

function KindAndEmail(props: {
  kind: string;
  setKind: (k: string) => void;
  email: string;
  setEmail: (e: string) => void;
  prefix: string;
}) {
  return (
    <>
      <label for={`${props.prefix}-kind`}>Kind of certificate</label>
      <select
        id={`${props.prefix}-kind`}
        value={props.kind}
        onChange={(e) => props.setKind(e.currentTarget.value)}
      >
        <option value="user">User (a person: e-mail, client login)</option>
        <option value="system">System (a server or service: TLS)</option>
      </select>
      <label for={`${props.prefix}-email`}>Contact e-mail</label>
      <input
        id={`${props.prefix}-email`}
        type="email"
        autocomplete="email"
        required
        value={props.email}
        onInput={(e) => props.setEmail(e.currentTarget.value)}
      />
    </>
  );
}

function CsrForm() {
  const [csr, setCsr] = useState("");
  const [kind, setKind] = useState("user");
  const [email, setEmail] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<SubmitAnswer | null>(null);

  async function onFile(e: Event) {
    setError(null);
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (!file) return;
    if (file.size > MAX_UPLOAD) {
      setError(`The file is too large (${Math.ceil(file.size / 1024)} KiB): a CSR is at most 100 KiB.`);
      (e.currentTarget as HTMLInputElement).value = "";
      return;
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    // A DER CSR starts with a SEQUENCE (0x30); turn it into PEM so the JSON body stays text.
    if (bytes[0] === 0x30) {
      setCsr(toPem(bytes, "CERTIFICATE REQUEST"));
    } else setCsr(new TextDecoder().decode(bytes));
  }

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    setAnswer(null);
    if (!csr.trim()) return setError("Paste a CSR or choose a file first: the request is empty.");
    if (!EMAIL.test(email.trim())) return setError("Give a valid contact e-mail address.");
    setBusy(true);
    try {
      setAnswer(await portal.post<SubmitAnswer>("/requests", { csr, kind, email: email.trim() }));
      setCsr("");
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} class="card" noValidate>
      <h2>Submit a CSR</h2>
      <label for="csr-text">CSR (PEM, "-----BEGIN CERTIFICATE REQUEST-----")</label>
      <textarea
        id="csr-text"
        rows={10}
        spellcheck={false}
        value={csr}
        onInput={(e) => setCsr(e.currentTarget.value)}
        placeholder="-----BEGIN CERTIFICATE REQUEST-----"
      />
      <label for="csr-file">…or upload a CSR file (.csr, .pem or .der, at most 100 KiB)</label>
      <input id="csr-file" type="file" accept=".csr,.pem,.der,.req,text/plain" onChange={onFile} />
      <KindAndEmail kind={kind} setKind={setKind} email={email} setEmail={setEmail} prefix="csr" />
      <Alert error={error} />
      <button type="submit" disabled={busy}>
        {busy ? "Submitting…" : "Submit request"}
      </button>
      {answer && <Submitted answer={answer} />}
    </form>
  );
}

function BrowserKeyForm() {
  const [name, setName] = useState("");
  const [hosts, setHosts] = useState("");
  const [kind, setKind] = useState("user");
  const [email, setEmail] = useState("");
  const [alg, setAlg] = useState<KeyAlg>("P-256");
  const [pw, setPw] = useState("");
  const [pw2, setPw2] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [done, setDone] = useState<{ answer: SubmitAnswer; sealed: SealedKey; stored: boolean } | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    setDone(null);
    const mail = email.trim();
    const dnsNames = hosts
      .split(/[\s,]+/)
      .map((h) => h.trim())
      .filter(Boolean);
    if (!name.trim()) return setError("Give a name for the certificate (a person's name or a host name).");
    if (!EMAIL.test(mail)) return setError("Give a valid contact e-mail address.");
    if (kind === "system" && !dnsNames.length)
      return setError("A system certificate needs at least one DNS name.");
    if (pw.length < 10) return setError("Choose a password of at least 10 characters.");
    if (pw !== pw2) return setError("The two passwords differ.");
    try {
      setBusy("Generating the key in this browser…");
      const keys = await generateKeyPair(alg);
      const csr = await buildCsr(keys, {
        commonName: name.trim(),
        ...(kind === "user" ? { email: mail } : { dnsNames }),
      });
      setBusy("Encrypting the key with your password…");
      const sealed = await sealPrivateKey(keys.privateKey, pw, alg);
      setBusy("Submitting the request (the CSR only)…");
      const answer = await portal.post<SubmitAnswer>("/requests", { csr, kind, email: mail });
      sealed.requestId = answer.id;
      let stored = true;
      try {
        await saveSealedKey(answer.id, sealed);
      } catch {
        stored = false;
      }
      setDone({ answer, sealed, stored });
      setPw("");
      setPw2("");
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(null);
    }
  }

  return (
    <form onSubmit={submit} class="card" noValidate>
      <h2>Create the key in this browser</h2>
      <p class="explain">
        Your browser makes the key pair and the CSR.{" "}
        <strong>The private key never leaves this browser</strong>: only the CSR is sent. Until the
        certificate is issued, the key is kept in this browser's storage, encrypted with the password you
        choose here, and you can save the encrypted key file. When the certificate is issued, the status page
        asks for the password and builds a password-protected PKCS#12 (.p12) file for you.
      </p>
      <label for="bk-name">Name on the certificate (your name, or the system's name)</label>
      <input
        id="bk-name"
        type="text"
        autocomplete="name"
        value={name}
        onInput={(e) => setName(e.currentTarget.value)}
      />
      <KindAndEmail kind={kind} setKind={setKind} email={email} setEmail={setEmail} prefix="bk" />
      {kind === "system" && (
        <>
          <label for="bk-hosts">DNS names (separated by spaces or commas)</label>
          <input id="bk-hosts" type="text" value={hosts} onInput={(e) => setHosts(e.currentTarget.value)} />
        </>
      )}
      <label for="bk-alg">Key type</label>
      <select id="bk-alg" value={alg} onChange={(e) => setAlg(e.currentTarget.value as KeyAlg)}>
        <option value="P-256">ECDSA P-256 (recommended)</option>
        <option value="RSA-2048">RSA 2048</option>
      </select>
      <label for="bk-pw">Password for the key (at least 10 characters)</label>
      <input
        id="bk-pw"
        type="password"
        autocomplete="new-password"
        value={pw}
        onInput={(e) => setPw(e.currentTarget.value)}
      />
      <label for="bk-pw2">Password again</label>
      <input
        id="bk-pw2"
        type="password"
        autocomplete="new-password"
        value={pw2}
        onInput={(e) => setPw2(e.currentTarget.value)}
      />
      <Alert error={error} />
      {busy && <Notice>{busy}</Notice>}
      <button type="submit" disabled={busy !== null}>
        Generate key and submit
      </button>
      {done && (
        <Submitted answer={done.answer}>
          <p class="warn">
            {done.stored
              ? "The encrypted key is stored in this browser. "
              : "This browser would not store the key: save the key file now. "}
            Save this file as well: without it (or this browser's storage) and your password, the certificate
            is useless. Sigil never had your key and cannot recover it.
          </p>
          <button
            type="button"
            class="secondary"
            onClick={() =>
              saveFile(
                `sigil-key-${done.answer.id}.json`,
                JSON.stringify(done.sealed, null, 2),
                "application/json",
              )
            }
          >
            Save the encrypted key file
          </button>
        </Submitted>
      )}
    </form>
  );
}
