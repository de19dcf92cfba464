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
  page.on('response', (r) => log.responses.push({ url: r.url(), status: r.status() }));
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

for (const view of ['territoire', 'tourisme', 'planification']) {
  test(`the ${view} view loads tiles, glyphs and sprites and renders with no error`, async () => {
    const { page, context, log } = await open(`/?view=${view}`);
    await idle(page);
    const ok = (pattern) => log.responses.some((r) => pattern.test(r.url) && r.status === 200);
    assert.ok(ok(/\/tiles\/\d+\/\d+\/\d+\.mvt$/), 'a tile was fetched');
    assert.ok(ok(/\/fonts\/DejaVu%20Sans%20(Book|Bold)\/\d+-\d+\.pbf$/), 'a glyph range was fetched');
    assert.ok(ok(/\/sprites\/terril(@2x)?\.png$/) && ok(/\/sprites\/terril(@2x)?\.json$/), 'the sprite was fetched');
    assert.ok(ok(/\/styles\/\w+\.json$/), 'the style was fetched');
    const rendered = await page.evaluate(() => window.terrilMap.queryRenderedFeatures().length);
    assert.ok(rendered > 50, `only ${rendered} features rendered`);
    assert.equal(await page.locator(`.views a[data-view="${view}"]`).getAttribute('aria-current'), 'page');
    await page.screenshot({ path: path.join(shots, `${view}.png`) });
    assertClean(log, view);
    await context.close();
  });
}

test('clicking a commune opens a popup with its name and INSEE code', async () => {
  const stadium = await feature('tourism', 'T08'); // inside Lens
  const [lon, lat] = stadium.geometry.coordinates;
  const { page, context, log } = await open(`/?view=territoire#12/${lat}/${lon}`);
  await idle(page);
  await clickAt(page, lon, lat);
  const popup = page.locator('.maplibregl-popup .popup');
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

test('the planner lists zones near motorway junctions and downloads them as CSV and GeoJSON', async () => {
  const { page, context, log } = await open('/?view=planification');
  await page.locator('#planner-distance').fill('2000');
  await page.locator('#planner-form button[type=submit]').click();
  await page.locator('#planner-results li').first().waitFor({ timeout: 15000 });
  const rows = await page.locator('#planner-results li').allTextContents();
  const api = await (await fetch(`${base}/query/near?layer=zones&target=infrastructure&distance_m=2000&target_filter=${encodeURIComponent("kind = 'motorway_junction'")}`)).json();
  assert.equal(rows.length, api.features.length);
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
