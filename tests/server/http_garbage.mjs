// http_garbage.mjs - throws malformed HTTP at a running logshared (raw
// TCP, not a client library that would refuse to send it): broken
// request lines, header lines with NUL / bare CR / no colon, huge
// headers, bad and overflowing chunk sizes, conflicting lengths, binary
// noise, and random mutations of a valid upload. Every connection must
// end (an answer or a close) within a few seconds, answers must be 4xx
// or 2xx (never a 5xx but the protocol-level 501 and 505), and /healthz
// must answer between rounds.
//
// usage: node http_garbage.mjs PORT TOKEN [ROUNDS]
import net from 'node:net';
import { writeFileSync } from 'node:fs';

const [port, token, roundsArg] = process.argv.slice(2);
const ROUNDS = Number(roundsArg || 300);
let seed = 4242;
const rnd = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };

const B = 'GarbageB0undary';
const valid = Buffer.from(
  `POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
  `Content-Type: multipart/form-data; boundary=${B}\r\nContent-Length: 999\r\n\r\n` +
  `--${B}\r\nContent-Disposition: form-data; name="description"\r\n\r\nfuzz\r\n` +
  `--${B}\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n\r\n0123456789\r\n--${B}--\r\n`);
function fixLength(buf) {
  const s = buf.toString('latin1');
  const i = s.indexOf('\r\n\r\n');
  if (i < 0) return buf;
  const body = s.length - i - 4;
  return Buffer.from(s.replace('Content-Length: 999', `Content-Length: ${body}`), 'latin1');
}
const fixed = [
  'GET / HTTP/1.1\r\n\r\n',
  'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n',
  'BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
  '\r\n\r\n\r\n',
  'GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n',
  'GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n',
  'GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n',
  `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(200000)}\r\n\r\n`,
  `GET /${'a'.repeat(100000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n',
  'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nabc\r\n',
  'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
  'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n',
  'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'PATCH /api/v1/tickets/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n{{{',
];
function mutate(buf) {
  const b = Buffer.from(buf);
  const n = 1 + rnd(8);
  for (let i = 0; i < n; i++) {
    const at = rnd(b.length);
    switch (rnd(4)) {
      case 0: b[at] = rnd(256); break;
      case 1: b[at] = [0, 13, 10, 58, 45, 34][rnd(6)]; break;
      case 2: b.copy(b, at, rnd(b.length), rnd(b.length)); break;
      default: break;
    }
  }
  return rnd(3) ? fixLength(b) : b;
}

function send(payload) {
  return new Promise((resolve) => {
    const s = net.connect(Number(port), '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => { s.destroy(); resolve({ hung: true, got }); }, 8000);
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(timer); resolve({ hung: false, got }); });
    s.on('connect', () => { s.write(payload); s.end(); });
  });
}

let answered = 0, closed = 0;
for (let r = 0; r < ROUNDS; r++) {
  const payload = r < fixed.length ? Buffer.from(fixed[r], 'latin1') : mutate(valid);
  const res = await send(payload);
  if (res.hung) {
    if (process.env.GARBAGE_DUMP) writeFileSync(process.env.GARBAGE_DUMP, payload);
    console.error(`round ${r}: connection neither answered nor closed in 8 s; sent ${JSON.stringify(payload.toString('latin1'))}; got ${JSON.stringify(res.got.slice(0, 300))}`);
    process.exit(1);
  }
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(res.got);
  if (m) {
    answered++;
    // 501 and 505 are libmicrohttpd's protocol-level answers
    if (m[1][0] === '5' && m[1] !== '505' && m[1] !== '501') { console.error(`round ${r}: server error ${m[1]} for ${JSON.stringify(payload.toString('latin1').slice(0, 200))}`); process.exit(1); }
  } else closed++;
  if (r % 25 === 0) {
    const h = await send(Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    if (!/^HTTP\/1\.1 200/.test(h.got)) { console.error(`round ${r}: /healthz did not answer 200`); process.exit(1); }
  }
}
console.log(`ok - ${ROUNDS} malformed requests: ${answered} answered without a 5xx, ${closed} closed; server healthy`);
