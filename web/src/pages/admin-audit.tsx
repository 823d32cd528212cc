/** The audit log and the hash chain's verify result (auditor and security roles). */
import { useEffect, useState } from "preact/hooks";
import { admin, errorText, type AuditEvent, type AuditVerify } from "../api";
import { Alert, fmtDate } from "../components";

export function Audit(props: { may: string[] }) {
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [verify, setVerify] = useState<AuditVerify | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [q, setQ] = useState("");
  useEffect(() => {
    admin
      .get<{ events: AuditEvent[] }>("/audit?after=0&limit=1000")
      .then((r) => setEvents(r.events))
      .catch((e) => setError(errorText(e)));
    if (props.may.includes("audit.verify"))
      admin
        .get<AuditVerify>("/audit/verify")
        .then(setVerify)
        .catch((e) => setError(errorText(e)));
  }, []);
  const needle = q.trim().toLowerCase();
  const shown = (events ?? []).filter(
    (e) => !needle || `${e.actor} ${e.action} ${e.target ?? ""}`.toLowerCase().includes(needle),
  );
  return (
    <div>
      <Alert error={error} />
      {verify && (
        <p class={verify.ok ? "verify ok" : "verify bad"} data-verify={verify.ok ? "ok" : "bad"}>
          {verify.ok
            ? `Hash chain verified: ${verify.count ?? "all"} events, head ${verify.headHash?.slice(0, 16) ?? ""}…`
            : `Hash chain BROKEN at event ${verify.firstBad ?? "?"}: ${verify.reason ?? ""}`}
        </p>
      )}
      <div class="toolbar">
        <div class="field">
          <label for="audit-q">Filter (actor, action, target)</label>
          <input id="audit-q" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </div>
      </div>
      {events && (
        <div class="table-wrap">
          <table class="audit">
            <caption>
              {shown.length} of {events.length} events
            </caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">When</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((e) => (
                <tr key={e.seq}>
                  <td>{e.seq}</td>
                  <td>{fmtDate(e.at)}</td>
                  <td>{e.actor}</td>
                  <td>{e.action}</td>
                  <td class="wrap">{e.target ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
