//! Tile routes: `GET /tiles/{z}/{x}/{y}.mvt`, `GET /tiles/{layers}/{z}/{x}/{y}.mvt`, and TileJSON.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::features::layer_filter;
use super::params::Params;
use super::{ApiError, AppState, header_value, if_none_match};
use crate::layer::{Catalog, Layer, union_bounds};
use crate::mercator::TileCoord;
use crate::query::filter::Filter;
use crate::tile::cache::{CachedTile, Encoding, TileKey};
use crate::tile::{LayerRequest, render};

/// The MVT media type.
pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

pub async fn tile_all(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((z, x, y)) = path?;
    serve_tile(&state, None, [&z, &x, &y], &raw, &headers)
}

pub async fn tile_layers(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String, String)>, PathRejection>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((layers, z, x, y)) = path?;
    serve_tile(&state, Some(&layers), [&z, &x, &y], &raw, &headers)
}

/// Resolves a comma list of layer ids (all layers for `None`), in the order given.
fn resolve_layers<'a>(
    catalog: &'a Catalog,
    list: Option<&str>,
) -> Result<Vec<&'a Arc<Layer>>, ApiError> {
    let Some(list) = list else {
        return Ok(catalog.layers().iter().collect());
    };
    let mut out: Vec<&Arc<Layer>> = Vec::new();
    for id in list.split(',') {
        if id.is_empty() {
            return Err(ApiError::bad_request(
                "invalid_layers",
                "empty layer id in the comma list",
            ));
        }
        let layer = catalog.layer(id).ok_or_else(|| {
            let shown: String = id.chars().take(64).collect();
            ApiError::not_found("unknown_layer", format!("no layer {shown:?}; see /catalog"))
        })?;
        if !out.iter().any(|l| Arc::ptr_eq(l, layer)) {
            out.push(layer);
        }
    }
    Ok(out)
}

fn serve_tile(
    state: &AppState,
    layers: Option<&str>,
    [z, x, y]: [&str; 3],
    raw: &RawQuery,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let coord = TileCoord::parse(z, x, y, "mvt")
        .map_err(|e| ApiError::bad_request("invalid_tile", e.to_string()))?;
    let params = Params::parse(raw, &["filter", "filter-lang"])?;
    let catalog = state.catalog();
    let layers = resolve_layers(&catalog, layers)?;
    let filter_text = params.get("filter");
    let filter_lang = params.get("filter-lang");
    // One compiled filter per layer: each layer has its own queryables.
    let filters: Vec<Option<Filter>> = layers
        .iter()
        .map(|l| layer_filter(filter_text, filter_lang, l))
        .collect::<Result<_, _>>()?;
    let filter_key: Option<Arc<str>> =
        filter_text.map(|f| format!("{}:{f}", filter_lang.unwrap_or("cql2-text")).into());
    let layer_key: String = layers.iter().map(|l| l.id()).collect::<Vec<_>>().join(",");
    let encoding = negotiate(headers);
    let key = |encoding| TileKey {
        version: catalog.version(),
        layers: layer_key.as_str().into(),
        filter: filter_key.clone(),
        coord,
        encoding,
    };

    let cache = state.cache();
    let tile = match cache.get(&key(encoding)) {
        Some(hit) => {
            state.metrics().tile_cache_hits.inc();
            hit
        }
        None => {
            if cache.is_enabled() {
                state.metrics().tile_cache_misses.inc();
            }
            let raw = match cache.get(&key(Encoding::Identity)) {
                Some(hit) => hit,
                None => {
                    let requests: Vec<LayerRequest<'_>> = layers
                        .iter()
                        .zip(&filters)
                        .map(|(layer, filter)| LayerRequest {
                            layer,
                            filter: filter.as_ref(),
                        })
                        .collect();
                    let bytes = render(&requests, coord)
                        .map_err(ApiError::internal)?
                        .unwrap_or_default();
                    let etag = format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&bytes));
                    let raw = CachedTile {
                        body: bytes.into(),
                        etag: etag.into(),
                    };
                    cache.insert(key(Encoding::Identity), raw.clone());
                    raw
                }
            };
            if encoding == Encoding::Identity || raw.body.is_empty() {
                raw
            } else {
                let etag = format!(
                    "{}-{}\"",
                    raw.etag.trim_end_matches('"'),
                    encoding.header().unwrap_or_default()
                );
                let compressed = CachedTile {
                    body: encoding.compress(&raw.body),
                    etag: etag.into(),
                };
                cache.insert(key(encoding), compressed.clone());
                compressed
            }
        }
    };
    Ok(respond(state, tile, encoding, headers))
}

fn respond(
    state: &AppState,
    tile: CachedTile,
    encoding: Encoding,
    headers: &HeaderMap,
) -> Response {
    let not_modified = if_none_match(headers, &tile.etag);
    let status = if not_modified {
        StatusCode::NOT_MODIFIED
    } else if tile.body.is_empty() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::OK
    };
    let mut response = if status == StatusCode::OK {
        tile.body.clone().into_response()
    } else {
        status.into_response()
    };
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::ETAG, header_value(&tile.etag));
    h.insert(
        header::CACHE_CONTROL,
        header_value(&state.options().cache_control),
    );
    h.insert(header::VARY, header_value("accept-encoding"));
    if status == StatusCode::OK {
        h.insert(header::CONTENT_TYPE, header_value(MVT_CONTENT_TYPE));
        if let Some(token) = encoding.header().filter(|_| !tile.body.is_empty()) {
            h.insert(header::CONTENT_ENCODING, header_value(token));
        }
    }
    response
}

/// Picks the response encoding from `Accept-Encoding`: br, then gzip, then identity.
fn negotiate(headers: &HeaderMap) -> Encoding {
    let mut best = Encoding::Identity;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let token = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if refused {
                continue;
            }
            match token.as_str() {
                "br" => best = Encoding::Brotli,
                "gzip" if best == Encoding::Identity => best = Encoding::Gzip,
                _ => {}
            }
        }
    }
    best
}

pub async fn tilejson_all(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    tilejson(&state, None, &headers)
}

pub async fn tilejson_layers(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let Path(segment) = path?;
    let list = segment.strip_suffix(".json").ok_or_else(|| {
        ApiError::not_found("not_found", "TileJSON lives at /tiles/{layers}.json")
    })?;
    tilejson(&state, Some(list), &headers)
}

/// TileJSON 3.0.0 for a set of layers.
fn tilejson(
    state: &AppState,
    list: Option<&str>,
    headers: &HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let catalog = state.catalog();
    let layers = resolve_layers(&catalog, list)?;
    let base = state.base_url(headers);
    let path = match list {
        None => format!("{base}/tiles/{{z}}/{{x}}/{{y}}.mvt"),
        Some(_) => {
            let ids: Vec<&str> = layers.iter().map(|l| l.id()).collect();
            format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt", ids.join(","))
        }
    };
    let minzoom = layers.iter().map(|l| l.config.minzoom).min().unwrap_or(0);
    let maxzoom = layers.iter().map(|l| l.config.maxzoom).max().unwrap_or(0);
    let bounds = union_bounds(layers.iter().filter_map(|l| l.bounds)).unwrap_or([
        -180.0,
        -85.051_129,
        180.0,
        85.051_129,
    ]);
    let center_zoom = (minzoom.max(9)).min(maxzoom);
    let center = [
        (bounds[0] + bounds[2]) / 2.0,
        (bounds[1] + bounds[3]) / 2.0,
        f64::from(center_zoom),
    ];
    let mut attributions: Vec<&str> = Vec::new();
    for l in &layers {
        let a = l.config.attribution.as_str();
        if !a.is_empty() && !attributions.contains(&a) {
            attributions.push(a);
        }
    }
    let mut vector_layers: Vec<Value> = Vec::new();
    for l in &layers {
        let mut fields = serde_json::Map::new();
        let mut label_fields = serde_json::Map::new();
        if !l.ids_are_numeric && !l.fields.contains_key("id") {
            fields.insert("id".into(), json!("String"));
            label_fields.insert("id".into(), json!("String"));
        }
        for (k, t) in l.tile_fields() {
            fields.insert(k.clone(), json!(t.tilejson_name()));
        }
        if let Some(label) = &l.config.label
            && let Some(t) = l.fields.get(label)
        {
            label_fields.insert(label.clone(), json!(t.tilejson_name()));
        }
        vector_layers.push(json!({
            "id": l.id(),
            "description": l.config.description,
            "minzoom": l.config.minzoom,
            "maxzoom": l.config.maxzoom,
            "fields": fields,
        }));
        if l.label_points.is_some() {
            vector_layers.push(json!({
                "id": l.label_layer_name(),
                "description": format!("One label point inside each feature of {}", l.id()),
                "minzoom": l.config.minzoom,
                "maxzoom": l.config.maxzoom,
                "fields": label_fields,
            }));
        }
    }
    let name = match list {
        None => "Terril".to_owned(),
        Some(_) => layers
            .iter()
            .map(|l| l.config.title.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    Ok(Json(json!({
        "tilejson": "3.0.0",
        "name": name,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [path],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": bounds,
        "center": center,
        "attribution": attributions.join(" — "),
        "vector_layers": vector_layers,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn negotiation_honours_q_zero() {
        assert_eq!(negotiate(&HeaderMap::new()), Encoding::Identity);
        assert_eq!(
            negotiate(&with(header::ACCEPT_ENCODING, "gzip, deflate, br")),
            Encoding::Brotli
        );
        assert_eq!(
            negotiate(&with(header::ACCEPT_ENCODING, "gzip, br;q=0")),
            Encoding::Gzip
        );
        assert_eq!(
            negotiate(&with(header::ACCEPT_ENCODING, "identity")),
            Encoding::Identity
        );
    }

    #[test]
    fn etag_matching() {
        assert!(if_none_match(
            &with(header::IF_NONE_MATCH, "\"a\", \"b\""),
            "\"b\""
        ));
        assert!(if_none_match(
            &with(header::IF_NONE_MATCH, "W/\"b\""),
            "\"b\""
        ));
        assert!(if_none_match(&with(header::IF_NONE_MATCH, "*"), "\"b\""));
        assert!(!if_none_match(
            &with(header::IF_NONE_MATCH, "\"c\""),
            "\"b\""
        ));
    }
}
