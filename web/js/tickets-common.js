// tickets-common.js - small pieces the ticket pages share: the status
// vocabulary of SPEC.md and how a ticket list response is read.
import { h } from './dom.js';

export const STATUSES = [
  { value: 'open', label: 'Open' },
  { value: 'in_progress', label: 'In progress' },
  { value: 'closed', label: 'Closed' },
];

export function statusLabel(value) {
  const s = STATUSES.find((x) => x.value === value);
  return s ? s.label : String(value || '');
}

export function statusBadge(value) {
  const known = STATUSES.some((x) => x.value === value);
  return h('span.badge', { class: 'badge-' + (known ? value : 'other'), 'data-testid': 'status-badge' },
    statusLabel(value));
}

// GET /api/v1/tickets answers {"tickets": [...], "next_cursor": "..."};
// older drafts of the API used "items"/"cursor", accepted here too.
export function readTicketPage(data) {
  const tickets = (data && (data.tickets || data.items)) || [];
  const next = data ? (data.next_cursor || data.cursor || null) : null;
  return { tickets, next };
}

export function customerLine(t) {
  const parts = [];
  if (t.customer_name) parts.push(t.customer_name);
  if (t.customer_email) parts.push(t.customer_email);
  if (!parts.length && t.user_id) parts.push(t.user_id);
  return parts.join(' · ');
}
