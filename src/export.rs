//! `terril export`: pre-renders the tile pyramid of a catalog into a PMTiles v3 archive (MVT
//! tiles, gzip), for static hosting on object storage behind a CDN. Tiles render on the CPU
//! pool, as many at once as it has workers, and are written in the archive's order.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use pmtiles::{PmTilesWriter, TileId, TileType};
use serde_json::json;

use crate::cancel::Cancel;
use crate::mercator::TileCoord;
use crate::pool::CpuPool;
use crate::source::{Catalog, Ctx, LayerSource, TileRequest};

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The `.pmtiles` file to write.
    pub out: PathBuf,
    /// Lowest zoom exported.
    pub minzoom: u8,
    /// Highest zoom exported.
    pub maxzoom: u8,
    /// Layer ids to export (all by default).
    pub layers: Option<Vec<String>>,
    /// West, south, east, north in degrees (the layers' bounds by default).
    pub bbox: Option<[f64; 4]>,
    /// Draw a progress bar on the terminal.
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

/// Renders every tile of the options' zooms and box and writes the archive.
pub async fn export(
    catalog: &Catalog,
    options: &ExportOptions,
    pool: &CpuPool,
) -> Result<ExportStats, String> {
    let started = Instant::now();
    let layers: Vec<Arc<LayerSource>> = match &options.layers {
        None => catalog.layers().to_vec(),
        Some(ids) => ids
            .iter()
            .map(|id| {
                catalog
                    .layer(id)
                    .cloned()
                    .ok_or_else(|| format!("no layer {id:?}"))
            })
            .collect::<Result<_, _>>()?,
    };
    if options.minzoom > options.maxzoom || options.maxzoom > crate::mercator::MAX_ZOOM {
        return Err(format!(
            "zooms {}..={} are not a range within 0..=24",
            options.minzoom, options.maxzoom
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
    let requests: Vec<TileRequest> = layers
        .iter()
        .map(|l| TileRequest {
            layer: Arc::clone(l),
            filter: None,
        })
        .collect();

    // Tiles per zoom, in the archive's (Hilbert) order.
    let mut pyramid: Vec<Vec<TileCoord>> = Vec::new();
    for z in options.minzoom..=options.maxzoom {
        let a = TileCoord::containing(w, n, z);
        let b = TileCoord::containing(e, s, z);
        let mut tiles: Vec<TileCoord> = (a.x..=b.x)
            .flat_map(|x| (a.y..=b.y).map(move |y| TileCoord { z, x, y }))
            .collect();
        tiles.sort_by_key(|t| hilbert_id(*t));
        pyramid.push(tiles);
    }
    let total: u64 = pyramid.iter().map(|t| t.len() as u64).sum();
    let bar = if options.progress {
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

    let file = File::create(&options.out).map_err(|e| format!("{}: {e}", options.out.display()))?;
    let centre = ((w + e) / 2.0, (s + n) / 2.0);
    let mut writer = PmTilesWriter::new(TileType::Mvt)
        .min_zoom(options.minzoom)
        .max_zoom(options.maxzoom)
        .bounds(w, s, e, n)
        .center(centre.0, centre.1)
        .center_zoom(options.minzoom.max(10).min(options.maxzoom))
        .metadata(metadata(&layers).to_string())
        .create(file)
        .map_err(|e| e.to_string())?;
    let ctx = Ctx {
        pool: pool.clone(),
        cancel: Cancel::new(),
    };
    let mut written = 0u64;
    for tiles in &pyramid {
        if let Some(first) = tiles.first() {
            bar.set_message(first.z.to_string());
        }
        // Rendered as many at once as the pool has workers, written in order.
        let mut rendered = futures_util::stream::iter(tiles.iter().copied())
            .map(|t| {
                let (ctx, requests, bar) = (&ctx, &requests, &bar);
                async move {
                    let tile = catalog
                        .tile(ctx, requests, t)
                        .await
                        .map_err(|e| format!("tile {t}: {e}"))?;
                    bar.inc(1);
                    Ok::<_, String>((t, tile))
                }
            })
            .buffered(pool.workers() * 2);
        while let Some(result) = rendered.next().await {
            let (t, bytes) = result?;
            if !bytes.is_empty() {
                let coord = pmtiles::TileCoord::new(t.z, t.x, t.y).map_err(|e| e.to_string())?;
                writer.add_tile(coord, &bytes).map_err(|e| e.to_string())?;
                written += 1;
            }
        }
    }
    writer.finalize().map_err(|e| e.to_string())?;
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
