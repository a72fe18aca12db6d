// page-login.js - the login form. POST /dashboard/login checks the name
// and password (libsodium crypto_pwhash on the server), sets the HttpOnly
// session cookie and returns the session with its CSRF token. Too many
// attempts get 429 with Retry-After, which the form shows. A 503 with
// Retry-After means other logins were being checked at that moment: the
// form tries again by itself, a few times.
import { h, replace } from './dom.js';
import * as api from './api.js';
import { registerPage } from './app.js';

const BUSY_RETRIES = 4;

async function postLogin(body) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await api.post('/dashboard/login', body, { quiet401: true });
    } catch (e) {
      if (e.status !== 503 || !e.retryAfter || attempt >= BUSY_RETRIES) throw e;
      await new Promise((resolve) => setTimeout(resolve, e.retryAfter * 1000));
    }
  }
}

function render(main, ctx) {
  const error = h('p.form-error', { role: 'alert', 'data-testid': 'login-error', hidden: true });
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true,
    autofocus: true, 'data-testid': 'login-user' });
  const pass = h('input', { id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password',
    required: true, 'data-testid': 'login-password' });
  const submit = h('button.btn.btn-primary', { type: 'submit', 'data-testid': 'login-submit' }, 'Log in');
  const form = h('form.login-form', { novalidate: true },
    h('h1', null, 'logshare support'),
    h('p.muted', null, 'Sign in with your support account.'),
    h('label', { for: 'login-user' }, 'User name'), user,
    h('label', { for: 'login-pass' }, 'Password'), pass,
    error, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    if (!user.value || !pass.value) {
      replace(error, 'Enter your user name and password.');
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    try {
      const session = await postLogin({ username: user.value, password: pass.value });
      ctx.setSession(session);
      const next = ctx.query.get('next');
      ctx.navigate('#' + (next && next.startsWith('/') && next !== '/login' ? next : '/tickets'));
    } catch (e) {
      let text = e.message;
      if (e.status === 401) text = 'Wrong user name or password.';
      if (e.status === 429) text = 'Too many attempts. Try again in ' + (e.retryAfter || 60) + ' seconds.';
      replace(error, text);
      error.hidden = false;
      pass.value = '';
      pass.focus();
    } finally {
      submit.disabled = false;
    }
  });
  replace(main, h('div.login-wrap', null, form));
  user.focus();
}

registerPage({ id: 'login', title: 'Log in', nav: false, path: /^\/login$/, render });
