// dashboard_tracker.test.js - the ticket page shows the tracker hand-off
// (docs/server.md "Tracker hand-off") in a real browser (Debian's
// chromium through playwright-core), against a real logshared handing
// tickets to a real receiver (tests/server/tracker_receiver.py): a ticket
// the tracker named a URL for links to it (opening in a new tab, without
// the opener); one whose tracker answered a javascript: URL shows only
// "hand-off delivered" and no link at all.
'use strict';
const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const T = require('./lib');

const PASSWORD = 'correct horse battery staple';

// startReceiver(mode file) -> port, with the process stopped at exit.
async function startReceiver(modeFile, secretFile) {
  const portFile = path.join(T.TMP, 'hook.port');
  const bodies = path.join(T.TMP, 'bodies');
  fs.mkdirSync(bodies, { recursive: true });
  const proc = spawn('python3', [path.join(T.env('LOGSHARE_SOURCE_DIR'), 'tests/server/tracker_receiver.py'),
    portFile, path.join(T.TMP, 'hook.log'), modeFile, secretFile, bodies], { stdio: 'inherit' });
  T.cleanups.push(() => proc.kill('SIGKILL'));
  await T.waitFor(async () => fs.existsSync(portFile), 'the receiver started');
  return fs.readFileSync(portFile, 'utf8').trim();
}

T.main(async () => {
  const { sbin, data } = T.prepareDashboard(PASSWORD, 1, (i, call) => `line ${i} ${call}`);
  const modeFile = path.join(T.TMP, 'mode');
  const secretFile = path.join(T.TMP, 'tracker-secret');
  fs.writeFileSync(secretFile, crypto.randomBytes(32).toString('hex') + '\n');
  fs.writeFileSync(modeFile, 'ok\n');
  const port = await startReceiver(modeFile, secretFile);
  const server = await T.startServer(data, ['--tracker-webhook-url', `http://127.0.0.1:${port}/hook`,
    '--tracker-webhook-secret-file', secretFile, '--tracker-retry-initial-ms', '100']);
  const userToken = T.run(sbin, ['token', '--data-dir', data, '--user', 'customer-7']).trim();

  // create(description) -> the ticket, once the tracker has taken it.
  async function create(description) {
    const form = new FormData();
    form.append('description', description);
    const r = await fetch(server.url + '/api/v1/tickets', {
      method: 'POST', headers: { Authorization: 'Bearer ' + userToken }, body: form });
    T.assertEq(201, r.status, 'ticket created');
    const t = await r.json();
    T.assertEq('pending', t.tracker_status, 'tracker_status in the 201');
    let now;
    await T.waitFor(async () => {
      const g = await fetch(`${server.url}/api/v1/tickets/${t.id}`, { headers: { Authorization: 'Bearer ' + userToken } });
      now = await g.json();
      return now.tracker_status === 'delivered';
    }, `ticket ${t.id} handed off`);
    return now;
  }
  const linked = await create('Handed off with a link');
  T.assertEq(`https://tracker.example/item/${linked.id}`, linked.tracker_url, 'tracker_url from the answer');
  fs.writeFileSync(modeFile, 'jsurl\n');
  const unlinked = await create('Handed off, the tracker answered javascript:');
  T.assertEq(undefined, unlinked.tracker_url, 'a javascript: answer is no tracker_url');

  const context = await T.launchBrowser();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('dialog', (d) => { problems.push('dialog: ' + d.message()); d.dismiss(); });
  await page.goto(server.url + '/');
  await page.waitForSelector('[data-testid=login-user]');
  await page.fill('[data-testid=login-user]', 'agent');
  await page.fill('[data-testid=login-password]', PASSWORD);
  await page.click('[data-testid=login-submit]');
  await page.waitForSelector('[data-testid=ticket-row]');

  await page.goto(`${server.url}/dashboard/#/tickets/${linked.id}`);
  const link = await page.waitForSelector('[data-testid=ticket-tracker]');
  T.assertEq(linked.tracker_url, await link.getAttribute('href'), 'the link goes to the tracker');
  T.assertEq(linked.tracker_url, await link.textContent(), 'the link shows the URL');
  T.assertEq('_blank', await link.getAttribute('target'), 'the link opens a new tab');
  T.assert(/noopener/.test(await link.getAttribute('rel')), 'without the opener');
  T.ok('a ticket the tracker named a URL for links to it');

  await page.goto(`${server.url}/dashboard/#/tickets/${unlinked.id}`);
  const status = await page.waitForSelector('[data-testid=ticket-tracker-status]');
  T.assertEq('hand-off delivered', await status.textContent(), 'the hand-off status');
  T.assertEq(null, await page.$('[data-testid=ticket-tracker]'), 'no tracker link');
  T.assertEq(0, await page.locator('a[href^="javascript:"]').count(), 'no javascript: link anywhere');
  T.assertEq(0, problems.length, 'no page errors: ' + problems.join('; '));
  T.ok('a hand-off without a usable URL shows its status and no link');
});
