/** The request queue: details and checks of each request; approve or reject. */
import { useEffect, useState } from "preact/hooks";
import { admin, errorText, type AdminCa, type AdminRequest } from "../api";
import { Alert, Notice, fmtDate } from "../components";

export function Queue(props: { may: string[] }) {
  const [state, setState] = useState("pending");
  const [list, setList] = useState<AdminRequest[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [cas, setCas] = useState<AdminCa[]>([]);

  const load = () =>
    admin
      .get<{ requests: AdminRequest[] }>(`/requests?state=${encodeURIComponent(state)}&limit=1000`)
      .then((r) => {
        setList(r.requests);
        setError(null);
      })
      .catch((e) => setError(errorText(e)));
  useEffect(() => {
    void load();
  }, [state]);
  useEffect(() => {
    if (props.may.includes("ca.list"))
      admin
        .get<{ cas: AdminCa[] }>("/cas")
        .then((r) => setCas(r.cas))
        .catch(() => setCas([]));
  }, []);

  return (
    <div>
      <div class="toolbar">
        <label for="q-state">Show</label>
        <select id="q-state" value={state} onChange={(e) => setState(e.currentTarget.value)}>
          <option value="pending">Pending</option>
          <option value="issued">Issued</option>
          <option value="rejected">Rejected</option>
          <option value="failed">Failed</option>
        </select>
        <button type="button" class="secondary" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <Alert error={error} />
      {done && <Notice>{done}</Notice>}
      {list && list.length === 0 && <p>No {state} requests.</p>}
      {list && list.length > 0 && (
        <ul class="queue">
          {list.map((r) => (
            <li key={r.id} class="queue-item" data-request-id={r.id}>
              <div class="row">
                <div>
                  <strong>#{r.id}</strong> {r.subject}
                  <div class="small">
                    {r.channel} · {r.submitter ?? "unknown"} · {fmtDate(r.receivedAt)}
                    {r.ca ? ` · CA ${r.ca}` : ""}
                  </div>
                  {r.checks && r.checks.some((c) => !c.ok) && (
                    <div class="small bad">{r.checks.filter((c) => !c.ok).length} check(s) failed</div>
                  )}
                </div>
                <button
                  type="button"
                  class="secondary"
                  aria-expanded={open === r.id}
                  onClick={() => setOpen(open === r.id ? null : r.id)}
                >
                  {open === r.id ? "Close" : "Details"}
                </button>
              </div>
              {open === r.id && (
                <Details
                  id={r.id}
                  may={props.may}
                  cas={cas}
                  onDone={(msg) => {
                    setDone(msg);
                    setOpen(null);
                    void load();
                  }}
                />
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Details(props: { id: number; may: string[]; cas: AdminCa[]; onDone: (msg: string) => void }) {
  const [r, setR] = useState<AdminRequest | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [ca, setCa] = useState("");
  const [profile, setProfile] = useState("");
  const [days, setDays] = useState("");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    admin
      .get<AdminRequest>(`/requests/${props.id}`)
      .then((x) => {
        setR(x);
        setCa(x.ca ?? "");
        setProfile(x.profile ?? "");
      })
      .catch((e) => setError(errorText(e)));
  }, [props.id]);

  async function approve(e: Event) {
    e.preventDefault();
    setError(null);
    const body: { ca?: string; profile?: string; days?: number } = {};
    if (ca) body.ca = ca;
    if (profile.trim()) body.profile = profile.trim();
    if (days.trim()) {
      const n = Number(days);
      if (!Number.isInteger(n) || n < 1) return setError("Days must be a whole number of at least 1.");
      body.days = n;
    }
    setBusy(true);
    try {
      const c = await admin.post<{ serial: string; subject: string; notAfter: string }>(
        `/requests/${props.id}/approve`,
        body,
      );
      props.onDone(
        `Request #${props.id} approved: certificate ${c.serial} for ${c.subject}, until ${fmtDate(c.notAfter)}.`,
      );
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  async function reject(e: Event) {
    e.preventDefault();
    setError(null);
    if (!reason.trim()) return setError("Give a reason: the requester sees it.");
    setBusy(true);
    try {
      await admin.post(`/requests/${props.id}/reject`, { reason: reason.trim() });
      props.onDone(`Request #${props.id} rejected.`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  const p = `rq${props.id}`;
  return (
    <div class="details">
      <Alert error={error} />
      {!r && !error && <p>Loading…</p>}
      {r && (
        <>
          <dl class="facts">
            <dt>State</dt>
            <dd>{r.state}</dd>
            <dt>Subject</dt>
            <dd>{r.subject}</dd>
            <dt>Submitter</dt>
            <dd>{r.submitter ?? "—"}</dd>
            <dt>Source</dt>
            <dd>{r.source ?? r.channel}</dd>
            {r.reason && (
              <>
                <dt>Reason</dt>
                <dd>{r.reason}</dd>
              </>
            )}
          </dl>
          {r.checks && r.checks.length > 0 && (
            <ul class="checks" aria-label="Checks">
              {r.checks.map((c) => (
                <li key={c.check} class={c.ok ? "ok" : "bad"}>
                  {c.ok ? "✓" : "✗"} {c.check}
                  {c.detail ? `: ${c.detail}` : ""}
                </li>
              ))}
            </ul>
          )}
          {r.csrPem && (
            <details>
              <summary>CSR</summary>
              <pre class="mono">{r.csrPem}</pre>
            </details>
          )}
          {r.state === "pending" && props.may.includes("request.approve") && (
            <form onSubmit={approve} class="inline-form" noValidate>
              <h3>Approve</h3>
              <label for={`${p}-ca`}>CA</label>
              <select id={`${p}-ca`} value={ca} onChange={(e) => setCa(e.currentTarget.value)}>
                <option value="">Default for this request</option>
                {props.cas.map((c) => (
                  <option key={c.name} value={c.name}>
                    {c.name}
                  </option>
                ))}
              </select>
              <label for={`${p}-profile`}>Profile (empty: the CA's default)</label>
              <input
                id={`${p}-profile`}
                type="text"
                value={profile}
                onInput={(e) => setProfile(e.currentTarget.value)}
              />
              <label for={`${p}-days`}>Days (empty: the profile's default)</label>
              <input
                id={`${p}-days`}
                type="number"
                min={1}
                inputMode="numeric"
                value={days}
                onInput={(e) => setDays(e.currentTarget.value)}
              />
              <button type="submit" disabled={busy}>
                Approve and issue
              </button>
            </form>
          )}
          {r.state === "pending" && props.may.includes("request.reject") && (
            <form onSubmit={reject} class="inline-form" noValidate>
              <h3>Reject</h3>
              <label for={`${p}-reason`}>Reason (shown to the requester)</label>
              <input
                id={`${p}-reason`}
                type="text"
                value={reason}
                onInput={(e) => setReason(e.currentTarget.value)}
              />
              <button type="submit" class="danger" disabled={busy}>
                Reject
              </button>
            </form>
          )}
        </>
      )}
    </div>
  );
}
