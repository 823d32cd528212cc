/** The certificate inventory: search, filter, revoke (with a confirmation step). */
import { useEffect, useState } from "preact/hooks";
import { admin, errorText, type AdminCa, type AdminCert } from "../api";
import { Alert, Notice, fmtDay } from "../components";
import { sameSerial } from "../lib/serial";

/** RFC 5280 §5.3.1 CRLReason names the API accepts. */
const REASONS = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
  "privilegeWithdrawn",
];

export function Inventory(props: { may: string[] }) {
  const [certs, setCerts] = useState<AdminCert[] | null>(null);
  const [cas, setCas] = useState<AdminCa[]>([]);
  const [ca, setCa] = useState("");
  const [status, setStatus] = useState("");
  const [q, setQ] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<AdminCert | null>(null);

  const load = () => {
    const qs = new URLSearchParams({ limit: "5000" });
    if (ca) qs.set("ca", ca);
    if (status) qs.set("status", status);
    return admin
      .get<{ certs: AdminCert[] }>(`/certs?${qs.toString()}`)
      .then((r) => {
        setCerts(r.certs);
        setError(null);
      })
      .catch((e) => setError(errorText(e)));
  };
  useEffect(() => {
    void load();
  }, [ca, status]);
  useEffect(() => {
    if (props.may.includes("ca.list"))
      admin
        .get<{ cas: AdminCa[] }>("/cas")
        .then((r) => setCas(r.cas))
        .catch(() => setCas([]));
  }, []);

  const needle = q.trim().toLowerCase();
  const shown = (certs ?? []).filter(
    (c) =>
      !needle ||
      [c.subject, c.serial, c.email ?? "", c.fingerprint, ...c.sans].some((s) =>
        s.toLowerCase().includes(needle),
      ),
  );

  return (
    <div>
      <div class="toolbar">
        <div class="field">
          <label for="inv-q">Search (subject, SAN, serial, e-mail)</label>
          <input id="inv-q" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="inv-ca">CA</label>
          <select id="inv-ca" value={ca} onChange={(e) => setCa(e.currentTarget.value)}>
            <option value="">All CAs</option>
            {cas.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="inv-status">Status</label>
          <select id="inv-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">Any</option>
            <option value="valid">Valid</option>
            <option value="revoked">Revoked</option>
            <option value="expired">Expired</option>
          </select>
        </div>
      </div>
      <Alert error={error} />
      {done && <Notice>{done}</Notice>}
      {revoking && (
        <Revoke
          cert={revoking}
          onCancel={() => setRevoking(null)}
          onDone={(msg) => {
            setRevoking(null);
            setDone(msg);
            void load();
          }}
        />
      )}
      {certs && (
        <p class="small" aria-live="polite">
          {shown.length} of {certs.length} certificates
        </p>
      )}
      <ul class="inventory">
        {shown.map((c) => (
          <li key={`${c.ca}/${c.serial}`} class="cert-item" data-serial={c.serial}>
            <div class="row">
              <div class="grow">
                <strong>{c.subject}</strong> <span class={`badge cert-${c.status}`}>{c.status}</span>
                <div class="small mono">serial {c.serial}</div>
                <div class="small">
                  CA {c.ca} · {c.profile} · until {fmtDay(c.notAfter)}
                  {c.sans.length ? ` · ${c.sans.join(", ")}` : ""}
                  {c.revocationReason ? ` · revoked: ${c.revocationReason}` : ""}
                </div>
              </div>
              {c.status === "valid" && props.may.includes("cert.revoke") && (
                <button type="button" class="danger" onClick={() => setRevoking(c)}>
                  Revoke
                </button>
              )}
            </div>
          </li>
        ))}
      </ul>
    </div>
  );
}

function Revoke(props: { cert: AdminCert; onCancel: () => void; onDone: (msg: string) => void }) {
  const [reason, setReason] = useState("unspecified");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const c = props.cert;
  async function submit(e: Event) {
    e.preventDefault();
    if (!sameSerial(confirm, c.serial)) return setError("Type the certificate's serial number to confirm.");
    setBusy(true);
    setError(null);
    try {
      const r = await admin.post<{ serial: string; crlNumber: number | null }>("/certs/revoke", {
        ca: c.ca,
        serial: c.serial,
        reason,
      });
      props.onDone(
        `Certificate ${r.serial} revoked (${reason})${r.crlNumber != null ? `; CRL number ${r.crlNumber}` : ""}.`,
      );
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="card confirm" onSubmit={submit} noValidate aria-labelledby="revoke-title">
      <h3 id="revoke-title">Revoke {c.subject}?</h3>
      <p>
        Serial <span class="mono">{c.serial}</span> of CA {c.ca}. Revocation cannot be undone (except
        certificateHold): the certificate goes on the CRL and OCSP answers "revoked".
      </p>
      <label for="rv-reason">Reason</label>
      <select id="rv-reason" value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
        {REASONS.map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
      <label for="rv-confirm">Type the serial number to confirm</label>
      <input
        id="rv-confirm"
        type="text"
        spellcheck={false}
        autocomplete="off"
        value={confirm}
        onInput={(e) => setConfirm(e.currentTarget.value)}
      />
      <Alert error={error} />
      <div class="buttons">
        <button type="submit" class="danger" disabled={busy}>
          Confirm revocation
        </button>
        <button type="button" class="secondary" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
