/**
 * Text handling for mail reading: PEM blocks (RFC 7468) as people paste them into mail,
 * bare base64 DER, HTML bodies reduced to text, and names and notes made safe to show.
 * Never throws for any input.
 */

/** PEM blocks read from one text or file at most; more are reported, not read. */
export const MAX_PEM_BLOCKS_PER_PART = 100;

/** Longest candidate name kept. */
export const MAX_NAME_LENGTH = 120;

/** A PEM block found in text: its DER, or why it could not be decoded. */
export interface FoundBlock {
  label: string;
  der: Buffer;
  error?: string;
}

const BEGIN_RE = /-----BEGIN ([A-Z0-9 #]{1,80})-----/g;
const END_RE = /-----END ([A-Z0-9 #]{1,80})-----/g;

/**
 * Finds PEM blocks (RFC 7468) in text as people paste them into mail: lines may be indented or
 * quoted ("> "), wrapped at any width, and separated by CRLF; RFC 1421 header lines are skipped.
 * A BEGIN line without its END line (before the next BEGIN) is reported in `unterminated`.
 * Linear in the text: END lines are indexed once.
 */
export function findPemBlocks(text: string): {
  blocks: FoundBlock[];
  unterminated: string[];
  truncated: boolean;
} {
  const blocks: FoundBlock[] = [];
  const unterminated: string[] = [];
  if (!text.includes("-----BEGIN ")) return { blocks, unterminated, truncated: false };
  const ends = new Map<string, number[]>();
  for (const m of text.matchAll(END_RE)) {
    const list = ends.get(m[1]!) ?? [];
    list.push(m.index);
    ends.set(m[1]!, list);
  }
  const re = new RegExp(BEGIN_RE.source, "g");
  let m: RegExpExecArray | null;
  let seen = 0;
  while ((m = re.exec(text))) {
    if (++seen > MAX_PEM_BLOCKS_PER_PART) return { blocks, unterminated, truncated: true };
    const label = m[1]!;
    const bodyStart = m.index + m[0].length;
    const endAt = firstAtOrAfter(ends.get(label), bodyStart);
    const nextBegin = text.indexOf("-----BEGIN ", bodyStart);
    if (endAt === undefined || (nextBegin !== -1 && nextBegin < endAt)) {
      unterminated.push(label);
      continue;
    }
    blocks.push(decodePemBody(label, text.slice(bodyStart, endAt)));
    re.lastIndex = endAt + `-----END ${label}-----`.length;
  }
  return { blocks, unterminated, truncated: false };
}

function firstAtOrAfter(sorted: number[] | undefined, pos: number): number | undefined {
  if (!sorted) return undefined;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < pos) lo = mid + 1;
    else hi = mid;
  }
  return sorted[lo];
}

function decodePemBody(label: string, body: string): FoundBlock {
  let b64 = "";
  for (const rawLine of body.split(/\r\n|\r|\n/)) {
    const line = rawLine.replace(/^[\s>]+/, "").trim();
    if (!line || /^[A-Za-z][A-Za-z0-9-]*:/.test(line)) continue;
    b64 += line.replace(/\s+/g, "");
  }
  const empty = Buffer.alloc(0);
  if (!b64) return { label, der: empty, error: "it is empty" };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.replace(/=+$/, "").length % 4 === 1)
    return { label, der: empty, error: "bad base64" };
  return { label, der: Buffer.from(b64, "base64") };
}

/** A whole file of unarmoured base64 whose content looks like DER (some tools write that). */
export function bareBase64Der(text: string): Buffer | undefined {
  const b64 = text.replace(/\s+/g, "");
  if (b64.length < 8 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
  const der = Buffer.from(b64, "base64");
  return der[0] === 0x30 ? der : undefined;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

/** Tags after which the text goes on on a new line (opening or closing). */
const LINE_TAGS = new Set(["br", "p", "div", "pre", "li", "tr", "td", "h1", "h2", "h3", "h4", "h5", "h6"]);

/**
 * The text of an HTML body, enough to find PEM blocks in it: line-breaking tags become newlines,
 * other tags and comments go, and character references are decoded. A hand-written scanner,
 * linear in the input: the obvious regular expressions (`/<[^>]*>/g`) are quadratic on a body
 * of unclosed "<", and a body may be megabytes.
 */
export function htmlToText(html: string): string {
  let out = "";
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf("<", i);
    if (lt === -1) {
      out += html.slice(i);
      break;
    }
    out += html.slice(i, lt);
    if (html.startsWith("<!--", lt)) {
      const end = html.indexOf("-->", lt + 4);
      if (end === -1) break;
      i = end + 3;
      continue;
    }
    const gt = html.indexOf(">", lt + 1);
    if (gt === -1) {
      out += html.slice(lt);
      break;
    }
    const name = /^\/?([a-z0-9]+)/i.exec(html.slice(lt + 1, Math.min(gt, lt + 12)));
    if (name && LINE_TAGS.has(name[1]!.toLowerCase())) out += "\n";
    i = gt + 1;
  }
  return out
    .replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (all, ent: string) => {
      if (ent[0] === "#") {
        const cp = ent[1] === "x" || ent[1] === "X" ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
        return cp > 0 && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : all;
      }
      return ENTITIES[ent.toLowerCase()] ?? all;
    })
    .replace(/\u00a0/g, " ");
}

/** A file name fit to show and to key candidates by: no directories, no control characters. */
export function cleanName(name: string): string {
  const base = name.split(/[/\\]/).pop() ?? "";
  return clip(oneLine(base).trim(), MAX_NAME_LENGTH);
}

/** Replaces control characters (line breaks included) by spaces. */
export function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]+/g, " ");
}

export function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
