/**
 * Does config `publicUrl` reach the listener `sigil serve` opened? Issued certificates carry
 * URLs under `publicUrl` (CRL distribution point, RFC 5280 §4.2.1.13; AIA OCSP and
 * caIssuers, §4.2.2.1), so a service listening elsewhere serves URLs nobody is told about.
 *
 * Pure: no I/O (no name resolution).
 */
import { isIP } from "node:net";

/** A listener's bound address: host (IPv6 without brackets) and port. */
export interface ListenAddress {
  host: string;
  port: number;
}

const isLoopbackHost = (h: string): boolean =>
  h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
const isWildcard = (h: string): boolean => h === "0.0.0.0" || h === "::" || h === "";

/**
 * True when `publicUrl` points at the plain-HTTP listener `listen`, or may (it cannot be
 * told without resolving names).
 *
 * - A publicUrl host that is an IP address or `localhost` is decided: the scheme must be
 *   http, the port the listener's (80 when the URL names none), and the host the
 *   listener's; `localhost` matches a loopback listener, and a listener on 0.0.0.0 or ::
 *   matches any host on its port.
 * - A DNS name in front of a loopback listener is taken to be a proxy (nothing else could
 *   reach a loopback listener by name from another machine). In front of any other
 *   listener, the port must match.
 */
export function publicUrlReaches(publicUrl: string, listen: ListenAddress): boolean {
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    return false;
  }
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  if (isIP(host) === 0 && host !== "localhost") return isLoopbackHost(listen.host) || port === listen.port;
  if (url.protocol !== "http:" || port !== listen.port) return false;
  const bound = listen.host.toLowerCase();
  return isWildcard(bound) || host === bound || (host === "localhost" && isLoopbackHost(bound));
}
