/**
 * A small authoritative DNS server for tests, on 127.0.0.1 UDP at a random port: A records
 * (127.0.0.1 for every name unless overridden, NXDOMAIN for chosen names), AAAA (always no
 * data, so nothing resolves to an outside IPv6 address) and TXT records set at run time.
 * Packets are encoded and decoded by the `dns-packet` library (RFC 1035 §4).
 */
import dgram from "node:dgram";
import dnsPacket from "dns-packet";
import type { Answer, Question } from "dns-packet";

/** RFC 1035 §4.1.1 RCODE values used here. */
const RCODE = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, NOTIMP: 4 } as const;

export interface DnsServerOptions {
  /** A records per name (lowercase, no trailing dot); a name not listed gets `defaultA`. */
  a?: Record<string, string[]>;
  /** The A record of every other name (default "127.0.0.1"); null: no A record (NODATA). */
  defaultA?: string | null;
  /** Names answered with NXDOMAIN. */
  nxdomain?: string[];
  /** TXT records per name at start. */
  txt?: Record<string, string[]>;
}

export interface TestDnsServer {
  port: number;
  /** "127.0.0.1:PORT", the form of config `acme.dnsServer`. */
  address: string;
  /** Replaces the TXT records of `name` (one record per value). */
  setTxt(name: string, values: string[]): void;
  clearTxt(name: string): void;
  /** Replaces the A records of `name`. */
  setA(name: string, addresses: string[]): void;
  /** Makes `name` (and only that name) answer NXDOMAIN from now on. */
  nxdomain(name: string): void;
  /** Every question asked so far, as "TYPE name". */
  queries: string[];
  close(): Promise<void>;
}

const norm = (name: string): string => name.toLowerCase().replace(/\.$/, "");

/** Starts the server; it answers until `close()`. */
export async function startDnsServer(opts: DnsServerOptions = {}): Promise<TestDnsServer> {
  const a = new Map(Object.entries(opts.a ?? {}).map(([k, v]) => [norm(k), v]));
  const txt = new Map(Object.entries(opts.txt ?? {}).map(([k, v]) => [norm(k), v]));
  const nx = new Set((opts.nxdomain ?? []).map(norm));
  const defaultA = opts.defaultA === undefined ? "127.0.0.1" : opts.defaultA;
  const queries: string[] = [];

  function answer(q: Question): { rcode: number; answers: Answer[] } {
    const name = norm(q.name);
    queries.push(`${q.type} ${name}`);
    if (q.class !== "IN") return { rcode: RCODE.NOTIMP, answers: [] };
    if (nx.has(name)) return { rcode: RCODE.NXDOMAIN, answers: [] };
    switch (q.type) {
      case "A": {
        const list = a.get(name) ?? (defaultA === null ? [] : [defaultA]);
        return {
          rcode: RCODE.NOERROR,
          answers: list.map((ip) => ({ type: "A", name: q.name, ttl: 0, class: "IN", data: ip })),
        };
      }
      case "TXT":
        return {
          rcode: RCODE.NOERROR,
          answers: (txt.get(name) ?? []).map((v) => ({
            type: "TXT",
            name: q.name,
            ttl: 0,
            class: "IN",
            data: [v],
          })),
        };
      default:
        // AAAA and everything else: the name exists but has no such record (NODATA).
        return { rcode: RCODE.NOERROR, answers: [] };
    }
  }

  const socket = dgram.createSocket("udp4");
  socket.on("message", (msg, rinfo) => {
    let query;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return; // not DNS: drop it, as a server would
    }
    const q = query.questions?.[0];
    const { rcode, answers } =
      query.type === "query" && q && query.questions?.length === 1
        ? answer(q)
        : { rcode: RCODE.FORMERR, answers: [] };
    const rd = (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
    const reply = dnsPacket.encode({
      type: "response",
      id: query.id ?? 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | rd | rcode,
      questions: query.questions ?? [],
      answers,
    });
    socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => {
      socket.off("error", reject);
      resolve();
    });
  });
  const port = socket.address().port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    queries,
    setTxt: (name, values) => void txt.set(norm(name), [...values]),
    clearTxt: (name) => void txt.delete(norm(name)),
    setA: (name, addresses) => void a.set(norm(name), [...addresses]),
    nxdomain: (name) => void nx.add(norm(name)),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
