/**
 * The admin console (/admin): log in with an admin token (held in memory only: a reload
 * logs out), then the tabs the token's role may use (whoami's `may`).
 */
import { useEffect, useState } from "preact/hooks";
import { admin, errorText, onAdminUnauthorized, setAdminToken, type WhoAmI } from "../api";
import { Alert } from "../components";
import { Link, navigate, usePath } from "../router";
import { Queue } from "./admin-queue";
import { Inventory } from "./admin-inventory";
import { Expiry } from "./admin-expiry";
import { Audit } from "./admin-audit";

let session: WhoAmI | null = null;

interface Tab {
  path: string;
  label: string;
  needs: string;
}

const TABS: Tab[] = [
  { path: "/admin/queue", label: "Request queue", needs: "request.list" },
  { path: "/admin/inventory", label: "Certificates", needs: "cert.list" },
  { path: "/admin/expiry", label: "Expiry", needs: "expiring.list" },
  { path: "/admin/audit", label: "Audit log", needs: "audit.read" },
];

export function Admin() {
  const [who, setWho] = useState<WhoAmI | null>(session);
  const path = usePath();
  useEffect(() => {
    onAdminUnauthorized(() => {
      session = null;
      setAdminToken(null);
      setWho(null);
    });
  }, []);
  if (!who)
    return (
      <Login
        onLogin={(w) => {
          session = w;
          setWho(w);
        }}
      />
    );
  const tabs = TABS.filter((t) => who.may.includes(t.needs));
  const current = tabs.find((t) => path.startsWith(t.path)) ?? tabs[0];
  return (
    <section>
      <div class="admin-head">
        <h1>Admin console</h1>
        <p class="small">
          Signed in as <strong>{who.name}</strong> ({who.role}){" "}
          <button
            type="button"
            class="link"
            onClick={() => {
              session = null;
              setAdminToken(null);
              setWho(null);
              navigate("/admin");
            }}
          >
            Sign out
          </button>
        </p>
      </div>
      <nav class="tabs" aria-label="Console">
        {tabs.map((t) => (
          <Link key={t.path} href={t.path} class={t === current ? "tab active" : "tab"}>
            {t.label}
          </Link>
        ))}
      </nav>
      {!current && <p>Your role ({who.role}) has nothing to show here.</p>}
      {current?.path === "/admin/queue" && <Queue may={who.may} />}
      {current?.path === "/admin/inventory" && <Inventory may={who.may} />}
      {current?.path === "/admin/expiry" && <Expiry />}
      {current?.path === "/admin/audit" && <Audit may={who.may} />}
      {path.startsWith("/admin/") && current && !path.startsWith(current.path) && (
        <Alert error={`Your role (${who.role}) may not open ${path}.`} />
      )}
    </section>
  );
}

function Login(props: { onLogin: (w: WhoAmI) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    const t = token.trim();
    if (!t) return setError("Paste your admin token.");
    setBusy(true);
    setAdminToken(t);
    try {
      const w = await admin.get<WhoAmI>("/whoami");
      setToken("");
      props.onLogin(w);
    } catch (err) {
      setAdminToken(null);
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <section>
      <h1>Admin console</h1>
      <form class="card narrow" onSubmit={submit} noValidate>
        <label for="admin-token">Admin token</label>
        <input
          id="admin-token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
        />
        <p class="small">
          Made with <code>sigil admin token create --role ROLE --name NAME</code>. The console keeps it in
          memory only: reloading the page signs you out.
        </p>
        <Alert error={error} />
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </section>
  );
}
