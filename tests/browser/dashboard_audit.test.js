// dashboard_audit.test.js - display defects found by the dashboard audit,
// in Debian's chromium (playwright-core) against a real logshared:
// - bidi overrides in data (a file "report<U+202E>txt.exe" reads
//   "reportexe.txt") are shown as visible marks, in text and in titles;
// - the log viewer's call-id marks sit on the call id even when the line
//   has characters whose lower case is longer ("İ" is two code units),
//   which used to shift every mark after them;
// - a dashboard left open is logged out after the idle time: the ticket
//   list's own refresh every 3 s used to keep it alive for a whole day.
'use strict';
const fs = require('fs');
const path = require('path');
const T = require('./lib');

const PASSWORD = 'correct horse battery staple';
const RLO = '\u202E';

T.main(async () => {
  const { sbin, data, callId, logDir } = T.prepareDashboard(PASSWORD, 1,
    (i, call) => `\u0130\u0130\u0130\u0130 dropped ${call} here ${RLO}deggol`);
  const logFile = fs.readdirSync(logDir).filter((f) => f.endsWith('.lslog'))[0];
  T.assert(logFile, 'logshare log wrote a file');
  const server = await T.startServer(data, [], {
    LOGSHARE_DASHBOARD_SUPPORT_SECRET_KEY_FILE: path.join(T.TMP, 'support.key'),
  });
  const userToken = T.run(sbin, ['token', '--data-dir', data, '--user', 'customer-42']).trim();

  const form = new FormData();
  form.append('description', `see the file ${RLO}txt.exe`);
  form.append('call_id', callId);
  form.append('customer_name', `Dana ${RLO}elpmaxE`);
  form.append('file', new Blob([Buffer.from('MZ')]), `report${RLO}txt.exe`);
  form.append('file', new Blob([fs.readFileSync(path.join(logDir, logFile))]), logFile);
  const created = await fetch(server.url + '/api/v1/tickets', {
    method: 'POST', headers: { Authorization: 'Bearer ' + userToken }, body: form });
  T.assertEq(201, created.status, 'ticket created through the API');
  const ticket = await created.json();

  const context = await T.launchBrowser();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  await page.goto(server.url + '/');
  await page.fill('[data-testid=login-user]', 'agent');
  await page.fill('[data-testid=login-password]', PASSWORD);
  await page.click('[data-testid=login-submit]');
  await page.waitForSelector(`[data-ticket-id="${ticket.id}"]`);

  // --- bidi overrides are shown, never obeyed ------------------------
  const customer = await page.locator(`[data-ticket-id="${ticket.id}"] td.customer`);
  T.assertEq(`Dana [U+202E]elpmaxE`, await customer.textContent(), 'the list shows the override in a name');
  T.assertEq(`Dana [U+202E]elpmaxE`, await customer.getAttribute('title'), 'and in its title');
  await page.goto(`${server.url}/dashboard/#/tickets/${ticket.id}`);
  await page.waitForSelector('[data-testid=attachment-name]');
  const names = await page.$$eval('[data-testid=attachment-name]', (els) => els.map((e) => e.textContent));
  T.assert(names.includes('report[U+202E]txt.exe'), 'the file name shows its override: ' + JSON.stringify(names));
  T.assertEq('see the file [U+202E]txt.exe', await page.textContent('[data-testid=ticket-description]'), 'the description too');
  const text = await page.evaluate(() => document.body.innerText + [...document.querySelectorAll('[title],[download]')]
    .map((e) => (e.getAttribute('title') || '') + (e.getAttribute('download') || '')).join(''));
  T.assert(!text.includes(RLO), 'no raw override anywhere on the ticket page');
  T.ok('bidi overrides in names, file names and descriptions are shown as [U+202E]');

  // --- the log viewer: marks on the call id, overrides shown ---------
  await page.click('[data-testid=attachment-logs]');
  await page.waitForSelector('[data-testid=log-line]');
  const marks = await page.$$eval('[data-testid=log-line] mark.callid-hit', (ms) => ms.map((m) => m.textContent));
  T.assertEq(JSON.stringify([callId]), JSON.stringify(marks), 'the mark covers exactly the call id');
  const msg = await page.textContent('[data-testid=log-line] .log-msg');
  T.assertEq(`\u0130\u0130\u0130\u0130 dropped ${callId} here [U+202E]deggol`, msg, 'the whole line, override shown');
  await page.fill('[data-testid=log-search]', 'HERE');
  await page.click('[data-testid=log-apply]');
  await T.waitFor(async () => (await page.$$eval('mark.search-hit', (ms) => ms.map((m) => m.textContent))).join() === 'here',
    'the search mark covers exactly the hit');
  T.ok('log viewer: marks sit on the call id and the search hit; overrides shown');

  // --- an unattended dashboard goes idle --------------------------------
  await T.stopServer(server);
  const idle = await T.startServer(data, ['--session-idle-ttl-s', '5']);
  await page.goto(idle.url + '/');
  await page.fill('[data-testid=login-user]', 'agent');
  await page.fill('[data-testid=login-password]', PASSWORD);
  await page.click('[data-testid=login-submit]');
  await page.waitForSelector(`[data-ticket-id="${ticket.id}"]`);
  const loggedInAt = Date.now();
  // Nobody touches the page; the list refreshes itself every 3 s.
  await page.waitForSelector('[data-testid=login-submit]', { timeout: 12000 })
    .catch(() => T.fail('still logged in after 12 s: the page\'s own refreshes kept the session alive'));
  const after = (Date.now() - loggedInAt) / 1000;
  T.assert(after >= 3.5, `logged out only after the idle time (${after} s)`);
  T.assert(/session has ended/.test(await page.textContent('#flash')), 'the page says the session ended');
  T.ok(`an unattended dashboard is logged out after the idle time (${after.toFixed(1)} s)`);
  T.assertEq('[]', JSON.stringify(problems), 'no page errors');
});
