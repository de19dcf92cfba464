//! `GET /catalog` (what is served) and `GET /health` (whether it is).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;
use crate::data::LayerKind;
use crate::source::{LayerInfo, generalization};

/// The public description of a layer, shared by `/catalog` and `terril check`.
#[must_use]
pub fn layer_summary(layer: &LayerInfo) -> Value {
    let fields: serde_json::Map<String, Value> = layer
        .fields
        .iter()
        .map(|(k, t)| (k.clone(), Value::from(t.name())))
        .collect();
    let config = &layer.config;
    json!({
        "id": layer.id(),
        "title": config.title,
        "description": config.description,
        "attribution": config.attribution,
        "licence": config.licence,
        "source": match layer.kind {
            LayerKind::File => "geojson",
            LayerKind::Postgis => "postgis",
            LayerKind::Archive => "archive",
        },
        "queryable": layer.queryable,
        "geometry_types": layer.geometry_types,
        "count": layer.count,
        "unlocated": layer.unlocated,
        "bounds": layer.bounds,
        "minzoom": config.minzoom,
        "maxzoom": config.maxzoom,
        "fields": fields,
        "tile_fields": layer.tile_fields.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        "label": config.label,
        "generalization": config.generalize.as_ref().map(|g| generalization(g, config.minzoom)),
    })
}

pub async fn catalog(State(state): State<AppState>) -> Json<Value> {
    let catalog = state.catalog();
    Json(json!({
        "version": format!("{:016x}", catalog.version()),
        "layers": catalog.layers().iter().map(|l| layer_summary(&l.info)).collect::<Vec<_>>(),
    }))
}

pub async fn health(State(state): State<AppState>) -> Json<Value> {
    // The load status first: a reload swaps the data and empties the cache before it counts
    // itself there, so what is read after it is at least as new as the count of loads.
    let status = state.load_status();
    let catalog = state.catalog();
    let (cache_bytes, cache_entries) = state.tiles().usage();
    let time = |t: Option<std::time::SystemTime>| {
        t.and_then(|t| jiff::Timestamp::try_from(t).ok())
            .map(|t| format!("{t:.0}"))
    };
    let database = catalog.database().map(|db| {
        json!({
            "database": db.shown(),
            "status": if db.is_up() { "ok" } else { "unavailable" },
            "error": db.last_error().filter(|_| !db.is_up()).map(|_| "the database does not answer; its layers get 503 until it does"),
        })
    });
    let degraded = status.last_error.is_some() || catalog.database().is_some_and(|db| !db.is_up());
    Json(json!({
        // Still serving (the previous data, or the layers held in memory) after a failed
        // reload or while the database is down; the errors say why.
        "status": if degraded { "degraded" } else { "ok" },
        "postgis": database,
        "version": format!("{:016x}", catalog.version()),
        "layers": catalog.layers().len(),
        "features": catalog.feature_count(),
        "loaded_at": time(status.loaded_at),
        "loads": status.loads,
        "map_assets": if state.warmed() { "ready" } else { "warming" },
        "reload_error": status.last_error.as_deref().map(public_error),
        "reload_failed_at": time(status.failed_at),
        "tile_cache": { "enabled": state.tiles().is_enabled(), "bytes": cache_bytes, "entries": cache_entries },
        "cpu": {
            "workers": state.pool().workers(),
            "running": state.pool().stats().running.load(std::sync::atomic::Ordering::Relaxed),
            "waiting": state.pool().stats().waiting.load(std::sync::atomic::Ordering::Relaxed),
        },
    }))
}

/// A load error as `/health` shows it: the file (as the catalog names it) and the kind of
/// problem, never file contents or absolute paths (those go to the log).
#[must_use]
pub fn public_error(message: &str) -> String {
    let (file, rest) = message.split_once(": ").unwrap_or(("the data", message));
    let file = if file.starts_with('/') || file.contains("..") {
        "a data file"
    } else {
        file
    };
    let kind = if rest.contains("invalid JSON") {
        "invalid JSON"
    } else if rest.contains("TOML") {
        "invalid TOML"
    } else if rest.contains("outside the data folder") {
        "a path outside the data folder"
    } else if rest.contains("cannot read") || rest.contains("no such file") {
        "a file that cannot be read"
    } else if rest.contains("feature #") {
        "an invalid feature"
    } else {
        "invalid data"
    };
    format!("{file}: {kind} (details in the server log)")
}

/// A human summary of every layer, as `terril check` prints it.
#[must_use]
pub fn catalog_summary(catalog: &crate::source::Catalog) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for source in catalog.layers() {
        let layer = &source.info;
        if let Some(archive) = source.as_archive() {
            let names: Vec<String> = layer
                .vector_layers()
                .iter()
                .filter_map(|l| l["id"].as_str().map(str::to_owned))
                .collect();
            let _ = writeln!(out, "{} — tile archive {}", layer.id(), archive.location);
            let _ = writeln!(out, "  layers:   {}", names.join(", "));
        } else {
            let count = layer.count.map_or("?".to_owned(), |c| c.to_string());
            let _ = writeln!(out, "{} — {count} feature(s)", layer.id());
        }
        let types: Vec<&str> = layer.geometry_types.iter().map(String::as_str).collect();
        let _ = writeln!(out, "  geometry: {}", types.join(", "));
        if let Some(b) = layer.bounds {
            let _ = writeln!(
                out,
                "  bounds:   {:.6}, {:.6}, {:.6}, {:.6} (W, S, E, N)",
                b[0], b[1], b[2], b[3]
            );
        }
        let _ = writeln!(
            out,
            "  zooms:    {}..={}",
            layer.config.minzoom, layer.config.maxzoom
        );
        let fields: Vec<String> = layer
            .fields
            .iter()
            .map(|(k, t)| format!("{k}: {}", t.name()))
            .collect();
        let _ = writeln!(out, "  fields:   {}", fields.join(", "));
    }
    let _ = write!(
        out,
        "ok: {} layer(s), {} feature(s), version {:016x}",
        catalog.layers().len(),
        catalog.feature_count(),
        catalog.version()
    );
    out
}
