// api.js - the dashboard's calls to logshared. The browser uses the same
// /api/v1 endpoints as every other client, authenticated by the session
// cookie (HttpOnly, so this script never sees it) instead of a bearer
// token. Every state-changing request carries the session's CSRF token in
// the X-CSRF-Token header; the server refuses it otherwise.

let csrfToken = null;
let onUnauthorized = () => {};

export function setCsrfToken(token) { csrfToken = token; }
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// An error from the server, with its JSON error code ("unauthorized",
// "key_not_configured", ...) so pages can explain it.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function request(method, path, body, options = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  // A page refreshing by itself is not the agent at work: the server does
  // not count it as activity, so an unattended session still goes idle.
  if (options.background) headers['X-Dashboard-Refresh'] = '1';
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection.');
  }
  const type = res.headers.get('Content-Type') || '';
  const data = type.includes('application/json') ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    const e = new ApiError(res.status, err.code || 'http_' + res.status,
      err.message || res.statusText || 'Request failed');
    if (res.status === 429 || res.status === 503) e.retryAfter = Number(res.headers.get('Retry-After')) || null;
    if (res.status === 401 && !options.quiet401) onUnauthorized(e);
    throw e;
  }
  return data;
}

export const get = (path, options) => request('GET', path, undefined, options);
export const post = (path, body, options) => request('POST', path, body, options);
export const patch = (path, body, options) => request('PATCH', path, body, options);

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

export const enc = encodeURIComponent;
