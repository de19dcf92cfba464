// End-to-end tests of the map in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): a real Terril server on a free port, MapLibre rendering with software WebGL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const binary = process.env.TERRIL_BIN || path.join(root, 'target/debug/terril');
const shots = path.join(root, 'target/screenshots');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--enable-unsafe-swiftshader', '--disable-gpu-sandbox'];

let server;
let base;
let browser;

/** Starts the server binary with `args` (besides the default data) and `env`; `url` resolves to its URL. */
function startServer(args = [], env = {}) {
  const proc = spawn(binary, ['serve', '--bind', '127.0.0.1:0', '--data', path.join(root, 'geodata'), ...args], { env: { ...process.env, ...env, NO_COLOR: '1', RUST_LOG: 'terril=info' } });
  const url = new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30000);
    const read = (chunk) => {
      out += chunk;
      const m = out.replace(/\x1b\[[0-9;]*m/g, '').match(/listening on (http:\/\/[\d.:]+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    proc.stdout.on('data', read);
    proc.stderr.on('data', read);
    proc.on('exit', (code) => reject(new Error(`server exited (${code}): ${out}`)));
  });
  return { proc, url };
}

before(async () => {
  const started = startServer();
  server = started.proc;
  base = await started.url;
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
  mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

/** Opens a page, recording console errors, failed requests and every response. */
async function open(url, { viewport = { width: 1280, height: 800 }, at = base } = {}) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const log = { errors: [], failed: [], responses: [] };
  page.on('console', (m) => { if (m.type() === 'error') log.errors.push(m.text()); });
  page.on('pageerror', (e) => log.errors.push(String(e)));
  // MapLibre cancels the requests of tiles it no longer needs while the map moves
  // (net::ERR_ABORTED): a cancellation is not a failure.
  page.on('requestfailed', (r) => {
    const error = r.failure()?.errorText;
    if (error !== 'net::ERR_ABORTED') log.failed.push(`${r.url()} ${error}`);
  });
  page.on('response', (r) => log.responses.push({ url: r.url(), status: r.status(), encoding: r.headers()['content-encoding'] }));
  await page.goto(`${at}${url}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 60000 });
  return { page, context, log };
}

async function idle(page) {
  await page.evaluate(() => new Promise((resolve) => {
    const map = window.terrilMap;
    if (map.loaded() && !map.isMoving()) { map.once('idle', resolve); map.triggerRepaint(); } else map.once('idle', resolve);
  }));
}

async function feature(layer, id) {
  const r = await fetch(`${base}/collections/${layer}/items/${id}`);
  assert.equal(r.status, 200);
  return r.json();
}

async function clickAt(page, lon, lat) {
  const box = await page.locator('#map').boundingBox();
  const p = await page.evaluate(([x, y]) => window.terrilMap.project([x, y]), [lon, lat]);
  await page.mouse.click(box.x + p.x, box.y + p.y);
}

function assertClean(log, what) {
  assert.deepEqual(log.errors, [], `${what}: console errors`);
  assert.deepEqual(log.failed, [], `${what}: failed requests`);
  const bad = log.responses.filter((r) => r.status >= 400);
  assert.deepEqual(bad, [], `${what}: error responses`);
}

const AXE = readFileSync(path.join(here, '../node_modules/axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page, as "rule: targets" lines. */
async function accessibilityProblems(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
}

for (const view of ['territoire', 'tourisme', 'planification']) {
  for (const lang of ['fr', 'en']) {
    test(`the ${view} view in ${lang} renders tiles, glyphs and sprites with no error and no serious accessibility problem`, async () => {
      const { page, context, log } = await open(`/?view=${view}&lang=${lang}`);
      await idle(page);
      const ok = (pattern) => log.responses.some((r) => pattern.test(r.url) && r.status === 200);
      assert.ok(ok(/\/tiles\/\d+\/\d+\/\d+\.mvt$/), 'a tile was fetched');
      assert.ok(ok(/\/fonts\/DejaVu%20Sans%20(Book|Bold)\/\d+-\d+\.pbf$/), 'a glyph range was fetched');
      assert.ok(ok(/\/sprites\/terril(@2x)?\.png$/) && ok(/\/sprites\/terril(@2x)?\.json$/), 'the sprite was fetched');
      assert.ok(ok(/\/styles\/\w+\.json$/), 'the style was fetched');
      const rendered = await page.evaluate(() => window.terrilMap.queryRenderedFeatures().length);
      assert.ok(rendered > 50, `only ${rendered} features rendered`);
      assert.equal(await page.locator(`.views a[data-view="${view}"]`).getAttribute('aria-current'), 'page');
      assert.equal(await page.evaluate(() => document.documentElement.lang), lang);
      if (view === 'tourisme') await page.waitForFunction(() => Number(document.body.dataset.destinations) > 0);
      assert.deepEqual(await accessibilityProblems(page), [], `${view} (${lang}): axe-core`);
      await page.screenshot({ path: path.join(shots, `${view}-${lang}-desktop.png`) });
      assertClean(log, `${view} ${lang}`);
      await context.close();
      const phone = await open(`/?view=${view}&lang=${lang}`, { viewport: { width: 390, height: 800 } });
      await idle(phone.page);
      assert.ok(await phone.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scroll');
      assert.deepEqual(await accessibilityProblems(phone.page), [], `${view} (${lang}, phone): axe-core`);
      await phone.page.screenshot({ path: path.join(shots, `${view}-${lang}-phone.png`) });
      assertClean(phone.log, `${view} ${lang} phone`);
      await phone.context.close();
    });
  }
}

test('clicking a commune opens a popup with its name and INSEE code', async () => {
  const stadium = await feature('tourism', 'T08'); // inside Lens
  const [lon, lat] = stadium.geometry.coordinates;
  const { page, context, log } = await open(`/?view=territoire#12/${lat}/${lon}`);
  await idle(page);
  await clickAt(page, lon, lat);
  const popup = page.locator('.maplibregl-popup .card');
  await popup.waitFor({ timeout: 15000 });
  await page.waitForFunction(() => document.querySelector('.maplibregl-popup h3')?.textContent === 'Lens');
  const text = await popup.textContent();
  assert.match(text, /Code INSEE62498/);
  assert.match(text, /Population31\u202f415|Population31 415/);
  assert.match(text, /Source/);
  assertClean(log, 'popup');
  await context.close();
});

test('a site at a commune centre is marked as such in its popup', async () => {
  const campus = await feature('campuses', 'C01');
  assert.equal(campus.properties.location_quality, 'commune_centre');
  const [lon, lat] = campus.geometry.coordinates;
  const { page, context } = await open(`/?view=territoire#14/${lat}/${lon}`);
  await idle(page);
  await clickAt(page, lon, lat);
  // The card folds the position and the source under one summary.
  const summary = page.locator('.maplibregl-popup details summary');
  await summary.waitFor({ timeout: 15000 });
  assert.equal(await page.locator('.maplibregl-popup details').getAttribute('open'), null, 'folded at first');
  await summary.click();
  const quality = page.locator('.maplibregl-popup .quality.commune_centre');
  await quality.waitFor({ timeout: 15000 });
  assert.match(await quality.textContent(), /Centre de la commune/);
  await context.close();
});

test('the theme toggle hides and shows the MÉMOIRE sites', async () => {
  const { page, context, log } = await open('/?view=tourisme#10/50.42/2.72');
  await idle(page);
  const count = (theme) => page.evaluate((t) => window.terrilMap.queryRenderedFeatures({ layers: ['tourism-icons'] })
    .filter((f) => f.properties.theme === t).length, theme);
  assert.ok(await count('MEMOIRE') > 0, 'memorial sites are shown');
  const culture = await count('CULTURE');
  assert.ok(culture > 0);
  await page.locator('#theme-MEMOIRE').uncheck();
  await idle(page);
  assert.equal(await count('MEMOIRE'), 0, 'memorial sites are hidden');
  assert.equal(await count('CULTURE'), culture, 'other themes stay');
  await page.locator('#theme-MEMOIRE').check();
  await idle(page);
  assert.ok(await count('MEMOIRE') > 0, 'memorial sites are back');
  await page.screenshot({ path: path.join(shots, 'tourisme-themes.png') });
  assertClean(log, 'themes');
  await context.close();
});

test('"Autour d\'ici" lists the Louvre-Lens within 2 km of the Gare de Lens', async () => {
  const station = await feature('infrastructure', 'R01');
  const [lon, lat] = station.geometry.coordinates;
  const { page, context, log } = await open(`/?view=territoire#13/${lat}/${lon}`);
  await idle(page);
  await page.locator('#around-radius').selectOption('2000');
  await page.locator('#around-pick').click();
  assert.equal(await page.locator('#around-pick').getAttribute('aria-pressed'), 'true');
  await clickAt(page, lon, lat);
  await page.waitForFunction(() => document.body.dataset.aroundDone, null, { timeout: 15000 });
  const items = await page.locator('#around-results li').allTextContents();
  assert.ok(items.some((t) => t.includes('Louvre-Lens')), items.join(' | '));
  assert.ok(items.some((t) => t.includes('Gare de Lens')), 'the station itself, at 0 m');
  await page.screenshot({ path: path.join(shots, 'autour-dici.png') });
  assertClean(log, 'around');
  await context.close();
});

test('the search finds "lievin" and flies to Liévin', async () => {
  const { page, context, log } = await open('/?view=territoire');
  await page.waitForFunction(() => document.body.dataset.searchReady === 'true', null, { timeout: 15000 });
  await page.locator('#search').fill('lievin');
  const results = page.locator('#search-results li');
  await results.first().waitFor();
  const names = await results.allTextContents();
  assert.ok(names.some((n) => n.startsWith('Liévin')), names.join(' | '));
  await page.locator('#search').press('Enter');
  await page.waitForFunction(() => document.body.dataset.lastFound === 'Liévin');
  await idle(page);
  const centre = await page.evaluate(() => window.terrilMap.getCenter().toArray());
  assert.ok(Math.abs(centre[0] - 2.78) < 0.05 && Math.abs(centre[1] - 50.42) < 0.05, `centre ${centre}`);
  // Accents and ligatures on either side: "noeux" finds Nœux-les-Mines.
  await page.locator('#search').fill('noeux');
  await results.first().waitFor();
  assert.ok((await results.allTextContents()).some((n) => n.startsWith('Nœux-les-Mines')));
  assertClean(log, 'search');
  await context.close();
});

test('the planner lists zones near motorway junctions in a sortable table, highlights them and downloads them', async () => {
  const { page, context, log } = await open('/?view=planification');
  await page.locator('#planner-distance').fill('2000');
  await page.locator('#planner-form button[type=submit]').click();
  const rows = page.locator('#planner-table tbody tr');
  await rows.first().waitFor({ timeout: 15000 });
  const api = await (await fetch(`${base}/query/near?layer=zones&target=infrastructure&distance_m=2000&target_filter=${encodeURIComponent("kind = 'motorway_junction'")}`)).json();
  assert.ok(api.features.length > 1);
  assert.equal(await rows.count(), api.features.length);
  const headers = await page.locator('#planner-table thead th').allTextContents();
  assert.deepEqual(headers.map((h) => h.replace(/[▲▼]/g, '').trim()), ['Nom', 'Type', 'Commune', 'Infrastructure la plus proche', 'Distance']);
  // Nearest first, then by name when the header is pressed, then the other way.
  const ids = () => page.locator('#planner-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
  const byDistance = [...api.features].sort((a, b) => a.properties.distance_m - b.properties.distance_m).map((f) => String(f.id));
  assert.deepEqual(await ids(), byDistance);
  await page.locator('#planner-table button.sort[data-column="name"]').click();
  const collator = new Intl.Collator('fr');
  const byName = [...api.features].sort((a, b) => collator.compare(a.properties.name, b.properties.name)).map((f) => String(f.id));
  assert.deepEqual(await ids(), byName);
  assert.equal(await page.locator('#planner-table th[aria-sort="ascending"] button').getAttribute('data-column'), 'name');
  await page.keyboard.press('Enter'); // the focus stays on the header: Enter sorts again, the other way
  assert.deepEqual(await ids(), [...byName].reverse());
  assert.equal(await page.locator('#planner-table th[aria-sort="descending"] button').getAttribute('data-column'), 'name');
  // Hovering a row highlights its zone on the map.
  const first = page.locator('#planner-table tbody tr').first();
  await first.hover();
  const highlighted = await page.evaluate(() => document.body.dataset.highlighted);
  assert.equal(highlighted, await first.getAttribute('data-id'));
  const onMap = await page.evaluate(() => window.terrilMap.getSource('near-hover').serialize().data.features.map((f) => String(f.id)));
  assert.deepEqual(onMap, [highlighted]);
  const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.locator('#planner-csv').click()]);
  const csv = readFileSync(await csvDownload.path(), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'id,name,kind,commune_name,distance_m,target_id,target_name,lon,lat,location_quality,source');
  assert.equal(csv.length, api.features.length + 1);
  const [jsonDownload] = await Promise.all([page.waitForEvent('download'), page.locator('#planner-geojson').click()]);
  const geojson = JSON.parse(readFileSync(await jsonDownload.path(), 'utf8'));
  assert.equal(geojson.type, 'FeatureCollection');
  assert.deepEqual(geojson.features.map((f) => f.id), api.features.map((f) => f.id));
  await idle(page);
  await page.screenshot({ path: path.join(shots, 'planification-near.png') });
  assertClean(log, 'planner');
  await context.close();
});

test('the embed page is a bare map, and the hash keeps zoom and centre', async () => {
  const { page, context, log } = await open('/embed?view=tourisme#11/50.43/2.80');
  await idle(page);
  assert.equal(await page.locator('.bar').isVisible(), false);
  assert.equal(await page.locator('#panel').isVisible(), false);
  const [zoom, center] = await page.evaluate(() => [window.terrilMap.getZoom(), window.terrilMap.getCenter().toArray()]);
  assert.ok(Math.abs(zoom - 11) < 0.01 && Math.abs(center[1] - 50.43) < 0.001 && Math.abs(center[0] - 2.80) < 0.001);
  assertClean(log, 'embed');
  await context.close();
});

test('on a phone the panel is below the map and the page does not scroll sideways', async () => {
  const { page, context, log } = await open('/?view=territoire', { viewport: { width: 390, height: 800 } });
  await idle(page);
  const map = await page.locator('#map').boundingBox();
  const panel = await page.locator('#panel').boundingBox();
  assert.ok(panel.y >= map.y + map.height - 1, 'the panel sits under the map');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
  await page.locator('#panel-toggle').click();
  assert.equal(await page.locator('#panel').isVisible(), false);
  await page.screenshot({ path: path.join(shots, 'territoire-phone.png') });
  assertClean(log, 'phone');
  await context.close();
});

test('every style passes the MapLibre style validator', async () => {
  const list = await (await fetch(`${base}/styles`)).json();
  assert.deepEqual(list.styles.map((s) => s.id).sort(), ['planification', 'territoire', 'tourisme']);
  const validator = path.join(here, '../node_modules/.bin/gl-style-validate');
  for (const { id, url } of list.styles) {
    const file = path.join(shots, `${id}.style.json`);
    writeFileSync(file, await (await fetch(url)).text());
    // Exits non-zero and prints the problems when a style is invalid.
    execFileSync(validator, [file], { stdio: 'pipe' });
  }
});

/** A free TCP port on loopback. */
async function freePort() {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

test('an archive exported, put on S3 (moto) and served with --archive s3://… shows on the map', async () => {
  const python = process.env.TERRIL_PYTHON || 'python3';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'terril-archive-'));
  const archive = path.join(dir, 'bassin.pmtiles');
  execFileSync(binary, ['export', '--maxzoom', '12', '--layers', 'communes', '--data', path.join(root, 'geodata'), '--out', archive], { stdio: 'pipe' });
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const s3env = { AWS_ACCESS_KEY_ID: 'terril-test', AWS_SECRET_ACCESS_KEY: 'terril-test-secret', AWS_REGION: 'eu-west-3' };
  const moto = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  let proc;
  try {
    for (let i = 0; ; i++) {
      try { await fetch(endpoint); break; } catch (e) { if (i > 300) throw e; await new Promise((r) => setTimeout(r, 100)); }
    }
    execFileSync(python, ['-c', [
      'import boto3, sys',
      `s3 = boto3.client('s3', endpoint_url='${endpoint}')`,
      "s3.create_bucket(Bucket='tiles', CreateBucketConfiguration={'LocationConstraint': 'eu-west-3'})",
      "s3.upload_file(sys.argv[1], 'tiles', 'fr/bassin.pmtiles')",
    ].join('\n'), archive], { env: { ...process.env, ...s3env }, stdio: 'pipe' });
    const started = startServer(['--archive', 's3://tiles/fr/bassin.pmtiles'], { ...s3env, AWS_ENDPOINT_URL: endpoint });
    proc = started.proc;
    const at = await started.url;
    const { page, context, log } = await open('/?view=territoire#10/50.45/2.80', { at });
    await page.waitForFunction(() => {
      const map = window.terrilMap;
      return map.getSource('archive-bassin') && map.isSourceLoaded('archive-bassin')
        && map.querySourceFeatures('archive-bassin', { sourceLayer: 'communes' }).length > 0;
    }, null, { timeout: 30000 });
    assert.ok(log.responses.some((r) => /\/tiles\/bassin\/\d+\/\d+\/\d+\.mvt$/.test(r.url) && r.status === 200), 'archive tiles fetched');
    // The label points of the archive write names, not dots (here they give way to the same
    // names in the view's own labels, drawn above them).
    assert.deepEqual(await page.evaluate(() => {
      const map = window.terrilMap;
      return [map.getLayer('archive-bassin-communes_labels-label')?.type, map.getLayer('archive-bassin-communes_labels-point')?.type,
        map.querySourceFeatures('archive-bassin', { sourceLayer: 'communes_labels' }).some((f) => f.properties.name)];
    }), ['symbol', undefined, true]);
    const toggle = page.getByLabel(/bassin/);
    assert.equal(await toggle.isChecked(), true);
    await page.screenshot({ path: path.join(shots, 'archive.png') });
    await toggle.press('Space');
    const hidden = await page.evaluate(() => window.terrilMap.getLayoutProperty('archive-bassin-communes-fill', 'visibility'));
    assert.equal(hidden, 'none');
    assertClean(log, 'archive');
    await context.close();
  } finally {
    proc?.kill('SIGTERM');
    moto.kill('SIGTERM');
  }
});

/** The tourism sites, as the API gives them. */
async function tourismSites() {
  const fc = await (await fetch(`${base}/collections/tourism/items?limit=1000`)).json();
  return fc.features.filter((f) => f.geometry.type === 'Point');
}

test('the tourisme view opens with site names placed by MapLibre\'s collision handling and the destination list', async () => {
  const { page, context, log } = await open('/?view=tourisme');
  await idle(page);
  assert.equal(await page.evaluate(() => window.terrilMap.getZoom()), 10, 'the opening zoom');
  // The labels are a symbol layer of their own: the features it returns are the names MapLibre placed.
  const placed = await page.evaluate(() => window.terrilMap.queryRenderedFeatures({ layers: ['tourism-labels'] }).map((f) => f.properties.name));
  assert.ok(new Set(placed).size >= 6, `names placed at the opening zoom: ${placed.join(' | ')}`);
  const icons = await page.evaluate(() => window.terrilMap.queryRenderedFeatures({ layers: ['tourism-icons'] }).length);
  assert.ok(icons >= placed.length);
  // The list holds the sites inside the visible area, grouped by theme.
  await page.waitForFunction(() => Number(document.body.dataset.destinations) > 0);
  const bounds = await page.evaluate(() => window.terrilMap.getBounds().toArray());
  const inside = (f) => { const [x, y] = f.geometry.coordinates; return x >= bounds[0][0] && x <= bounds[1][0] && y >= bounds[0][1] && y <= bounds[1][1]; };
  const sites = await tourismSites();
  const expected = sites.filter(inside).map((f) => String(f.id)).sort();
  const listed = async () => (await page.locator('#destinations-body button.site').evaluateAll((bs) => bs.map((b) => b.dataset.site))).sort();
  assert.deepEqual(await listed(), expected);
  for (const group of await page.locator('#destinations-body .theme-group').all()) {
    const theme = await group.getAttribute('data-theme');
    for (const id of await group.locator('button.site').evaluateAll((bs) => bs.map((b) => b.dataset.site))) {
      assert.equal(sites.find((f) => String(f.id) === id).properties.theme, theme, `${id} under ${theme}`);
    }
  }
  assert.ok(await page.locator('#destinations-body h3', { hasText: 'Mémoire' }).count() === 1);
  // The theme toggles filter the list too.
  await page.locator('#theme-MEMOIRE').uncheck();
  await page.waitForFunction(() => !document.querySelector('.theme-group[data-theme="MEMOIRE"]'));
  assert.deepEqual(await listed(), sites.filter((f) => inside(f) && f.properties.theme !== 'MEMOIRE').map((f) => String(f.id)).sort());
  await page.locator('#theme-MEMOIRE').check();
  // Moving the map to Lens narrows the list to what is in view there.
  const louvre = sites.find((f) => f.properties.name === 'Louvre-Lens');
  await page.evaluate((c) => window.terrilMap.jumpTo({ center: c, zoom: 14 }), louvre.geometry.coordinates);
  await idle(page);
  const near = await listed();
  assert.ok(near.includes(String(louvre.id)) && near.length < expected.length, near.join(','));
  // Choosing a site flies to it and opens its compact card.
  await page.locator(`#destinations-body button.site[data-site="${louvre.id}"]`).click();
  await page.waitForFunction((id) => document.body.dataset.card === id, String(louvre.id));
  const card = page.locator('.maplibregl-popup .card');
  assert.equal(await card.locator('h3').textContent(), 'Louvre-Lens');
  assert.match(await card.locator('.what').textContent(), /Musée.*Culture/);
  assert.match(await card.locator('table.main').textContent(), /CommuneLens/);
  assert.equal(await card.locator('details').getAttribute('open'), null, 'position and source folded');
  assert.equal(await card.locator('details .quality').isVisible(), false);
  await card.locator('summary').click();
  assert.match(await card.locator('details').textContent(), /Sur le site.*Source/s);
  assert.deepEqual(await accessibilityProblems(page), [], 'with a card open: axe-core');
  await page.screenshot({ path: path.join(shots, 'tourisme-card.png') });
  assertClean(log, 'destinations');
  await context.close();
});

test('a #site= link opens the map on that site\'s card, in either language', async () => {
  const sites = await tourismSites();
  const vimy = sites.find((f) => f.properties.name.includes('Vimy') && f.properties.theme === 'MEMOIRE');
  for (const lang of ['fr', 'en']) {
    const { page, context, log } = await open(`/?view=tourisme&lang=${lang}#site=${vimy.id}`);
    await page.waitForFunction((id) => document.body.dataset.card === id, String(vimy.id), { timeout: 20000 });
    assert.equal(await page.locator('.maplibregl-popup .card h3').textContent(), vimy.properties.name);
    const centre = await page.evaluate(() => window.terrilMap.getCenter().toArray());
    assert.ok(Math.abs(centre[0] - vimy.geometry.coordinates[0]) < 1e-4 && Math.abs(centre[1] - vimy.geometry.coordinates[1]) < 1e-4, `centre ${centre}`);
    assert.match(await page.locator('.maplibregl-popup .card .what').textContent(), lang === 'fr' ? /Mémorial.*Mémoire/ : /War memorial.*Remembrance/);
    // The card's own link is that same kind of link.
    const link = await page.locator('.maplibregl-popup .copy-link').getAttribute('data-link');
    assert.equal(link, `${base}/?view=tourisme&lang=${lang}#site=${vimy.id}`);
    assertClean(log, `site link ${lang}`);
    await context.close();
  }
  // A link to a site of another layer opens it too, with no failed request on the way.
  const zone = (await (await fetch(`${base}/collections/zones/items?limit=1000`)).json()).features.find((f) => f.geometry.type === 'Point');
  const zoned = await open(`/?view=territoire#site=${zone.id}`);
  await zoned.page.waitForFunction((id) => document.body.dataset.card === id, String(zone.id), { timeout: 20000 });
  assert.equal(await zoned.page.locator('.maplibregl-popup .card h3').textContent(), zone.properties.name);
  assertClean(zoned.log, 'zone link');
  await zoned.context.close();
  // A site's link pasted into an open map moves to it, and so does the same link again later.
  const { page, context, log } = await open('/?view=tourisme#10/50.45/2.8');
  const other = sites.find((f) => f.properties.name === 'Louvre-Lens');
  const centredOn = (c) => page.waitForFunction(([x, y]) => {
    const m = window.terrilMap.getCenter();
    return Math.abs(m.lng - x) < 1e-4 && Math.abs(m.lat - y) < 1e-4;
  }, c);
  for (let i = 0; i < 2; i++) {
    await page.evaluate((id) => { location.hash = `site=${id}`; }, other.id);
    await page.waitForFunction((id) => document.body.dataset.card === id, String(other.id));
    await centredOn(other.geometry.coordinates);
    // Elsewhere, card closed, before the second paste.
    await page.locator('.maplibregl-popup-close-button').click();
    await page.evaluate(() => { window.terrilMap.jumpTo({ center: [2.6, 50.5], zoom: 10 }); delete document.body.dataset.card; });
  }
  assertClean(log, 'pasted link');
  await context.close();
});

/** French interface strings found on the page outside elements marked lang="fr" (the data). */
async function frenchLeftovers(page, french) {
  return page.evaluate((frenchTexts) => {
    const found = [];
    // Whole words only: "Campus" is French and English, inside "Campuses" it is English.
    const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const patterns = frenchTexts.map((fr) => [fr, new RegExp(`(^|[^\\p{L}])${escape(fr)}([^\\p{L}]|$)`, 'u')]);
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent.trim();
      if (!text || node.parentElement.closest('[lang]')?.lang === 'fr') continue;
      if (node.parentElement.closest('script, style')) continue;
      for (const [fr, pattern] of patterns) if (pattern.test(text)) found.push(`${fr} in "${text}"`);
    }
    for (const node of document.querySelectorAll('[placeholder], [aria-label], [title]')) {
      for (const attr of ['placeholder', 'aria-label', 'title']) {
        const value = node.getAttribute(attr);
        if (value && node.closest('[lang]')?.lang !== 'fr' && frenchTexts.includes(value)) found.push(`${attr}=${value}`);
      }
    }
    return found;
  }, french);
}

test('English translates the whole interface and MapLibre\'s controls, and is remembered', async () => {
  const texts = await import(path.join(root, 'web/src/i18n.js')).then((m) => m.allTexts());
  // French only: texts that differ between the languages and are not a name.
  // "Terril" (a slag heap, in French) is also the product's name, in the bar and the attribution.
  // A French text that is also an English one elsewhere ("Nature": a field label in French, a
  // theme in both) is not a leftover.
  const english = new Set(texts.map(([, , en]) => en));
  const french = texts.filter(([, fr]) => !english.has(fr) && fr.length > 3 && fr !== 'Terril').map(([, fr]) => fr);
  const { page, context, log } = await open('/?view=tourisme');
  assert.equal(await page.locator('.maplibregl-ctrl-zoom-in').getAttribute('aria-label'), 'Zoom avant');
  assert.equal(await page.locator('.maplibregl-canvas').getAttribute('aria-label'), 'Carte');
  // The switch reloads the page in English and keeps the choice.
  await Promise.all([page.waitForURL(/lang=en/), page.locator('#lang-switch').click()]);
  await page.waitForFunction(() => document.body.dataset.ready === 'true' && Number(document.body.dataset.destinations) > 0);
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  assert.equal(await page.locator('.maplibregl-ctrl-zoom-in').getAttribute('aria-label'), 'Zoom in');
  assert.equal(await page.locator('.maplibregl-canvas').getAttribute('aria-label'), 'Map');
  assert.equal(await page.locator('#themes-body label', { hasText: 'Remembrance' }).count(), 1);
  assert.match(await page.locator('.maplibregl-ctrl-attrib-inner').textContent(), /sites: Wikipedia and cited sources/);
  await page.locator('#embed-open').click();
  // Every text node outside French data (elements marked lang="fr") is English.
  assert.deepEqual(await frenchLeftovers(page, french), [], 'tourisme, embed dialog open');

  // Opened again without ?lang= in the same browser: still English.
  await page.goto(`${base}/?view=territoire`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  assert.equal(await page.locator('#legend-title').textContent(), 'Legend');
  assert.deepEqual(await frenchLeftovers(page, french), [], 'territoire and its legend');
  // The planners' view with a results table and a card open.
  await page.goto(`${base}/?view=planification`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  await page.locator('#planner-form button[type=submit]').click();
  await page.locator('#planner-table tbody tr').first().waitFor({ timeout: 15000 });
  await page.locator('#planner-table tbody button.link').first().click();
  await page.locator('.maplibregl-popup .card').waitFor();
  await page.locator('.maplibregl-popup summary').click();
  assert.deepEqual(await frenchLeftovers(page, french), [], 'planification with results and a card');
  assert.equal(await page.locator('#planner-table thead th').first().textContent(), 'Name');
  assertClean(log, 'english');
  await context.close();
});

test('the first view paints its first tiles within 1.5 s and transfers under 500 KB before them, compressed once with ETags', async () => {
  // A fresh browser profile each time: nothing cached. Timings come from the page's own
  // Performance API; the median of three loads stands for the page on this noisy machine.
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const { page, context, log } = await open('/');
    runs.push(await page.evaluate(() => {
      const firstTiles = performance.getEntriesByName('terril:first-tiles')[0].startTime;
      const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
      const before = entries.filter((e) => e.responseEnd <= firstTiles);
      return {
        firstTiles,
        bytes: before.reduce((sum, e) => sum + e.transferSize, 0),
        requests: before.length,
        maplibre: entries.filter((e) => /maplibre-gl(-worker)?\.mjs(\?|$)/.test(e.name)).map((e) => [e.encodedBodySize, e.decodedBodySize]),
      };
    }));
    // The browser asked for and got brotli.
    assert.equal(log.responses.find((r) => r.url.endsWith('/assets/maplibre-gl.mjs'))?.encoding, 'br');
    assertClean(log, 'first view');
    await context.close();
  }
  runs.sort((a, b) => a.firstTiles - b.firstTiles);
  const timing = runs[1];
  console.log(`first tiles painted at ${runs.map((r) => Math.round(r.firstTiles)).join(', ')} ms (median ${Math.round(timing.firstTiles)}) after ${timing.requests} requests and ${Math.round(timing.bytes / 1024)} KB`);
  writeFileSync(path.join(shots, 'first-view-timing.json'), JSON.stringify(runs, null, 2));
  assert.ok(timing.firstTiles < 1500, `first tiles at ${timing.firstTiles} ms`);
  for (const run of runs) assert.ok(run.bytes < 500 * 1024, `${run.bytes} bytes before the first tiles`);
  // MapLibre travels brotli-compressed (a quarter of its size), compressed when the binary was built.
  assert.equal(timing.maplibre.length, 2);
  for (const [encoded, decoded] of timing.maplibre) assert.ok(encoded < decoded / 3, `${encoded} of ${decoded}`);
  for (const asset of ['maplibre-gl.mjs', 'app.js', 'i18n.js', 'share.js', 'app.css']) {
    const first = await fetch(`${base}/assets/${asset}`, { headers: { 'accept-encoding': 'br' } });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('content-encoding'), 'br', asset);
    const etag = first.headers.get('etag');
    assert.ok(etag, `${asset} has an ETag`);
    const again = await fetch(`${base}/assets/${asset}`, { headers: { 'accept-encoding': 'br', 'if-none-match': etag } });
    assert.equal(again.status, 304, asset);
  }
});

/** Serves `html` from another origin (its own port on loopback); resolves to its URL and a closer. */
async function otherOrigin(html) {
  const http = await import('node:http');
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A partner site</title></head><body><h1>A partner site</h1>${html}</body></html>`);
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { url: `http://localhost:${srv.address().port}/`, close: () => new Promise((resolve) => srv.close(resolve)) };
}

test('the embed dialog gives an iframe and a MapLibre snippet, copied in one click, that work from another origin', async () => {
  const { page, context, log } = await open('/?view=tourisme&lang=en#12/50.43/2.80');
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  await idle(page);
  // From the keyboard: the button opens the dialog, Escape closes it and gives the focus back.
  await page.locator('#embed-open').focus();
  await page.keyboard.press('Enter');
  const dialog = page.locator('#embed-dialog');
  await dialog.waitFor();
  assert.equal(await dialog.evaluate((d) => d.open), true);
  assert.deepEqual(await accessibilityProblems(page), [], 'embed dialog: axe-core');
  await page.screenshot({ path: path.join(shots, 'embed-dialog-en.png') });
  const iframe = await page.locator('#embed-iframe').inputValue();
  const snippet = await page.locator('#embed-snippet').inputValue();
  assert.match(iframe, new RegExp(`^<iframe src="${base}/embed\\?view=tourisme&amp;lang=en#12/50\\.43/2\\.8`));
  assert.ok(snippet.split('\n').length <= 10, snippet);
  assert.ok(snippet.includes(`${base}/styles/tourisme.json`));
  await page.locator('button.copy[data-copy="embed-iframe"]').click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), iframe);
  await page.locator('button.copy[data-copy="embed-snippet"]').click();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, snippet);
  await page.keyboard.press('Escape');
  assert.equal(await dialog.evaluate((d) => d.open), false);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'embed-open');
  assertClean(log, 'embed dialog');
  await context.close();

  // The iframe on a partner's page: the map loads inside it, at the same place.
  const partner = await otherOrigin(iframe);
  const framed = await browser.newContext();
  const host = await framed.newPage();
  const hostLog = [];
  host.on('console', (m) => { if (m.type() === 'error') hostLog.push(m.text()); });
  await host.goto(partner.url);
  const frame = host.frameLocator('iframe');
  await frame.locator('body[data-ready="true"]').waitFor({ timeout: 60000 });
  const inner = host.frames().find((f) => f.url().startsWith(`${base}/embed`));
  assert.equal(await inner.evaluate(() => document.documentElement.lang), 'en');
  const zoom = await inner.evaluate(() => window.terrilMap.getZoom());
  assert.ok(Math.abs(zoom - 12) < 0.01, `zoom ${zoom}`);
  assert.ok(await inner.evaluate(() => window.terrilMap.queryRenderedFeatures().length) > 20);
  await host.screenshot({ path: path.join(shots, 'embed-iframe-partner.png') });
  assert.deepEqual(hostLog, []);
  await framed.close();
  await partner.close();

  // The snippet on a partner's page: MapLibre, the style, tiles, glyphs and sprite all come from Terril.
  const snippetPartner = await otherOrigin(copied);
  const plain = await browser.newContext();
  const other = await plain.newPage();
  const errors = [];
  const fromTerril = [];
  other.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  other.on('pageerror', (e) => errors.push(String(e)));
  other.on('response', (r) => { if (r.url().startsWith(base)) fromTerril.push([new URL(r.url()).pathname, r.status()]); });
  await other.goto(snippetPartner.url);
  await other.waitForFunction(() => document.querySelector('#terril-map canvas.maplibregl-canvas'), null, { timeout: 30000 });
  const seen = (re) => fromTerril.some(([p, status]) => re.test(p) && status === 200);
  for (let i = 0; i < 300 && !(seen(/^\/tiles\/\d+\/\d+\/\d+\.mvt$/) && seen(/^\/fonts\//)); i++) await other.waitForTimeout(100);
  assert.ok(seen(/^\/styles\/tourisme\.json$/), 'style');
  assert.ok(seen(/^\/tiles\/\d+\/\d+\/\d+\.mvt$/), `tiles: ${JSON.stringify(fromTerril)}`);
  assert.ok(seen(/^\/fonts\//) && seen(/^\/sprites\//), 'glyphs and sprite');
  assert.deepEqual(errors, []);
  await other.waitForTimeout(500);
  await other.screenshot({ path: path.join(shots, 'embed-snippet-partner.png') });
  await plain.close();
  await snippetPartner.close();
});

test('the map exports the current view as a PNG with a title band, and measures distances', async () => {
  const lens = await feature('infrastructure', 'R01');
  const louvre = (await tourismSites()).find((f) => f.properties.name === 'Louvre-Lens');
  const { page, context, log } = await open(`/?view=territoire#13/${lens.geometry.coordinates[1]}/${lens.geometry.coordinates[0]}`);
  await idle(page);
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-png').click()]);
  assert.equal(download.suggestedFilename(), 'terril-territoire.png');
  const png = readFileSync(await download.path());
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
  const canvas = await page.evaluate(() => [window.terrilMap.getCanvas().width, window.terrilMap.getCanvas().height]);
  assert.equal(width, canvas[0]);
  assert.ok(height > canvas[1] + 80, `${height} px for a ${canvas[1]} px map: title and legend bands`);
  // The title band is dark, the map below it is not blank.
  const pixels = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const at = (x, y) => [...ctx.getImageData(x, y, 1, 1).data];
    const colours = new Set();
    for (let y = 100; y < img.height - 200; y += 37) for (let x = 0; x < img.width; x += 41) colours.add(at(x, y).join());
    return { corner: at(2, 2), colours: colours.size };
  }, png.toString('base64'));
  assert.deepEqual(pixels.corner.slice(0, 3), [0x17, 0x20, 0x2a]);
  assert.ok(pixels.colours > 10, `${pixels.colours} colours in the map part`);
  writeFileSync(path.join(shots, 'export-territoire.png'), png);
  // Print prints that same image: it goes into the print-only <img>, then the print dialog opens.
  await page.evaluate(() => { window.print = () => { document.body.dataset.printed = document.getElementById('print-image').naturalHeight; }; });
  await page.locator('#print').click();
  await page.waitForFunction(() => document.body.dataset.printed);
  assert.equal(Number(await page.evaluate(() => document.body.dataset.printed)), height);
  assert.match(await page.locator('#print-image').getAttribute('src'), /^data:image\/png;base64,/);

  // The measuring tool: two clicks, the Gare de Lens and the Louvre-Lens, give their great-circle distance.
  await page.locator('#measure-toggle').click();
  assert.equal(await page.locator('#measure-toggle').getAttribute('aria-pressed'), 'true');
  await clickAt(page, ...lens.geometry.coordinates);
  await clickAt(page, ...louvre.geometry.coordinates);
  const measured = Number(await page.evaluate(() => document.body.dataset.measuredM));
  const R = 6371008.8;
  const rad = Math.PI / 180;
  const [[x1, y1], [x2, y2]] = [lens.geometry.coordinates, louvre.geometry.coordinates];
  const expected = 2 * R * Math.asin(Math.sqrt(Math.sin(((y2 - y1) * rad) / 2) ** 2 + Math.cos(y1 * rad) * Math.cos(y2 * rad) * Math.sin(((x2 - x1) * rad) / 2) ** 2));
  // A click lands on a pixel: ~20 m at zoom 13.
  assert.ok(Math.abs(measured - expected) < 60, `measured ${measured} m, expected ${expected} m`);
  assert.match(await page.locator('#measure-total').textContent(), /Distance : 1,\d km \(2 points\)/);
  // From the keyboard: Enter on the focused map adds its centre, Escape ends the tool.
  await page.locator('.maplibregl-canvas').focus();
  await page.keyboard.press('Enter');
  assert.match(await page.locator('#measure-total').textContent(), /\(3 points\)/);
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('#measure-toggle').getAttribute('aria-pressed'), 'false');
  await page.screenshot({ path: path.join(shots, 'measure.png') });
  await page.locator('#measure-clear').click();
  assert.equal(await page.locator('#measure-total').textContent(), '');
  assertClean(log, 'png and measure');
  await context.close();
});

test('the destination list, theme toggles and cards work from the keyboard, with a visible focus', async () => {
  const { page, context, log } = await open('/?view=tourisme');
  await page.waitForFunction(() => Number(document.body.dataset.destinations) > 0);
  // Tab from the theme toggles into the list.
  await page.locator('#theme-SPORT').focus();
  await page.keyboard.press('Space');
  assert.equal(await page.locator('#theme-SPORT').isChecked(), false);
  await page.keyboard.press('Space');
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => ({ site: document.activeElement.dataset.site, outline: getComputedStyle(document.activeElement).outlineStyle }));
  assert.ok(focused.site, 'the first site of the list has the focus');
  assert.notEqual(focused.outline, 'none', 'the focus is visible');
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => document.body.dataset.card === id, focused.site);
  // The card takes the focus (its close button). After the flight the list has been drawn
  // again: Escape still brings the focus back to the same site in it.
  await page.waitForFunction(() => document.activeElement.closest('.maplibregl-popup'));
  await page.waitForFunction(() => document.activeElement.getAttribute('aria-label') === 'Fermer la fiche');
  await idle(page);
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('.maplibregl-popup').count(), 0, 'Escape closes the card');
  await page.waitForFunction((id) => document.activeElement.dataset.site === id, focused.site);
  // The same with Enter on the close button.
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement.classList.contains('maplibregl-popup-close-button'));
  await idle(page);
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('.maplibregl-popup').count(), 0, 'the close button closes the card');
  await page.waitForFunction((id) => document.activeElement.dataset.site === id, focused.site);
  assertClean(log, 'keyboard');
  await context.close();
});
