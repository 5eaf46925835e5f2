// The command center's map: each camera placed by its position (or its site's), coloured by
// health, marked by what its owner shares; no map tiles, so it works offline.
import { api, applyTexts, caller, el, reason, t } from './common.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 1000;
const HEIGHT = 700;
const MARGIN = 60;
const REFRESH_MS = 5000;
const HEALTHS = ['online', 'degraded', 'offline', 'unwatched'];
const LEVELS = ['registry', 'snapshots', 'live_incident', 'live'];

const map = document.getElementById('map');
const list = document.getElementById('cameras');
const detail = document.getElementById('detail');
const status = document.getElementById('status');
let cameras = [];
let selected = null;

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

function healthOf(camera) {
  return HEALTHS.includes(camera.health) ? camera.health : 'unknown';
}

function legend() {
  const node = document.getElementById('legend');
  node.replaceChildren();
  for (const health of HEALTHS) {
    node.append(el('span', {}, legendIcon(health, 'snapshots'), ' ', t(`health.${health}`)));
  }
  for (const level of LEVELS) {
    node.append(el('span', {}, legendIcon('unwatched', level), ' ', t(`level.${level}`)));
  }
}

function legendIcon(health, level) {
  // the legend's own little SVG, styled like the map's markers
  const holder = svg('svg', { width: 28, height: 28, viewBox: '-14 -14 28 28', 'aria-hidden': 'true' });
  holder.setAttribute('class', 'legend-icon');
  const marker = svg('g', { class: `marker ${health} ${level}` });
  marker.append(svg('circle', { class: 'ring', r: 12 }), svg('circle', { class: 'dot', r: 8 }));
  holder.append(marker);
  return holder;
}

/** Each camera with its position: its own, else its site's; null when neither is known. */
function placed(items, sites) {
  const bySite = new Map(sites.map((site) => [site.id, site]));
  return items.map((camera) => {
    let { lat, lon } = camera;
    if ((lat == null || lon == null) && camera.site && bySite.has(camera.site)) {
      ({ lat, lon } = bySite.get(camera.site));
    }
    const sharing = LEVELS.includes(camera.sharing) ? camera.sharing : 'registry';
    return { ...camera, lat, lon, sharing, positioned: lat != null && lon != null };
  });
}

/** Project lat/lon into the SVG box, fitted to the cameras' bounds (equirectangular). */
function projection(items) {
  const shown = items.filter((c) => c.positioned);
  if (shown.length === 0) return () => [WIDTH / 2, HEIGHT / 2];
  const lats = shown.map((c) => c.lat);
  const lons = shown.map((c) => c.lon);
  const [south, north] = [Math.min(...lats), Math.max(...lats)];
  const [west, east] = [Math.min(...lons), Math.max(...lons)];
  const squeeze = Math.cos(((south + north) / 2) * Math.PI / 180);
  const spanX = Math.max((east - west) * squeeze, 1e-4);
  const spanY = Math.max(north - south, 1e-4);
  const scale = Math.min((WIDTH - 2 * MARGIN) / spanX, (HEIGHT - 2 * MARGIN) / spanY);
  const offsetX = (WIDTH - spanX * scale) / 2;
  const offsetY = (HEIGHT - spanY * scale) / 2;
  return (lat, lon) => [
    offsetX + ((lon - west) * squeeze + (spanX - (east - west) * squeeze) / 2) * scale,
    offsetY + ((north - lat) + (spanY - (north - south)) / 2) * scale,
  ];
}

function label(camera) {
  return `${camera.name}: ${t(`health.${healthOf(camera)}`)}, ${t(`level.${camera.sharing}`)}`;
}

function draw() {
  const project = projection(cameras);
  const title = map.querySelector('title');
  map.replaceChildren(title);
  for (const camera of cameras.filter((c) => c.positioned)) {
    const [x, y] = project(camera.lat, camera.lon);
    const marker = svg('g', {
      class: `marker ${healthOf(camera)} ${camera.sharing}`
        + (camera.id === selected ? ' selected' : ''),
      transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`,
      tabindex: 0, role: 'button', 'aria-label': label(camera),
      'data-camera': camera.id, 'data-health': healthOf(camera),
    });
    marker.append(svg('circle', { class: 'ring', r: 16 }), svg('circle', { class: 'dot', r: 11 }));
    // a name in the right part of the map goes on the marker's left, inside the map's edge
    const name = x > WIDTH * 0.6
      ? svg('text', { x: -18, y: 5, 'text-anchor': 'end' })
      : svg('text', { x: 18, y: 5 });
    name.textContent = camera.name;
    marker.append(name);
    marker.addEventListener('click', () => choose(camera.id));
    marker.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        choose(camera.id);
      }
    });
    map.append(marker);
  }
  list.replaceChildren();
  if (cameras.length === 0) list.append(el('li', { class: 'note' }, t('map.none')));
  for (const camera of cameras) {
    const health = healthOf(camera);
    list.append(el('li', { 'data-camera': camera.id },
      el('button', {
        type: 'button', 'aria-pressed': String(camera.id === selected),
        onclick: () => choose(camera.id),
      },
      el('span', { class: `health ${health}`, 'data-health': health }, t(`health.${health}`)),
      el('span', {}, camera.name),
      camera.positioned ? null : el('span', { class: 'note' }, `(${t('map.nopos')})`))));
  }
}

function choose(id) {
  selected = id;
  draw();
  const camera = cameras.find((c) => c.id === id);
  if (!camera) return;
  const health = healthOf(camera);
  const picture = el('div', { id: 'picture' });
  detail.replaceChildren(
    el('h2', {}, camera.name),
    el('dl', {},
      el('dt', {}, t('map.owner')), el('dd', { id: 'detail-owner' }, camera.owner),
      el('dt', {}, t('map.site')), el('dd', {}, camera.site || '–'),
      el('dt', {}, t('cams.health')),
      el('dd', {}, el('span', { class: `health ${health}`, id: 'detail-health' }, t(`health.${health}`))),
      el('dt', {}, t('cams.sharing')), el('dd', { id: 'detail-sharing' }, t(`level.${camera.sharing}`))),
    el('button', { type: 'button', onclick: () => snapshot(camera, picture) }, t('map.snapshot')),
    picture,
  );
}

async function snapshot(camera, picture) {
  // Each snapshot is recorded in the audit log, so it is fetched only when asked for.
  let answer;
  try {
    answer = await fetch(`/api/cameras/${encodeURIComponent(camera.id)}/snapshot`,
      { credentials: 'same-origin' });
  } catch {
    picture.replaceChildren(el('p', { class: 'error' }, t('error.network')));
    return;
  }
  if (answer.ok && answer.headers.get('Content-Type') === 'image/jpeg') {
    const url = URL.createObjectURL(await answer.blob());
    const image = el('img', { src: url, alt: camera.name });
    image.addEventListener('load', () => URL.revokeObjectURL(url));
    picture.replaceChildren(image);
    return;
  }
  let why = `${answer.status}`;
  try {
    why = (await answer.json()).error || why;
  } catch { /* not JSON: the status says it */ }
  picture.replaceChildren(el('p', { class: 'error', role: 'alert', id: 'refusal' }, why));
}

async function refresh() {
  const [found, sites] = await Promise.all([
    api('GET', '/api/cameras'),
    api('GET', '/api/sites', undefined, { quiet401: true }),
  ]);
  if (!found.ok) {
    status.textContent = t('map.failed', { error: reason(found) });
    status.classList.add('error');
    return;
  }
  status.classList.remove('error');
  cameras = placed(found.data.cameras, sites.ok ? sites.data.sites : []);
  cameras.sort((a, b) => a.name.localeCompare(b.name));
  draw();
  const time = new Date().toLocaleTimeString(document.documentElement.lang);
  status.textContent = `${t('map.count', { n: cameras.length })} · ${t('map.updated', { time })}`;
  const camera = cameras.find((c) => c.id === selected);
  if (camera) {
    const health = document.getElementById('detail-health');
    if (health) {
      health.className = `health ${healthOf(camera)}`;
      health.textContent = t(`health.${healthOf(camera)}`);
    }
  }
}

applyTexts();
legend();
map.querySelector('title').textContent = t('map.title');
if (await caller()) {
  await refresh();
  setInterval(refresh, REFRESH_MS);
}
