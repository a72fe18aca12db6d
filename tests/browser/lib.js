// lib.js - helpers for the dashboard's browser tests, in the spirit of
// tests/lib/testlib.sh: a scratch directory removed at exit, assertions
// that say what failed, a real logshared on 127.0.0.1 with a free port
// (started and stopped by the test), the CLIs, Debian's chromium driven
// headless by playwright-core and Debian's firefox-esr driven headless by
// puppeteer-core over WebDriver BiDi (neither downloads a browser).
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');

const TEST_NAME = path.basename(process.argv[1], '.js');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), `logshare-${TEST_NAME}-`));
const servers = [];
const cleanups = [];

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through ctest)`);
  return v;
}

function fail(msg) {
  const err = new Error(`FAIL (${TEST_NAME}): ${msg}`);
  err.isTestFailure = true;
  throw err;
}
function ok(what) { console.log(`ok - ${what}`); }
// skip(msg): the test cannot run here (exit 77 for ctest). Thrown, not
// exited, so main() still stops the servers the test started.
function skip(msg) {
  const err = new Error(`SKIP: ${msg}`);
  err.isSkip = true;
  throw err;
}
function assert(cond, what) { if (!cond) fail(what); }
function assertEq(want, got, what) {
  if (want !== got) fail(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
}
function sha256(buf) { return crypto.createHash('sha256').update(buf).digest('hex'); }

// run(bin, args, {input}) -> stdout (string); fails the test on a non-zero exit.
function run(bin, args, opts = {}) {
  const r = spawnSync(bin, args, { input: opts.input, encoding: 'utf8', env: { ...process.env, ...(opts.env || {}) } });
  if (r.status !== 0) fail(`${path.basename(bin)} ${args.join(' ')}: exit ${r.status}: ${(r.stderr || '').slice(0, 500)}`);
  return r.stdout;
}

// startServer(dataDir, extraArgs, extraEnv) -> {url, proc, log}
async function startServer(dataDir, extraArgs = [], extraEnv = {}) {
  const portFile = path.join(TMP, `port.${servers.length}`);
  const logFile = path.join(TMP, `server.${servers.length}.log`);
  const out = fs.openSync(logFile, 'a');
  const proc = spawn(env('LOGSHARED_BIN'),
    ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--port-file', portFile, ...extraArgs],
    { stdio: ['ignore', out, out], env: { ...process.env, ...extraEnv } });
  fs.closeSync(out);
  let exited = null;
  proc.on('exit', (code, sig) => { exited = { code, sig }; });
  servers.push(proc);
  // ASan builds start slower; allow 30 s.
  for (let i = 0; i < 600; i++) {
    if (exited) fail(`logshared exited at start (${JSON.stringify(exited)}): ${fs.readFileSync(logFile, 'utf8').slice(-800)}`);
    if (fs.existsSync(portFile) && fs.readFileSync(portFile, 'utf8').trim()) break;
    await sleep(50);
  }
  const port = fs.existsSync(portFile) ? fs.readFileSync(portFile, 'utf8').trim() : '';
  if (!port) fail('logshared did not start within 30 s');
  return { url: `http://127.0.0.1:${port}`, proc, log: logFile, exited: () => exited };
}

async function stopServer(server, signal = 'SIGTERM') {
  if (server.exited()) return server.exited();
  const done = new Promise((resolve) => server.proc.on('exit', (code, sig) => resolve({ code, sig })));
  server.proc.kill(signal);
  const t = setTimeout(() => server.proc.kill('SIGKILL'), 20000);
  const r = await done;
  clearTimeout(t);
  return r;
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// waitFor(fn, what, timeoutMs): polls fn until it returns a truthy value.
async function waitFor(fn, what, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await sleep(100);
  }
  fail(`timed out waiting for ${what}${last instanceof Error ? ': ' + last.message : ''}`);
}

// Chromium from Debian, headless, with a fresh profile; nothing fetched
// from the network but our server.
async function launchBrowser() {
  let chromium;
  try {
    ({ chromium } = require('playwright-core'));
  } catch (e) {
    skip('playwright-core is not installed in tests/browser (run scripts/bootstrap --test)');
  }
  const profile = fs.mkdtempSync(path.join(TMP, 'chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.LOGSHARE_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  cleanups.push(() => context.close().catch(() => {}));
  return context;
}

// Firefox ESR from Debian, headless, with a fresh profile, driven by
// puppeteer-core over WebDriver BiDi, which Firefox speaks itself: no
// geckodriver, no patched browser build, nothing downloaded. Playwright
// cannot do this (it needs its own patched Firefox). puppeteer-core writes
// prefs into the profile that turn off updates, telemetry and other
// background fetches, so the browser talks only to our server.
async function launchFirefox() {
  let puppeteer;
  try {
    puppeteer = require('puppeteer-core');
  } catch (e) {
    skip('puppeteer-core is not installed in tests/browser (run scripts/bootstrap --test)');
  }
  const executablePath = process.env.LOGSHARE_FIREFOX || '/usr/bin/firefox-esr';
  if (!fs.existsSync(executablePath)) {
    skip(`${executablePath} is missing (run scripts/bootstrap --test, which installs firefox-esr)`);
  }
  const profile = fs.mkdtempSync(path.join(TMP, 'firefox-'));
  const browser = await puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath,
    headless: true,
    userDataDir: profile,
    defaultViewport: { width: 1280, height: 800 },
    // Firefox's own start-up can be slow on a loaded machine (and under
    // make test-asan, where the server shares the cores); 60 s, not 30.
    timeout: 60000,
  });
  cleanups.push(() => browser.close().catch(() => {}));
  return browser;
}

// main(fn): runs the test, reports, cleans up, sets the exit status.
function main(fn) {
  const timer = setTimeout(() => { console.error(`FAIL (${TEST_NAME}): overall timeout`); finish(1); }, 170000);
  let finished = false;
  async function finish(code) {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    for (const c of cleanups.reverse()) { try { await c(); } catch (_) { /* best effort */ } }
    for (const s of servers) { if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL'); }
    if (code === 0 || !process.env.LOGSHARE_KEEP_TMP) fs.rmSync(TMP, { recursive: true, force: true });
    else console.error(`kept ${TMP}`);
    process.exit(code);
  }
  fn().then(() => finish(0), (e) => {
    if (e.isSkip) {
      console.error(e.message);
      finish(77);
      return;
    }
    console.error(e.isTestFailure ? e.message : (e.stack || String(e)));
    for (let i = 0; i < servers.length; i++) {
      const log = path.join(TMP, `server.${i}.log`);
      if (fs.existsSync(log)) console.error(`--- server log ${i} (tail) ---\n` + fs.readFileSync(log, 'utf8').slice(-2000));
    }
    finish(1);
  });
}

// The common start of the dashboard tests: a support login "agent" with
// password, a support key pair (TMP/support.key, .pub), and a customer's
// encrypted log of count lines, line(i, callIdOrOther) each, in which
// every tenth names the returned call id.
function prepareDashboard(password, count, line) {
  const bin = env('LOGSHARE_BIN');
  const sbin = env('LOGSHARED_BIN');
  const shots = path.join(process.env.LOGSHARE_BUILD_DIR || TMP, 'dashboard-screenshots');
  fs.mkdirSync(shots, { recursive: true });
  const data = path.join(TMP, 'data');
  run(sbin, ['user', 'add', 'agent', '--role', 'support', '--data-dir', data], { input: password + '\n' });
  run(bin, ['keygen', '--out', path.join(TMP, 'support')]);
  const callId = 'call-' + crypto.randomBytes(6).toString('hex');
  const logDir = path.join(TMP, 'applogs');
  const lines = [];
  for (let i = 0; i < count; i++) lines.push(line(i, i % 10 === 0 ? callId : 'call-other'));
  run(bin, ['log', '--dir', logDir, '--stream', 'calling', '--level', 'info',
    '--public-key-file', path.join(TMP, 'support.pub')], { input: lines.join('\n') + '\n' });
  return { bin, sbin, shots, data, callId, logDir };
}

module.exports = { TMP, env, fail, ok, assert, assertEq, sha256, run, startServer, stopServer, sleep, waitFor,
  launchBrowser, launchFirefox, main, cleanups, prepareDashboard };
