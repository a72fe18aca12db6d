// page-log-requests.js - support's requests for a user's logs: a form to
// ask a user (reason, optional ticket, expiry) and the list of requests
// with their state (pending, fulfilled, declined, expired), refreshed
// every few seconds so an answer shows up while the agent waits. The list
// is newest first (order=desc) in pages of PAGE_SIZE, paged with the
// API's next_before cursor, so the newest requests are always on the
// first page however many there are. A long reason is cut to one line;
// its title shows it whole and a click on the row unfolds it.
// ?user_id=&ticket_id= prefill the form (the ticket page links here).
// API: POST/GET /api/v1/log-requests (docs/push-and-surveys.md).
import { h, replace, formatTime, relativeTime } from './dom.js';
import * as api from './api.js';
import { registerPage } from './app.js';

const REFRESH_MS = 4000;
const PAGE_SIZE = 50;
const STATES = ['pending', 'fulfilled', 'declined', 'expired'];
const EXPIRY = [
  { value: 3600, label: '1 hour' },
  { value: 86400, label: '1 day' },
  { value: 7 * 86400, label: '7 days' },
];

function stateBadge(status) {
  const cls = { pending: 'badge-open', fulfilled: 'badge-in_progress', declined: 'badge-closed', expired: 'badge-other' };
  return h('span.badge', { class: cls[status] || 'badge-other', 'data-testid': 'lr-status' }, status);
}

function render(main, ctx) {
  const userIn = h('input', { type: 'text', required: true, maxlength: '255', placeholder: 'user id',
    'aria-label': 'User id', 'data-testid': 'lr-user', value: ctx.query.get('user_id') || '' });
  const reasonIn = h('textarea', { required: true, maxlength: '2000', rows: '2',
    placeholder: 'What the user will be asked, e.g. "Calls dropped at 10:02, may we see the logs?"',
    'aria-label': 'Reason', 'data-testid': 'lr-reason' });
  const ticketIn = h('input', { type: 'text', placeholder: 'ticket id (optional)', 'aria-label': 'Ticket id',
    'data-testid': 'lr-ticket', value: ctx.query.get('ticket_id') || '' });
  const expirySel = h('select', { 'aria-label': 'Expires in', 'data-testid': 'lr-expiry' },
    EXPIRY.map((e) => h('option', { value: String(e.value), selected: e.value === 86400 }, e.label)));
  const submit = h('button.btn.btn-primary', { type: 'submit', 'data-testid': 'lr-create' }, 'Request logs');
  const form = h('form.panel', { 'data-testid': 'lr-form' },
    h('h2', null, 'Ask a user for logs'),
    h('div.toolbar', null, userIn, ticketIn, expirySel),
    reasonIn,
    h('div.toolbar', null, submit,
      h('span.muted', null, 'The user\'s app shows the reason and asks before anything is uploaded.')));

  const statusSel = h('select', { 'aria-label': 'Status', 'data-testid': 'lr-filter' },
    h('option', { value: '' }, 'Any status'), STATES.map((s) => h('option', { value: s }, s)));
  const tbody = h('tbody', { 'data-testid': 'lr-rows' });
  const errorBox = h('div.panel.error-panel', { hidden: true, role: 'alert' });
  const prev = h('button.btn', { type: 'button', 'data-testid': 'lr-newer' }, '← Newer');
  const next = h('button.btn', { type: 'button', 'data-testid': 'lr-older' }, 'Older →');
  const pageInfo = h('span.muted', { 'data-testid': 'lr-page' });
  // ?id=lr_...: that request in full above the list (the ticket page links here).
  const detail = h('div', { 'data-testid': 'lr-detail' });
  const focusId = ctx.query.get('id');
  if (focusId) {
    api.get('/api/v1/log-requests/' + encodeURIComponent(focusId)).then((r) => {
      replace(detail, h('section.panel', null, h('h2', null, 'Log request ', h('span.ticket-id', null, r.id)),
        h('dl.facts', null,
          h('dt', null, 'User'), h('dd', null, r.user_id),
          h('dt', null, 'Status'), h('dd', null, stateBadge(r.status)),
          h('dt', null, 'Reason'), h('dd', null, h('p.description', { 'data-testid': 'lr-detail-reason' }, r.reason)),
          h('dt', null, 'Asked by'), h('dd', null, r.created_by || ''),
          h('dt', null, 'Created'), h('dd', null, formatTime(r.created_at)),
          h('dt', null, 'Expires'), h('dd', null, formatTime(r.expires_at)),
          r.ticket_id ? [h('dt', null, 'About ticket'), h('dd', null, ticketLink(r.ticket_id))] : null,
          r.fulfilled_ticket_id ? [h('dt', null, 'Answered by'), h('dd', null, ticketLink(r.fulfilled_ticket_id))] : null)));
    }, (e) => replace(detail, h('div.panel.error-panel', { role: 'alert' }, 'Log request ' + focusId + ': ' + e.message)));
  }
  replace(main,
    h('div.page-head', null, h('h1', null, 'Log requests'),
      h('span.live', { title: 'Refreshes by itself' }, h('span.live-dot'), 'Live')),
    detail, form, errorBox,
    h('div.toolbar', null, statusSel),
    h('div.table-wrap', null, h('table.tickets', null,
      h('thead', null, h('tr', null, ['Created', 'User', 'Reason', 'Status', 'Expires', 'Ticket', 'Answer']
        .map((c) => h('th', { scope: 'col' }, c)))), tbody)),
    h('div.pager', null, pageInfo, prev, next));

  // cursors[i] is the `before` of page i (0: the newest page).
  const state = { cursors: [0], next: null, expanded: new Set() };

  function ticketLink(id) {
    return id ? h('a', { href: '#/tickets/' + encodeURIComponent(id), title: id }, id) : '';
  }

  function row(r) {
    const tr = h('tr', { 'data-testid': 'lr-row', 'data-lr-id': r.id, tabindex: '0',
      class: state.expanded.has(r.id) ? 'expanded' : null,
      title: state.expanded.has(r.id) ? null : 'Click to show the whole reason' },
    h('td.nowrap', { title: formatTime(r.created_at) }, relativeTime(r.created_at)),
    h('td.customer', { title: r.user_id }, r.user_id),
    h('td.desc', { title: r.reason, 'data-testid': 'lr-reason-cell' }, r.reason),
    h('td', null, stateBadge(r.status)),
    h('td.nowrap', { title: formatTime(r.expires_at) }, formatTime(r.expires_at)),
    h('td.customer', null, ticketLink(r.ticket_id)),
    h('td.customer', null, ticketLink(r.fulfilled_ticket_id)));
    const toggle = () => {
      if (state.expanded.has(r.id)) state.expanded.delete(r.id); else state.expanded.add(r.id);
      tr.classList.toggle('expanded', state.expanded.has(r.id));
    };
    tr.addEventListener('click', (ev) => { if (!(ev.target instanceof HTMLAnchorElement)) toggle(); });
    tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') toggle(); });
    return tr;
  }

  async function load(background = false) {
    const page = state.cursors.length - 1;
    const before = state.cursors[page];
    let data;
    try {
      data = await api.get('/api/v1/log-requests' + api.query({ status: statusSel.value, order: 'desc',
        limit: PAGE_SIZE, before: before || undefined }), { background });
      errorBox.hidden = true;
    } catch (e) {
      replace(errorBox, 'Log requests could not be loaded: ' + e.message);
      errorBox.hidden = false;
      return;
    }
    const items = data.log_requests || [];
    state.next = data.next_before || null;
    prev.disabled = page === 0;
    next.disabled = !state.next;
    replace(pageInfo, items.length
      ? 'Requests ' + (page * PAGE_SIZE + 1) + '–' + (page * PAGE_SIZE + items.length) + ', newest first'
      : '');
    if (!items.length) {
      replace(tbody, h('tr', null, h('td.empty', { colspan: '7' },
        page === 0 ? 'No log requests yet.' : 'No older requests.')));
      return;
    }
    replace(tbody, items.map(row));
  }

  next.addEventListener('click', () => {
    if (!state.next) return;
    state.cursors.push(state.next);
    load().then(() => window.scrollTo(0, 0));
  });
  prev.addEventListener('click', () => {
    if (state.cursors.length > 1) state.cursors.pop();
    load().then(() => window.scrollTo(0, 0));
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { user_id: userIn.value.trim(), reason: reasonIn.value.trim(), expires_in: Number(expirySel.value) };
    if (ticketIn.value.trim()) body.ticket_id = ticketIn.value.trim();
    submit.disabled = true;
    try {
      const r = await api.post('/api/v1/log-requests', body);
      ctx.flash('Asked ' + r.user_id + ' for logs (' + r.id + ')');
      reasonIn.value = '';
      state.cursors = [0]; // show the new request at the top
      await load();
    } catch (e) {
      ctx.flash('The request was not created: ' + e.message, 'error');
    } finally {
      submit.disabled = false;
    }
  });
  statusSel.addEventListener('change', () => { state.cursors = [0]; load(); });
  const timer = setInterval(() => load(true), REFRESH_MS);
  ctx.onLeave(() => clearInterval(timer));
  return load();
}

registerPage({ id: 'log-requests', title: 'Log requests', nav: true, path: /^\/log-requests$/, render });
