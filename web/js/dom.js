// dom.js - the only way the dashboard builds DOM. Every string that may
// come from a user (descriptions, file names, log lines, names) becomes a
// text node: nothing here or elsewhere assigns innerHTML, so a "<script>"
// in a ticket is shown as those characters and never runs. Event handler
// attributes are refused; handlers are attached with addEventListener.

// h('tag.class', {attr: value, onclick: fn}, child, ...) -> Element.
// Children may be strings/numbers (text nodes), Nodes, arrays, or null.
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2), value);
      } else if (key.startsWith('on')) {
        throw new Error('inline event handler attributes are not allowed');
      } else if (key === 'class') {
        el.className = (el.className ? el.className + ' ' : '') + value;
      } else if (key === 'href') {
        el.setAttribute('href', safeUrl(value));
      } else if (key === 'value') {
        el.value = value;
      } else if (key === 'checked' || key === 'disabled' || key === 'hidden' || key === 'selected') {
        el[key] = Boolean(value);
      } else {
        el.setAttribute(key, value === true ? '' : visible(String(value)));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(visible(String(child))));
  }
}

// Bidi embeddings, overrides and isolates reorder the text around them,
// so data could disguise itself: a file "report\u202Etxt.exe" reads
// "reportexe.txt", a log line can show its words in any order. Text from
// data shows them as visible marks ("[U+202E]") instead. The plain
// direction marks (U+200E, U+200F, U+061C) reorder nothing and stay.
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;
export function visible(text) {
  return text.replace(BIDI_CONTROLS, (c) => '[U+' + c.charCodeAt(0).toString(16).toUpperCase() + ']');
}

// Links only ever point into this origin or to http(s): a "javascript:"
// URL from data would otherwise run on click.
export function safeUrl(url) {
  const text = String(url);
  if (text.startsWith('#') || text.startsWith('/')) return text;
  try {
    const parsed = new URL(text, window.location.href);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return parsed.href;
  } catch (_) { /* fall through */ }
  return '#';
}

// Replaces an element's children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// Splits text around every occurrence of any needle (call ids, search
// text; case-insensitive, the longest needle first where several start
// at one place) and wraps the hits in <mark>, still as text nodes. The
// match runs on the text itself: a lower-cased copy can have another
// length ("\u0130" becomes two code units), which put the marks on the
// wrong characters.
export function highlight(text, needles, className) {
  const list = needles.filter((n) => n && n.length > 0).sort((a, b) => b.length - a.length);
  if (!list.length) return [text];
  const re = new RegExp(list.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gi');
  const out = [];
  let pos = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > pos) out.push(text.slice(pos, m.index));
    out.push(h('mark.' + className, null, m[0]));
    pos = m.index + m[0].length;
  }
  if (pos < text.length) out.push(text.slice(pos));
  return out;
}

export function formatBytes(n) {
  if (typeof n !== 'number' || !isFinite(n)) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0, v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[i];
}

// "2026-11-25T04:44:34Z" -> "2026-11-25 04:44:34 UTC" (agents compare
// times with logs, which are in UTC, so the dashboard stays in UTC).
export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace('Z', ' UTC');
}

export function relativeTime(iso) {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return '';
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  if (s < 86400) return Math.floor(s / 3600) + ' h ago';
  return Math.floor(s / 86400) + ' d ago';
}
