// page-log-requests.js - support's requests for a user's logs: a form to
// ask a user (reason, optional ticket, expiry) and the list of requests
// with their state (pending, fulfilled, declined, expired), refreshed
// every few seconds so an answer shows up while the agent waits.
// API: POST/GET /api/v1/log-requests (docs/push-and-surveys.md).
import { h, replace, formatTime, relativeTime } from './dom.js';
import * as api from './api.js';
import { registerPage } from './app.js';

const REFRESH_MS = 4000;
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
  replace(main,
    h('div.page-head', null, h('h1', null, 'Log requests'),
      h('span.live', { title: 'Refreshes by itself' }, h('span.live-dot'), 'Live')),
    form, errorBox,
    h('div.toolbar', null, statusSel),
    h('div.table-wrap', null, h('table.tickets', null,
      h('thead', null, h('tr', null, ['Created', 'User', 'Reason', 'Status', 'Expires', 'Ticket', 'Answer']
        .map((c) => h('th', { scope: 'col' }, c)))), tbody)));

  function ticketLink(id) {
    return id ? h('a', { href: '#/tickets/' + encodeURIComponent(id) }, id) : '';
  }

  async function load() {
    let data;
    try {
      data = await api.get('/api/v1/log-requests' + api.query({ status: statusSel.value, limit: 1000 }));
      errorBox.hidden = true;
    } catch (e) {
      replace(errorBox, 'Log requests could not be loaded: ' + e.message);
      errorBox.hidden = false;
      return;
    }
    const items = (data.log_requests || []).slice().reverse(); // newest first
    if (!items.length) {
      replace(tbody, h('tr', null, h('td.empty', { colspan: '7' }, 'No log requests yet.')));
      return;
    }
    replace(tbody, items.map((r) => h('tr', { 'data-testid': 'lr-row', 'data-lr-id': r.id },
      h('td.nowrap', { title: formatTime(r.created_at) }, relativeTime(r.created_at)),
      h('td', null, r.user_id),
      h('td.desc', null, r.reason),
      h('td', null, stateBadge(r.status)),
      h('td.nowrap', { title: formatTime(r.expires_at) }, formatTime(r.expires_at)),
      h('td', null, ticketLink(r.ticket_id)),
      h('td', null, ticketLink(r.fulfilled_ticket_id)))));
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { user_id: userIn.value.trim(), reason: reasonIn.value.trim(), expires_in: Number(expirySel.value) };
    if (ticketIn.value.trim()) body.ticket_id = ticketIn.value.trim();
    submit.disabled = true;
    try {
      const r = await api.post('/api/v1/log-requests', body);
      ctx.flash('Asked ' + r.user_id + ' for logs (' + r.id + ')');
      reasonIn.value = '';
      await load();
    } catch (e) {
      ctx.flash('The request was not created: ' + e.message, 'error');
    } finally {
      submit.disabled = false;
    }
  });
  statusSel.addEventListener('change', load);
  const timer = setInterval(load, REFRESH_MS);
  ctx.onLeave(() => clearInterval(timer));
  return load();
}

registerPage({ id: 'log-requests', title: 'Log requests', nav: true, path: /^\/log-requests$/, render });
