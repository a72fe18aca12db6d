// page-tickets.js - the ticket list: newest first, search by call id,
// user or text, filter by status, cursor paging, and live refresh: while
// the agent looks at the first page it is fetched again every few
// seconds and new tickets slide in at the top, marked as new.
import { h, replace, formatTime, relativeTime } from './dom.js';
import * as api from './api.js';
import { registerPage } from './app.js';
import { STATUSES, statusBadge, readTicketPage, customerLine } from './tickets-common.js';

const PAGE_SIZE = 25;
const REFRESH_MS = 3000;
const FIELDS = [
  { value: 'q', label: 'Text' },
  { value: 'call_id', label: 'Call id' },
  { value: 'user_id', label: 'User id' },
];

function render(main, ctx) {
  const q = ctx.query;
  const state = {
    field: FIELDS.some((f) => f.value === q.get('field')) ? q.get('field') : 'q',
    text: q.get('text') || '',
    status: q.get('status') || '',
    cursors: [null],   // cursor of each page visited; the last is the current page
    seen: new Set(),
    firstLoad: true,
  };

  const fieldSel = h('select', { 'aria-label': 'Search in', 'data-testid': 'search-field' },
    FIELDS.map((f) => h('option', { value: f.value, selected: f.value === state.field }, f.label)));
  const textIn = h('input.search', { type: 'search', placeholder: 'Search tickets…  (press /)', value: state.text,
    'aria-label': 'Search', 'data-testid': 'search-text' });
  const statusSel = h('select', { 'aria-label': 'Status', 'data-testid': 'status-filter' },
    h('option', { value: '' }, 'Any status'),
    STATUSES.map((s) => h('option', { value: s.value, selected: s.value === state.status }, s.label)));
  const form = h('form.toolbar', { role: 'search' }, fieldSel, textIn, statusSel,
    h('button.btn.btn-primary', { type: 'submit', 'data-testid': 'search-submit' }, 'Search'),
    h('button.btn.btn-quiet', { type: 'button', onclick: () => { textIn.value = ''; statusSel.value = ''; apply(); } }, 'Clear'));
  const live = h('span.live', { title: 'The first page refreshes by itself' }, h('span.live-dot'), 'Live');
  const summary = h('span.muted', { 'data-testid': 'list-summary' });
  const tbody = h('tbody', { 'data-testid': 'ticket-rows' });
  const table = h('table.tickets', null,
    h('thead', null, h('tr', null, ['Created', 'Status', 'Customer', 'Description', 'Call ids', 'Files', 'Source', 'Assignee']
      .map((c) => h('th', { scope: 'col' }, c)))), tbody);
  const prev = h('button.btn', { type: 'button', 'data-testid': 'page-prev' }, '← Newer');
  const next = h('button.btn', { type: 'button', 'data-testid': 'page-next' }, 'Older →');
  const pageNo = h('span.muted');
  const errorBox = h('div.panel.error-panel', { hidden: true, role: 'alert' });

  replace(main,
    h('div.page-head', null, h('h1', null, 'Tickets'), live, summary),
    form, errorBox,
    h('div.table-wrap', null, table),
    h('div.pager', null, prev, pageNo, next));

  function apply() {
    const params = new URLSearchParams();
    if (textIn.value.trim()) { params.set('field', fieldSel.value); params.set('text', textIn.value.trim()); }
    if (statusSel.value) params.set('status', statusSel.value);
    const hash = '#/tickets' + (params.toString() ? '?' + params : '');
    ctx.navigate(hash);
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); apply(); });
  statusSel.addEventListener('change', apply);

  function listQuery(cursor) {
    const p = { limit: PAGE_SIZE, status: state.status, cursor };
    if (state.text) p[state.field] = state.text;
    return '/api/v1/tickets' + api.query(p);
  }

  function row(t, isNew) {
    const href = '#/tickets/' + encodeURIComponent(t.id);
    const open = () => ctx.navigate(href);
    const tr = h('tr', { class: isNew ? 'row-new' : null, tabindex: '0', 'data-ticket-id': t.id,
      'data-testid': 'ticket-row' },
      h('td.nowrap', { title: formatTime(t.created_at) }, relativeTime(t.created_at)),
      h('td', null, statusBadge(t.status)),
      // Both cells are cut to one line (dashboard.css); the title shows them whole.
      h('td.customer', { title: customerLine(t) || null }, h('a', { href }, customerLine(t) || '(no customer data)')),
      h('td.desc', { title: t.description || null }, t.description || ''),
      h('td.callids', null, (t.call_ids || []).map((c) => h('code.callid', null, c))),
      h('td.num', null, String((t.attachments || []).length || t.attachment_count || 0)),
      h('td', null, t.source || ''),
      h('td', null, t.assignee || ''));
    tr.addEventListener('click', (ev) => { if (!(ev.target instanceof HTMLAnchorElement)) open(); });
    tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') open(); });
    return tr;
  }

  async function load(quietly) {
    const cursor = state.cursors[state.cursors.length - 1];
    let data;
    try {
      data = readTicketPage(await api.get(listQuery(cursor), { background: Boolean(quietly) }));
      errorBox.hidden = true;
    } catch (e) {
      if (!quietly || e.status) { replace(errorBox, 'Tickets could not be loaded: ' + e.message); errorBox.hidden = false; }
      return;
    }
    const rows = data.tickets.map((t) => {
      const isNew = !state.firstLoad && !state.seen.has(t.id);
      state.seen.add(t.id);
      return row(t, isNew);
    });
    state.firstLoad = false;
    if (rows.length) replace(tbody, rows);
    else replace(tbody, h('tr', null, h('td.empty', { colspan: '8' }, 'No tickets match.')));
    state.next = data.next;
    prev.disabled = state.cursors.length <= 1;
    next.disabled = !data.next;
    replace(pageNo, 'Page ' + state.cursors.length);
    replace(summary, data.tickets.length + (data.tickets.length === 1 ? ' ticket' : ' tickets') + ' on this page');
    live.hidden = state.cursors.length !== 1;
  }

  next.addEventListener('click', () => { if (state.next) { state.cursors.push(state.next); state.firstLoad = true; load(); } });
  prev.addEventListener('click', () => { if (state.cursors.length > 1) { state.cursors.pop(); state.firstLoad = true; load(); } });

  // "/" jumps to the search box, as in most tools agents use.
  const onKey = (ev) => {
    if (ev.key === '/' && !(ev.target instanceof HTMLInputElement || ev.target instanceof HTMLTextAreaElement ||
      ev.target instanceof HTMLSelectElement)) {
      ev.preventDefault();
      textIn.focus();
    }
  };
  document.addEventListener('keydown', onKey);
  ctx.onLeave(() => document.removeEventListener('keydown', onKey));

  // Live refresh: only the first page, only while the tab is visible.
  const timer = setInterval(() => {
    if (state.cursors.length === 1 && document.visibilityState === 'visible') load(true);
  }, REFRESH_MS);
  ctx.onLeave(() => clearInterval(timer));
  return load();
}

registerPage({ id: 'tickets', title: 'Tickets', nav: true, path: /^\/tickets$/, render });
