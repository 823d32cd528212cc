import { Link, usePath } from "./router";
import { Portal } from "./pages/portal";
import { Status } from "./pages/status";
import { Confirm } from "./pages/confirm";
import { Cas } from "./pages/cas";
import { Admin } from "./pages/admin";

export function App() {
  const path = usePath();
  const status = /^\/status\/([A-Za-z0-9_-]+)\/?$/.exec(path);
  const confirm = /^\/confirm\/([A-Za-z0-9_-]+)\/?$/.exec(path);
  let page;
  if (status) page = <Status id={status[1]!} />;
  else if (confirm) page = <Confirm token={confirm[1]!} />;
  else if (path === "/ca" || path === "/ca/") page = <Cas />;
  else if (path === "/admin" || path.startsWith("/admin/")) page = <Admin />;
  else if (path === "/") page = <Portal />;
  else
    page = (
      <section>
        <h1>Not found</h1>
        <p>
          There is no page at this address. <Link href="/">Back to the portal</Link>.
        </p>
      </section>
    );
  return (
    <>
      <header class="top">
        <span class="brand">Sigil</span>
        <nav aria-label="Main">
          <Link href="/" class={path === "/" ? "active" : undefined}>
            Request a certificate
          </Link>
          <Link href="/ca" class={path.startsWith("/ca") ? "active" : undefined}>
            CA certificates
          </Link>
          <Link href="/admin" class={path.startsWith("/admin") ? "active" : undefined}>
            Admin
          </Link>
        </nav>
      </header>
      <main>{page}</main>
    </>
  );
}
