// push_dashboard.test.js - the dashboard's Log requests and Surveys pages
// in a real browser (Debian's chromium through playwright-core, as
// tests/browser) against a real logshared.
//
// An agent logs in, asks a user for logs with the form, and sees the
// request pending; the user declines through the API and the row turns
// "declined" without a reload. Surveys submitted through the API show up
// on the Surveys page as SVG charts whose bars and numbers match what was
// submitted. No page error or CSP violation may occur.
'use strict';
const path = require('path');
const T = require('../browser/lib');

const PASSWORD = 'correct horse battery staple';

T.main(async () => {
  const sbin = T.env('LOGSHARED_BIN');
  const data = path.join(T.TMP, 'data');
  T.run(sbin, ['user', 'add', 'agent', '--role', 'support', '--data-dir', data], { input: PASSWORD + '\n' });
  const server = await T.startServer(data, []);
  const userToken = T.run(sbin, ['token', '--data-dir', data, '--user', 'customer-7']).trim();
  const supportToken = T.run(sbin, ['token', '--data-dir', data, '--user', 'lead', '--role', 'support']).trim();
  const api = (method, p, body, token = userToken) => fetch(server.url + p, {
    method, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body) });

  const context = await T.launchBrowser();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/401|Unauthorized/.test(m.text())) problems.push('console: ' + m.text()); });

  await page.goto(server.url + '/');
  await page.waitForSelector('[data-testid=login-user]');
  await page.fill('[data-testid=login-user]', 'agent');
  await page.fill('[data-testid=login-password]', PASSWORD);
  await page.click('[data-testid=login-submit]');
  await page.waitForSelector('[data-testid=nav-log-requests]');
  T.assert(await page.$('[data-testid=nav-surveys]'), 'the Surveys page is in the navigation');
  T.ok('log in; both pages are in the navigation');

  // --- ask a user for logs with the button ------------------------------
  await page.click('[data-testid=nav-log-requests]');
  await page.waitForSelector('[data-testid=lr-rows] td.empty');
  await page.fill('[data-testid=lr-user]', 'customer-7');
  await page.fill('[data-testid=lr-reason]', 'Calls dropped at 10:02 <b>bold?</b>');
  await page.click('[data-testid=lr-create]');
  await page.waitForSelector('[data-testid=lr-row]');
  const id = await page.getAttribute('[data-testid=lr-row]', 'data-lr-id');
  T.assertEq('pending', (await page.textContent('[data-testid=lr-row] [data-testid=lr-status]')).trim(), 'a new request is pending');
  T.assert((await page.textContent('[data-testid=lr-row]')).includes('<b>bold?</b>'), 'the reason is shown as text');
  const mine = await (await api('GET', '/api/v1/log-requests')).json();
  T.assertEq(id, mine.log_requests[0].id, 'the user sees the request the agent made');
  T.ok('the button creates a request for the user');

  const declined = await api('POST', `/api/v1/log-requests/${id}/decline`);
  T.assertEq(200, declined.status, 'the user declines');
  // (the page's CSP forbids eval, so poll from here rather than waitForFunction)
  await T.waitFor(async () =>
    (await page.textContent('[data-testid=lr-row] [data-testid=lr-status]')).trim() === 'declined',
  'the row to show declined');
  T.ok('the decline shows up without a reload');

  // --- more than one page: newest first, paged ---------------------------
  const longReason = 'A long reason that goes on: ' + 'the call dropped again and again, '.repeat(12) + 'THE END';
  const created = [];
  for (let i = 0; i < 55; i++) {
    const r = await api('POST', '/api/v1/log-requests',
      { user_id: 'customer-' + (i % 3), reason: i === 54 ? longReason : 'bulk request ' + i, expires_in: 3600 }, supportToken);
    T.assertEq(201, r.status, 'bulk request created');
    created.push((await r.json()).id);
  }
  const newest = created[created.length - 1];
  await T.waitFor(async () => (await page.getAttribute('[data-testid=lr-row]', 'data-lr-id')) === newest,
    'the newest request at the top of the first page');
  T.assertEq(50, (await page.$$('[data-testid=lr-row]')).length, 'a page holds 50 requests');
  const cell = `[data-lr-id="${newest}"] [data-testid=lr-reason-cell]`;
  T.assertEq(longReason, await page.getAttribute(cell, 'title'), 'the cut reason has its full text as title');
  const h1 = await page.$eval(cell, (e) => e.getBoundingClientRect().height);
  await page.click(cell);
  const h2 = await page.$eval(cell, (e) => e.getBoundingClientRect().height);
  T.assert(h2 > h1 * 2, `a click unfolds the whole reason (${h1} -> ${h2} px)`);
  T.assert(await page.isDisabled('[data-testid=lr-newer]'), 'no newer page on the first');
  await page.click('[data-testid=lr-older]');
  await T.waitFor(async () => (await page.$$('[data-testid=lr-row]')).length === 6, 'the second page with 6 requests');
  const ids = await page.$$eval('[data-testid=lr-row]', (rs) => rs.map((r) => r.getAttribute('data-lr-id')));
  T.assertEq(JSON.stringify([...created.slice(0, 5).reverse(), id]), JSON.stringify(ids), 'the second page holds the oldest, newest first');
  T.assert(await page.isDisabled('[data-testid=lr-older]'), 'no older page after the last');
  await page.click('[data-testid=lr-newer]');
  await T.waitFor(async () => (await page.getAttribute('[data-testid=lr-row]', 'data-lr-id')) === newest, 'back on the first page');
  T.ok('56 requests: the newest 50 first, the rest on the older page');

  // --- surveys ------------------------------------------------------------
  const surveys = [
    { call_id: 'c1', overall: { score: 1 }, audio: { score: 2, issues: ['Echo', 'LowVolume'] } },
    { call_id: 'c2', overall: { score: 5 }, audio: { score: 4, issues: ['Echo'] } },
    { call_id: 'c3', overall: { score: 5 }, video: { score: 3, issues: ['Freezes'] } },
  ];
  for (const s of surveys) T.assertEq(201, (await api('POST', '/api/v1/surveys', s)).status, 'survey stored');
  await page.click('[data-testid=nav-surveys]');
  await page.waitForSelector('[data-testid=sv-summary]');
  T.assert((await page.textContent('[data-testid=sv-summary]')).startsWith('3 surveys'), 'the summary counts 3 surveys');
  // overall: scores 1 and 5 (twice) -> two bars, heights 1 and 2
  const bars = await page.$$eval('[data-testid=sv-dist-overall] rect', (rs) => rs.map((r) => r.querySelector('title').textContent));
  T.assertEq(JSON.stringify(['1: 1', '5: 2']), JSON.stringify(bars), 'overall distribution bars');
  const issues = await page.$$eval('[data-testid=sv-issues] text', (ts) => ts.map((t) => t.textContent));
  T.assertEq('audio · Echo', issues[0], 'the most reported issue first');
  T.assertEq('2', issues[1], 'its count');
  T.assert(await page.$('[data-testid=sv-timeline] path'), 'the low-share line is drawn');
  T.assert(await page.$('[data-testid=sv-cat-screenshare]'), 'a category without ratings still has its card');
  T.ok('the Surveys page charts what was submitted');

  T.assertEq('[]', JSON.stringify(problems), 'no page errors or CSP violations');
  T.ok('no page errors');
});
