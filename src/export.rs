//! `terril export`: pre-renders the tile pyramid of a catalog into a PMTiles v3 or an MBTiles
//! archive (MVT tiles, gzip; Web Mercator, EPSG:3857 tiling), for static hosting on object
//! storage behind a CDN or for serving again with `--archive`. Every tile is rendered and
//! compressed in a task of its own, as many at once as there are cores (large tiles on the CPU
//! pool), and written in the archive's order by one writer.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use pmtiles::{Compression, PmTilesStreamWriter, PmTilesWriter, TileId, TileType};
use serde_json::json;

use crate::cancel::Cancel;
use crate::mercator::TileCoord;
use crate::pool::CpuPool;
use crate::source::{Catalog, Ctx, LayerSource, TileRequest};

/// Tiles at least this large are gzipped on the CPU pool.
const COMPRESS_ON_POOL_BYTES: usize = 16 * 1024;

/// The archive formats written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// PMTiles v3: one file read with range requests (object storage, CDN).
    Pmtiles,
    /// MBTiles 1.3: a SQLite file (`tiles` table, TMS rows).
    Mbtiles,
}

impl ArchiveFormat {
    /// The format named by a file's extension.
    #[must_use]
    pub fn of(path: &std::path::Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "pmtiles" => Some(Self::Pmtiles),
            "mbtiles" => Some(Self::Mbtiles),
            _ => None,
        }
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The `.pmtiles` or `.mbtiles` file to write.
    pub out: PathBuf,
    /// Lowest zoom exported.
    pub minzoom: u8,
    /// Highest zoom exported.
    pub maxzoom: u8,
    /// Layer ids to export (all but archives by default).
    pub layers: Option<Vec<String>>,
    /// West, south, east, north in degrees (the layers' bounds by default).
    pub bbox: Option<[f64; 4]>,
    /// Show progress (a bar on a terminal, a line every few seconds otherwise).
    pub progress: bool,
}

/// What an export did.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportStats {
    /// Tiles rendered.
    pub rendered: u64,
    /// Tiles with content written to the archive.
    pub written: u64,
    /// Size of the archive in bytes.
    pub bytes: u64,
    /// Time taken.
    pub elapsed: Duration,
}

/// Where tiles go.
enum Sink {
    Pmtiles(Box<PmTilesStreamWriter<BufWriter<File>>>),
    Mbtiles(rusqlite::Connection),
}

impl Sink {
    fn create(
        options: &ExportOptions,
        format: ArchiveFormat,
        bounds: [f64; 4],
        metadata: &serde_json::Value,
    ) -> Result<Self, String> {
        let [w, s, e, n] = bounds;
        let centre = ((w + e) / 2.0, (s + n) / 2.0);
        let centre_zoom = options.minzoom.max(10).min(options.maxzoom);
        let shown = options.out.display();
        if options.out.exists() {
            std::fs::remove_file(&options.out).map_err(|e| format!("{shown}: {e}"))?;
        }
        match format {
            ArchiveFormat::Pmtiles => {
                let file = File::create(&options.out).map_err(|e| format!("{shown}: {e}"))?;
                PmTilesWriter::new(TileType::Mvt)
                    .precompressed(Compression::Gzip)
                    .min_zoom(options.minzoom)
                    .max_zoom(options.maxzoom)
                    .bounds(w, s, e, n)
                    .center(centre.0, centre.1)
                    .center_zoom(centre_zoom)
                    .metadata(metadata.to_string())
                    .create(BufWriter::with_capacity(1 << 20, file))
                    .map(|w| Sink::Pmtiles(Box::new(w)))
                    .map_err(|e| format!("{shown}: {e}"))
            }
            ArchiveFormat::Mbtiles => {
                // Pages of 1 KiB: a tile's last overflow page is half empty on average, which
                // with SQLite's default 4 KiB pages added 70 % to the national archive (1 KiB:
                // 18 %).
                let db = rusqlite::Connection::open(&options.out)
                    .map_err(|e| format!("{shown}: {e}"))?;
                let sql = |e: rusqlite::Error| format!("{shown}: {e}");
                db.execute_batch(
                    "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = 1024;
                     CREATE TABLE metadata (name TEXT NOT NULL PRIMARY KEY, value TEXT);
                     CREATE TABLE tiles (zoom_level INTEGER NOT NULL, tile_column INTEGER NOT NULL,
                         tile_row INTEGER NOT NULL, tile_data BLOB NOT NULL,
                         PRIMARY KEY (zoom_level, tile_column, tile_row)) WITHOUT ROWID;
                     BEGIN;",
                )
                .map_err(sql)?;
                let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
                let rows = [
                    ("name", text(&metadata["name"])),
                    ("format", "pbf".to_owned()),
                    ("type", "overlay".to_owned()),
                    ("version", "1".to_owned()),
                    ("description", "Tiles exported by Terril".to_owned()),
                    ("attribution", text(&metadata["attribution"])),
                    ("minzoom", options.minzoom.to_string()),
                    ("maxzoom", options.maxzoom.to_string()),
                    ("bounds", format!("{w},{s},{e},{n}")),
                    ("center", format!("{},{},{centre_zoom}", centre.0, centre.1)),
                    (
                        "json",
                        json!({ "vector_layers": metadata["vector_layers"] }).to_string(),
                    ),
                    ("generator", text(&metadata["generator"])),
                ];
                for (name, value) in rows {
                    db.execute(
                        "INSERT INTO metadata (name, value) VALUES (?1, ?2)",
                        (name, value),
                    )
                    .map_err(sql)?;
                }
                Ok(Sink::Mbtiles(db))
            }
        }
    }

    fn add(&mut self, t: TileCoord, gzipped: &[u8]) -> Result<(), String> {
        match self {
            Sink::Pmtiles(w) => {
                let coord = pmtiles::TileCoord::new(t.z, t.x, t.y).map_err(|e| e.to_string())?;
                w.add_tile(coord, gzipped).map_err(|e| e.to_string())
            }
            Sink::Mbtiles(db) => {
                let row = (1u32 << t.z) - 1 - t.y;
                db.prepare_cached(
                    "INSERT INTO tiles (zoom_level, tile_column, tile_row, tile_data) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut s| s.execute((t.z, t.x, row, gzipped)))
                .map(|_| ())
                .map_err(|e| e.to_string())
            }
        }
    }

    fn finish(self) -> Result<(), String> {
        match self {
            Sink::Pmtiles(w) => w.finalize().map_err(|e| e.to_string()),
            Sink::Mbtiles(db) => db
                .execute_batch("COMMIT; ANALYZE;")
                .map_err(|e| e.to_string()),
        }
    }
}

/// Renders every tile of the options' zooms and box and writes the archive.
pub async fn export(
    catalog: &Arc<Catalog>,
    options: &ExportOptions,
    pool: &CpuPool,
) -> Result<ExportStats, String> {
    let started = Instant::now();
    let format = ArchiveFormat::of(&options.out).ok_or_else(|| {
        format!(
            "{}: name the archive *.pmtiles or *.mbtiles",
            options.out.display()
        )
    })?;
    let layers: Vec<Arc<LayerSource>> = match &options.layers {
        None => catalog.feature_layers(),
        Some(ids) => ids
            .iter()
            .map(|id| {
                let layer = catalog
                    .layer(id)
                    .cloned()
                    .ok_or_else(|| format!("no layer {id:?}"))?;
                if layer.as_archive().is_some() {
                    return Err(format!("layer {id:?} is already a tile archive"));
                }
                Ok(layer)
            })
            .collect::<Result<_, _>>()?,
    };
    if options.minzoom > options.maxzoom || options.maxzoom > crate::mercator::MAX_ZOOM {
        return Err(format!(
            "zooms {}..={} are not a range within 0..={}",
            options.minzoom,
            options.maxzoom,
            crate::mercator::MAX_ZOOM
        ));
    }
    let bounds = options
        .bbox
        .or_else(|| crate::data::union_bounds(layers.iter().filter_map(|l| l.info.bounds)))
        .ok_or("nothing to export: the layers are empty")?;
    let [w, s, e, n] = bounds;
    if !(w <= e && s <= n) {
        return Err("the bbox needs west ≤ east and south ≤ north".into());
    }
    let requests: Arc<Vec<TileRequest>> = Arc::new(
        layers
            .iter()
            .map(|l| TileRequest {
                layer: Arc::clone(l),
                filter: None,
            })
            .collect(),
    );

    // Every tile, zoom by zoom, each zoom in the archive's (Hilbert) order.
    let mut tiles: Vec<TileCoord> = Vec::new();
    for z in options.minzoom..=options.maxzoom {
        let a = TileCoord::containing(w, n, z);
        let b = TileCoord::containing(e, s, z);
        let start = tiles.len();
        tiles.extend((a.x..=b.x).flat_map(|x| (a.y..=b.y).map(move |y| TileCoord { z, x, y })));
        tiles[start..].sort_by_key(|t| hilbert_id(*t));
    }
    let total = tiles.len() as u64;
    let terminal = options.progress && std::io::stderr().is_terminal();
    let bar = if terminal {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} z{msg} [{bar:40}] {pos}/{len} tiles, {per_sec}, {eta} left",
        )
        .map_err(|e| e.to_string())?
        .progress_chars("=> "),
    );

    let mut sink = Sink::create(options, format, bounds, &metadata(&layers))?;
    let ctx = Ctx {
        pool: pool.clone(),
        cancel: Cancel::new(),
    };
    let mut written = 0u64;
    let mut done = 0u64;
    let mut last_line = Instant::now();
    // Rendered and compressed in tasks of their own, written in order.
    let mut rendered = futures_util::stream::iter(tiles)
        .map(|t| {
            let (catalog, requests, ctx) =
                (Arc::clone(catalog), Arc::clone(&requests), ctx.clone());
            tokio::spawn(async move {
                let tile = catalog
                    .tile(&ctx, &requests, t)
                    .await
                    .map_err(|e| format!("tile {t}: {e}"))?;
                if tile.is_empty() {
                    return Ok((t, Vec::new()));
                }
                let gzipped = if tile.len() >= COMPRESS_ON_POOL_BYTES {
                    ctx.pool
                        .run(ctx.cancel.clone(), move |_| Ok(gzip(&tile)))
                        .await
                        .map_err(|e| format!("tile {t}: {e:?}"))?
                } else {
                    gzip(&tile)
                };
                Ok::<_, String>((t, gzipped))
            })
        })
        .buffered(pool.workers() * 4);
    while let Some(joined) = rendered.next().await {
        let (t, gzipped) = joined.map_err(|e| e.to_string())??;
        if !gzipped.is_empty() {
            sink.add(t, &gzipped)?;
            written += 1;
        }
        done += 1;
        bar.set_message(t.z.to_string());
        bar.inc(1);
        if options.progress && !terminal && last_line.elapsed() >= Duration::from_secs(5) {
            last_line = Instant::now();
            let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
            eprintln!(
                "z{}: {done}/{total} tiles, {rate:.0} tiles/s, about {:.0} s left",
                t.z,
                (total - done) as f64 / rate.max(1e-3)
            );
        }
    }
    sink.finish()?;
    bar.finish_and_clear();
    let bytes = std::fs::metadata(&options.out)
        .map_err(|e| e.to_string())?
        .len();
    Ok(ExportStats {
        rendered: total,
        written,
        bytes,
        elapsed: started.elapsed(),
    })
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 2),
        flate2::Compression::new(6),
    );
    enc.write_all(raw).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

fn hilbert_id(t: TileCoord) -> u64 {
    pmtiles::TileCoord::new(t.z, t.x, t.y).map_or(u64::MAX, |c| u64::from(TileId::from(c)))
}

/// The archive's metadata: the TileJSON-style `vector_layers` MapLibre reads, built by the same
/// function as the server's TileJSON.
fn metadata(layers: &[Arc<LayerSource>]) -> serde_json::Value {
    let vector_layers: Vec<_> = layers.iter().flat_map(|l| l.info.vector_layers()).collect();
    json!({
        "name": "Terril",
        "format": "pbf",
        "attribution": attribution(layers.iter().map(|l| l.info.config.attribution.as_str())),
        "vector_layers": vector_layers,
        "generator": format!("terril {}", env!("CARGO_PKG_VERSION")),
    })
}

/// The distinct credit lines of some layers, each once, joined.
#[must_use]
pub fn attribution<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for line in lines {
        let line = line.trim();
        if !line.is_empty() && !seen.contains(&line) {
            seen.push(line);
        }
    }
    seen.join(" — ")
}
