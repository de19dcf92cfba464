// Terril's territorial map: MapLibre GL JS on this server's tiles, styles, glyphs and sprites,
// with search, "Autour d'ici" (features within a radius) and the planners' "near" tool.
import * as maplibregl from '/assets/maplibre-gl.mjs';

const VIEWS = ['territoire', 'tourisme', 'planification'];
const SITE_LAYERS = ['zones', 'campuses', 'tourism', 'infrastructure'];
const LAYER_NAMES = {
  communes: 'Commune', epci: 'Agglomération', pole: 'Pôle métropolitain', zones: 'Zone économique',
  campuses: 'Campus', tourism: 'Site touristique', infrastructure: 'Infrastructure',
};
const LABELS = {
  insee: 'Code INSEE', epci: 'Agglomération (code)', epci_name: 'Agglomération', siren: 'SIREN',
  population: 'Population', population_year: 'Année du recensement', density: 'Densité (hab./km²)',
  area_km2: 'Superficie (km²)', communes: 'Nombre de communes', kind: 'Type', subtype: 'Nature',
  theme: 'Thème', secondary_theme: 'Thème secondaire', sector: 'Secteur', institution: 'Établissement',
  field: 'Domaine', commune_name: 'Commune', commune: 'Code INSEE de la commune', ref: 'Référence',
  road: 'Route', junction_type: "Type d'échangeur", ref_confirmed: 'Numéro confirmé', uic_ref: 'Code UIC',
  area_ha: 'Surface (ha)', site_area_ha: 'Surface du site (ha)', built_area_ha: 'Surface bâtie (ha)',
  park_area_ha: 'Surface du parc (ha)', plot_area_ha: 'Surface de la parcelle (ha)', lake_area_ha: 'Surface du lac (ha)',
  water_area_ha: "Plan d'eau (ha)", building_area_m2: 'Surface bâtie (m²)', quay_length_m: 'Longueur de quai (m)',
  opened_year: "Année d'ouverture", elevation_m: 'Altitude (m)', summit_elevation_m: 'Altitude du sommet (m)',
  perimeter_m: 'Périmètre (m)', ski_slope_length_m: 'Longueur de la piste (m)', burials: 'Sépultures',
  max_error_m_estimate: 'Erreur estimée (m)', approximate: 'Géométrie approchée',
  location_quality: 'Localisation', geometry_note: 'Note sur la géométrie', source: 'Source',
  distance_m: 'Distance (m)',
};
const HIDDEN = new Set(['name', 'id', 'population_year']);
const QUALITY = {
  site: 'Sur le site',
  proxy: 'Point voisin (approché)',
  commune_centre: 'Centre de la commune : site non localisé',
};
const THEMES = { CULTURE: ['Culture', 'museum'], MEMOIRE: ['Mémoire', 'memorial'], NATURE: ['Nature', 'park'], SPORT: ['Sport', 'stadium'] };
const INTERACTIVE = {
  territoire: ['zones-icons', 'campuses-icons', 'infrastructure-icons', 'infrastructure-lines', 'communes-fill'],
  tourisme: ['tourism-icons', 'communes-fill'],
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
document.body.dataset.view = view;
document.body.classList.toggle('embed', embedded);

const $ = (id) => document.getElementById(id);
const nf = new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 1 });

/** Text without accents, lower case, "œ" as "oe": "Nœux" and "noeux" match. */
export function fold(text) {
  return text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/œ/gi, 'oe').replace(/æ/gi, 'ae').toLowerCase();
}

function metres(d) {
  return d < 1000 ? `${Math.round(d)} m` : `${nf.format(d / 1000)} km`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
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

const map = new maplibregl.Map({
  container: 'map',
  style: `/styles/${view}.json`,
  hash: true,
  minZoom: 7,
  maxZoom: 18,
  attributionControl: { compact: embedded },
  cooperativeGestures: embedded,
});
window.terrilMap = map;
map.addControl(new maplibregl.NavigationControl(), 'top-right');
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
map.on('error', (e) => console.error('map error:', e.error && e.error.message));

// --- views, panel ------------------------------------------------------------------------
for (const a of document.querySelectorAll('.views a')) {
  if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
  a.addEventListener('click', (e) => {
    e.preventDefault();
    location.href = `?view=${a.dataset.view}${location.hash}`;
  });
}
$('panel-toggle').addEventListener('click', () => {
  const collapsed = $('panel').classList.toggle('collapsed');
  $('panel-toggle').setAttribute('aria-expanded', String(!collapsed));
});

function legendItem(swatchClass, text, style) {
  const swatch = el('span', { class: `swatch ${swatchClass}` });
  if (style) swatch.style.background = style;
  return el('div', { class: 'legend-item' }, swatch, text);
}

function iconItem(icon, text) {
  const img = el('img', { class: 'legend-icon', alt: '', src: `/assets/icons/${icon}.svg` });
  return el('div', { class: 'legend-item' }, img, text);
}

function buildLegend() {
  const body = $('legend-body');
  if (view === 'territoire') {
    body.append(el('p', { class: 'hint' }, 'Densité de population (habitants/km²)'));
    const classes = [['#fff5d6', 'moins de 250'], ['#fde3a7', '250 – 500'], ['#f9c46b', '500 – 1 000'], ['#f08c3a', '1 000 – 2 000'], ['#c8501e', '2 000 et plus']];
    for (const [color, text] of classes) body.append(legendItem('', text, color));
    body.append(legendItem('line-epci', 'Agglomération (2016)'), legendItem('line-pole', 'Pôle Métropolitain'), legendItem('line-a21', 'A21, Rocade minière (tracé approché)'));
    body.append(iconItem('zone', 'Zone économique'), iconItem('campus', 'Campus'), iconItem('station', 'Gare'), iconItem('junction', 'Échangeur'));
  } else if (view === 'planification') {
    body.append(iconItem('zone', 'Zone économique'), iconItem('port', 'Port fluvial'), iconItem('junction', 'Échangeur autoroutier'), iconItem('station', 'Gare'), iconItem('canal', 'Canal'), iconItem('campus', 'Campus'));
    body.append(legendItem('line-a21', 'A21, Rocade minière (tracé approché)'));
  }
  body.append(el('p', { class: 'hint' }, 'Précision de la position des sites'));
  body.append(legendItem('ring site', QUALITY.site), legendItem('ring proxy', QUALITY.proxy), legendItem('ring centre', QUALITY.commune_centre));
}

// --- popups ------------------------------------------------------------------------------
function formatValue(key, value) {
  if (key === 'location_quality') return el('span', { class: `quality ${value}` }, QUALITY[value] || value);
  if (key === 'theme') return THEMES[value] ? THEMES[value][0] : String(value);
  if (typeof value === 'boolean') return value ? 'oui' : 'non';
  if (typeof value === 'number') return nf.format(value);
  if (key === 'source') {
    const span = el('span');
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
  return String(value).replaceAll('_', ' ');
}

function popupContent(layer, feature) {
  const p = feature.properties;
  const box = el('div', { class: 'popup' });
  box.append(el('h3', {}, p.name || feature.id));
  const rows = el('table');
  rows.append(el('tr', {}, el('th', {}, 'Couche'), el('td', {}, LAYER_NAMES[layer] || layer)));
  for (const [k, v] of Object.entries(p)) {
    if (HIDDEN.has(k) || v === null || v === '') continue;
    if (k === 'epci' && p.epci_name) continue;
    rows.append(el('tr', {}, el('th', {}, LABELS[k] || k), el('td', {}, formatValue(k, v))));
  }
  if (p.population_year && p.population !== undefined) {
    rows.append(el('tr', {}, el('th', {}, LABELS.population_year), el('td', {}, String(p.population_year))));
  }
  box.append(rows);
  return box;
}

async function showPopup(lngLat, layer, id) {
  const popup = new maplibregl.Popup({ maxWidth: '24rem' }).setLngLat(lngLat).setDOMContent(el('p', {}, 'Chargement…')).addTo(map);
  try {
    const feature = await getJSON(`/collections/${layer}/items/${encodeURIComponent(id)}`);
    popup.setDOMContent(popupContent(layer, feature));
  } catch (e) {
    popup.setDOMContent(el('p', {}, `Erreur : ${e.message}`));
  }
}

// --- search ------------------------------------------------------------------------------
let index = [];
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

function bboxOf(geometry) {
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
    }, el('span', {}, r.name), el('span', { class: 'kind' }, LAYER_NAMES[r.layer]))));
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

// --- "Autour d'ici" ----------------------------------------------------------------------
let picking = false;
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

function setOverlay(id, data) {
  const source = map.getSource(id);
  if (source) source.setData(data);
}

async function around(lon, lat, radius) {
  setOverlay('around-area', { type: 'FeatureCollection', features: [circle(lon, lat, radius)] });
  $('around-summary').textContent = 'Recherche…';
  const layers = view === 'tourisme' ? ['tourism'] : SITE_LAYERS;
  const answers = await Promise.all(layers.map((l) => getJSON(`/query/within?layer=${l}&lon=${lon.toFixed(6)}&lat=${lat.toFixed(6)}&radius_m=${radius}`)));
  const hits = answers.flatMap((fc) => fc.features).sort((a, b) => a.properties.distance_m - b.properties.distance_m);
  $('around-summary').textContent = hits.length
    ? `${hits.length} élément(s) à moins de ${metres(radius)} :`
    : `Rien à moins de ${metres(radius)}.`;
  $('around-results').replaceChildren(...hits.map((f) => el('li', {},
    el('button', { type: 'button', class: 'link', onclick: () => flyTo({ name: f.properties.name, bbox: bboxOf(f.geometry) }) }, f.properties.name || f.id),
    ' ', el('span', { class: 'dist' }, `${metres(f.properties.distance_m)} · ${LAYER_NAMES[f.layer]}`))));
  document.body.dataset.aroundDone = String(Date.now());
}

function setupAround() {
  const button = $('around-pick');
  button.addEventListener('click', () => {
    picking = !picking;
    button.setAttribute('aria-pressed', String(picking));
    document.body.classList.toggle('picking', picking);
  });
}

// --- planner -----------------------------------------------------------------------------
let lastNear = null;
async function near() {
  const layer = $('planner-layer').value;
  const target = $('planner-target').value;
  const distance = Number($('planner-distance').value);
  const url = `/query/near?layer=${layer}&target=infrastructure&distance_m=${distance}&target_filter=${encodeURIComponent(TARGETS[target])}`;
  $('planner-summary').textContent = 'Recherche…';
  try {
    lastNear = await getJSON(url);
  } catch (e) {
    $('planner-summary').textContent = `Erreur : ${e.message}`;
    return;
  }
  const hits = lastNear.features;
  setOverlay('near-results', lastNear);
  $('planner-summary').textContent = `${hits.length} résultat(s) à moins de ${metres(distance)} :`;
  $('planner-results').replaceChildren(...hits.map((f) => el('li', {},
    el('button', { type: 'button', class: 'link', onclick: () => flyTo({ name: f.properties.name, bbox: bboxOf(f.geometry) }) }, f.properties.name || f.id),
    ' ', el('span', { class: 'dist' }, `${metres(f.properties.distance_m)} de ${f.properties.target_name}`))));
  $('planner-geojson').disabled = hits.length === 0;
  $('planner-csv').disabled = hits.length === 0;
  if (hits.length) {
    const b = hits.map((f) => bboxOf(f.geometry)).reduce((a, c) => [Math.min(a[0], c[0]), Math.min(a[1], c[1]), Math.max(a[2], c[2]), Math.max(a[3], c[3])]);
    flyTo({ name: 'near', bbox: b });
  }
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
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
    const [lon, lat] = f.geometry.type === 'Point' ? f.geometry.coordinates : [(bboxOf(f.geometry)[0] + bboxOf(f.geometry)[2]) / 2, (bboxOf(f.geometry)[1] + bboxOf(f.geometry)[3]) / 2];
    const row = { ...f.properties, id: f.id, lon, lat };
    lines.push(cols.map((c) => quote(row[c])).join(','));
  }
  return `${lines.join('\n')}\n`;
}

function setupPlanner() {
  $('planner-form').addEventListener('submit', (e) => { e.preventDefault(); near(); });
  $('planner-geojson').addEventListener('click', () => lastNear && download('terril-proximite.geojson', 'application/geo+json', JSON.stringify(lastNear)));
  $('planner-csv').addEventListener('click', () => lastNear && download('terril-proximite.csv', 'text/csv', csv(lastNear)));
}

// --- tourism themes ----------------------------------------------------------------------
const shownThemes = new Set(Object.keys(THEMES));
function applyThemes() {
  const filter = ['all', ['==', ['geometry-type'], 'Point'], ['in', ['get', 'theme'], ['literal', [...shownThemes]]]];
  for (const id of ['tourism-icons', 'tourism-halo']) if (map.getLayer(id)) map.setFilter(id, filter);
}

function setupThemes() {
  const body = $('themes-body');
  for (const [code, [label, icon]] of Object.entries(THEMES)) {
    const box = el('input', { type: 'checkbox', id: `theme-${code}`, value: code, checked: '' });
    box.addEventListener('change', () => {
      if (box.checked) shownThemes.add(code); else shownThemes.delete(code);
      applyThemes();
    });
    body.append(el('label', { class: 'theme-toggle', for: `theme-${code}` }, box, el('img', { class: 'legend-icon', alt: '', src: `/assets/icons/${icon}.svg` }), label));
  }
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
      const add = (suffix, type, filter, paint) => {
        const id = `${source}-${vl.id}-${suffix}`;
        map.addLayer({ id, type, filter, paint, ...common }, before);
        ids.push(id);
      };
      add('fill', 'fill', ['==', ['geometry-type'], 'Polygon'], { 'fill-color': colour, 'fill-opacity': 0.08 });
      add('line', 'line', ['!=', ['geometry-type'], 'Point'], { 'line-color': colour, 'line-width': 1 });
      add('point', 'circle', ['==', ['geometry-type'], 'Point'], { 'circle-color': colour, 'circle-radius': 3 });
    }
    const box = el('input', { type: 'checkbox', id: `archive-${archive.id}`, checked: '' });
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
$('planner').hidden = view !== 'planification';
$('legend').hidden = view === 'tourisme';
buildLegend();
setupSearch();
setupAround();
setupThemes();
setupPlanner();

map.on('load', () => {
  map.addSource('around-area', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'around-fill', type: 'fill', source: 'around-area', paint: { 'fill-color': '#2471a3', 'fill-opacity': 0.08 } });
  map.addLayer({ id: 'around-line', type: 'line', source: 'around-area', paint: { 'line-color': '#2471a3', 'line-width': 2, 'line-dasharray': [2, 1] } });
  map.addSource('near-results', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'near-highlight', type: 'circle', source: 'near-results', paint: {
    'circle-radius': 14, 'circle-color': 'rgba(241,196,15,0.35)', 'circle-stroke-color': '#b7950b', 'circle-stroke-width': 2.5 } });
  loadSearchIndex().catch((e) => console.error('search index:', e.message));
  if (!embedded) addArchives().catch((e) => console.error('archives:', e.message));
});

map.once('idle', () => { document.body.dataset.ready = 'true'; });

map.on('click', (e) => {
  if (picking) {
    around(e.lngLat.lng, e.lngLat.lat, Number($('around-radius').value)).catch((err) => { $('around-summary').textContent = `Erreur : ${err.message}`; });
    return;
  }
  const layers = INTERACTIVE[view].filter((id) => map.getLayer(id));
  const hit = map.queryRenderedFeatures(e.point, { layers })[0];
  if (!hit) return;
  // Layers with numeric ids (INSEE codes) carry them as the feature id; others as `id`.
  showPopup(e.lngLat, hit.sourceLayer, hit.properties.id ?? String(hit.id));
});
for (const id of INTERACTIVE[view]) {
  map.on('mouseenter', id, () => { if (!picking) map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', id, () => { map.getCanvas().style.cursor = ''; });
}
