// page-log.js - the log viewer. logshared decrypts an attachment with
// the support secret key it was configured with and answers one page of
// records at a time (GET .../attachments/{aid}/log?offset=&limit=&...),
// so a large file is never loaded whole, here or on the server. Filters
// (minimum level, stream, time range, text) run on the server; the
// ticket's call ids are highlighted in every line. Without the key the
// server answers key_not_configured and the page says so.
import { h, replace, highlight, formatTime } from './dom.js';
import * as api from './api.js';
import { registerPage } from './app.js';

const PAGE_SIZE = 200;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

// "2026-11-25T04:57:36.752778Z" -> "2026-11-25 04:57:36.752": records
// a few ms apart must stay apart.
function logTime(iso) {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d{1,3})?/.exec(String(iso || ''));
  return m ? m[1] + ' ' + m[2] + (m[3] || '.000').padEnd(4, '0') : formatTime(iso);
}

// datetime-local gives "2026-11-25T04:44"; the dashboard works in UTC.
function toUtcIso(local) { return local ? local + (local.length === 16 ? ':00' : '') + 'Z' : ''; }

async function render(main, ctx) {
  const [id, aid] = ctx.params;
  const base = '/api/v1/tickets/' + api.enc(id) + '/attachments/' + api.enc(aid);
  let ticket = null;
  try { ticket = await api.get('/api/v1/tickets/' + api.enc(id)); } catch (e) {
    replace(main, h('div.panel.error-panel', { role: 'alert' }, h('h2', null, 'The ticket could not be loaded'), h('p', null, e.message)));
    return;
  }
  const att = (ticket.attachments || []).find((a) => String(a.id) === String(aid)) || { name: aid };
  const callIds = ticket.call_ids || [];
  const q = ctx.query;
  const state = { offsets: [Number(q.get('offset')) || 0], next: null };

  const level = h('select', { 'aria-label': 'Minimum level', 'data-testid': 'log-level' },
    h('option', { value: '' }, 'All levels'),
    LEVELS.map((l) => h('option', { value: l, selected: q.get('level') === l }, l + ' and above')));
  const stream = h('input', { placeholder: 'Stream (calling, media…)', value: q.get('stream') || '', 'aria-label': 'Stream',
    'data-testid': 'log-stream', list: 'log-streams' });
  const streams = h('datalist', { id: 'log-streams' });
  const since = h('input', { type: 'datetime-local', step: '1', 'aria-label': 'From (UTC)', value: q.get('since') || '' });
  const until = h('input', { type: 'datetime-local', step: '1', 'aria-label': 'To (UTC)', value: q.get('until') || '' });
  const text = h('input.search', { type: 'search', placeholder: 'Search in messages…', value: q.get('q') || '',
    'aria-label': 'Search in messages', 'data-testid': 'log-search' });
  const form = h('form.toolbar', { role: 'search' }, level, stream, streams,
    h('label.inline', null, 'From ', since), h('label.inline', null, 'to ', until, ' UTC'), text,
    h('button.btn.btn-primary', { type: 'submit', 'data-testid': 'log-apply' }, 'Apply'));
  const out = h('div.log-view', { 'data-testid': 'log-records', role: 'log', 'aria-live': 'off' });
  const status = h('div.log-status.muted', { 'data-testid': 'log-status' });
  const prev = h('button.btn', { type: 'button' }, '← Previous');
  const next = h('button.btn', { type: 'button', 'data-testid': 'log-next' }, 'Next →');
  const legend = callIds.length
    ? h('p.legend', null, 'Call ids of this ticket are ', h('mark.callid-hit', null, 'highlighted'), ': ',
      callIds.map((c, i) => [i ? ', ' : '', h('code', null, c)]))
    : null;

  replace(main,
    h('div.crumbs', null, h('a', { href: '#/tickets/' + encodeURIComponent(id) }, '← Ticket ' + id)),
    h('div.page-head', null, h('h1', null, 'Logs: ', h('span.file-name', { 'data-testid': 'log-file-name' }, att.name || aid))),
    form, legend, status, out, h('div.pager', null, prev, next));

  form.addEventListener('submit', (ev) => { ev.preventDefault(); state.offsets = [0]; load(); });
  level.addEventListener('change', () => { state.offsets = [0]; load(); });
  // A new page starts at its first record: back to the top (the pager
  // sits under the last line).
  const toTop = () => window.scrollTo(0, 0);
  next.addEventListener('click', () => { if (state.next !== null) { state.offsets.push(state.next); load().then(toTop); } });
  prev.addEventListener('click', () => { if (state.offsets.length > 1) { state.offsets.pop(); load().then(toTop); } });

  function line(r) {
    const lvl = String(r.level || '').toLowerCase();
    const needles = callIds.slice();
    return h('div.log-line', { class: 'lvl-' + (LEVELS.includes(lvl) ? lvl : 'other'), 'data-testid': 'log-line' },
      h('span.log-time', { title: r.time }, logTime(r.time)),
      h('span.log-level', null, lvl.toUpperCase()),
      h('span.log-stream', null, r.stream || ''),
      h('span.log-msg', null, markSearch(highlight(String(r.message || ''), needles, 'callid-hit'), text.value.trim())));
  }

  // Search hits inside the pieces that are not already call-id marks.
  function markSearch(pieces, needle) {
    if (!needle) return pieces;
    return pieces.map((p) => (typeof p === 'string' ? highlight(p, [needle], 'search-hit') : p));
  }

  async function load() {
    const offset = state.offsets[state.offsets.length - 1];
    const params = { offset, limit: PAGE_SIZE, level: level.value, stream: stream.value.trim(),
      q: text.value.trim(), since: toUtcIso(since.value), until: toUtcIso(until.value) };
    replace(status, 'Decrypting…');
    prev.disabled = next.disabled = true;
    let data;
    try {
      data = await api.get(base + '/log' + api.query(params));
    } catch (e) {
      replace(out);
      let why = e.message;
      if (e.code === 'key_not_configured') {
        why = 'This server has no support secret key, so it cannot decrypt logs. An administrator can set ' +
          '[dashboard] support_secret_key_file (or LOGSHARE_DASHBOARD_SUPPORT_SECRET_KEY_FILE) to the key made by ' +
          '"logshare keygen". You can still download the file and decrypt it with "logshare decrypt".';
      } else if (e.code === 'bad_key' || e.code === 'corrupt' || e.code === 'truncated') {
        why = 'This file cannot be decrypted with the server\'s key: ' + e.message + '.';
      } else if (e.code === 'bad_format') {
        why = 'This file is not a logshare log file: ' + e.message;
      }
      replace(status, h('div.panel.error-panel', { role: 'alert', 'data-testid': 'log-error' }, why));
      return;
    }
    const records = data.records || [];
    if (data.stream) replace(streams, h('option', { value: data.stream }));
    replace(out, records.length ? records.map(line) : h('p.muted.empty', null, 'No records match on this page.'));
    state.next = data.next_offset === undefined ? null : data.next_offset;
    prev.disabled = state.offsets.length <= 1;
    next.disabled = state.next === null;
    const parts = [records.length + ' records shown', 'records ' + (offset + 1) + '–' + (data.scanned_to || offset + records.length) + ' of the file scanned'];
    if (data.corrupt) parts.push('a damaged or altered part of the file stops the view here: nothing after it is shown');
    if (data.torn_tail) parts.push('the file ends in a torn tail (the app stopped while writing); every complete record is shown');
    replace(status, parts.join(' · '));
  }
  return load();
}

registerPage({ id: 'log', title: 'Logs', nav: false, path: /^\/tickets\/([^/]+)\/attachments\/([^/]+)\/log$/, render });
