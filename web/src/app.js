// Terril's territorial map: MapLibre GL JS on this server's tiles, styles, glyphs and sprites,
// in French or English, with search, the tourism office's destinations, "Autour d'ici"
// (features within a radius), the planners' "near" table, a distance tool, PNG/print export
// and the embed dialog.
import * as maplibregl from './maplibre-gl.mjs';
import { LANGUAGES, Words } from './i18n.js';
import { setupShare } from './share.js';

const VIEWS = ['territoire', 'tourisme', 'planification'];
const SITE_LAYERS = ['tourism', 'zones', 'campuses', 'infrastructure'];
const HIDDEN = new Set(['name', 'id', 'population_year', 'subtype']);
/** Fields shown on the card itself; the rest goes under "Position, source et détails". */
const MAIN_FIELDS = ['insee', 'commune_name', 'epci_name', 'population', 'density', 'area_km2', 'communes', 'institution', 'sector', 'field', 'ref', 'uic_ref', 'distance_m', 'target_name'];
/** Theme codes and their icons, in the list's order. */
const THEME_ICONS = { CULTURE: 'museum', MEMOIRE: 'memorial', NATURE: 'park', SPORT: 'stadium' };
const INTERACTIVE = {
  territoire: ['zones-icons', 'campuses-icons', 'infrastructure-icons', 'infrastructure-lines', 'communes-fill'],
  tourisme: ['tourism-icons', 'tourism-labels', 'communes-fill'],
  planification: ['zones-icons', 'infrastructure-icons', 'campuses-icons', 'infrastructure-lines', 'communes-fill'],
};
const TARGETS = {
  motorway_junction: "kind = 'motorway_junction'",
  rail_station: "kind = 'rail_station'",
  canal: "kind IN ('canal_junction', 'canal_end')",
};

const params = new URLSearchParams(location.search);
const view = VIEWS.includes(params.get('view')) ? params.get('view') : 'territoire';
const embedded = location.pathname === '/embed';
const words = new Words(chosenLanguage());
const t = (key, ...args) => words.t(key, ...args);
document.body.dataset.view = view;
document.body.classList.toggle('embed', embedded);

/** `?lang=` first, then the language chosen last time, then French. */
function chosenLanguage() {
  const asked = params.get('lang');
  try {
    if (LANGUAGES.includes(asked)) {
      localStorage.setItem('terril.lang', asked);
      return asked;
    }
    const kept = localStorage.getItem('terril.lang');
    if (LANGUAGES.includes(kept)) return kept;
  } catch {
    // Storage may be disabled: the URL still decides.
    if (LANGUAGES.includes(asked)) return asked;
  }
  return 'fr';
}

const $ = (id) => document.getElementById(id);

/** Text without accents, lower case, "œ" as "oe": "Nœux" and "noeux" match. */
export function fold(text) {
  return text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/œ/gi, 'oe').replace(/æ/gi, 'ae').toLowerCase();
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) {
    const body = await r.json().catch(() => ({}));
    throw new Error(body.description || `${r.status} ${url}`);
  }
  return r.json();
}

// --- language ----------------------------------------------------------------------------
function translatePage() {
  document.documentElement.lang = words.lang;
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const [data, attr] of [['i18nPlaceholder', 'placeholder'], ['i18nAriaLabel', 'aria-label'], ['i18nContent', 'content']]) {
    for (const node of document.querySelectorAll(`[data-${data.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}]`)) {
      node.setAttribute(attr, t(node.dataset[data]));
    }
  }
  $('lang-switch').lang = words.lang === 'fr' ? 'en' : 'fr';
  for (const option of $('planner-layer').options) option.textContent = t(`planner.layer.${option.value}`);
}

function setupLanguageSwitch() {
  $('lang-switch').addEventListener('click', () => {
    const next = words.lang === 'fr' ? 'en' : 'fr';
    try { localStorage.setItem('terril.lang', next); } catch { /* the URL carries it */ }
    const p = new URLSearchParams(location.search);
    p.set('lang', next);
    location.href = `${location.pathname}?${p}${location.hash}`;
  });
}

// --- the map -----------------------------------------------------------------------------
translatePage();
// A "#site=…" link opens the map on that site's card; MapLibre keeps zoom/lat/lon hashes.
const siteFromHash = siteInHash();
function siteInHash() {
  const m = location.hash.match(/^#site=([\w.-]+)$/);
  return m ? decodeURIComponent(m[1]) : null;
}

const map = new maplibregl.Map({
  container: 'map',
  hash: true,
  minZoom: 7,
  maxZoom: 18,
  attributionControl: { compact: embedded },
  cooperativeGestures: embedded,
  locale: words.maplibre(),
});
// The styles credit their sources in French: the credit's own words follow the page's language.
map.setStyle(`/styles/${view}.json`, {
  transformStyle: (_, style) => {
    for (const source of Object.values(style.sources)) {
      if (source.attribution) source.attribution = source.attribution.replace('sites : Wikipédia et sources citées', t('attribution.sites'));
    }
    return style;
  },
});
window.terrilMap = map;
map.addControl(new maplibregl.NavigationControl(), 'top-right');
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
map.on('error', (e) => console.error('map error:', e.error && e.error.message));

// When the first tiles are painted, for the page's own timing (Performance API).
let tileArrived = false;
map.on('data', (e) => { if (e.dataType === 'source' && e.tile) tileArrived = true; });
map.on('render', function firstTiles() {
  if (!tileArrived) return;
  map.off('render', firstTiles);
  performance.mark('terril:first-tiles');
});

// --- views, panel ------------------------------------------------------------------------
for (const a of document.querySelectorAll('.views a')) {
  if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
  a.href = `?view=${a.dataset.view}&lang=${words.lang}`;
  a.addEventListener('click', (e) => {
    e.preventDefault();
    location.href = `${a.getAttribute('href')}${location.hash.startsWith('#site=') ? '' : location.hash}`;
  });
}
$('panel-toggle').addEventListener('click', () => {
  const collapsed = $('panel').classList.toggle('collapsed');
  $('panel-toggle').setAttribute('aria-expanded', String(!collapsed));
});

function legendItem(swatchClass, text, colour) {
  const swatch = el('span', { class: `swatch ${swatchClass}` });
  if (colour) swatch.style.background = colour;
  return el('div', { class: 'legend-item' }, swatch, el('span', {}, text));
}

function iconItem(icon, text) {
  const img = el('img', { class: 'legend-icon', alt: '', src: `/assets/icons/${icon}.svg` });
  return el('div', { class: 'legend-item' }, img, el('span', {}, text));
}

function buildLegend() {
  const body = $('legend-body');
  if (view === 'territoire') {
    body.append(el('p', { class: 'hint' }, t('legend.density')));
    const colours = ['#fff5d6', '#fde3a7', '#f9c46b', '#f08c3a', '#c8501e'];
    colours.forEach((colour, i) => body.append(legendItem('', t(`legend.density.${i + 1}`), colour)));
    body.append(legendItem('line-epci', t('legend.epci')), legendItem('line-pole', t('legend.pole')), legendItem('line-a21', t('legend.a21')));
    body.append(iconItem('zone', t('legend.zone')), iconItem('campus', t('legend.campus')), iconItem('station', t('legend.station')), iconItem('junction', t('legend.junction')));
  } else if (view === 'planification') {
    body.append(iconItem('zone', t('legend.zone')), iconItem('port', t('legend.port')), iconItem('junction', t('legend.motorwayJunction')),
      iconItem('station', t('legend.station')), iconItem('canal', t('legend.canal')), iconItem('campus', t('legend.campus')));
    body.append(legendItem('line-a21', t('legend.a21')));
  }
  body.append(el('p', { class: 'hint' }, t('legend.quality')));
  body.append(legendItem('ring site', words.quality('site')), legendItem('ring proxy', words.quality('proxy')), legendItem('ring centre', words.quality('commune_centre')));
}

// --- cards (popups) ----------------------------------------------------------------------
function formatValue(key, value) {
  if (key === 'location_quality') return el('span', { class: `quality ${value}` }, words.quality(value));
  if (key === 'theme' || key === 'secondary_theme') return words.theme(value);
  if (key === 'kind') return words.kind(value);
  if (typeof value === 'boolean') return value ? t('yes') : t('no');
  if (typeof value === 'number') return key.endsWith('_year') || key === 'opened_year' ? String(value) : words.number.format(value);
  const coded = words.value(key, value);
  if (coded) return coded;
  if (key === 'source') {
    const span = el('span', { lang: 'fr' });
    String(value).split(/\s;\s/).forEach((part, i) => {
      if (i) span.append(' ; ');
      const url = part.match(/https?:\/\/\S+/);
      if (url) {
        span.append(part.slice(0, url.index));
        span.append(el('a', { href: url[0], target: '_blank', rel: 'noopener noreferrer' }, url[0]));
        span.append(part.slice(url.index + url[0].length));
      } else {
        span.append(part);
      }
    });
    return span;
  }
  // Names, notes and other data stay in French.
  return el('span', { lang: 'fr' }, String(value));
}

/** The link that opens the map on a site's card. */
function siteLink(layer, id) {
  const linkView = layer === 'tourism' ? 'tourisme' : view;
  return `${location.origin}/?view=${linkView}&lang=${words.lang}#site=${encodeURIComponent(id)}`;
}

/** Copies `text`; false when the browser would not. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Without the clipboard API (a page served over plain HTTP, a frame without
    // clipboard-write): copy from a selected field, if the browser still allows it.
    const area = el('textarea', { readonly: true, class: 'sr-only' });
    area.value = text;
    document.body.append(area);
    area.select();
    let done = false;
    try { done = document.execCommand('copy'); } catch { done = false; }
    area.remove();
    return done;
  }
}

/** Says something to screen readers (and shows it where the page has room). */
export function announce(text) {
  $('status').textContent = text;
}

/** Runs an action started by a click, showing its failure instead of leaving it in the console. */
function attempt(promise) {
  promise.catch((e) => announce(t('error', e.message)));
}

/** A compact card: name, what it is and its theme, where; the position, source and other facts folded. */
export function cardContent(layer, feature) {
  const p = feature.properties;
  const box = el('div', { class: 'card' });
  box.append(el('h3', { lang: 'fr' }, p.name || String(feature.id)));
  const what = [p.kind ? words.kind(p.kind) : words.layer(layer)];
  const badges = [p.theme, p.secondary_theme].filter(Boolean).map((code) => el('span', { class: 'theme-badge' },
    THEME_ICONS[code] ? el('img', { class: 'legend-icon', alt: '', src: `/assets/icons/${THEME_ICONS[code]}.svg` }) : null, words.theme(code)));
  box.append(el('p', { class: 'what' }, what.join(' · '), ...badges));
  const main = el('table', { class: 'main' });
  const rest = el('table');
  for (const [k, v] of Object.entries(p)) {
    if (HIDDEN.has(k) || k === 'kind' || k === 'theme' || k === 'secondary_theme' || v === null || v === '') continue;
    if (k === 'epci' && p.epci_name) continue;
    if (k === 'commune' && p.commune_name) continue;
    const row = el('tr', {}, el('th', { scope: 'row' }, words.field(k)), el('td', {}, formatValue(k, v)));
    (MAIN_FIELDS.includes(k) ? main : rest).append(row);
  }
  if (p.population_year && p.population !== undefined) {
    main.append(el('tr', {}, el('th', { scope: 'row' }, words.field('population_year')), el('td', {}, String(p.population_year))));
  }
  if (main.rows.length) box.append(main);
  if (rest.rows.length) box.append(el('details', {}, el('summary', {}, t('card.details')), rest));
  if (SITE_LAYERS.includes(layer)) {
    const link = siteLink(layer, feature.id);
    const button = el('button', { type: 'button', class: 'copy-link', 'data-link': link }, t('card.link'));
    button.addEventListener('click', async () => {
      const copied = await copyText(link);
      announce(copied ? t('card.linkCopied') : t('copy.failed'));
      if (copied) {
        button.textContent = t('card.linkCopied');
      } else {
        // Left to the reader to copy: the link, selected.
        const field = el('input', { type: 'text', readonly: true, 'aria-label': t('card.link'), class: 'link-field' });
        field.value = link;
        button.replaceWith(field);
        field.select();
      }
    });
    box.append(el('p', { class: 'card-actions' }, button));
  }
  return box;
}

let popup = null;
/** Opens a feature's card at `lngLat`; the card takes the keyboard focus and gives it back. */
async function showCard(lngLat, layer, idOrFeature) {
  const opener = document.activeElement;
  const openerSite = opener?.dataset?.site;
  popup?.remove();
  popup = new maplibregl.Popup({ maxWidth: '22rem', className: 'terril-card', focusAfterOpen: false })
    .setLngLat(lngLat).setDOMContent(el('p', {}, t('loading'))).addTo(map);
  const mine = popup;
  mine.getElement().addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    e.stopPropagation();
    mine.remove();
  });
  mine.on('close', () => {
    // Back where the card was opened from (the list may have been drawn again meanwhile),
    // unless another card replaced this one or the focus went elsewhere.
    if (popup !== mine || (document.activeElement !== document.body && !mine.getElement().contains(document.activeElement))) return;
    const back = opener?.isConnected && opener !== document.body ? opener
      : openerSite ? $('destinations-body').querySelector(`button[data-site="${CSS.escape(openerSite)}"]`) : null;
    back?.focus();
  });
  try {
    const feature = typeof idOrFeature === 'object' ? idOrFeature : await getJSON(`/collections/${layer}/items/${encodeURIComponent(idOrFeature)}`);
    if (mine === popup) {
      mine.setDOMContent(cardContent(layer, feature));
      document.body.dataset.card = String(feature.id);
    }
  } catch (e) {
    mine.setDOMContent(el('p', {}, t('error', e.message)));
  }
  // MapLibre names its close button only when the popup is first drawn: name the new one.
  const close = mine.getElement()?.querySelector('.maplibregl-popup-close-button');
  close?.setAttribute('aria-label', words.maplibre()['Popup.Close']);
  // Keyboard users land on the card; a click on the map leaves the focus where it was.
  if (mine === popup && opener && opener !== document.body && opener !== map.getCanvas()) close?.focus();
}

function pointOf(geometry) {
  if (geometry.type === 'Point') return geometry.coordinates;
  const [w, s, e, n] = bboxOf(geometry);
  return [(w + e) / 2, (s + n) / 2];
}

/** Flies to a site (or jumps, when the page opens on it) and opens its card. */
async function openSite(layer, id, { jump = false } = {}) {
  const feature = await getJSON(`/collections/${layer}/items/${encodeURIComponent(id)}`);
  const center = pointOf(feature.geometry);
  const zoom = Math.max(map.getZoom(), 13);
  if (jump) map.jumpTo({ center, zoom });
  else map.flyTo({ center, zoom, duration: 900 });
  await showCard(center, layer, feature);
}

/** Opens the card of the site `id`, whatever its layer: ids are unique over the site layers. */
async function openSiteFromHash(id) {
  await indexReady;
  const entry = index.find((e) => e.layer !== 'communes' && String(e.id) === id);
  if (entry) await openSite(entry.layer, id, { jump: true });
  else announce(t('error', `${id} ?`));
}

// --- search ------------------------------------------------------------------------------
let index = [];
let indexReady = null;
async function loadSearchIndex() {
  const layers = ['communes', ...SITE_LAYERS];
  const all = await Promise.all(layers.map((l) => getJSON(`/collections/${l}/items?limit=10000&properties=name`)));
  index = [];
  all.forEach((fc, i) => {
    for (const f of fc.features) {
      const name = f.properties.name;
      if (!name) continue;
      index.push({ name, folded: fold(name), layer: layers[i], id: f.id, bbox: bboxOf(f.geometry) });
    }
  });
  document.body.dataset.searchReady = 'true';
}

export function bboxOf(geometry) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]); b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]);
    } else c.forEach(walk);
  };
  walk(geometry.coordinates);
  return b;
}

function search(query) {
  const q = fold(query.trim());
  if (q.length < 2) return [];
  return index
    .filter((e) => e.folded.includes(q))
    .sort((a, b) => (b.folded.startsWith(q) - a.folded.startsWith(q)) || (a.layer === 'communes' ? -1 : 0) - (b.layer === 'communes' ? -1 : 0) || a.name.localeCompare(b.name, 'fr'))
    .slice(0, 8);
}

function flyTo(entry) {
  const [w, s, e, n] = entry.bbox;
  if (w === e && s === n) map.flyTo({ center: [w, s], zoom: 14 });
  else map.fitBounds([[w, s], [e, n]], { padding: 40, maxZoom: 14, duration: 800 });
  document.body.dataset.lastFound = entry.name;
}

function setupSearch() {
  const input = $('search');
  const list = $('search-results');
  let results = [];
  let active = -1;
  const render = () => {
    list.replaceChildren(...results.map((r, i) => el('li', {
      role: 'option', id: `result-${i}`, 'aria-selected': String(i === active),
      onmousedown: (e) => { e.preventDefault(); choose(i); },
    }, el('span', { lang: 'fr' }, r.name), el('span', { class: 'kind' }, words.layer(r.layer)))));
    list.hidden = results.length === 0;
    input.setAttribute('aria-expanded', String(!list.hidden));
    if (active >= 0) input.setAttribute('aria-activedescendant', `result-${active}`);
    else input.removeAttribute('aria-activedescendant');
  };
  const choose = (i) => {
    const r = results[i];
    if (!r) return;
    input.value = r.name;
    results = [];
    active = -1;
    render();
    flyTo(r);
  };
  input.addEventListener('input', () => { results = search(input.value); active = results.length ? 0 : -1; render(); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { active = Math.min(active + 1, results.length - 1); render(); e.preventDefault(); }
    else if (e.key === 'ArrowUp') { active = Math.max(active - 1, 0); render(); e.preventDefault(); }
    else if (e.key === 'Enter') { choose(Math.max(active, 0)); e.preventDefault(); }
    else if (e.key === 'Escape') { results = []; render(); }
  });
  input.addEventListener('blur', () => { results = []; render(); });
}

// --- overlays ----------------------------------------------------------------------------
const EMPTY = { type: 'FeatureCollection', features: [] };
function setOverlay(id, data) {
  const source = map.getSource(id);
  if (source) source.setData(data);
}

/** Great-circle distance in metres between two lon/lat points (WGS84 mean radius). */
export function haversine([lon1, lat1], [lon2, lat2]) {
  const R = 6371008.8;
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * R * Math.asin(Math.sqrt(a));
}

function circle(lon, lat, radius) {
  // A geodesic-enough circle on the sphere, 64 vertices.
  const R = 6371008.8;
  const d = radius / R;
  const φ1 = (lat * Math.PI) / 180;
  const λ1 = (lon * Math.PI) / 180;
  const ring = [];
  for (let i = 0; i <= 64; i++) {
    const θ = (2 * Math.PI * i) / 64;
    const φ2 = Math.asin(Math.sin(φ1) * Math.cos(d) + Math.cos(φ1) * Math.sin(d) * Math.cos(θ));
    const λ2 = λ1 + Math.atan2(Math.sin(θ) * Math.sin(d) * Math.cos(φ1), Math.cos(d) - Math.sin(φ1) * Math.sin(φ2));
    ring.push([(λ2 * 180) / Math.PI, (φ2 * 180) / Math.PI]);
  }
  return { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [ring] } };
}

// --- map modes: "Autour d'ici" picks a point, the measuring tool adds vertices -------------
let mode = null; // null | 'around' | 'measure'
function setMode(next) {
  mode = next;
  $('around-pick').setAttribute('aria-pressed', String(mode === 'around'));
  $('measure-toggle').setAttribute('aria-pressed', String(mode === 'measure'));
  document.body.classList.toggle('picking', mode !== null);
}

async function around(lon, lat, radius) {
  setOverlay('around-area', { type: 'FeatureCollection', features: [circle(lon, lat, radius)] });
  $('around-summary').textContent = t('searching');
  const layers = view === 'tourisme' ? ['tourism'] : SITE_LAYERS.filter((l) => l !== 'tourism').concat('tourism');
  const answers = await Promise.all(layers.map((l) => getJSON(`/query/within?layer=${l}&lon=${lon.toFixed(6)}&lat=${lat.toFixed(6)}&radius_m=${radius}`)));
  const hits = answers.flatMap((fc) => fc.features).sort((a, b) => a.properties.distance_m - b.properties.distance_m);
  $('around-summary').textContent = hits.length ? t('around.summary', hits.length, words.metres(radius)) : t('around.none', words.metres(radius));
  $('around-results').replaceChildren(...hits.map((f) => el('li', {},
    el('button', { type: 'button', class: 'link', lang: 'fr', onclick: () => attempt(openSite(f.layer, f.id)) }, f.properties.name || f.id),
    ' ', el('span', { class: 'dist' }, `${words.metres(f.properties.distance_m)} · ${words.layer(f.layer)}`))));
  document.body.dataset.aroundDone = String(Date.now());
}

let measured = [];
function drawMeasure() {
  const features = measured.map((c) => ({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: c } }));
  if (measured.length > 1) features.push({ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: measured } });
  setOverlay('measure', { type: 'FeatureCollection', features });
  let total = 0;
  for (let i = 1; i < measured.length; i++) total += haversine(measured[i - 1], measured[i]);
  $('measure-total').textContent = measured.length ? t('measure.total', words.metres(total), measured.length) : '';
  document.body.dataset.measuredM = String(Math.round(total));
}

function setupModes() {
  $('around-pick').addEventListener('click', () => setMode(mode === 'around' ? null : 'around'));
  $('measure-toggle').addEventListener('click', () => setMode(mode === 'measure' ? null : 'measure'));
  $('measure-clear').addEventListener('click', () => { measured = []; drawMeasure(); });
  // From the keyboard: with the map focused, Enter uses the map's centre; Escape leaves the mode.
  map.getCanvas().addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && mode) {
      const c = map.getCenter();
      pick(c.lng, c.lat);
      e.preventDefault();
    }
  });
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && mode) setMode(null); });
}

function pick(lng, lat) {
  if (mode === 'around') {
    around(lng, lat, Number($('around-radius').value)).catch((err) => { $('around-summary').textContent = t('error', err.message); });
  } else if (mode === 'measure') {
    measured.push([Number(lng.toFixed(6)), Number(lat.toFixed(6))]);
    drawMeasure();
  }
}

// --- planner -----------------------------------------------------------------------------
let lastNear = null;
const COLUMNS = [
  ['name', 'col.name', (f) => f.properties.name || String(f.id)],
  ['kind', 'col.kind', (f) => words.kind(f.properties.kind)],
  ['commune', 'col.commune', (f) => f.properties.commune_name || ''],
  ['target', 'col.target', (f) => f.properties.target_name || ''],
  ['distance', 'col.distance', (f) => f.properties.distance_m],
];
let sortBy = { column: 'distance', ascending: true };

async function near() {
  const layer = $('planner-layer').value;
  const target = $('planner-target').value;
  const distance = Number($('planner-distance').value);
  const url = `/query/near?layer=${layer}&target=infrastructure&distance_m=${distance}&target_filter=${encodeURIComponent(TARGETS[target])}`;
  $('planner-summary').textContent = t('searching');
  try {
    lastNear = await getJSON(url);
  } catch (e) {
    $('planner-summary').textContent = t('error', e.message);
    return;
  }
  lastNear.layer = layer;
  const hits = lastNear.features;
  setOverlay('near-results', lastNear);
  $('planner-summary').textContent = t('planner.summary', hits.length, words.metres(distance));
  renderNearTable();
  $('planner-geojson').disabled = hits.length === 0;
  $('planner-csv').disabled = hits.length === 0;
  if (hits.length) {
    const b = hits.map((f) => bboxOf(f.geometry)).reduce((a, c) => [Math.min(a[0], c[0]), Math.min(a[1], c[1]), Math.max(a[2], c[2]), Math.max(a[3], c[3])]);
    flyTo({ name: 'near', bbox: b });
  }
}

function renderNearTable() {
  const table = $('planner-table');
  const hits = lastNear ? [...lastNear.features] : [];
  table.hidden = hits.length === 0;
  const [, , key] = COLUMNS.find(([id]) => id === sortBy.column);
  const collator = new Intl.Collator(words.lang);
  hits.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    const order = typeof x === 'number' ? x - y : collator.compare(x, y);
    return sortBy.ascending ? order : -order;
  });
  const head = COLUMNS.map(([id, label]) => {
    const sorted = sortBy.column === id ? (sortBy.ascending ? 'ascending' : 'descending') : 'none';
    const button = el('button', { type: 'button', class: 'sort', 'data-column': id }, t(label),
      el('span', { class: 'arrow', 'aria-hidden': 'true' }, sorted === 'ascending' ? ' ▲' : sorted === 'descending' ? ' ▼' : ''));
    button.addEventListener('click', () => {
      sortBy = { column: id, ascending: sortBy.column === id ? !sortBy.ascending : true };
      renderNearTable();
      table.querySelector(`button.sort[data-column="${id}"]`).focus();
    });
    return el('th', { scope: 'col', 'aria-sort': sorted === 'none' ? null : sorted, class: id === 'distance' ? 'num' : null }, button);
  });
  table.tHead.rows[0].replaceChildren(...head);
  table.tBodies[0].replaceChildren(...hits.map((f) => {
    const row = el('tr', { 'data-id': String(f.id) },
      el('td', {}, el('button', { type: 'button', class: 'link', lang: 'fr', onclick: () => attempt(openSite(lastNear.layer, f.id)) }, f.properties.name || f.id)),
      el('td', {}, words.kind(f.properties.kind)),
      el('td', { lang: 'fr' }, f.properties.commune_name || ''),
      el('td', { lang: 'fr' }, f.properties.target_name || ''),
      el('td', { class: 'num' }, words.metres(f.properties.distance_m)));
    const on = () => { setOverlay('near-hover', { type: 'FeatureCollection', features: [f] }); row.classList.add('hover'); document.body.dataset.highlighted = String(f.id); };
    const off = () => { setOverlay('near-hover', EMPTY); row.classList.remove('hover'); delete document.body.dataset.highlighted; };
    row.addEventListener('mouseenter', on);
    row.addEventListener('mouseleave', off);
    row.addEventListener('focusin', on);
    row.addEventListener('focusout', off);
    return row;
  }));
}

function download(name, type, body) {
  const url = URL.createObjectURL(body instanceof Blob ? body : new Blob([body], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function csv(fc) {
  const cols = ['id', 'name', 'kind', 'commune_name', 'distance_m', 'target_id', 'target_name', 'lon', 'lat', 'location_quality', 'source'];
  const quote = (v) => {
    const s = v === undefined || v === null ? '' : String(v);
    return /[",\n;]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const lines = [cols.join(',')];
  for (const f of fc.features) {
    const [lon, lat] = pointOf(f.geometry);
    const row = { ...f.properties, id: f.id, lon, lat };
    lines.push(cols.map((c) => quote(row[c])).join(','));
  }
  return `${lines.join('\n')}\n`;
}

function setupPlanner() {
  $('planner-form').addEventListener('submit', (e) => { e.preventDefault(); near(); });
  const plain = () => ({ type: 'FeatureCollection', features: lastNear.features });
  $('planner-geojson').addEventListener('click', () => lastNear && download('terril-proximite.geojson', 'application/geo+json', JSON.stringify(plain())));
  $('planner-csv').addEventListener('click', () => lastNear && download('terril-proximite.csv', 'text/csv', csv(lastNear)));
}

// --- tourism: themes and destinations ----------------------------------------------------
const shownThemes = new Set(Object.keys(THEME_ICONS));
let destinations = [];

function applyThemes() {
  const filter = ['all', ['==', ['geometry-type'], 'Point'], ['in', ['get', 'theme'], ['literal', [...shownThemes]]]];
  for (const id of ['tourism-icons', 'tourism-labels', 'tourism-halo']) if (map.getLayer(id)) map.setFilter(id, filter);
  renderDestinations();
}

function setupThemes() {
  const body = $('themes-body');
  for (const [code, icon] of Object.entries(THEME_ICONS)) {
    const box = el('input', { type: 'checkbox', id: `theme-${code}`, value: code, checked: true });
    box.addEventListener('change', () => {
      if (box.checked) shownThemes.add(code); else shownThemes.delete(code);
      applyThemes();
    });
    body.append(el('label', { class: 'theme-toggle', for: `theme-${code}` }, box, el('img', { class: 'legend-icon', alt: '', src: `/assets/icons/${icon}.svg` }), words.theme(code)));
  }
}

async function loadDestinations() {
  const fc = await getJSON('/collections/tourism/items?limit=1000');
  destinations = fc.features.filter((f) => f.geometry && f.geometry.type === 'Point');
  renderDestinations();
  map.on('moveend', renderDestinations);
}

/** The sites of the shown themes inside the visible part of the map, grouped by theme. */
function renderDestinations() {
  if (view !== 'tourisme' || destinations.length === 0) return;
  const bounds = map.getBounds();
  const focused = document.activeElement?.dataset?.site;
  const collator = new Intl.Collator('fr');
  const groups = [];
  let shown = 0;
  for (const [code, icon] of Object.entries(THEME_ICONS)) {
    if (!shownThemes.has(code)) continue;
    const sites = destinations
      .filter((f) => f.properties.theme === code && bounds.contains(f.geometry.coordinates))
      .sort((a, b) => collator.compare(a.properties.name, b.properties.name));
    if (sites.length === 0) continue;
    shown += sites.length;
    const heading = el('h3', { id: `destinations-${code}` }, el('img', { class: 'legend-icon', alt: '', src: `/assets/icons/${icon}.svg` }),
      words.theme(code), el('span', { class: 'count' }, ` · ${t('destinations.count', sites.length)}`));
    const list = el('ul', { class: 'sites', 'aria-labelledby': heading.id }, ...sites.map((f) => el('li', {},
      el('button', { type: 'button', class: 'site', 'data-site': String(f.id), onclick: () => attempt(openSite('tourism', f.id)) },
        el('span', { class: 'site-name', lang: 'fr' }, f.properties.name),
        el('span', { class: 'site-commune', lang: 'fr' }, f.properties.commune_name || '')))));
    groups.push(el('section', { class: 'theme-group', 'data-theme': code }, heading, list));
  }
  $('destinations-body').replaceChildren(...(groups.length ? groups : [el('p', { class: 'hint' }, t('destinations.none'))]));
  document.body.dataset.destinations = String(shown);
  $('destinations-status').textContent = t('destinations.count', shown);
  if (focused) $('destinations-body').querySelector(`button[data-site="${CSS.escape(focused)}"]`)?.focus();
}

// --- tile archives (PMTiles / MBTiles served with --archive) ----------------------------
const ARCHIVE_COLOURS = ['#7d3c98', '#117a65', '#b9770e', '#2e4053'];

/** Draws every layer of each archive the server lists, with a toggle per archive. */
async function addArchives() {
  const catalog = await getJSON('/catalog');
  const archives = catalog.layers.filter((l) => l.source === 'archive');
  if (archives.length === 0) return;
  const before = map.getStyle().layers.find((l) => l.type === 'symbol')?.id;
  const body = $('archives-body');
  for (const [i, archive] of archives.entries()) {
    const colour = ARCHIVE_COLOURS[i % ARCHIVE_COLOURS.length];
    const tilejson = await getJSON(`/tiles/${encodeURIComponent(archive.id)}.json`);
    const source = `archive-${archive.id}`;
    map.addSource(source, { type: 'vector', url: `/tiles/${encodeURIComponent(archive.id)}.json`, attribution: tilejson.attribution });
    const ids = [];
    for (const vl of tilejson.vector_layers || []) {
      const common = { source, 'source-layer': vl.id };
      const add = (suffix, type, filter, paint, layout = {}) => {
        const id = `${source}-${vl.id}-${suffix}`;
        map.addLayer({ id, type, filter, paint, layout, ...common }, before);
        ids.push(id);
      };
      if (vl.id.endsWith('_labels')) {
        // One point per polygon, to write its name once (as Terril's own label layers).
        add('label', 'symbol', ['==', ['geometry-type'], 'Point'],
          { 'text-color': colour, 'text-halo-color': 'rgba(255,255,255,0.85)', 'text-halo-width': 1.2 },
          { 'text-field': ['coalesce', ['get', 'name'], ['get', 'label'], ''], 'text-font': ['DejaVu Sans Book'], 'text-size': 11, 'text-max-width': 8 });
        continue;
      }
      add('fill', 'fill', ['==', ['geometry-type'], 'Polygon'], { 'fill-color': colour, 'fill-opacity': 0.08 });
      add('line', 'line', ['!=', ['geometry-type'], 'Point'], { 'line-color': colour, 'line-width': 1 });
      add('point', 'circle', ['==', ['geometry-type'], 'Point'], { 'circle-color': colour, 'circle-radius': 3 });
    }
    const box = el('input', { type: 'checkbox', id: `archive-${archive.id}`, checked: true });
    box.addEventListener('change', () => {
      for (const id of ids) map.setLayoutProperty(id, 'visibility', box.checked ? 'visible' : 'none');
    });
    const swatch = el('span', { class: 'swatch' });
    swatch.style.background = colour;
    body.append(el('label', { class: 'theme-toggle', for: box.id }, box, swatch, `${archive.title} (${archive.id})`));
  }
  $('archives').hidden = false;
}

// --- wiring ------------------------------------------------------------------------------
$('themes').hidden = view !== 'tourisme';
$('destinations').hidden = view !== 'tourisme';
$('planner').hidden = view !== 'planification';
$('legend').hidden = view === 'tourisme';
buildLegend();
setupLanguageSwitch();
setupSearch();
setupModes();
setupThemes();
setupPlanner();
setupShare({ map, words, view, download, copyText, announce });

map.on('load', () => {
  map.addSource('around-area', { type: 'geojson', data: EMPTY });
  map.addLayer({ id: 'around-fill', type: 'fill', source: 'around-area', paint: { 'fill-color': '#2471a3', 'fill-opacity': 0.08 } });
  map.addLayer({ id: 'around-line', type: 'line', source: 'around-area', paint: { 'line-color': '#2471a3', 'line-width': 2, 'line-dasharray': [2, 1] } });
  map.addSource('near-results', { type: 'geojson', data: EMPTY });
  map.addLayer({ id: 'near-highlight', type: 'circle', source: 'near-results', paint: {
    'circle-radius': 14, 'circle-color': 'rgba(241,196,15,0.35)', 'circle-stroke-color': '#b7950b', 'circle-stroke-width': 2.5 } });
  map.addSource('near-hover', { type: 'geojson', data: EMPTY });
  map.addLayer({ id: 'near-hover', type: 'circle', source: 'near-hover', paint: {
    'circle-radius': 20, 'circle-color': 'rgba(108,52,131,0.25)', 'circle-stroke-color': '#6c3483', 'circle-stroke-width': 3 } });
  map.addSource('measure', { type: 'geojson', data: EMPTY });
  map.addLayer({ id: 'measure-line', type: 'line', source: 'measure', filter: ['==', ['geometry-type'], 'LineString'], paint: { 'line-color': '#c0392b', 'line-width': 2.5, 'line-dasharray': [3, 2] } });
  map.addLayer({ id: 'measure-points', type: 'circle', source: 'measure', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 4.5, 'circle-color': '#fff', 'circle-stroke-color': '#c0392b', 'circle-stroke-width': 2 } });
  indexReady = loadSearchIndex();
  indexReady.catch((e) => console.error('search index:', e.message));
  if (view === 'tourisme') loadDestinations().catch((e) => console.error('destinations:', e.message));
  if (!embedded) addArchives().catch((e) => console.error('archives:', e.message));
  if (siteFromHash) attempt(openSiteFromHash(siteFromHash));
});

window.addEventListener('hashchange', () => {
  const id = siteInHash();
  if (id) attempt(openSiteFromHash(id));
});

map.once('idle', () => { document.body.dataset.ready = 'true'; });

map.on('click', (e) => {
  if (mode) {
    pick(e.lngLat.lng, e.lngLat.lat);
    return;
  }
  const layers = INTERACTIVE[view].filter((id) => map.getLayer(id));
  const hit = map.queryRenderedFeatures(e.point, { layers })[0];
  if (!hit) return;
  // Layers with numeric ids (INSEE codes) carry them as the feature id; others as `id`.
  showCard(e.lngLat, hit.sourceLayer, hit.properties.id ?? String(hit.id));
});
for (const id of INTERACTIVE[view]) {
  map.on('mouseenter', id, () => { if (!mode) map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', id, () => { map.getCanvas().style.cursor = ''; });
}
