// An invited owner's first visit: see whose invitation it is, set a password, and land in the
// owner console (accepting signs the new user in).
import { api, applyTexts, reason, say, t } from './common.js';

applyTexts();
const token = decodeURIComponent(location.pathname.split('/').pop() || '');
const path = `/api/invites/${encodeURIComponent(token)}`;
const whose = document.getElementById('whose');
const form = document.getElementById('accept');
const message = document.getElementById('message');

const found = await api('GET', path, undefined, { quiet401: true });
if (found.ok) {
  whose.textContent = t('invite.for', { name: found.data.name, owner: found.data.owner_name });
  form.hidden = false;
  form.elements.password.focus();
} else {
  say(whose, reason(found), { error: true });
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const { password, repeat } = form.elements;
  if (password.value !== repeat.value) {
    repeat.value = '';
    say(message, t('invite.mismatch'), { error: true });
    repeat.focus();
    return;
  }
  const button = form.querySelector('button');
  button.disabled = true;
  const result = await api('POST', `${path}/accept`, { password: password.value }, { quiet401: true });
  button.disabled = false;
  if (result.ok) {
    location.assign('/owner');
    return;
  }
  password.value = '';
  repeat.value = '';
  say(message, reason(result), { error: true });
  password.focus();
});
