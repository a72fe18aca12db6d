// make_seeds.mjs - writes the seed inputs of fuzz/corpus/multipart in the
// harness's layout (boundary length, boundary, split seed, body). Run
// once by hand: node fuzz/make_seeds.mjs fuzz/corpus/multipart
import { writeFileSync } from 'node:fs';
const set = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'()+_,-./:=?";
const dir = process.argv[2];
const enc = (b, split, body) => Buffer.concat([Buffer.from([b.length - 1]),
  Buffer.from([...b].map((c) => set.indexOf(c))), Buffer.from([split]), Buffer.from(body, 'binary')]);
const b = 'XyZ123';
const part = (name, fn, data) => `--${b}\r\nContent-Disposition: form-data; name="${name}"${fn !== undefined ? `; filename="${fn}"` : ''}\r\n\r\n${data}\r\n`;
const seeds = {
  valid: part('description', undefined, 'hello') + part('f', 'a.txt', 'data\r\n--XyZ12 near miss') + `--${b}--\r\n`,
  preamble: 'preamble\r\n' + part('a', undefined, 'x') + `--${b}--\r\nepilogue`,
  padding: `--${b}  \t\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--${b}--`,
  ext: `--${b}\r\nContent-Disposition: form-data; name="f"; filename*=UTF-8''%E2%82%AC.txt\r\nContent-Type: text/plain\r\n\r\n€\r\n--${b}--`,
  escaped: `--${b}\r\nContent-Disposition: form-data; name="a\\"b"; filename="c%22d%0A"\r\n\r\n\r\n--${b}--`,
  noclose: part('a', undefined, 'x'),
  noname: `--${b}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--${b}--`,
  longhdr: `--${b}\r\nX: ${'h'.repeat(400)}\r\n\r\n--${b}--`,
  manyparts: Array.from({ length: 12 }, (_, i) => part('p' + i, undefined, String(i))).join('') + `--${b}--`,
  manyfiles: Array.from({ length: 6 }, (_, i) => part('f' + i, `f${i}`, String(i))).join('') + `--${b}--`,
  bigfield: part('a', undefined, 'z'.repeat(700)) + `--${b}--`,
  bigfile: part('a', 'big', 'z'.repeat(5000)) + `--${b}--`,
  crlfs: part('a', 'c', '\r\r\n\n\r\n-\r\n--\r\n--X\r\n--XyZ12\r\n--XyZ123x') + `--${b}--`,
  empty: '',
  garbage: `--${b}X\r\n`,
  nul: `--${b}\r\nContent-Disposition: form-data; name="a"; filename="x\0y"\r\n\r\nx\r\n--${b}--`,
};
let i = 0;
for (const [name, body] of Object.entries(seeds)) {
  for (const split of [0, 3, 200]) writeFileSync(`${dir}/${name}-${split}`, enc(b, split, body));
  i++;
}
console.log(`wrote ${i * 3} seeds`);
