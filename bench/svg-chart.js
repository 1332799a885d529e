// Two line charts side by side, as one SVG: throughput and p99 latency
// against concurrency (log2 axis). Series: { name, colour, points: [{ x, y }] }.
'use strict';

const W = 420;
const H = 300;
const M = { l: 60, r: 16, t: 34, b: 46 };

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
}

function panel(ox, title, yLabel, series, xs) {
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter((y) => Number.isFinite(y));
  const yMax = niceMax(Math.max(...ys, 0));
  const lx = (x) => ox + M.l + ((Math.log2(x) - Math.log2(xs[0])) / (Math.log2(xs[xs.length - 1]) - Math.log2(xs[0]) || 1)) * (W - M.l - M.r);
  const ly = (y) => M.t + (1 - y / yMax) * (H - M.t - M.b);
  const out = [`<text x="${ox + W / 2}" y="20" text-anchor="middle" font-weight="bold">${title}</text>`];
  for (let i = 0; i <= 4; i++) {
    const y = (yMax * i) / 4;
    out.push(`<line x1="${ox + M.l}" x2="${ox + W - M.r}" y1="${ly(y)}" y2="${ly(y)}" stroke="#ddd"/>`);
    out.push(`<text x="${ox + M.l - 6}" y="${ly(y) + 4}" text-anchor="end">${+y.toPrecision(3)}</text>`);
  }
  for (const x of xs) out.push(`<text x="${lx(x)}" y="${H - M.b + 16}" text-anchor="middle">${x}</text>`);
  out.push(`<text x="${ox + W / 2}" y="${H - 8}" text-anchor="middle">transactions in flight</text>`);
  out.push(`<text transform="translate(${ox + 14},${H / 2}) rotate(-90)" text-anchor="middle">${yLabel}</text>`);
  for (const s of series) {
    const pts = s.points.filter((p) => Number.isFinite(p.y));
    if (!pts.length) continue;
    out.push(`<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${pts.map((p) => `${lx(p.x).toFixed(1)},${ly(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${lx(p.x).toFixed(1)}" cy="${ly(p.y).toFixed(1)}" r="3" fill="${s.colour}"/>`);
  }
  return out.join('\n');
}

/** charts: [{ title, yLabel, series }], two of them; xs: the concurrency values. */
function svgChart(charts, xs, caption) {
  const legend = charts[0].series.map((s, i) => `<rect x="${M.l + i * 190}" y="${H + 4}" width="12" height="12" fill="${s.colour}"/><text x="${M.l + 18 + i * 190}" y="${H + 14}">${s.name}</text>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 44}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...charts.map((c, i) => panel(i * W, c.title, c.yLabel, c.series, xs)),
    ...legend,
    `<text x="${M.l}" y="${H + 36}" fill="#555">${caption}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

module.exports = { svgChart };
