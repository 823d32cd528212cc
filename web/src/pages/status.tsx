/**
 * A request's status page (/status/<id>): polls while the request waits, offers the
 * certificate as PEM, DER and full chain once issued, and builds the .p12 in the browser
 * when the key was made here (IndexedDB, or the saved key file).
 */
import { useEffect, useState } from "preact/hooks";
import { portal, errorText, ApiError, type PortalRequest } from "../api";
import { Alert, Notice, fmtDate } from "../components";
import { Link } from "../router";
import { deleteSealedKey, loadSealedKey } from "../lib/keydb";
import { openSealedKey, parseSealedKey, type SealedKey } from "../lib/custody";
import { buildPkcs12 } from "../lib/p12";
import { pemBlocks } from "../lib/pem";
import { saveFile } from "../lib/download";

const POLL_MS = 3000;

export function Status(props: { id: string }) {
  const { id } = props;
  const [req, setReq] = useState<PortalRequest | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [sealed, setSealed] = useState<SealedKey | null>(null);

  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const r = await portal.get<PortalRequest>(`/requests/${encodeURIComponent(id)}`);
        if (stop) return;
        setReq(r);
        setError(null);
        if (r.state === "pending" || r.state === "approved") timer = setTimeout(load, POLL_MS);
      } catch (e) {
        if (stop) return;
        setError(
          e instanceof ApiError && e.status === 404 ? "There is no request with this id." : errorText(e),
        );
        if (!(e instanceof ApiError && e.status === 404)) timer = setTimeout(load, POLL_MS * 3);
      }
    };
    void load();
    void loadSealedKey(id).then((s) => !stop && setSealed(s));
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [id]);

  const base = `/api/v1/portal/requests/${encodeURIComponent(id)}`;
  return (
    <section>
      <h1>Request status</h1>
      <Alert error={error} />
      {!req && !error && <p>Loading…</p>}
      {req && (
        <div class="card">
          <p>
            <span class={`badge state-${req.state}`} data-state={req.state}>
              {label(req.state)}
            </span>
          </p>
          <dl class="facts">
            <dt>Subject</dt>
            <dd>{req.subject}</dd>
            <dt>Kind</dt>
            <dd>{req.kind}</dd>
            <dt>Submitted</dt>
            <dd>{fmtDate(req.submittedAt)}</dd>
            {req.decidedAt && (
              <>
                <dt>Decided</dt>
                <dd>{fmtDate(req.decidedAt)}</dd>
              </>
            )}
            {req.reason && (
              <>
                <dt>Reason</dt>
                <dd class="reason">{req.reason}</dd>
              </>
            )}
          </dl>
          {req.state === "pending" && req.waitingFor && (
            <Notice>
              Waiting for the e-mail address to be confirmed: {req.waitingFor}. Open the link in that mail, or
              reply to it.
            </Notice>
          )}
          {(req.state === "pending" || req.state === "approved") && (
            <p>
              This page checks again every few seconds. You may close it and come back with the same link.
            </p>
          )}
          {req.state === "rejected" && <p>The request was rejected. You may submit a new one.</p>}
          {req.state === "issued" && req.certificate && (
            <>
              <h2>Your certificate</h2>
              <dl class="facts">
                <dt>Serial</dt>
                <dd class="mono">{req.certificate.serial}</dd>
                <dt>Valid</dt>
                <dd>
                  {fmtDate(req.certificate.notBefore)} to {fmtDate(req.certificate.notAfter)}
                </dd>
                <dt>Status</dt>
                <dd>{req.certificate.status}</dd>
              </dl>
              <ul class="downloads">
                <li>
                  <a href={`${base}/certificate.pem`} download>
                    Certificate (PEM)
                  </a>
                </li>
                <li>
                  <a href={`${base}/certificate.der`} download>
                    Certificate (DER)
                  </a>
                </li>
                <li>
                  <a href={`${base}/chain.pem`} download>
                    Full chain (PEM: certificate, intermediates, root)
                  </a>
                </li>
              </ul>
              <P12Builder id={id} sealed={sealed} setSealed={setSealed} chainUrl={`${base}/chain.pem`} />
            </>
          )}
        </div>
      )}
      <p>
        <Link href="/ca">CA certificates and how to trust them</Link>
      </p>
    </section>
  );
}

function label(state: string): string {
  switch (state) {
    case "pending":
      return "Pending: waiting for review";
    case "approved":
      return "Approved: being issued";
    case "issued":
      return "Issued";
    case "rejected":
      return "Rejected";
    case "failed":
      return "Failed";
    default:
      return state;
  }
}

function P12Builder(props: {
  id: string;
  sealed: SealedKey | null;
  setSealed: (s: SealedKey | null) => void;
  chainUrl: string;
}) {
  const [pw, setPw] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [built, setBuilt] = useState(false);

  async function onKeyFile(e: Event) {
    setError(null);
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (!file) return;
    try {
      if (file.size > 64 * 1024) throw new Error("not a Sigil key file (too large)");
      props.setSealed(parseSealedKey(await file.text()));
    } catch (err) {
      setError(errorText(err));
    }
  }

  async function build(e: Event) {
    e.preventDefault();
    if (!props.sealed) return;
    setError(null);
    setBusy(true);
    let pkcs8: Uint8Array | null = null;
    try {
      pkcs8 = await openSealedKey(props.sealed, pw);
      const r = await fetch(props.chainUrl, { credentials: "same-origin" });
      if (!r.ok) throw new Error(`could not fetch the certificate chain (${r.status})`);
      const certs = pemBlocks(await r.text(), "CERTIFICATE");
      const p12 = await buildPkcs12(pkcs8, certs, pw, `sigil ${props.id}`);
      saveFile(`sigil-${props.id}.p12`, p12, "application/x-pkcs12");
      setBuilt(true);
      setPw("");
    } catch (err) {
      setError(errorText(err));
    } finally {
      pkcs8?.fill(0);
      setBusy(false);
    }
  }

  return (
    <div class="p12">
      <h2>Key and certificate in one file (.p12)</h2>
      {props.sealed ? (
        <form onSubmit={build} noValidate>
          <p>
            The key you made in this browser is here, encrypted with your password. Enter it to build a
            password-protected PKCS#12 file (key, certificate and chain) for your browser, mail client or{" "}
            <code>openssl pkcs12</code>. The .p12 gets the same password. This happens in your browser only.
          </p>
          <label for="p12-pw">Key password</label>
          <input
            id="p12-pw"
            type="password"
            autocomplete="current-password"
            value={pw}
            onInput={(e) => setPw(e.currentTarget.value)}
          />
          <Alert error={error} />
          <button type="submit" disabled={busy || !pw}>
            {busy ? "Building…" : "Build and download the .p12"}
          </button>
          {built && (
            <Notice>
              <p>The .p12 was saved. Import it, then you may remove the key from this browser.</p>
              <button
                type="button"
                class="secondary"
                onClick={() => void deleteSealedKey(props.id).then(() => props.setSealed(null))}
              >
                Remove the key from this browser
              </button>
            </Notice>
          )}
        </form>
      ) : (
        <>
          <p>
            If you created the key in a browser, open this page in that browser, or load the encrypted key
            file you saved.
          </p>
          <label for="key-file">Encrypted key file (sigil-key-….json)</label>
          <input id="key-file" type="file" accept=".json,application/json" onChange={onKeyFile} />
          <Alert error={error} />
        </>
      )}
    </div>
  );
}
