/** CA certificates and CRLs for download, with how to trust the root. */
import { useEffect, useState } from "preact/hooks";
import { portal, errorText, type PortalCa } from "../api";
import { Alert, fmtDay } from "../components";

export function Cas() {
  const [cas, setCas] = useState<PortalCa[] | null>(null);
  const [bundle, setBundle] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    portal
      .get<{ cas: PortalCa[]; bundleUrl: string }>("/cas")
      .then((r) => {
        setCas(r.cas);
        setBundle(r.bundleUrl);
      })
      .catch((e) => setError(errorText(e)));
  }, []);
  const root = cas?.find((c) => c.parent === null);
  const rootFile = root ? `${root.name}.crt` : "root.crt";
  return (
    <section>
      <h1>CA certificates</h1>
      <Alert error={error} />
      {cas && (
        <div class="table-wrap">
          <table>
            <caption>Certificate authorities</caption>
            <thead>
              <tr>
                <th scope="col">CA</th>
                <th scope="col">Issued by</th>
                <th scope="col">Expires</th>
                <th scope="col">Downloads</th>
              </tr>
            </thead>
            <tbody>
              {cas.map((c) => (
                <tr key={c.name}>
                  <td>
                    <strong>{c.name}</strong>
                    <div class="small">{c.subject}</div>
                  </td>
                  <td>{c.parent ?? "(root)"}</td>
                  <td>{fmtDay(c.notAfter)}</td>
                  <td class="links">
                    <a href={c.certUrl} download>
                      DER
                    </a>{" "}
                    <a href={c.pemUrl} download>
                      PEM
                    </a>{" "}
                    <a href={c.crlUrl} download>
                      CRL
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {bundle && (
        <p>
          <a href={bundle} download>
            All CA certificates in one PEM file
          </a>
        </p>
      )}
      <h2>Trusting the root</h2>
      <p>
        Install only the root CA{root ? ` (${root.name})` : ""}; the intermediates come with each certificate.
        Check its fingerprint with your administrator first.
      </p>
      <h3>Debian and Ubuntu</h3>
      <pre>
        {`sigil trust install            # on a machine with Sigil\n# or by hand:\nsudo cp ${rootFile} /usr/local/share/ca-certificates/sigil-root.crt\nsudo update-ca-certificates`}
      </pre>
      <p class="small">
        update-ca-certificates wants PEM text in a file ending in .crt: use the PEM download and rename it.
      </p>
      <h3>Firefox and other NSS programs</h3>
      <pre>{`certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n "Sigil root" -i ${rootFile}`}</pre>
      <p class="small">
        Or in Firefox: Settings, Privacy &amp; Security, Certificates, View Certificates, Authorities, Import.
      </p>
      <h3>Windows</h3>
      <pre>{`certutil -addstore -f Root ${rootFile}`}</pre>
      <h3>macOS</h3>
      <pre>{`sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${rootFile}`}</pre>
    </section>
  );
}
