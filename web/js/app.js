// app.js - the dashboard shell: session, navigation and the hash router.
//
// Pages register themselves with registerPage() (see pages.js for the
// list of page modules). A page is {id, title, nav, path, render}:
//   id      short name; also the slot it takes in the navigation
//   title   text in the navigation and the window title
//   nav     true to show it in the top navigation
//   path    RegExp matched against the hash path ("/tickets/42"); its
//           groups are passed to render
//   render(main, ctx) draws into <main>; ctx = {params, query, session,
//           navigate, flash, onLeave(fn)}. Timers and listeners that must
//           stop when the agent leaves the page are given to ctx.onLeave.
// The navigation order is NAV_ORDER; a slot shows once its page exists,
// so "Log requests" and "Surveys" appear when their modules register.
import { h, replace } from './dom.js';
import * as api from './api.js';

const NAV_ORDER = ['tickets', 'log-requests', 'surveys'];
const pages = [];
let session = null;          // {user, role, csrf_token, expires_at}
let leaveHandlers = [];
let flashTimer = null;

export function registerPage(page) {
  if (!page.id || !(page.path instanceof RegExp) || typeof page.render !== 'function') {
    throw new Error('registerPage: id, path (RegExp) and render are required');
  }
  pages.push(page);
  if (session) drawNav();
}

export function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

// flash(text, kind): a short message under the top bar ("Status
// changed", errors). kind is "ok" or "error".
export function flash(text, kind = 'ok') {
  const el = document.getElementById('flash');
  el.className = 'flash flash-' + kind;
  replace(el, text);
  el.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 8000 : 3000);
}

function parseHash() {
  const raw = window.location.hash.replace(/^#/, '') || '/tickets';
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  return { path, query };
}

function drawNav() {
  const nav = document.getElementById('nav');
  const { path } = parseHash();
  const items = [];
  for (const id of NAV_ORDER.concat(pages.map((p) => p.id).filter((id) => !NAV_ORDER.includes(id)))) {
    const page = pages.find((p) => p.id === id && p.nav);
    if (!page) continue;
    const href = '#/' + id;
    const active = path === '/' + id || path.startsWith('/' + id + '/');
    items.push(h('a.nav-item', { href, class: active ? 'active' : null, 'aria-current': active ? 'page' : null,
      'data-testid': 'nav-' + id }, page.title));
  }
  replace(nav, items);
}

function runLeaveHandlers() {
  for (const fn of leaveHandlers) { try { fn(); } catch (_) { /* page already gone */ } }
  leaveHandlers = [];
}

async function route() {
  runLeaveHandlers();
  const main = document.getElementById('main');
  const { path, query } = parseHash();
  if (!session && path !== '/login') {
    navigate('#/login?next=' + encodeURIComponent(path + (query.toString() ? '?' + query : '')));
    return;
  }
  document.getElementById('topbar').hidden = !session;
  if (session) drawNav();
  for (const page of pages) {
    const m = page.path.exec(path);
    if (!m) continue;
    document.title = (page.title ? page.title + ' · ' : '') + 'logshare support';
    replace(main);
    const ctx = {
      params: m.slice(1).map((p) => decodeURIComponent(p)),
      query, session, navigate, flash,
      onLeave: (fn) => leaveHandlers.push(fn),
      setSession: (s) => setSession(s),
    };
    try {
      await page.render(main, ctx);
    } catch (e) {
      replace(main, h('div.panel.error-panel', null, h('h2', null, 'This page could not be shown'), h('p', null, e.message)));
    }
    return;
  }
  replace(main, h('div.panel', null, h('h2', null, 'Not found'), h('p', null, 'No page at ' + path + '. '),
    h('a', { href: '#/tickets' }, 'Back to tickets')));
}

function setSession(s) {
  session = s;
  api.setCsrfToken(s ? s.csrf_token : null);
  replace(document.getElementById('whoami-name'), s ? s.user : '');
  document.getElementById('topbar').hidden = !s;
}

async function logout() {
  try { await api.post('/dashboard/logout', {}); } catch (_) { /* session may already be gone */ }
  setSession(null);
  navigate('#/login');
}

async function start() {
  api.setUnauthorizedHandler(() => {
    if (!session) return;
    setSession(null);
    flash('Your session has ended. Please log in again.', 'error');
    navigate('#/login');
  });
  document.getElementById('logout').addEventListener('click', logout);
  try {
    setSession(await api.get('/dashboard/session', { quiet401: true }));
  } catch (_) {
    setSession(null);
  }
  window.addEventListener('hashchange', route);
  await import('./pages.js');
  route();
}

start();
