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
        el.setAttribute(key, value === true ? '' : String(value));
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
    else el.appendChild(document.createTextNode(String(child)));
  }
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

// Splits text around every occurrence of any needle (case-sensitive call
// ids, case-insensitive search text) and wraps the hits in <mark>, still
// as text nodes.
export function highlight(text, needles, className) {
  const list = needles.filter((n) => n && n.length > 0);
  if (!list.length) return [text];
  const lower = text.toLowerCase();
  const out = [];
  let pos = 0;
  while (pos < text.length) {
    let best = -1, bestLen = 0;
    for (const n of list) {
      const at = lower.indexOf(n.toLowerCase(), pos);
      if (at >= 0 && (best < 0 || at < best || (at === best && n.length > bestLen))) {
        best = at; bestLen = n.length;
      }
    }
    if (best < 0) break;
    if (best > pos) out.push(text.slice(pos, best));
    out.push(h('mark.' + className, null, text.slice(best, best + bestLen)));
    pos = best + bestLen;
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
