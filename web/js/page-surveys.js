// page-surveys.js - end-of-call survey statistics: score distribution
// per category, the share of low scores over time, and the most reported
// issues, from GET /api/v1/surveys/stats. Charts are plain SVG built with
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
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return el;
}

// Vertical bars: [{label, value, low}] -> <svg>.
function barChart(bars, title, testid) {
  const W = 320, H = 160, pad = 24, max = Math.max(1, ...bars.map((b) => b.value));
  const bw = (W - pad) / Math.max(1, bars.length);
  return s('svg', { viewBox: `0 0 ${W} ${H + 20}`, role: 'img', 'aria-label': title, 'data-testid': testid, class: 'chart' },
    s('title', null, title),
    bars.map((b, i) => {
      const bh = Math.round((b.value / max) * (H - pad));
      const x = pad + i * bw + 2;
      return s('g', null,
        s('rect', { x, y: H - bh, width: Math.max(2, bw - 4), height: bh, fill: b.low ? '#c0392b' : '#2e86de' },
          s('title', null, `${b.label}: ${b.value}`)),
        s('text', { x: x + (bw - 4) / 2, y: H + 14, 'text-anchor': 'middle', 'font-size': 11 }, b.label),
        b.value ? s('text', { x: x + (bw - 4) / 2, y: H - bh - 3, 'text-anchor': 'middle', 'font-size': 10 }, b.value) : null);
    }),
    s('line', { x1: pad, y1: H, x2: W, y2: H, stroke: '#888' }));
}

// A line of low-score share (0..1) per time bucket.
function lineChart(points, title, testid) {
  const W = 640, H = 180, pad = 32;
  const n = points.length;
  const x = (i) => pad + (n <= 1 ? (W - pad) / 2 : (i * (W - 2 * pad)) / (n - 1));
  const y = (v) => H - pad / 2 - v * (H - pad);
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.share).toFixed(1)}`).join(' ');
  return s('svg', { viewBox: `0 0 ${W} ${H + 20}`, role: 'img', 'aria-label': title, 'data-testid': testid, class: 'chart' },
    s('title', null, title),
    [0, 0.5, 1].map((v) => s('g', null,
      s('line', { x1: pad, y1: y(v), x2: W - pad, y2: y(v), stroke: '#ddd' }),
      s('text', { x: 2, y: y(v) + 4, 'font-size': 10 }, `${Math.round(v * 100)}%`))),
    n ? s('path', { d: path, fill: 'none', stroke: '#c0392b', 'stroke-width': 2 }) : null,
    points.map((p, i) => s('circle', { cx: x(i), cy: y(p.share), r: 3, fill: '#c0392b' },
      s('title', null, `${p.label}: ${Math.round(p.share * 100)}% low (${p.low} of ${p.ratings})`))),
    points.map((p, i) => (n <= 8 || i % Math.ceil(n / 8) === 0
      ? s('text', { x: x(i), y: H + 14, 'text-anchor': 'middle', 'font-size': 10 }, p.label) : null)));
}

// Horizontal bars for the most reported issues.
function issueChart(issues, testid) {
  const top = issues.slice(0, 10);
  const W = 640, row = 22, labelW = 260, max = Math.max(1, ...top.map((i) => i.count));
  return s('svg', { viewBox: `0 0 ${W} ${Math.max(1, top.length) * row + 4}`, role: 'img',
    'aria-label': 'Most reported issues', 'data-testid': testid, class: 'chart' },
    s('title', null, 'Most reported issues'),
    top.map((it, i) => {
      const w = Math.max(2, Math.round(((W - labelW - 40) * it.count) / max));
      return s('g', null,
        s('text', { x: 0, y: i * row + 15, 'font-size': 12 }, `${it.category} · ${it.issue}`),
        s('rect', { x: labelW, y: i * row + 4, width: w, height: row - 8, fill: '#8e44ad' }),
        s('text', { x: labelW + w + 4, y: i * row + 15, 'font-size': 11 }, it.count));
    }));
}

function distributionBars(cat) {
  // Scales differ between surveys; show each scale's scores in order.
  return (cat.distribution || []).map((d) => ({
    label: (d.lower === 1 && d.upper === 5 ? '' : `${d.lower}-${d.upper}:`) + d.score,
    value: d.count,
    low: false,
  }));
}

async function render(main, ctx) {
  const bucketSel = h('select', { 'aria-label': 'Time buckets', 'data-testid': 'sv-bucket' },
    h('option', { value: 'day', selected: ctx.query.get('bucket') !== 'hour' }, 'per day'),
    h('option', { value: 'hour', selected: ctx.query.get('bucket') === 'hour' }, 'per hour'));
  const body = h('div', { 'data-testid': 'sv-body' }, h('p.muted', null, 'Loading…'));
  replace(main, h('div.page-head', null, h('h1', null, 'Surveys'), bucketSel), body);
  bucketSel.addEventListener('change', () => ctx.navigate('#/surveys?bucket=' + bucketSel.value));
  let st;
  try {
    st = await api.get('/api/v1/surveys/stats' + api.query({ bucket: bucketSel.value }));
  } catch (e) {
    replace(body, h('div.panel.error-panel', { role: 'alert' }, 'Survey statistics could not be loaded: ' + e.message));
    return;
  }
  if (!st.total) {
    replace(body, h('div.panel', null, h('p', null, 'No surveys yet.')));
    return;
  }
  const cards = CATEGORIES.map((c) => {
    const cat = st.categories[c] || { count: 0, low: 0, distribution: [] };
    return h('div.panel', { 'data-testid': 'sv-cat-' + c },
      h('h3', null, c),
      h('p.muted', null, `${cat.count} ratings · ${cat.low} low (${Math.round((cat.low_share || 0) * 100)}%)`),
      cat.count ? barChart(distributionBars(cat), `Score distribution: ${c}`, 'sv-dist-' + c) : h('p.muted', null, 'No ratings.'));
  });
  const points = (st.timeline || []).map((b) => ({
    label: bucketSel.value === 'hour' ? b.start.slice(5, 13).replace('T', ' ') + 'h' : b.start.slice(0, 10),
    share: b.low_share, low: b.low, ratings: b.ratings,
  }));
  replace(body,
    h('p', { 'data-testid': 'sv-summary' },
      `${st.total} surveys · ${st.report_issue} reported an issue · ${st.with_ticket} with a ticket`),
    h('h2', null, 'Score distribution per category'),
    h('div.chart-grid', null, cards),
    h('h2', null, 'Share of low scores over time'),
    h('div.panel', null, lineChart(points, 'Share of low scores over time', 'sv-timeline')),
    h('h2', null, 'Most reported issues'),
    h('div.panel', null, (st.issues || []).length ? issueChart(st.issues, 'sv-issues') : h('p.muted', null, 'No issues reported.')));
}

registerPage({ id: 'surveys', title: 'Surveys', nav: true, path: /^\/surveys$/, render });
