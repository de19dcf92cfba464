// Sharing the map: the current view as a PNG with title, legend and attribution (downloaded or
// printed), and the embed dialog with an iframe and a MapLibre GL JS snippet for other sites.

/** The current view's legend as [{ icon | colour | line, text }], read from the panel. */
function legendEntries(view) {
  const entries = [];
  const scope = view === 'tourisme' ? '#themes-body label' : '#legend-body .legend-item';
  for (const item of document.querySelectorAll(scope)) {
    const box = item.querySelector('input[type=checkbox]');
    if (box && !box.checked) continue;
    const img = item.querySelector('img');
    const swatch = item.querySelector('.swatch');
    const text = item.textContent.trim();
    if (img) entries.push({ icon: img.src, text });
    else if (swatch) {
      const style = getComputedStyle(swatch);
      const line = [...swatch.classList].some((c) => c.startsWith('line-'));
      entries.push({ colour: line ? style.borderTopColor : style.backgroundColor, line, ring: swatch.classList.contains('ring'), border: style.borderTopColor, text });
    }
  }
  return entries;
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`cannot load ${src}`));
    img.src = src;
  });
}

/** The map's canvas as an image, read right after a frame is drawn. */
function mapImage(map) {
  return new Promise((resolve) => {
    map.once('render', () => resolve(map.getCanvas().toDataURL('image/png')));
    map.triggerRepaint();
  }).then(loadImage);
}

/** The map with a title band above, and the legend and attribution below, on one canvas. */
export async function composeMap(map, words, view) {
  const shot = await mapImage(map);
  const scale = shot.width / map.getCanvas().clientWidth;
  const W = shot.width;
  const pad = 12 * scale;
  const entries = legendEntries(view);
  const icons = await Promise.all(entries.map((e) => (e.icon ? loadImage(e.icon).catch(() => null) : null)));
  const attribution = (document.querySelector('.maplibregl-ctrl-attrib-inner')?.textContent || '').trim();
  const ctx0 = document.createElement('canvas').getContext('2d');
  const font = (size, bold = false) => `${bold ? 'bold ' : ''}${size * scale}px "DejaVu Sans", sans-serif`;
  // Lay the legend out in rows first, to know the height.
  ctx0.font = font(13);
  const rows = [[]];
  let x = pad;
  for (const [i, e] of entries.entries()) {
    const w = 26 * scale + ctx0.measureText(e.text).width + 18 * scale;
    if (x + w > W - pad && rows.at(-1).length) { rows.push([]); x = pad; }
    rows.at(-1).push({ ...e, img: icons[i], x });
    x += w;
  }
  const titleH = 46 * scale;
  const rowH = 24 * scale;
  const footH = pad + rows.length * rowH + 24 * scale + pad;
  const canvas = document.createElement('canvas');
  canvas.width = W;
  canvas.height = titleH + shot.height + footH;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#17202a';
  ctx.fillRect(0, 0, W, titleH);
  ctx.fillStyle = '#ffffff';
  ctx.textBaseline = 'middle';
  ctx.font = font(18, true);
  ctx.fillText('Terril', pad, titleH / 2);
  const brand = ctx.measureText('Terril ').width;
  ctx.font = font(16);
  ctx.fillText(words.t('print.title', words.t(`view.${view}`)), pad + brand + 6 * scale, titleH / 2);
  const date = new Date().toLocaleDateString(words.lang === 'en' ? 'en-GB' : 'fr-FR', { year: 'numeric', month: 'long', day: 'numeric' });
  ctx.textAlign = 'right';
  ctx.font = font(13);
  ctx.fillText(date, W - pad, titleH / 2);
  ctx.textAlign = 'left';
  ctx.drawImage(shot, 0, titleH);
  const top = titleH + shot.height;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, top, W, footH);
  ctx.strokeStyle = '#d5d8dc';
  ctx.beginPath();
  ctx.moveTo(0, top + 0.5);
  ctx.lineTo(W, top + 0.5);
  ctx.stroke();
  ctx.font = font(13);
  rows.forEach((row, r) => {
    const y = top + pad + r * rowH + rowH / 2;
    for (const e of row) {
      const s = 18 * scale;
      if (e.img) ctx.drawImage(e.img, e.x, y - s / 2, s, s);
      else if (e.line) {
        ctx.fillStyle = e.colour;
        ctx.fillRect(e.x, y - 1.5 * scale, s, 3 * scale);
      } else {
        ctx.fillStyle = e.colour;
        ctx.strokeStyle = e.border;
        ctx.lineWidth = 1.5 * scale;
        ctx.beginPath();
        if (e.ring) ctx.arc(e.x + s / 2, y, s / 2 - scale, 0, 2 * Math.PI);
        else ctx.rect(e.x, y - s / 3, s, (2 * s) / 3);
        ctx.fill();
        ctx.stroke();
      }
      ctx.fillStyle = '#1c2833';
      ctx.fillText(e.text, e.x + 26 * scale, y);
    }
  });
  ctx.fillStyle = '#5d6d7e';
  ctx.font = font(11);
  ctx.fillText(`© ${attribution}`, pad, top + pad + rows.length * rowH + 12 * scale, W - 2 * pad);
  return canvas;
}

/** The iframe code and the MapLibre snippet for the current view and position. */
export function embedCodes(map, words, view) {
  const origin = location.origin;
  const c = map.getCenter();
  const [lon, lat] = [Number(c.lng.toFixed(5)), Number(c.lat.toFixed(5))];
  const zoom = map.getZoom().toFixed(2).replace(/\.?0+$/, '');
  const iframe = `<iframe src="${origin}/embed?view=${view}&amp;lang=${words.lang}#${zoom}/${lat}/${lon}" width="800" height="500"`
    + ` style="border:0" loading="lazy" allow="clipboard-write" allowfullscreen title="${words.t('embed.frameTitle').replaceAll('"', '&quot;')}"></iframe>`;
  const snippet = [
    `<link rel="stylesheet" href="${origin}/assets/maplibre-gl.css">`,
    '<div id="terril-map" style="height: 480px"></div>',
    '<script type="module">',
    `  import { Map, NavigationControl } from '${origin}/assets/maplibre-gl.mjs';`,
    '  const map = new Map({',
    `    container: 'terril-map', style: '${origin}/styles/${view}.json',`,
    `    center: [${lon}, ${lat}], zoom: ${zoom},`,
    '  });',
    '  map.addControl(new NavigationControl());',
    '</scr' + 'ipt>',
  ].join('\n');
  return { iframe, snippet, style: `${origin}/styles/${view}.json`, tilejson: `${origin}/tiles.json` };
}

export function setupShare({ map, words, view, download, copyText, announce }) {
  const failed = (e) => announce(words.t('error', e.message));
  const $ = (id) => document.getElementById(id);
  $('export-png').addEventListener('click', () => {
    composeMap(map, words, view)
      .then((canvas) => canvas.toBlob((blob) => download(`terril-${view}.png`, 'image/png', blob), 'image/png'))
      .catch(failed);
  });
  $('print').addEventListener('click', () => {
    composeMap(map, words, view).then((canvas) => {
      const img = $('print-image');
      img.alt = words.t('print.title', words.t(`view.${view}`));
      img.onload = () => window.print();
      img.src = canvas.toDataURL('image/png');
    }).catch(failed);
  });
  const dialog = $('embed-dialog');
  $('embed-open').addEventListener('click', () => {
    const codes = embedCodes(map, words, view);
    $('embed-iframe').value = codes.iframe;
    $('embed-snippet').value = codes.snippet;
    for (const [id, url] of [['embed-style-url', codes.style], ['embed-tilejson-url', codes.tilejson]]) {
      $(id).href = url;
      $(id).textContent = url;
    }
    for (const b of dialog.querySelectorAll('button.copy')) b.textContent = words.t('embed.copy');
    dialog.showModal();
  });
  for (const button of dialog.querySelectorAll('button.copy')) {
    button.addEventListener('click', async () => {
      const copied = await copyText($(button.dataset.copy).value);
      button.textContent = copied ? words.t('embed.copied') : words.t('embed.copy');
      announce(copied ? words.t('embed.copied') : words.t('copy.failed'));
      if (!copied) $(button.dataset.copy).select();
    });
  }
}
