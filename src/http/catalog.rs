//! `GET /catalog` (what is served) and `GET /health` (whether it is).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;
use crate::layer::Layer;

/// The public description of a layer, shared by `/catalog` and `terril check`.
#[must_use]
pub fn layer_summary(layer: &Layer) -> Value {
    let fields: serde_json::Map<String, Value> = layer
        .fields
        .iter()
        .map(|(k, t)| (k.clone(), Value::from(t.name())))
        .collect();
    json!({
        "id": layer.id(),
        "title": layer.config.title,
        "description": layer.config.description,
        "attribution": layer.config.attribution,
        "licence": layer.config.licence,
        "geometry_types": layer.geometry_types,
        "count": layer.features.len(),
        "bounds": layer.bounds,
        "minzoom": layer.config.minzoom,
        "maxzoom": layer.config.maxzoom,
        "fields": fields,
        "tile_fields": layer.tile_fields().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        "label": layer.config.label,
    })
}

pub async fn catalog(State(state): State<AppState>) -> Json<Value> {
    let catalog = state.catalog();
    Json(json!({
        "version": format!("{:016x}", catalog.version()),
        "layers": catalog.layers().iter().map(|l| layer_summary(l)).collect::<Vec<_>>(),
    }))
}

pub async fn health(State(state): State<AppState>) -> Json<Value> {
    let catalog = state.catalog();
    let (cache_bytes, cache_entries) = state.cache().usage();
    let status = state.load_status();
    let time = |t: Option<std::time::SystemTime>| {
        t.and_then(|t| jiff::Timestamp::try_from(t).ok())
            .map(|t| format!("{t:.0}"))
    };
    Json(json!({
        // Still serving (the previous data) after a failed reload; the error says why.
        "status": if status.last_error.is_some() { "degraded" } else { "ok" },
        "version": format!("{:016x}", catalog.version()),
        "layers": catalog.layers().len(),
        "features": catalog.feature_count(),
        "loaded_at": time(status.loaded_at),
        "loads": status.loads,
        "reload_error": status.last_error,
        "reload_failed_at": time(status.failed_at),
        "tile_cache": { "enabled": state.cache().is_enabled(), "bytes": cache_bytes, "entries": cache_entries },
    }))
}

/// A human summary of every layer, as `terril check` prints it.
#[must_use]
pub fn catalog_summary(catalog: &crate::layer::Catalog) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for layer in catalog.layers() {
        let _ = writeln!(out, "{} — {} feature(s)", layer.id(), layer.features.len());
        let types: Vec<&str> = layer.geometry_types.iter().copied().collect();
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
