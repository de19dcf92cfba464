//! `terril export`: pre-renders the tile pyramid of a catalog into a PMTiles v3 archive (MVT
//! tiles, gzip), for static hosting on object storage behind a CDN.

use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use pmtiles::{PmTilesWriter, TileId, TileType};
use serde_json::json;

use crate::layer::{Catalog, Layer};
use crate::mercator::TileCoord;
use crate::tile::{LayerRequest, render};

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
pub fn export(catalog: &Catalog, options: &ExportOptions) -> Result<ExportStats, String> {
    let started = Instant::now();
    let layers: Vec<&Layer> = match &options.layers {
        None => catalog.layers().iter().map(AsRef::as_ref).collect(),
        Some(ids) => ids
            .iter()
            .map(|id| {
                catalog
                    .layer(id)
                    .map(AsRef::as_ref)
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
        .or_else(|| crate::layer::union_bounds(layers.iter().filter_map(|l| l.bounds)))
        .ok_or("nothing to export: the layers are empty")?;
    let [w, s, e, n] = bounds;
    if !(w <= e && s <= n) {
        return Err("the bbox needs west ≤ east and south ≤ north".into());
    }
    let requests: Vec<LayerRequest<'_>> = layers.iter().map(|l| LayerRequest::from(*l)).collect();

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
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut written = 0u64;
    for tiles in &pyramid {
        if let Some(first) = tiles.first() {
            bar.set_message(first.z.to_string());
        }
        // Render a zoom in parallel, then write it in order.
        let chunk = tiles.len().div_ceil(threads).max(1);
        let rendered: Vec<Result<Vec<Rendered>, String>> = std::thread::scope(|scope| {
            let workers: Vec<_> = tiles
                .chunks(chunk)
                .map(|part| {
                    let (requests, bar) = (&requests, &bar);
                    scope.spawn(move || {
                        part.iter()
                            .map(|&t| {
                                let tile =
                                    render(requests, t).map_err(|e| format!("tile {t}: {e}"))?;
                                bar.inc(1);
                                Ok((t, tile))
                            })
                            .collect()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| Err("a render thread panicked".into()))
                })
                .collect()
        });
        for part in rendered {
            for (t, tile) in part? {
                if let Some(bytes) = tile {
                    let coord =
                        pmtiles::TileCoord::new(t.z, t.x, t.y).map_err(|e| e.to_string())?;
                    writer.add_tile(coord, &bytes).map_err(|e| e.to_string())?;
                    written += 1;
                }
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

/// A tile and its bytes (`None` when empty).
type Rendered = (TileCoord, Option<Vec<u8>>);

fn hilbert_id(t: TileCoord) -> u64 {
    pmtiles::TileCoord::new(t.z, t.x, t.y).map_or(u64::MAX, |c| u64::from(TileId::from(c)))
}

/// The archive's metadata: the TileJSON-style `vector_layers` MapLibre reads.
fn metadata(layers: &[&Layer]) -> serde_json::Value {
    let vector_layers: Vec<_> = layers
        .iter()
        .flat_map(|l| {
            let fields: serde_json::Map<String, serde_json::Value> = l
                .tile_fields()
                .map(|(k, t)| (k.clone(), json!(t.tilejson_name())))
                .collect();
            let mut out = vec![json!({"id": l.id(), "description": l.config.description, "minzoom": l.config.minzoom, "maxzoom": l.config.maxzoom, "fields": fields})];
            if l.label_points.is_some() {
                out.push(json!({"id": l.label_layer_name(), "minzoom": l.config.minzoom, "maxzoom": l.config.maxzoom, "fields": fields}));
            }
            out
        })
        .collect();
    let attribution: Vec<&str> = layers
        .iter()
        .map(|l| l.config.attribution.as_str())
        .filter(|a| !a.is_empty())
        .collect();
    json!({
        "name": "Terril",
        "format": "pbf",
        "attribution": attribution.join(" — "),
        "vector_layers": vector_layers,
        "generator": format!("terril {}", env!("CARGO_PKG_VERSION")),
    })
}
