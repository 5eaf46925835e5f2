// The owner console: sites, cameras (one by one, by CSV, or an NVR's channels), a test per
// camera, and what is shared with the command center. Everything goes through the JSON API,
// which limits an owner's user to its own owner; an admin names the owner it acts for.
import { api, applyTexts, caller, el, reason, say, t } from './common.js';

const LEVELS = ['registry', 'snapshots', 'live_incident', 'live'];
const PURPOSES = ['security', 'disaster', 'traffic', 'public_service'];
const MARKS = { true: 'passed', false: 'failed', null: 'skipped' };

let me = null;
let sites = [];
let cameras = [];
let sharing = { agreements: [], cameras: [] };
let channelDevice = null;

const $ = (id) => document.getElementById(id);
const messageOf = (form) => form.querySelector('.message');
const ownerInput = $('owner-id');

/** The owner acted for: the user's own, or (for an admin) the one typed in. */
function ownerId() {
  return me.owner || ownerInput.value.trim() || null;
}

function mine(items, key = 'owner') {
  const owner = ownerId();
  return owner ? items.filter((item) => item[key] === owner) : items;
}

/** The form's non-empty fields; numbers as numbers. */
function fields(form, names, numbers = []) {
  const body = {};
  for (const name of names) {
    const value = form.elements[name].value.trim();
    if (value === '') continue;
    body[name] = numbers.includes(name) ? Number(value) : value;
  }
  return body;
}

function withOwner(body, key = 'owner_id') {
  if (!me.owner && ownerId()) body[key] = ownerId();
  return body;
}

async function load() {
  const wantSharing = me.access.includes('sharing:read');
  const [foundSites, foundCameras, foundSharing] = await Promise.all([
    api('GET', '/api/sites'),
    api('GET', '/api/cameras'),
    wantSharing ? api('GET', '/api/sharing') : Promise.resolve(null),
  ]);
  sites = foundSites.ok ? foundSites.data.sites : [];
  cameras = foundCameras.ok ? foundCameras.data.cameras : [];
  if (foundSharing && foundSharing.ok) sharing = foundSharing.data;
  if (!me.owner) {
    const owners = new Set([...sites, ...cameras].map((item) => item.owner));
    $('owner-ids').replaceChildren(...[...owners].sort().map((id) => el('option', { value: id })));
  }
  drawSites();
  drawCameras();
  drawSharing();
}

// -- sites --------------------------------------------------------------------------------------

function drawSites() {
  const rows = mine(sites).map((site) => el('tr', { 'data-site': site.id },
    el('td', {}, site.name), el('td', {}, site.address || ''),
    el('td', {}, site.lat), el('td', {}, site.lon),
    el('td', {}, el('button', {
      type: 'button', class: 'plain', onclick: () => editSite(site),
      'aria-label': `${t('sites.edit')} ${site.name}`,
    }, t('sites.edit')))));
  $('sites').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 5, class: 'note' }, t('sites.none')))]));
  for (const select of document.querySelectorAll('.site-choice')) {
    const chosen = select.value;
    select.replaceChildren(el('option', { value: '' }, t('cams.nosite')),
      ...mine(sites).map((site) => el('option', { value: site.id }, site.name)));
    select.value = chosen;
  }
}

function editSite(site) {
  const form = $('site-form');
  for (const name of ['id', 'name', 'address', 'lat', 'lon']) form.elements[name].value = site[name] ?? '';
  form.querySelector('button[type=submit]').textContent = t('sites.save');
  $('site-cancel').hidden = false;
  form.elements.name.focus();
}

function resetSiteForm() {
  const form = $('site-form');
  form.reset();
  form.elements.id.value = '';
  form.querySelector('button[type=submit]').textContent = t('sites.add');
  $('site-cancel').hidden = true;
}

$('site-cancel').addEventListener('click', resetSiteForm);
$('site-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const id = form.elements.id.value;
  const body = fields(form, ['name', 'address', 'lat', 'lon'], ['lat', 'lon']);
  const result = id
    ? await api('PATCH', `/api/sites/${encodeURIComponent(id)}`, body)
    : await api('POST', '/api/sites', withOwner(body));
  if (!result.ok) {
    say(messageOf(form), reason(result), { error: true });
    return;
  }
  say(messageOf(form), '');
  resetSiteForm();
  await load();
});

// -- cameras ------------------------------------------------------------------------------------

function levelOf(cameraId) {
  const found = sharing.cameras.find((item) => item.camera === cameraId);
  const camera = cameras.find((item) => item.id === cameraId);
  return (found && found.level) || (camera && camera.sharing) || null;
}

function drawCameras() {
  const siteName = new Map(sites.map((site) => [site.id, site.name]));
  const rows = [];
  for (const camera of mine(cameras)) {
    const level = levelOf(camera.id);
    const result = el('td', { colspan: 6, class: 'probe', id: `probe-${camera.id}` });
    rows.push(el('tr', { 'data-camera': camera.id },
      el('td', {}, camera.name), el('td', {}, siteName.get(camera.site) || camera.site || ''),
      el('td', {}, camera.vendor),
      el('td', {}, el('span', { class: `health ${camera.health}` }, t(`health.${camera.health}`))),
      el('td', {}, level ? t(`level.${level}`) : '–'),
      el('td', {}, el('button', {
        type: 'button', class: 'plain', 'aria-label': `${t('cams.test')} ${camera.name}`,
        onclick: (event) => probe(camera, event.target, result),
      }, t('cams.test')))));
    rows.push(el('tr', { class: 'probe-row' }, result));
  }
  $('cameras').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 6, class: 'note' }, t('cams.none')))]));
}

async function probe(camera, button, cell) {
  button.disabled = true;
  cell.replaceChildren(el('span', { class: 'note' }, t('cams.testing')));
  const result = await api('POST', `/api/cameras/${encodeURIComponent(camera.id)}/probe`, {});
  button.disabled = false;
  if (!result.ok) {
    cell.replaceChildren(el('p', { class: 'error', role: 'alert' }, reason(result)));
    return;
  }
  const steps = result.data.steps.map((step) => {
    const mark = MARKS[String(step.ok)];
    return el('li', { class: mark, 'data-mark': t(`step.${mark}`) }, `${step.name}: ${step.detail}`);
  });
  cell.replaceChildren(
    el('p', { class: result.data.ok ? 'ok' : 'error', role: 'status' },
      t(result.data.ok ? 'probe.ok' : 'probe.failed')),
    el('ul', { class: 'steps' }, steps));
}

$('camera-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const names = ['name', 'site_id', 'vendor', 'url', 'host', 'port', 'username', 'password', 'lat', 'lon'];
  const body = withOwner(fields(form, names, ['port', 'lat', 'lon']));
  const result = await api('POST', '/api/cameras', body);
  form.elements.password.value = ''; // never kept in the page longer than needed
  if (!result.ok) {
    say(messageOf(form), reason(result), { error: true });
    return;
  }
  say(messageOf(form), t('cams.added', { name: result.data.name }));
  const vendor = form.elements.vendor.value;
  form.reset();
  form.elements.vendor.value = vendor;
  await load();
});

// -- CSV import ---------------------------------------------------------------------------------

$('csv-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const file = form.elements.file.files[0];
  const table = $('csv-errors');
  table.replaceChildren();
  if (!file) return;
  const result = await api('POST', '/api/cameras/import', await file.text(), { csv: true });
  if (!result.ok) {
    say(messageOf(form), reason(result), { error: true });
    return;
  }
  const { added, updated, errors } = result.data;
  say(messageOf(form), t('csv.result', { added, updated, errors: errors.length }),
    { error: errors.length > 0 });
  if (errors.length) {
    table.append(el('table', { id: 'csv-error-table' },
      el('thead', {}, el('tr', {}, el('th', {}, t('csv.line')), el('th', {}, t('csv.field')),
        el('th', {}, t('csv.message')))),
      el('tbody', {}, errors.map((row) => el('tr', {},
        el('td', {}, row.line), el('td', {}, row.field || ''), el('td', {}, row.message))))));
  }
  form.reset();
  await load();
});

// -- NVR channels -------------------------------------------------------------------------------

$('nvr-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = fields(form, ['vendor', 'host', 'port', 'username', 'password'], ['port']);
  const button = form.querySelector('button');
  button.disabled = true;
  const result = await api('POST', '/api/devices/channels', body);
  button.disabled = false;
  const chosen = $('channels-form');
  if (!result.ok) {
    chosen.hidden = true;
    say(messageOf(form), reason(result), { error: true });
    return;
  }
  say(messageOf(form), '');
  channelDevice = { ...body, site_id: form.elements.site_id.value || undefined };
  const model = [result.data.device.make, result.data.device.model].filter(Boolean).join(' ');
  $('channels-found').textContent = t('nvr.found', { model: model || body.host, n: result.data.channels.length });
  $('channels').replaceChildren(...result.data.channels.map((channel) => el('label', { class: 'inline' },
    el('input', { type: 'checkbox', name: 'channel', value: channel.number, 'data-name': channel.name || '', checked: true }),
    t('nvr.channel', { number: channel.number, name: channel.name || '' }))));
  chosen.hidden = false;
});

$('channels-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  let added = 0;
  for (const box of form.querySelectorAll('input[name=channel]:checked')) {
    const number = Number(box.value);
    const name = box.dataset.name || `${channelDevice.host} ${number}`;
    const body = withOwner({ ...channelDevice, name, options: { channel: number } });
    const result = await api('POST', '/api/cameras', body);
    if (!result.ok) {
      say(messageOf(form), `${name}: ${reason(result)}`, { error: true });
      break;
    }
    added += 1;
    say(messageOf(form), t('nvr.added', { n: added }));
  }
  await load();
});

// -- sharing ------------------------------------------------------------------------------------

function drawSharing() {
  const writable = me.access.includes('sharing:write');
  const shown = mine(sharing.cameras);
  $('levels').replaceChildren(...shown.map((item) => {
    const camera = cameras.find((c) => c.id === item.camera);
    return el('tr', { 'data-level': item.level, 'data-camera': item.camera },
      el('td', {}, camera ? camera.name : item.camera), el('td', {}, t(`level.${item.level}`)),
      el('td', { class: 'note' }, item.until ? t('share.until', { date: item.until.slice(0, 10) }) : ''));
  }));
  const scope = $('share-scope');
  const chosen = scope.value;
  scope.replaceChildren(el('option', { value: '' }, t('share.all')),
    ...mine(cameras).map((camera) => el('option', { value: camera.id }, camera.name)));
  scope.value = chosen;
  $('agreements').replaceChildren(...mine(sharing.agreements).map((agreement) => el('tr', {},
    el('td', {}, agreement.camera || t('share.all')),
    el('td', {}, t(`level.${agreement.level}`)), el('td', {}, t(`purpose.${agreement.purpose}`)),
    el('td', {}, agreement.ends_at ? agreement.ends_at.slice(0, 10) : t('share.noend')),
    el('td', { 'data-status': agreement.status }, t(`status.${agreement.status}`)),
    el('td', {}, writable && ['in_force', 'pending'].includes(agreement.status)
      ? revokeForm(agreement) : ''))));
  $('share-form').hidden = !writable;
}

function revokeForm(agreement) {
  const id = `revoke-${agreement.id}`;
  return el('form', { class: 'revoke', onsubmit: async (event) => {
    event.preventDefault();
    const reasonText = event.target.elements.reason.value.trim();
    const result = await api('POST', `/api/sharing/${encodeURIComponent(agreement.id)}/revoke`, { reason: reasonText });
    if (!result.ok) say(event.target.querySelector('.message'), reason(result), { error: true });
    else await load();
  } },
  el('label', { for: id, class: 'visually-hidden' }, t('share.reason')),
  el('input', { id, name: 'reason', type: 'text', placeholder: t('share.reason'), required: true }),
  el('button', { type: 'submit', class: 'plain' }, t('share.revoke')),
  el('p', { class: 'message', role: 'alert' }));
}

$('share-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = fields(form, ['level', 'purpose', 'signed_by', 'starts_at'], []);
  if (form.elements.camera.value) body.camera = form.elements.camera.value;
  body.ends_at = form.elements.open_ended.checked ? null : (form.elements.ends_at.value || undefined);
  if (body.ends_at === undefined) delete body.ends_at; // the hub then says what is missing
  const result = await api('POST', '/api/sharing', withOwner(body, 'owner'));
  if (!result.ok) {
    say(messageOf(form), reason(result), { error: true });
    return;
  }
  say(messageOf(form), t('share.saved'));
  await load();
});

function fillChoices() {
  $('share-level').replaceChildren(...LEVELS.map((level) => el('option', { value: level }, t(`level.${level}`))));
  $('share-purpose').replaceChildren(...PURPOSES.map((p) => el('option', { value: p }, t(`purpose.${p}`))));
  $('share-ends').addEventListener('change', () => { $('share-noend').checked = false; });
}

applyTexts();
fillChoices();
me = await caller();
if (me) {
  $('acting').hidden = Boolean(me.owner);
  ownerInput.addEventListener('change', load);
  await load();
}
