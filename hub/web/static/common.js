// What every page shares: its words, calls to the hub's API, and building elements safely.
import { TEXTS } from './texts.js';

export const LANG = document.documentElement.lang === 'en' ? 'en' : 'id';

/** The text `key` in the page's language, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = TEXTS[LANG][key] ?? TEXTS.id[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Fill every element's `data-t` text and `data-t-label` aria-label. */
export function applyTexts(root = document) {
  for (const node of root.querySelectorAll('[data-t]')) node.textContent = t(node.dataset.t);
  for (const node of root.querySelectorAll('[data-t-label]')) {
    node.setAttribute('aria-label', t(node.dataset.tLabel));
  }
}

/** Send the browser to sign in, and back here afterwards. */
export function signIn() {
  const here = location.pathname + location.search;
  location.assign('/login?next=' + encodeURIComponent(here));
}

/**
 * Call the API: `{status, ok, data}`; `data` is the JSON answer (or `{error}`).
 * A 401 (the session ended) sends the browser to sign in unless `quiet401` is set.
 */
export async function api(method, path, body, { csv = false, quiet401 = false } = {}) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = csv ? 'text/csv' : 'application/json';
    init.body = csv ? body : JSON.stringify(body);
  }
  let answer;
  try {
    answer = await fetch(path, init);
  } catch {
    return { status: 0, ok: false, data: { error: t('error.network') } };
  }
  if (answer.status === 401 && !quiet401) signIn();
  let data;
  try {
    data = await answer.json();
  } catch {
    data = { error: `${answer.status} ${answer.statusText}` };
  }
  return { status: answer.status, ok: answer.ok, data };
}

/** A new element: `attrs` as attributes (`on*` as listeners), children as nodes or text. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** The error sentence of an answer. */
export function reason(result) {
  return (result.data && result.data.error) || `${result.status}`;
}

/** Show `text` in `node` as an error (or plainly), read out by screen readers. */
export function say(node, text, { error = false } = {}) {
  node.textContent = text || '';
  node.classList.toggle('error', Boolean(error && text));
}

/** The signed-in caller (`GET /api/me`), with the header's name and sign-out button filled. */
export async function caller() {
  const me = await api('GET', '/api/me');
  if (!me.ok) return null;
  const who = document.getElementById('who');
  if (who) who.textContent = me.data.name + (me.data.owner ? ` · ${me.data.owner}` : '');
  const out = document.getElementById('logout');
  if (out) {
    out.addEventListener('click', async () => {
      await api('POST', '/api/logout', {}, { quiet401: true });
      location.assign('/login');
    });
  }
  for (const link of document.querySelectorAll('[data-needs]')) {
    link.hidden = !me.data.access.includes(link.dataset.needs);
  }
  return me.data;
}
