// page-ticket.js - one ticket: customer data, call ids, description and
// source; status and assignee changes and notes (PATCH, with the CSRF
// token); attachments with size, SHA-256, download, a log viewer link and
// a signed link with an expiry for handing a file to the SDK vendor.
import { h, replace, formatBytes, formatTime, relativeTime } from './dom.js';
import * as api from './api.js';
import { registerPage } from './app.js';
import { STATUSES, statusBadge } from './tickets-common.js';

const LINK_TTLS = [
  { value: 3600, label: '1 hour' },
  { value: 86400, label: '1 day' },
  { value: 7 * 86400, label: '7 days' },
];

function field(label, value, testid) {
  if (value === undefined || value === null || value === '') return null;
  return [h('dt', null, label), h('dd', { 'data-testid': testid || null }, String(value))];
}

function ticketPath(id) { return '/api/v1/tickets/' + api.enc(id); }
function attachmentPath(id, aid) { return ticketPath(id) + '/attachments/' + api.enc(aid); }

async function render(main, ctx) {
  const id = ctx.params[0];
  replace(main, h('p.muted', null, 'Loading ticket…'));
  let ticket;
  try {
    ticket = await api.get(ticketPath(id));
  } catch (e) {
    replace(main, h('div.panel.error-panel', { role: 'alert' },
      h('h2', null, e.status === 404 ? 'No such ticket' : 'The ticket could not be loaded'),
      h('p', null, e.message), h('a', { href: '#/tickets' }, '← All tickets')));
    return;
  }
  draw(main, ctx, ticket);
}

function draw(main, ctx, t) {
  const redraw = (updated) => draw(main, ctx, updated);
  replace(main,
    h('div.crumbs', null, h('a', { href: '#/tickets' }, '← Tickets')),
    h('div.page-head', null,
      h('h1', null, 'Ticket ', h('span.ticket-id', { 'data-testid': 'ticket-id' }, String(t.id))),
      statusBadge(t.status),
      h('span.muted', { title: formatTime(t.created_at) }, 'created ' + relativeTime(t.created_at) + ' · ' + formatTime(t.created_at))),
    h('div.ticket-grid', null,
      h('div.col-main', null,
        h('section.panel', null, h('h2', null, 'Description'),
          h('p.description', { 'data-testid': 'ticket-description' }, t.description || '(none)')),
        attachmentsPanel(ctx, t),
        notesPanel(ctx, t, redraw)),
      h('div.col-side', null,
        actionsPanel(ctx, t, redraw),
        h('section.panel', null, h('h2', null, 'Customer'),
          h('dl.facts', null,
            field('Name', t.customer_name, 'customer-name'),
            field('Email', t.customer_email, 'customer-email'),
            field('User id', t.user_id, 'customer-user'),
            field('App version', t.app_version),
            field('Platform', t.platform),
            field('Source', t.source, 'ticket-source'),
            t.log_request_id ? [h('dt', null, 'Log request'), h('dd', null, h('a', {
              href: '#/log-requests?id=' + encodeURIComponent(t.log_request_id), 'data-testid': 'ticket-log-request' },
            t.log_request_id))] : null,
            // tracker_url is only ever an http(s) URL (the server checks the
            // tracker's answer; safeUrl checks again); tracker_status shows
            // a hand-off that has not given one (yet).
            t.tracker_url ? [h('dt', null, 'Tracker'), h('dd', null, h('a', { href: t.tracker_url, rel: 'noopener noreferrer', target: '_blank', 'data-testid': 'ticket-tracker' }, t.tracker_url))]
              : t.tracker_status ? [h('dt', null, 'Tracker'), h('dd', { 'data-testid': 'ticket-tracker-status' }, 'hand-off ' + t.tracker_status)] : null),
          t.user_id ? h('a.btn.btn-tiny.ask-logs', { 'data-testid': 'ask-for-logs', title: 'Ask ' + t.user_id + '\'s app for logs about this ticket',
            href: '#/log-requests?' + new URLSearchParams({ user_id: t.user_id, ticket_id: t.id }) }, 'Ask this user for logs') : null),
        t.source === 'survey' ? surveyPanel(t) : null,
        h('section.panel', null, h('h2', null, 'Call ids'),
          (t.call_ids || []).length
            ? h('ul.callid-list', { 'data-testid': 'call-ids' }, t.call_ids.map((c) => h('li', null, h('code.callid', null, c),
              h('button.btn.btn-tiny', { type: 'button', title: 'Copy', onclick: () => copy(ctx, c) }, 'Copy'))))
            : h('p.muted', null, 'No call ids.')))));
}

// The end-of-call survey that created this ticket (t.survey_id): its
// scores (low ones marked) and reported issues, loaded after the page is
// drawn. A ticket that only says source=survey has no survey_id: nothing
// to load.
function surveyPanel(t) {
  const none = () => h('p.muted', null, 'No survey is linked to this ticket.');
  const box = h('div', { 'data-testid': 'ticket-survey' }, t.survey_id ? h('p.muted', null, 'Loading the survey…') : none());
  if (!t.survey_id) return h('section.panel', null, h('h2', null, 'Survey'), box);
  api.get('/api/v1/surveys' + api.query({ ticket_id: t.id })).then((res) => {
    const sv = (res.surveys || []).find((s) => s.id === t.survey_id);
    if (!sv) { replace(box, none()); return; }
    const order = ['overall', 'audio', 'video', 'screenshare'];
    const rank = (c) => (order.indexOf(c) + 1) || order.length + 1;
    const ratings = Object.entries(sv.ratings || {}).sort((a, b) => rank(a[0]) - rank(b[0]));
    const issues = Object.entries(sv.issues || {});
    replace(box,
      h('dl.facts', null,
        h('dt', null, 'Survey'), h('dd', null, h('a', { href: '#/surveys', 'data-testid': 'survey-id', title: 'Survey statistics' }, sv.id)),
        h('dt', null, 'Submitted'), h('dd', null, formatTime(sv.created_at)),
        ratings.map(([cat, r]) => [h('dt', null, cat),
          h('dd', { 'data-testid': 'survey-score-' + cat }, `${r.score} on ${r.lower}–${r.upper}`,
            r.low ? h('span.badge.badge-open.badge-low', null, 'low') : null)]),
        issues.length ? [h('dt', null, 'Issues'), h('dd', { 'data-testid': 'survey-issues' },
          issues.map(([cat, list]) => h('div', null, cat + ': ' + list.join(', '))))] : null));
  }, (e) => replace(box, h('p.muted', null, 'The survey could not be loaded: ' + e.message)));
  return h('section.panel', null, h('h2', null, 'Survey'), box);
}

function copy(ctx, text) {
  if (navigator.clipboard) navigator.clipboard.writeText(text).then(() => ctx.flash('Copied'), () => ctx.flash('Copy failed', 'error'));
}

function actionsPanel(ctx, t, redraw) {
  const status = h('select', { id: 'ticket-status', 'data-testid': 'status-select' },
    STATUSES.map((s) => h('option', { value: s.value, selected: s.value === t.status }, s.label)));
  const assignee = h('input', { id: 'ticket-assignee', value: t.assignee || '', placeholder: 'Unassigned',
    'data-testid': 'assignee-input' });
  const mine = h('button.btn.btn-tiny', { type: 'button', onclick: () => { assignee.value = ctx.session.user; } }, 'Assign to me');
  const save = h('button.btn.btn-primary', { type: 'submit', 'data-testid': 'ticket-save' }, 'Save');
  const form = h('form.stack', null,
    h('label', { for: 'ticket-status' }, 'Status'), status,
    h('label', { for: 'ticket-assignee' }, 'Assignee'), h('div.row', null, assignee, mine),
    save);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const change = {};
    if (status.value !== t.status) change.status = status.value;
    if (assignee.value.trim() !== (t.assignee || '')) change.assignee = assignee.value.trim();
    if (!Object.keys(change).length) { ctx.flash('Nothing changed'); return; }
    save.disabled = true;
    try {
      const updated = await api.patch(ticketPath(t.id), change);
      ctx.flash('Ticket updated');
      redraw(updated && updated.id ? updated : await api.get(ticketPath(t.id)));
    } catch (e) {
      ctx.flash('Could not update the ticket: ' + e.message, 'error');
      save.disabled = false;
    }
  });
  return h('section.panel', null, h('h2', null, 'Handle'), form);
}

function notesPanel(ctx, t, redraw) {
  const notes = t.notes || [];
  const text = h('textarea', { rows: '3', placeholder: 'Add a note for the team…', 'aria-label': 'Note',
    'data-testid': 'note-input' });
  const add = h('button.btn', { type: 'submit', 'data-testid': 'note-add' }, 'Add note');
  const form = h('form.stack', null, text, add);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!text.value.trim()) return;
    add.disabled = true;
    try {
      const updated = await api.patch(ticketPath(t.id), { note: text.value.trim() });
      ctx.flash('Note added');
      redraw(updated && updated.id ? updated : await api.get(ticketPath(t.id)));
    } catch (e) {
      ctx.flash('Could not add the note: ' + e.message, 'error');
      add.disabled = false;
    }
  });
  return h('section.panel', null, h('h2', null, 'Notes'),
    notes.length
      ? h('ol.notes', { 'data-testid': 'notes' }, notes.map((n) => h('li', null,
        h('div.note-meta', null, (n.author || n.user_id || 'support') + ' · ' + formatTime(n.created_at)),
        h('p.note-text', null, n.text || n.note || n.body || ''))))
      : h('p.muted', null, 'No notes yet.'),
    form);
}

function attachmentsPanel(ctx, t) {
  const list = t.attachments || [];
  if (!list.length) return h('section.panel', null, h('h2', null, 'Attachments'), h('p.muted', null, 'No files attached.'));
  return h('section.panel', null, h('h2', null, 'Attachments'),
    h('table.attachments', null,
      h('thead', null, h('tr', null, ['File', 'Size', 'SHA-256', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, list.map((a) => attachmentRow(ctx, t, a)))));
}

// liblogshare names its files "<stream>.<seq>.lslog"; other attachments
// (screenshots, exports) cannot be shown as logs.
function isLogFile(a) { return /\.lslog$/i.test(String(a.name || '')); }

function attachmentRow(ctx, t, a) {
  const href = attachmentPath(t.id, a.id);
  const linkOut = h('div.signed-link', { hidden: true, 'data-testid': 'signed-link' });
  const ttl = h('select', { 'aria-label': 'Link expiry' }, LINK_TTLS.map((o) => h('option', { value: String(o.value) }, o.label)));
  const makeLink = h('button.btn.btn-tiny', { type: 'button', 'data-testid': 'signed-link-make' }, 'Signed link');
  makeLink.addEventListener('click', async () => {
    makeLink.disabled = true;
    try {
      const res = await api.post(href + '/link', { expires_in: Number(ttl.value) });
      const url = new URL(res.url, window.location.href).href;
      const box = h('input.link-url', { value: url, readonly: true, 'aria-label': 'Signed link', 'data-testid': 'signed-link-url' });
      box.addEventListener('focus', () => box.select());
      replace(linkOut, box, h('button.btn.btn-tiny', { type: 'button', onclick: () => copy(ctx, url) }, 'Copy'),
        h('span.muted', null, 'expires ' + formatTime(res.expires_at)));
      linkOut.hidden = false;
    } catch (e) {
      ctx.flash('Could not make a signed link: ' + e.message, 'error');
    } finally {
      makeLink.disabled = false;
    }
  });
  const sha = String(a.sha256 || '');
  return h('tr', { 'data-testid': 'attachment-row', 'data-attachment-id': a.id },
    h('td.file', null,
      h('div.file-name', { 'data-testid': 'attachment-name' }, a.name || '(unnamed)'),
      h('div.muted', null, a.content_type || ''),
      linkOut),
    h('td.num.nowrap', { title: String(a.size) + ' bytes' }, formatBytes(a.size)),
    h('td', null, h('code.hash', { title: sha, 'data-testid': 'attachment-sha256' }, sha.slice(0, 16) + (sha.length > 16 ? '…' : ''))),
    // The flex box is a div inside the cell: a td with display:flex stops
    // being a table cell and loses the row's borders.
    h('td', null, h('div.actions', null,
      h('a.btn.btn-tiny', { href, download: a.name || 'attachment', 'data-testid': 'attachment-download' }, 'Download'),
      isLogFile(a) ? h('a.btn.btn-tiny.btn-logs', { href: '#/tickets/' + encodeURIComponent(t.id) + '/attachments/' +
        encodeURIComponent(a.id) + '/log', 'data-testid': 'attachment-logs' }, 'View logs') : null,
      ttl, makeLink)));
}

registerPage({ id: 'ticket', title: 'Ticket', nav: false, path: /^\/tickets\/([^/]+)$/, render });
