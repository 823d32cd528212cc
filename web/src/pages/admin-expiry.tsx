/**
 * Expiry: valid certificates expiring per week for the next 26 weeks, stacked per CA
 * (inline SVG, colours from CSS classes), and the CA hierarchy with each CA's own expiry.
 */
import { useEffect, useState } from "preact/hooks";
import { admin, errorText, type AdminCa, type ExpiryStats } from "../api";
import { Alert, fmtDay } from "../components";

const W = 720;
const H = 260;
const PAD = { l: 36, r: 8, t: 10, b: 40 };
const COLOURS = 8;

export function Expiry() {
  const [stats, setStats] = useState<ExpiryStats | null>(null);
  const [cas, setCas] = useState<AdminCa[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    admin
      .get<ExpiryStats>("/stats/expiry?weeks=26")
      .then(setStats)
      .catch((e) => setError(errorText(e)));
    admin
      .get<{ cas: AdminCa[] }>("/cas")
      .then((r) => setCas(r.cas))
      .catch((e) => setError(errorText(e)));
  }, []);
  return (
    <div>
      <h2>Certificates expiring per week (next 26 weeks)</h2>
      <Alert error={error} />
      {stats && <Chart stats={stats} />}
      <h2>CA hierarchy</h2>
      {cas && <Hierarchy cas={cas} />}
    </div>
  );
}

function Chart(props: { stats: ExpiryStats }) {
  const { weekStarts, series } = props.stats;
  const n = weekStarts.length;
  const totals = weekStarts.map((_, i) => series.reduce((s, x) => s + (x.counts[i] ?? 0), 0));
  const total = totals.reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...totals);
  const step = niceStep(max);
  const top = Math.ceil(max / step) * step;
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const bw = iw / Math.max(1, n);
  const y = (v: number) => PAD.t + ih - (v / top) * ih;
  const ticks: number[] = [];
  for (let v = 0; v <= top; v += step) ticks.push(v);
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-labelledby="chart-title chart-desc"
        preserveAspectRatio="xMidYMid meet"
        class="chart-svg"
      >
        <title id="chart-title">Certificates expiring per week, per CA</title>
        <desc id="chart-desc">
          {total} valid certificates expire in the next {n} weeks; the busiest week has{" "}
          {max === 1 && total === 0 ? 0 : max}.
        </desc>
        {ticks.map((v) => (
          <g key={v}>
            <line x1={PAD.l} x2={W - PAD.r} y1={y(v)} y2={y(v)} class="grid" />
            <text x={PAD.l - 4} y={y(v) + 4} class="axis" text-anchor="end">
              {v}
            </text>
          </g>
        ))}
        {weekStarts.map((w, i) => {
          let acc = 0;
          return (
            <g key={w}>
              {series.map((s, si) => {
                const v = s.counts[i] ?? 0;
                if (!v) return null;
                const y0 = y(acc);
                acc += v;
                const y1 = y(acc);
                return (
                  <rect
                    key={s.ca}
                    x={PAD.l + i * bw + 1}
                    y={y1}
                    width={Math.max(1, bw - 2)}
                    height={Math.max(0.5, y0 - y1)}
                    class={`bar c${si % COLOURS}`}
                  >
                    <title>
                      {s.ca}: {v} expiring in the week of {fmtDay(w)}
                    </title>
                  </rect>
                );
              })}
              {i % 4 === 0 && (
                <text x={PAD.l + i * bw + bw / 2} y={H - PAD.b + 16} class="axis" text-anchor="middle">
                  {fmtDay(w).slice(5)}
                </text>
              )}
            </g>
          );
        })}
        <text x={PAD.l + iw / 2} y={H - 6} class="axis" text-anchor="middle">
          week starting (month-day)
        </text>
      </svg>
      <figcaption>
        <ul class="legend">
          {series.map((s, si) => (
            <li key={s.ca}>
              <svg width="12" height="12" aria-hidden="true" class="swatch">
                <rect width="12" height="12" class={`bar c${si % COLOURS}`} />
              </svg>
              {s.ca}: {s.counts.reduce((a, b) => a + b, 0)}
            </li>
          ))}
        </ul>
      </figcaption>
      <details>
        <summary>The numbers as a table</summary>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Week of</th>
                {series.map((s) => (
                  <th scope="col" key={s.ca}>
                    {s.ca}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {weekStarts.map((w, i) => (
                <tr key={w}>
                  <td>{fmtDay(w)}</td>
                  {series.map((s) => (
                    <td key={s.ca}>{s.counts[i] ?? 0}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}

function niceStep(max: number): number {
  const raw = max / 5;
  const mag = Math.pow(10, Math.floor(Math.log10(Math.max(1, raw))));
  for (const m of [1, 2, 5, 10]) if (raw <= m * mag) return Math.max(1, m * mag);
  return 10 * mag;
}

function Hierarchy(props: { cas: AdminCa[] }) {
  const children = (parent: string | null) => props.cas.filter((c) => (c.parent ?? null) === parent);
  const roots = props.cas.filter((c) => !c.parent || !props.cas.some((p) => p.name === c.parent));
  const soon = Date.now() + 182 * 86400_000;
  const node = (c: AdminCa) => (
    <li key={c.name}>
      <strong>{c.name}</strong> <span class="small">{c.subject}</span>
      <div class={new Date(c.notAfter).getTime() < soon ? "small bad" : "small"}>
        {c.keyType} · expires {fmtDay(c.notAfter)}
        {new Date(c.notAfter).getTime() < soon ? " (within 6 months)" : ""}
      </div>
      {children(c.name).length > 0 && <ul>{children(c.name).map(node)}</ul>}
    </li>
  );
  return <ul class="tree">{roots.map(node)}</ul>;
}
