// push_dashboard.test.js - the dashboard's Log requests and Surveys pages
// in a real browser (Debian's chromium through playwright-core, as
// tests/browser) against a real logshared.
//
// An agent logs in, asks a user for logs with the form, and sees the
// request pending; the user declines through the API and the row turns
// "declined" without a reload. Surveys submitted through the API show up
// on the Surveys page as SVG charts whose bars and numbers match what was
// submitted. No page error or CSP violation may occur.
// Screenshots of both pages go to $LOGSHARE_BUILD_DIR/dashboard-screenshots
// beside tests/browser's (copied to docs/ by hand).
'use strict';
const fs = require('fs');
const path = require('path');
const T = require('../browser/lib');

const PASSWORD = 'correct horse battery staple';

T.main(async () => {
  const sbin = T.env('LOGSHARED_BIN');
  const data = path.join(T.TMP, 'data');
  const shots = path.join(process.env.LOGSHARE_BUILD_DIR || T.TMP, 'dashboard-screenshots');
  fs.mkdirSync(shots, { recursive: true });
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
  await page.click(cell); // fold the long reason again
  await page.fill('[data-testid=lr-user]', 'customer-7');
  await page.screenshot({ animations: 'disabled', path: path.join(shots, 'dashboard-log-requests.png') });
  T.ok('56 requests: the newest 50 first, the rest on the older page');

  // --- surveys ------------------------------------------------------------
  const surveys = [
    { call_id: 'c1', overall: { score: 1 }, audio: { score: 2, issues: ['Echo', 'LowVolume'] } },
    { call_id: 'c2', overall: { score: 5 }, audio: { score: 4, issues: ['Echo'] } },
    { call_id: 'c3', overall: { score: 5 }, video: { score: 3, issues: ['Freezes'] } },
    { call_id: 'c4', overall: { score: 2, scale: { lower: 0, upper: 10, low_threshold: 3 } } },
  ];
  for (const s of surveys) T.assertEq(201, (await api('POST', '/api/v1/surveys', s)).status, 'survey stored');
  await page.click('[data-testid=nav-surveys]');
  await page.waitForSelector('[data-testid=sv-summary]');
  T.assert((await page.textContent('[data-testid=sv-summary]')).startsWith('4 surveys'), 'the summary counts 4 surveys');
  const barsOf = (sel) => page.$$eval(sel + ' rect', (rs) => rs.map((r) => r.querySelector('title').textContent + (r.getAttribute('data-low') === '1' ? ' low' : '')));
  // overall on 1..5: scores 1 and 5 (twice); every score has its bar, 1 is low
  T.assertEq(JSON.stringify(['1: 1 low', '2: 0', '3: 0', '4: 0', '5: 2']), JSON.stringify(await barsOf('[data-testid=sv-dist-overall]')),
    'overall 1..5: a bar for every score, the low one marked');
  // overall on 0..10 is its own chart: 11 bars, the 2 low (threshold 3)
  const ten = await barsOf('[data-testid=sv-dist-overall-0-10]');
  T.assertEq(11, ten.length, 'overall 0..10: a bar for each of the 11 scores');
  T.assertEq('2: 1 low', ten[2], 'the 2 on 0..10 is low');
  T.assertEq(10, ten.filter((b) => b.endsWith(': 0')).length, 'the other ten are 0');
  T.assertEq(JSON.stringify(['1: 0', '2: 1 low', '3: 0', '4: 1', '5: 0']), JSON.stringify(await barsOf('[data-testid=sv-dist-audio]')), 'audio bars');
  const lowFill = await page.$eval('[data-testid=sv-dist-overall] rect[data-low="1"]', (r) => r.getAttribute('fill'));
  const okFill = await page.$eval('[data-testid=sv-dist-overall] rect[data-low="0"]', (r) => r.getAttribute('fill'));
  T.assert(lowFill !== okFill, 'low bars have their own colour');
  const fontPx = await page.$eval('[data-testid=sv-dist-overall] text', (t) => parseFloat(getComputedStyle(t).fontSize) * (t.ownerSVGElement.getBoundingClientRect().width / t.ownerSVGElement.viewBox.baseVal.width));
  T.assert(fontPx >= 10 && fontPx <= 14, 'chart labels render at a readable size: ' + fontPx.toFixed(1) + ' px');
  const issues = await page.$$eval('[data-testid=sv-issues] text', (ts) => ts.map((t) => t.textContent));
  T.assertEq('audio · Echo', issues[0], 'the most reported issue first');
  T.assertEq('2', issues[1], 'its count');
  T.assert(await page.$('[data-testid=sv-timeline] path'), 'the low-share line is drawn');
  T.assertEq(1, (await page.$$('[data-testid=sv-timeline] circle')).length, 'one point for today');
  T.assert(await page.$('[data-testid=sv-cat-screenshare]'), 'a category without ratings still has its card');
  // the period controls become since/until
  const today = new Date().toISOString().slice(0, 10);
  const tomorrow = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
  await page.fill('[data-testid=sv-since]', tomorrow);
  await page.click('[data-testid=sv-apply]');
  await T.waitFor(async () => (await page.textContent('[data-testid=sv-body]')).includes('No surveys in this period'), 'an empty period');
  await page.fill('[data-testid=sv-since]', today);
  await page.fill('[data-testid=sv-until]', today);
  await page.click('[data-testid=sv-apply]');
  await T.waitFor(async () => ((await page.textContent('[data-testid=sv-body]')) || '').startsWith('4 surveys'), 'today holds all 4');
  await page.screenshot({ animations: 'disabled', path: path.join(shots, 'dashboard-surveys.png'), fullPage: true });
  T.ok('the Surveys page charts what was submitted');

  // --- a survey's ticket: scores and issues on the ticket page; links -------
  const form = new FormData();
  form.append('survey', JSON.stringify({ call_id: 'c9', overall: { score: 1 },
    audio: { score: 2, issues: ['Echo', 'LowVolume'] }, more_info: 'they could not hear me', report_issue: true }));
  form.append('file', new Blob(['a log line\n']), 'app.log');
  const made = await fetch(server.url + '/api/v1/surveys', { method: 'POST', headers: { Authorization: 'Bearer ' + userToken }, body: form });
  T.assertEq(201, made.status, 'survey with report_issue stored');
  const sv = await made.json();
  T.assertEq(sv.id, sv.ticket.survey_id, 'the new ticket names its survey');
  await page.goto(`${server.url}/dashboard/#/tickets/${sv.ticket.id}`);
  await page.waitForSelector('[data-testid=survey-id]');
  T.assertEq(sv.id, (await page.textContent('[data-testid=survey-id]')).trim(), 'the ticket page shows the survey');
  T.assertEq('1 on 1–5low', (await page.textContent('[data-testid=survey-score-overall]')).trim(), 'overall score, marked low');
  T.assertEq('audio: Echo, LowVolume', (await page.textContent('[data-testid=survey-issues]')).trim(), 'reported issues');
  T.assert((await page.textContent('[data-testid=ticket-description]')).includes('Scores: overall 1/5 (low), audio 2/5 (low)'),
    'the description sums up the scores');
  await page.screenshot({ animations: 'disabled', path: path.join(shots, 'dashboard-survey-ticket.png'), fullPage: true });
  // a ticket that only says source=survey names no survey: nothing to load
  const fake = new FormData();
  fake.append('description', 'not from a survey');
  fake.append('source', 'survey');
  fake.append('file', new Blob(['x\n']), 'x.log');
  const posted = await fetch(server.url + '/api/v1/tickets', { method: 'POST', headers: { Authorization: 'Bearer ' + userToken }, body: fake });
  T.assertEq(201, posted.status, 'a ticket posted with source=survey');
  const fakeTicket = await posted.json();
  T.assertEq(null, fakeTicket.survey_id, 'it has no survey_id');
  await page.goto(`${server.url}/dashboard/#/tickets/${fakeTicket.id}`);
  await T.waitFor(async () => ((await page.textContent('[data-testid=ticket-survey]').catch(() => '')) || '').includes('No survey is linked'),
    'the ticket page says no survey is linked');
  await page.goto(`${server.url}/dashboard/#/tickets/${sv.ticket.id}`);
  await page.waitForSelector('[data-testid=ask-for-logs]');
  await page.click('[data-testid=ask-for-logs]');
  await page.waitForSelector('[data-testid=lr-form]');
  T.assertEq('customer-7', await page.inputValue('[data-testid=lr-user]'), 'the user is filled in');
  T.assertEq(sv.ticket.id, await page.inputValue('[data-testid=lr-ticket]'), 'the ticket is filled in');
  await page.fill('[data-testid=lr-reason]', 'About your survey: may we see the logs?');
  await page.click('[data-testid=lr-create]');
  await T.waitFor(async () => (await page.textContent('[data-testid=lr-row] td.desc')).startsWith('About your survey'), 'the new request listed first');
  const askedId = await page.getAttribute('[data-testid=lr-row]', 'data-lr-id');
  // the user answers with a ticket; its page links back to the request
  const reply = new FormData();
  reply.append('description', 'here are my logs');
  reply.append('source', 'push');
  reply.append('log_request_id', askedId);
  reply.append('file', new Blob(['log\n']), 'push.log');
  const answered = await fetch(server.url + '/api/v1/tickets', { method: 'POST', headers: { Authorization: 'Bearer ' + userToken }, body: reply });
  T.assertEq(201, answered.status, 'the answer ticket');
  await page.goto(`${server.url}/dashboard/#/tickets/${(await answered.json()).id}`);
  await page.click('[data-testid=ticket-log-request]');
  await page.waitForSelector('[data-testid=lr-detail-reason]');
  T.assertEq('About your survey: may we see the logs?', await page.textContent('[data-testid=lr-detail-reason]'), 'the linked request in full');
  T.ok("a survey's ticket shows its scores and issues; 'Ask this user for logs' and the Log request link work");

  T.assertEq('[]', JSON.stringify(problems), 'no page errors or CSP violations');
  T.ok('no page errors');
});
