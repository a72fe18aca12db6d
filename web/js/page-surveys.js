// page-surveys.js - end-of-call survey statistics: score distribution
// per category, the share of low scores over time, and the most reported
// issues, from GET /api/v1/surveys/stats (optionally for a from/to date
// range, in UTC). Each category gets one bar chart per scale used (a 3 on
// 0..10 is not a 3 on 1..5) with every score of the scale. Charts are plain SVG built with
// createElementNS and presentation attributes (no library, no inline
// style, nothing the dashboard's Content-Security-Policy forbids).
import { h, replace } from './dom.js';
import * as api from './api.js';
import { registerPage } from './app.js';

const NS = 'http://www.w3.org/2000/svg';
const CATEGORIES = ['overall', 'audio', 'video', 'screenshare'];

function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return el;
}

// Charts are drawn at their natural pixel size (width/height attributes,
// scaled down only when the box is narrower), so text stays at the font
// sizes below instead of growing and shrinking with the page.
const FONT = 12, FONT_SMALL = 11;
const LOW = '#c0392b', OK = '#2e86de';

function svg(W, H, title, testid) {
  return (...children) => s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
    'aria-label': title, 'data-testid': testid, class: 'chart' }, s('title', null, title), children);
}

// Vertical bars: [{label, value, low}] -> <svg>. Low bars are red.
function barChart(bars, title, testid) {
  const bw = bars.length > 8 ? 20 : 44, pad = 8, H = 150, top = 18;
  const W = pad * 2 + bw * bars.length, max = Math.max(1, ...bars.map((b) => b.value));
  return svg(W, H + 24, title, testid)(
    bars.map((b, i) => {
      const bh = Math.round((b.value / max) * (H - top));
      const x = pad + i * bw + 3;
      return s('g', null,
        s('rect', { x, y: H - bh, width: bw - 6, height: Math.max(bh, 0), fill: b.low ? LOW : OK,
          'data-score': b.label, 'data-low': b.low ? '1' : '0' },
        s('title', null, `${b.label}: ${b.value}`)),
        s('text', { x: x + (bw - 6) / 2, y: H + 16, 'text-anchor': 'middle', 'font-size': FONT }, b.label),
        s('text', { x: x + (bw - 6) / 2, y: H - bh - 4, 'text-anchor': 'middle', 'font-size': FONT_SMALL,
          fill: b.value ? '#333' : '#999' }, b.value));
    }),
    s('line', { x1: pad, y1: H, x2: W - pad, y2: H, stroke: '#888' }));
}

// The low-score share (0..1) per time bucket, each point at its bucket's
// time; the line breaks where buckets without ratings lie between two.
function lineChart(points, from, to, bucketMs, title, testid) {
  const W = 720, H = 190, left = 44, right = 16, top = 10, bottom = 26;
  // Half a bucket of room on each side, so a lone point sits in the
  // middle and the first and last labels are not cut.
  const lo = from - bucketMs / 2, span = to - from + bucketMs;
  const x = (t) => left + ((t - lo) / span) * (W - left - right);
  const y = (v) => top + (1 - v) * (H - top - bottom);
  let d = '';
  points.forEach((p, i) => {
    const joined = i > 0 && p.t - points[i - 1].t <= bucketMs;
    d += `${joined ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.share).toFixed(1)} `;
  });
  const ticks = [];
  const buckets = Math.round((to - from) / bucketMs) + 1;
  const step = Math.max(1, Math.ceil(buckets / 6)) * bucketMs;
  for (let t = from; t <= to; t += step) ticks.push(t);
  const fmt = (t) => new Date(t).toISOString().slice(bucketMs < 86400000 ? 5 : 0, bucketMs < 86400000 ? 13 : 10).replace('T', ' ') + (bucketMs < 86400000 ? 'h' : '');
  return svg(W, H, title, testid)(
    [0, 0.5, 1].map((v) => s('g', null,
      s('line', { x1: left, y1: y(v), x2: W - right, y2: y(v), stroke: '#ddd' }),
      s('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': FONT_SMALL }, `${Math.round(v * 100)}%`))),
    ticks.map((t) => s('text', { x: x(t), y: H - 8, 'text-anchor': 'middle', 'font-size': FONT_SMALL }, fmt(t))),
    d ? s('path', { d: d.trim(), fill: 'none', stroke: LOW, 'stroke-width': 2 }) : null,
    points.map((p) => s('circle', { cx: x(p.t), cy: y(p.share), r: 3.5, fill: LOW, 'data-start': p.start },
      s('title', null, `${p.label}: ${Math.round(p.share * 100)}% low (${p.low} of ${p.ratings})`))));
}

// Horizontal bars for the most reported issues.
function issueChart(issues, testid) {
  const top = issues.slice(0, 10);
  const W = 720, row = 24, labelW = 280, max = Math.max(1, ...top.map((i) => i.count));
  return svg(W, Math.max(1, top.length) * row + 4, 'Most reported issues', testid)(
    top.map((it, i) => {
      const w = Math.max(2, Math.round(((W - labelW - 40) * it.count) / max));
      return s('g', null,
        s('text', { x: 0, y: i * row + 16, 'font-size': FONT }, `${it.category} · ${it.issue}`),
        s('rect', { x: labelW, y: i * row + 5, width: w, height: row - 10, fill: '#8e44ad' }),
        s('text', { x: labelW + w + 6, y: i * row + 16, 'font-size': FONT }, it.count));
    }));
}

// One entry per scale used in the category: {lower, upper, bars}, with a
// bar for every score of the scale (0 where nobody gave it). A bar is low
// when the ratings of that score were low by their survey's threshold.
function scales(cat) {
  const by = new Map();
  for (const d of cat.distribution || []) {
    const key = d.lower + '..' + d.upper;
    if (!by.has(key)) by.set(key, { lower: d.lower, upper: d.upper, counts: new Map() });
    by.get(key).counts.set(d.score, { count: d.count, low: d.low || 0 });
  }
  // The default 1..5 first, then the others by range.
  const rank = (sc) => (sc.lower === 1 && sc.upper === 5 ? -1 : 0);
  return [...by.values()].sort((a, b) => rank(a) - rank(b) || a.lower - b.lower || a.upper - b.upper).map((sc) => {
    const bars = [];
    for (let score = sc.lower; score <= sc.upper; score++) {
      const c = sc.counts.get(score) || { count: 0, low: 0 };
      bars.push({ label: String(score), value: c.count, low: c.count > 0 && c.low * 2 >= c.count });
    }
    return { lower: sc.lower, upper: sc.upper, bars };
  });
}

// "2026-11-25" (a date input, UTC) -> RFC 3339, or undefined.
function dayStart(v) { return v ? v + 'T00:00:00Z' : undefined; }
function dayAfter(v) {
  if (!v) return undefined;
  const d = new Date(v + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

async function render(main, ctx) {
  const q = ctx.query;
  const bucketSel = h('select', { 'aria-label': 'Time buckets', 'data-testid': 'sv-bucket' },
    h('option', { value: 'day', selected: q.get('bucket') !== 'hour' }, 'per day'),
    h('option', { value: 'hour', selected: q.get('bucket') === 'hour' }, 'per hour'));
  const since = h('input', { type: 'date', 'aria-label': 'From (UTC)', 'data-testid': 'sv-since', value: q.get('since') || '' });
  const until = h('input', { type: 'date', 'aria-label': 'To (UTC, inclusive)', 'data-testid': 'sv-until', value: q.get('until') || '' });
  const apply = h('button.btn', { type: 'submit', 'data-testid': 'sv-apply' }, 'Show');
  const form = h('form.toolbar', { 'data-testid': 'sv-range' },
    h('label', null, 'From ', since), h('label', null, 'to ', until), bucketSel, apply,
    h('span.muted', null, 'Dates in UTC'));
  const body = h('div', { 'data-testid': 'sv-body' }, h('p.muted', null, 'Loading…'));
  replace(main, h('div.page-head', null, h('h1', null, 'Surveys')), form, body);
  const go = () => {
    const p = new URLSearchParams();
    if (bucketSel.value === 'hour') p.set('bucket', 'hour');
    if (since.value) p.set('since', since.value);
    if (until.value) p.set('until', until.value);
    ctx.navigate('#/surveys' + (p.toString() ? '?' + p : ''));
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); go(); });
  bucketSel.addEventListener('change', go);
  let st;
  try {
    st = await api.get('/api/v1/surveys/stats' + api.query({ bucket: bucketSel.value,
      since: dayStart(since.value), until: dayAfter(until.value) }));
  } catch (e) {
    replace(body, h('div.panel.error-panel', { role: 'alert' }, 'Survey statistics could not be loaded: ' + e.message));
    return;
  }
  if (!st.total) {
    replace(body, h('div.panel', null, h('p', null, since.value || until.value ? 'No surveys in this period.' : 'No surveys yet.')));
    return;
  }
  const cards = CATEGORIES.map((c) => {
    const cat = st.categories[c] || { count: 0, low: 0, distribution: [] };
    const list = scales(cat);
    return h('div.panel', { 'data-testid': 'sv-cat-' + c },
      h('h3', null, c),
      h('p.muted', null, `${cat.count} rating${cat.count === 1 ? '' : 's'} · ${cat.low} low (${Math.round((cat.low_share || 0) * 100)}%)`),
      cat.count
        ? list.map((sc) => {
          const label = `${sc.lower}–${sc.upper}`;
          return h('figure.scale-chart', null,
            list.length > 1 || sc.lower !== 1 || sc.upper !== 5 ? h('figcaption.muted', null, 'Scale ' + label) : null,
            barChart(sc.bars, `Score distribution: ${c}, scale ${label}`,
              sc.lower === 1 && sc.upper === 5 ? 'sv-dist-' + c : `sv-dist-${c}-${sc.lower}-${sc.upper}`));
        })
        : h('p.muted', null, 'No ratings.'));
  });
  const bucketMs = (st.bucket_seconds || 86400) * 1000;
  const points = (st.timeline || []).map((b) => ({
    t: Date.parse(b.start), start: b.start,
    label: bucketSel.value === 'hour' ? b.start.slice(5, 13).replace('T', ' ') + 'h' : b.start.slice(0, 10),
    share: b.low_share, low: b.low, ratings: b.ratings,
  })).sort((a, b) => a.t - b.t);
  const from = since.value ? Date.parse(dayStart(since.value)) : (points.length ? points[0].t : Date.now());
  const to = until.value ? Date.parse(dayAfter(until.value)) - bucketMs : (points.length ? points[points.length - 1].t : from);
  replace(body,
    h('p', { 'data-testid': 'sv-summary' },
      `${st.total} surveys · ${st.report_issue} reported an issue · ${st.with_ticket} with a ticket`),
    h('h2', null, 'Score distribution per category'),
    h('p.muted.legend', null, 'Red bars: scores at or under the survey\'s low threshold.'),
    h('div.chart-grid', null, cards),
    h('h2', null, 'Share of low scores over time'),
    h('div.panel', null, lineChart(points, from, to, bucketMs, 'Share of low scores over time', 'sv-timeline')),
    h('h2', null, 'Most reported issues'),
    h('div.panel', null, (st.issues || []).length ? issueChart(st.issues, 'sv-issues') : h('p.muted', null, 'No issues reported.')));
}

registerPage({ id: 'surveys', title: 'Surveys', nav: true, path: /^\/surveys$/, render });
