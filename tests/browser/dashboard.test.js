// dashboard.test.js - the support dashboard in a real browser (Debian's
// chromium, headless, through playwright-core) against a real logshared
// with real SQLite, blobs, sessions and crypto.
//
// An agent logs in; a ticket created through the API by a user appears
// in the open list without a reload; search by call id finds it; the
// ticket page shows it with hostile HTML in its description and file
// name rendered as text (nothing runs); an attachment downloads with the
// same bytes and a signed link hands it out without a login; the log
// viewer shows the decrypted records with the call id highlighted and
// filters by level; the status changes and a note is added; logout
// revokes the session on the server. Screenshots of the main pages go to
// $LOGSHARE_BUILD_DIR/dashboard-screenshots (copied to docs/ by hand;
// tests/push/push_dashboard.test.js adds the Log requests and Surveys
// pages).
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const T = require('./lib');

const PASSWORD = 'correct horse battery staple';
const XSS_DESC = 'Calls drop after 30 s <script>window.__xss = "script"</script>' +
  '<img src=x onerror="window.__xss = \'img\'"> please help';
const LONG_NAME = 'Bartholomew Maximilian Featherstonehaugh-Cholmondeley of Upper Wallop';
const XSS_FILE = '<img src=x onerror="window.__xss=\'file\'">.bin';

T.main(async () => {
  const started = Date.now();
  // A support login, a support key pair, and a customer's encrypted log.
  const { bin, sbin, shots, data, callId, logDir } =
    T.prepareDashboard(PASSWORD, 40, (i, call) => `frame ${i} rendered for ${call} ok`);
  T.run(bin, ['log', '--dir', logDir, '--stream', 'calling', '--level', 'error',
    '--public-key-file', path.join(T.TMP, 'support.pub')], { input: `ICE failed on ${callId}: no candidates\n` });
  const logFiles = fs.readdirSync(logDir).filter((f) => !f.startsWith('.')).sort();
  T.assert(logFiles.length >= 1, 'logshare log wrote a file');

  const server = await T.startServer(data, [], {
    LOGSHARE_DASHBOARD_SUPPORT_SECRET_KEY_FILE: path.join(T.TMP, 'support.key'),
  });
  const userToken = T.run(sbin, ['token', '--data-dir', data, '--user', 'customer-42']).trim();
  const supportToken = T.run(sbin, ['token', '--data-dir', data, '--user', 'lead', '--role', 'support']).trim();

  const context = await T.launchBrowser();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('dialog', (d) => { problems.push('dialog: ' + d.message()); d.dismiss(); });
  page.on('console', (m) => {
    if (m.type() !== 'error' || /401|Unauthorized/.test(m.text())) return;
    // the busy answer served to the login below on purpose
    if (/503/.test(m.text()) && /\/dashboard\/login/.test(m.location().url || '')) return;
    problems.push('console: ' + m.text());
  });

  // --- log in -------------------------------------------------------
  await page.goto(server.url + '/');
  await page.waitForSelector('[data-testid=login-user]');
  await page.screenshot({ animations: 'disabled', path: path.join(shots, 'dashboard-login.png') });
  await page.fill('[data-testid=login-user]', 'agent');
  await page.fill('[data-testid=login-password]', 'wrong password');
  await page.click('[data-testid=login-submit]');
  await page.waitForSelector('[data-testid=login-error]:not([hidden])');
  T.assert(/Wrong user name or password/.test(await page.textContent('[data-testid=login-error]')), 'a wrong password is refused with a message');
  // The server answers 503 + Retry-After while two other logins are being
  // checked: the form waits and tries again by itself (the first answer
  // here is that 503, served by the test).
  let busy = 1;
  await page.route('**/dashboard/login', async (route) => {
    if (route.request().method() !== 'POST' || busy === 0) return route.continue();
    busy--;
    return route.fulfill({ status: 503, headers: { 'Retry-After': '1', 'Content-Type': 'application/json' },
      body: JSON.stringify({ error: { code: 'unavailable', message: 'too many logins at once: retry in a second' } }) });
  });
  await page.fill('[data-testid=login-password]', PASSWORD);
  await page.click('[data-testid=login-submit]');
  await page.waitForSelector('[data-testid=ticket-rows] td.empty'); // first load done: no tickets yet
  T.assertEq(0, busy, 'the login met a busy server first');
  await page.unroute('**/dashboard/login');
  T.assertEq('agent', await page.textContent('[data-testid=whoami]'), 'logged-in user shown');
  const cookies = await context.cookies(server.url);
  const session = cookies.find((c) => c.name === 'logshare_session');
  T.assert(session && session.httpOnly && session.sameSite === 'Strict', 'session cookie is HttpOnly and SameSite=Strict');
  T.ok('log in');

  // --- a ticket created through the API appears without a reload -----
  const attachment = crypto.randomBytes(200 * 1024 + 17);
  const form = new FormData();
  form.append('description', XSS_DESC);
  form.append('call_id', callId);
  form.append('call_id', 'call-second-' + callId.slice(5));
  form.append('customer_name', 'Dana Example');
  form.append('customer_email', 'dana@example.com');
  form.append('app_version', '5.2.1');
  form.append('platform', 'android');
  form.append('source', 'report');
  form.append('file', new Blob([attachment], { type: 'application/octet-stream' }), XSS_FILE);
  for (const f of logFiles) form.append('file', new Blob([fs.readFileSync(path.join(logDir, f))]), f);
  const created = await fetch(server.url + '/api/v1/tickets', {
    method: 'POST', headers: { Authorization: 'Bearer ' + userToken }, body: form });
  T.assertEq(201, created.status, 'ticket created through the API');
  const ticket = await created.json();
  await page.waitForSelector(`[data-ticket-id="${ticket.id}"]`, { timeout: 10000 });
  T.assert(await page.$(`tr.row-new[data-ticket-id="${ticket.id}"]`), 'the new ticket is marked as new');
  T.ok('a ticket created through the API appears without a reload');

  // A few more tickets so the search has something to leave out.
  for (let i = 0; i < 3; i++) {
    const f2 = new FormData();
    f2.append('description', `Echo on the line, case ${i}`);
    f2.append('call_id', `call-unrelated-${i}`);
    f2.append('customer_name', i === 2 ? LONG_NAME : `Customer ${i}`);
    const r = await fetch(server.url + '/api/v1/tickets', { method: 'POST', headers: { Authorization: 'Bearer ' + userToken }, body: f2 });
    T.assertEq(201, r.status, 'more tickets created');
  }
  await T.waitFor(async () => (await page.$$('[data-testid=ticket-row]')).length === 4, 'all four tickets listed');
  await page.screenshot({ animations: 'disabled', path: path.join(shots, 'dashboard-tickets.png') });
  {
    // A long customer name is cut (not the description) and readable on hover.
    const cell = page.locator('[data-testid=ticket-row] td.customer', { hasText: 'Bartholomew' });
    T.assertEq(LONG_NAME, await cell.getAttribute('title'), 'the customer cell has the full name as title');
    const widths = await page.$$eval('[data-testid=ticket-row]', (rows) => rows.map((r) => [
      r.querySelector('td.customer').getBoundingClientRect().width, r.querySelector('td.desc').getBoundingClientRect().width]));
    T.assert(widths.every(([c, d]) => c <= 16 * 14 + 30 && d > c), 'customer capped, description wider: ' + JSON.stringify(widths));
    T.assert(await page.getAttribute('[data-testid=ticket-row] td.desc', 'title'), 'the description cell has a title');
    T.ok('long customer names are cut with a title; the description keeps its room');
  }

  // --- status filter and text search, through the page's controls ----
  {
    const rowIds = async () => page.$$eval('[data-testid=ticket-row]', (rs) => rs.map((r) => r.getAttribute('data-ticket-id')));
    const descOf = async () => page.$$eval('[data-testid=ticket-row] td.desc', (ds) => ds.map((d) => d.textContent));
    const closedId = await page.getAttribute('[data-testid=ticket-row]:has-text("case 0")', 'data-ticket-id');
    const closed = await fetch(`${server.url}/api/v1/tickets/${closedId}`, { method: 'PATCH',
      headers: { Authorization: 'Bearer ' + supportToken, 'Content-Type': 'application/json' }, body: JSON.stringify({ status: 'closed' }) });
    T.assertEq(200, closed.status, 'a ticket closed through the API');
    await page.selectOption('[data-testid=status-filter]', 'closed');
    await T.waitFor(async () => JSON.stringify(await rowIds()) === JSON.stringify([closedId]), 'only the closed ticket listed');
    await page.selectOption('[data-testid=status-filter]', 'open');
    await T.waitFor(async () => { const ids = await rowIds(); return ids.length === 3 && !ids.includes(closedId); }, 'the three open tickets listed');
    await page.selectOption('[data-testid=status-filter]', '');
    await page.selectOption('[data-testid=search-field]', 'q');
    await page.fill('[data-testid=search-text]', 'CASE 1');
    await page.click('[data-testid=search-submit]');
    await T.waitFor(async () => JSON.stringify(await descOf()) === JSON.stringify(['Echo on the line, case 1']), 'text search finds one ticket');
    await page.click('text=Clear');
    await T.waitFor(async () => (await rowIds()).length === 4, 'Clear lists all four again');
    T.ok('status filter and text search through the page');
  }

  // --- search by call id --------------------------------------------
  await page.selectOption('[data-testid=search-field]', 'call_id');
  await page.fill('[data-testid=search-text]', callId);
  await page.click('[data-testid=search-submit]');
  await T.waitFor(async () => {
    const rows = await page.$$('[data-testid=ticket-row]');
    return rows.length === 1 && (await rows[0].getAttribute('data-ticket-id')) === ticket.id;
  }, 'only the ticket with that call id listed');
  T.ok('search by call id');

  // --- open it: hostile strings are text ------------------------------
  await page.click(`[data-ticket-id="${ticket.id}"] td.customer a`);
  await page.waitForSelector('[data-testid=ticket-description]');
  T.assertEq(XSS_DESC, await page.textContent('[data-testid=ticket-description]'), 'description shown literally');
  const names = await page.$$eval('[data-testid=attachment-name]', (els) => els.map((e) => e.textContent));
  T.assert(names.includes(XSS_FILE), 'hostile file name shown literally');
  T.assertEq(0, await page.$$eval('[data-testid=ticket-description] *, [data-testid=attachment-name] *', (e) => e.length),
    'no elements made from user text');
  T.assertEq('Dana Example', await page.textContent('[data-testid=customer-name]'), 'customer shown');
  T.assert((await page.textContent('[data-testid=call-ids]')).includes(callId), 'call ids shown');
  await page.screenshot({ animations: 'disabled', path: path.join(shots, 'dashboard-ticket.png'), fullPage: true });
  T.ok('ticket page shows customer data, call ids and description as text');

  // --- download an attachment and compare its bytes ------------------
  const row = page.locator('[data-testid=attachment-row]', { hasText: XSS_FILE });
  T.assertEq('table-cell', await row.locator('td').last().evaluate((td) => getComputedStyle(td).display),
    'the actions cell stays a table cell (its borders line up)');
  T.assert(await row.locator('td div.actions [data-testid=attachment-download]').count() === 1, 'the buttons sit in div.actions');
  T.assertEq(T.sha256(attachment), await row.locator('[data-testid=attachment-sha256]').getAttribute('title'), 'SHA-256 shown');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.locator('[data-testid=attachment-download]').click(),
  ]);
  const saved = path.join(T.TMP, 'downloaded.bin');
  await download.saveAs(saved);
  T.assertEq(T.sha256(attachment), T.sha256(fs.readFileSync(saved)), 'downloaded bytes equal the uploaded ones');
  T.ok('download an attachment');

  // --- a signed link works without a login ----------------------------
  await row.locator('[data-testid=signed-link-make]').click();
  const linkUrl = await row.locator('[data-testid=signed-link-url]').inputValue();
  const anon = await fetch(linkUrl);
  T.assertEq(200, anon.status, 'signed link answers without a login');
  T.assertEq(T.sha256(attachment), T.sha256(Buffer.from(await anon.arrayBuffer())), 'signed link gives the same bytes');
  const forged = await fetch(linkUrl.replace(/sig=([0-9a-f])/, (m, c) => 'sig=' + (c === '0' ? '1' : '0')));
  T.assert(forged.status === 401 || forged.status === 403, 'a forged signed link is refused');
  T.ok('signed link with expiry');

  // --- read decrypted logs ------------------------------------------
  const logRow = page.locator('[data-testid=attachment-row]', { hasText: logFiles[0] });
  await logRow.locator('[data-testid=attachment-logs]').click();
  await page.waitForSelector('[data-testid=log-line]');
  const text = await page.textContent('[data-testid=log-records]');
  T.assert(text.includes('frame 1 rendered for call-other ok'), 'decrypted records shown');
  const hits = await page.$$eval('[data-testid=log-records] mark.callid-hit', (els) => els.map((e) => e.textContent));
  T.assert(hits.length >= 4 && hits.every((h) => h === callId), 'call id highlighted in the log: ' + JSON.stringify(hits) + ' in ' + text.slice(0, 300));
  await page.screenshot({ animations: 'disabled', path: path.join(shots, 'dashboard-logs.png'), fullPage: false });
  await page.fill('[data-testid=log-search]', 'FRAME 17 ');
  await page.click('[data-testid=log-apply]');
  await T.waitFor(async () => {
    const l = await page.$$eval('[data-testid=log-line] .log-msg', (els) => els.map((e) => e.textContent));
    return l.length === 1 && l[0] === 'frame 17 rendered for call-other ok';
  }, 'text search (case-insensitive) narrows the log to one record');
  T.ok('read decrypted logs');
  {
    // The error record is in the second `logshare log` run's file (or the same
    // file when the store appends); either way level=error must find only it.
    let found = false;
    for (const f of logFiles) {
      const res = await page.evaluate(async (u) => (await fetch(u, { credentials: 'same-origin' })).json(),
        `/api/v1/tickets/${ticket.id}/attachments/${ticket.attachments.find((a) => a.name === f).id}/log?level=error`);
      for (const r of res.records || []) {
        T.assertEq('error', r.level, 'level filter returns only errors');
        if (r.message.includes('ICE failed')) found = true;
      }
    }
    T.assert(found, 'the error record is found with level=error');
    T.ok('log viewer filters by level');
    // Paging and time filters, through the same endpoint the page uses.
    const base = `/api/v1/tickets/${ticket.id}/attachments/${ticket.attachments.find((a) => a.name === logFiles[0]).id}/log`;
    const getLog = (q) => page.evaluate(async (u) => (await fetch(u, { credentials: 'same-origin' })).json(), base + q);
    const p1 = await getLog('?limit=15');
    T.assertEq(15, p1.records.length, 'first page of 15');
    T.assertEq(15, p1.next_offset, 'next_offset after the first page');
    const p2 = await getLog('?limit=15&offset=15');
    T.assertEq(15, p2.records[0].index, 'second page starts where the first ended');
    T.assertEq('frame 15 rendered for call-other ok', p2.records[0].message, 'second page content');
    const p3 = await getLog('?limit=15&offset=30');
    T.assertEq(null, p3.next_offset, 'last page has no next_offset');
    T.assertEq(0, (await getLog('?since=2999-01-01T00:00:00Z')).records.length, 'since in the future: nothing');
    T.assertEq(0, (await getLog('?until=2000-01-01T00:00:00Z')).records.length, 'until in the past: nothing');
    T.assertEq(40, (await getLog('?since=2000-01-01T00:00:00Z&stream=calling')).records.length, 'time and stream filters keep all');
    T.assertEq(0, (await getLog('?stream=media')).records.length, 'another stream: nothing');
    T.ok('log viewer pages and filters by time and stream');
  }

  // --- 'Next' in a long log goes back to the top ----------------------
  {
    const bigDir = path.join(T.TMP, 'biglogs');
    const many = [];
    for (let i = 0; i < 260; i++) many.push(`record ${i} of a long log`);
    T.run(bin, ['log', '--dir', bigDir, '--stream', 'calling', '--level', 'info',
      '--public-key-file', path.join(T.TMP, 'support.pub')], { input: many.join('\n') + '\n' });
    const bigFile = fs.readdirSync(bigDir).filter((f) => !f.startsWith('.')).sort()[0];
    const f3 = new FormData();
    f3.append('description', 'long log');
    f3.append('file', new Blob([fs.readFileSync(path.join(bigDir, bigFile))]), bigFile);
    const r3 = await fetch(server.url + '/api/v1/tickets', { method: 'POST', headers: { Authorization: 'Bearer ' + userToken }, body: f3 });
    T.assertEq(201, r3.status, 'ticket with a long log');
    const t3 = await r3.json();
    await page.goto(`${server.url}/dashboard/#/tickets/${t3.id}/attachments/${t3.attachments[0].id}/log`);
    await page.waitForSelector('[data-testid=log-line]');
    await page.locator('[data-testid=log-next]').scrollIntoViewIfNeeded();
    T.assert(await page.evaluate(() => window.scrollY) > 500, 'scrolled down to the pager');
    await page.click('[data-testid=log-next]');
    await T.waitFor(async () => (await page.textContent('[data-testid=log-records]')).includes('record 200 of'), 'the second log page');
    await T.waitFor(async () => (await page.evaluate(() => window.scrollY)) === 0, 'the view back at the top after Next');
    T.ok('Next in the log viewer scrolls back to the top');
  }

  // --- change the status and add a note ------------------------------
  await page.goto(`${server.url}/dashboard/#/tickets/${ticket.id}`);
  await page.waitForSelector('[data-testid=status-select]');
  await page.selectOption('[data-testid=status-select]', 'in_progress');
  await page.fill('[data-testid=assignee-input]', 'agent');
  await page.click('[data-testid=ticket-save]');
  await T.waitFor(async () => (await page.textContent('.page-head [data-testid=status-badge]')) === 'In progress', 'status badge updated');
  await page.fill('[data-testid=note-input]', 'Asked the customer for a <b>retry</b>');
  await page.click('[data-testid=note-add]');
  await page.waitForSelector('[data-testid=notes] li');
  T.assert((await page.textContent('[data-testid=notes]')).includes('Asked the customer for a <b>retry</b>'), 'note shown as text');
  const after = await (await fetch(`${server.url}/api/v1/tickets/${ticket.id}`, { headers: { Authorization: 'Bearer ' + supportToken } })).json();
  T.assertEq('in_progress', after.status, 'status stored');
  T.assertEq('agent', after.assignee, 'assignee stored');
  T.ok('change the status and assignee, add a note');

  // --- nothing from the hostile strings ran ---------------------------
  T.assertEq(undefined, await page.evaluate(() => window.__xss), 'no injected script ran');
  T.assertEq(0, problems.length, 'no page errors, dialogs or CSP violations: ' + problems.join('; '));
  T.ok('a <script> or <img onerror> in a description or file name does not run');

  // --- log out: the old cookie no longer works -------------------------
  await page.click('[data-testid=logout]');
  await page.waitForSelector('[data-testid=login-user]');
  const stale = await fetch(`${server.url}/api/v1/tickets`, { headers: { Cookie: `logshare_session=${session.value}` } });
  T.assertEq(401, stale.status, 'the session is revoked on the server after logout');
  await page.goto(`${server.url}/dashboard/#/tickets/${ticket.id}`);
  await page.waitForSelector('[data-testid=login-user]');
  T.ok('log out');

  const stop = await T.stopServer(server);
  T.assertEq(0, stop.code, 'logshared exits 0 on SIGTERM');
  console.log(`# browser test took ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
