/**
 * The confirmation page of a mailbox challenge (/confirm/<token>, the link in the mail):
 * shows what is being confirmed, and confirms only when the user presses the button (a
 * POST). Opening the link confirms nothing: mail scanners open links too.
 */
import { useEffect, useState } from "preact/hooks";
import { portal, errorText, ApiError, type ConfirmInfo, type ConfirmAnswer } from "../api";
import { Alert, Notice, fmtDate } from "../components";
import { Link } from "../router";

export function Confirm(props: { token: string }) {
  const { token } = props;
  const [info, setInfo] = useState<ConfirmInfo | null>(null);
  const [done, setDone] = useState<ConfirmAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const path = `/confirm/${encodeURIComponent(token)}`;

  useEffect(() => {
    portal
      .get<ConfirmInfo>(path)
      .then(setInfo)
      .catch((e) =>
        setError(
          e instanceof ApiError && e.status === 404 ? "This confirmation link is not known." : errorText(e),
        ),
      );
  }, [path]);

  async function confirm() {
    setBusy(true);
    setError(null);
    try {
      setDone(await portal.post<ConfirmAnswer>(path, {}));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <h1>Confirm your e-mail address</h1>
      <Alert error={error} />
      {info && !done && (
        <div class="card">
          <p>
            A certificate was requested for <strong>{info.address}</strong>. Confirm only if you asked for it:
            the certificate will be signed and mailed to this address.
          </p>
          <dl class="facts">
            <dt>Subject</dt>
            <dd>{info.request.subject}</dd>
            <dt>Kind</dt>
            <dd>{info.request.kind}</dd>
            <dt>Submitted</dt>
            <dd>{fmtDate(info.request.submittedAt)}</dd>
            <dt>Confirm before</dt>
            <dd>{fmtDate(info.expires)}</dd>
          </dl>
          {info.state === "waiting" ? (
            <button type="button" onClick={confirm} disabled={busy}>
              Confirm
            </button>
          ) : (
            <p>
              {info.state === "confirmed" ? "This address is already confirmed." : "This link has expired."}
            </p>
          )}
        </div>
      )}
      {done && (
        <Notice>
          {done.address} is confirmed.{" "}
          {done.statusUrl ? (
            <Link href={done.statusUrl}>Follow the request</Link>
          ) : (
            "You may close this page."
          )}
        </Notice>
      )}
    </section>
  );
}
