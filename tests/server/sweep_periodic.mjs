// sweep_periodic.mjs - an upload that pauses in the middle, for
// sweep_periodic.sh: POSTs a ticket with two files, sends the first file
// whole and the second one half, then waits until the file named by
// argv[4] exists (the test backdates the upload's temporary files and
// lets the sweep run meanwhile) before sending the rest. Prints the
// answer's status, each file's SHA-256, one per line, then the body.
//
//   node sweep_periodic.mjs URL TOKEN SIZE GO_FILE
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request } from 'node:http';

const [url, token, sizeText, goFile] = process.argv.slice(2);
const size = Number(sizeText);
const files = [randomBytes(size), randomBytes(size)];
const B = 'sweepperiodicboundary';
const part = (name, filename) =>
  `--${B}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\n` +
  'Content-Type: application/octet-stream\r\n\r\n';
const head = Buffer.from(
  `--${B}\r\nContent-Disposition: form-data; name="description"\r\n\r\npaused upload\r\n` +
    part('log', 'first.bin'));
const between = Buffer.from(`\r\n${part('log', 'second.bin')}`);
const tail = Buffer.from(`\r\n--${B}--\r\n`);
const body = Buffer.concat([head, files[0], between, files[1], tail]);
const pause = head.length + files[0].length + between.length + size / 2;

const req = request(`${url}/api/v1/tickets`, {
  method: 'POST',
  headers: {
    Authorization: `Bearer ${token}`,
    'Content-Type': `multipart/form-data; boundary=${B}`,
    'Content-Length': body.length,
  },
});
req.on('response', (res) => {
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => {
    console.log(res.statusCode);
    for (const f of files) console.log(createHash('sha256').update(f).digest('hex'));
    console.log(Buffer.concat(chunks).toString());
  });
});
req.on('error', (e) => {
  console.log('000');
  console.log(String(e));
  process.exitCode = 1;
});
req.write(body.subarray(0, pause));
const wait = setInterval(() => {
  if (!existsSync(goFile)) return;
  clearInterval(wait);
  req.end(body.subarray(pause));
}, 50);
