// Sign in, then go where the user was going (only to a page of this hub).
import { api, applyTexts, say, t, reason } from './common.js';

function destination() {
  const next = new URLSearchParams(location.search).get('next') || '/';
  // a path on this hub only: not //other.example nor /\other.example
  return /^\/(?![/\\])/.test(next) ? next : '/';
}

applyTexts();
const form = document.getElementById('login');
const message = document.getElementById('message');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const button = form.querySelector('button');
  const password = form.elements.password;
  button.disabled = true;
  say(message, '');
  const result = await api(
    'POST', '/api/login', { name: form.elements.name.value.trim(), password: password.value },
    { quiet401: true },
  );
  button.disabled = false;
  if (result.ok) {
    location.assign(destination());
    return;
  }
  password.value = '';
  if (result.status === 401) say(message, t('login.wrong'), { error: true });
  else if (result.status === 429) {
    const seconds = (reason(result).match(/(\d+) s/) || [])[1] || '?';
    say(message, t('login.wait', { s: seconds }), { error: true });
  } else say(message, reason(result), { error: true });
  password.focus();
});
