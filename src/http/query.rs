//! Territorial queries over HTTP: `/query/at`, `/query/within`, `/query/nearest`, `/query/near`.
//! Answers are GeoJSON FeatureCollections; distances are ground metres on WGS84.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::features::{GEOJSON, MAX_LIMIT, feature_json, find_layer, layer_filter, typed_json};
use super::params::{Params, lon_lat};
use super::{ApiError, AppState};
use crate::layer::Layer;
use crate::query::{self, Hit, MAX_DISTANCE_M, MAX_K};

/// Metres rounded to the centimetre for output.
fn metres(d: f64) -> Value {
    json!((d * 100.0).round() / 100.0)
}

fn collection(features: Vec<Value>) -> Response {
    typed_json(
        &json!({
            "type": "FeatureCollection",
            "numberReturned": features.len(),
            "features": features,
        }),
        GEOJSON,
    )
}

/// The hits as a FeatureCollection, each feature with its layer and `distance_m`.
fn with_distances(layer: &Layer, hits: &[Hit]) -> Response {
    collection(
        hits.iter()
            .map(|h| {
                let extra = [("distance_m", metres(h.distance_m))];
                tagged(feature_json(layer, h.index, None, &extra), layer)
            })
            .collect(),
    )
}

fn tagged(mut feature: Value, layer: &Layer) -> Value {
    feature["layer"] = json!(layer.id());
    feature
}

/// `GET /query/at?lon&lat[&layers]`: features whose geometry contains the point.
pub async fn at(State(state): State<AppState>, raw: RawQuery) -> Result<Response, ApiError> {
    let p = Params::parse(&raw, &["lon", "lat", "layers"])?;
    let (lon, lat) = lon_lat(&p)?;
    let catalog = state.catalog();
    let layers: Vec<Arc<Layer>> = match p.get("layers") {
        None => catalog.layers().to_vec(),
        Some(list) => list
            .split(',')
            .map(|id| find_layer(&catalog, id))
            .collect::<Result<_, _>>()?,
    };
    let mut features = Vec::new();
    for layer in &layers {
        for i in query::at(layer, lon, lat, None) {
            features.push(tagged(feature_json(layer, i, None, &[]), layer));
        }
    }
    Ok(collection(features))
}

/// `GET /query/within?layer&lon&lat&radius_m[&filter&limit]`: nearest first, with `distance_m`.
pub async fn within(State(state): State<AppState>, raw: RawQuery) -> Result<Response, ApiError> {
    let p = Params::parse(
        &raw,
        &[
            "layer",
            "lon",
            "lat",
            "radius_m",
            "filter",
            "filter-lang",
            "limit",
        ],
    )?;
    let layer = find_layer(&state.catalog(), p.required("layer")?)?;
    let (lon, lat) = lon_lat(&p)?;
    let radius_m = p.required_number("radius_m", 0.0..=MAX_DISTANCE_M)?;
    let limit = p.integer("limit", 1..=MAX_LIMIT)?.unwrap_or(MAX_LIMIT);
    let filter = layer_filter(p.get("filter"), p.get("filter-lang"), &layer)?;
    let hits = query::within(&layer, lon, lat, radius_m, filter.as_ref(), limit);
    Ok(with_distances(&layer, &hits))
}

/// `GET /query/nearest?layer&lon&lat&k[&filter&max_distance_m]`: the k nearest, with `distance_m`.
pub async fn nearest(State(state): State<AppState>, raw: RawQuery) -> Result<Response, ApiError> {
    let p = Params::parse(
        &raw,
        &[
            "layer",
            "lon",
            "lat",
            "k",
            "filter",
            "filter-lang",
            "max_distance_m",
        ],
    )?;
    let layer = find_layer(&state.catalog(), p.required("layer")?)?;
    let (lon, lat) = lon_lat(&p)?;
    let k = p.integer("k", 1..=MAX_K)?.unwrap_or(1);
    let max = p
        .number("max_distance_m", 0.0..=f64::MAX)?
        .unwrap_or(f64::INFINITY);
    let filter = layer_filter(p.get("filter"), p.get("filter-lang"), &layer)?;
    let hits = query::nearest(&layer, lon, lat, k, filter.as_ref(), max);
    Ok(with_distances(&layer, &hits))
}

/// `GET /query/near?layer&target&distance_m[&filter&target_filter]`: features of `layer`
/// within `distance_m` of a `target` feature, with the nearest target's id, name and distance.
pub async fn near(State(state): State<AppState>, raw: RawQuery) -> Result<Response, ApiError> {
    let p = Params::parse(
        &raw,
        &[
            "layer",
            "target",
            "distance_m",
            "filter",
            "target_filter",
            "filter-lang",
            "limit",
        ],
    )?;
    let catalog = state.catalog();
    let layer = find_layer(&catalog, p.required("layer")?)?;
    let target = find_layer(&catalog, p.required("target")?)?;
    let distance_m = p.required_number("distance_m", 0.0..=MAX_DISTANCE_M)?;
    let limit = p.integer("limit", 1..=MAX_LIMIT)?.unwrap_or(MAX_LIMIT);
    let filter = layer_filter(p.get("filter"), p.get("filter-lang"), &layer)?;
    let target_filter = layer_filter(p.get("target_filter"), p.get("filter-lang"), &target)?;
    let hits = query::near(
        &layer,
        filter.as_ref(),
        &target,
        target_filter.as_ref(),
        distance_m,
    );
    let label = target.config.label.as_deref().unwrap_or("name");
    Ok(collection(
        hits.iter()
            .take(limit)
            .map(|h| {
                let t = &target.features[h.target];
                let extra = [
                    ("distance_m", metres(h.distance_m)),
                    ("target_layer", json!(target.id())),
                    ("target_id", json!(t.id)),
                    (
                        "target_name",
                        t.properties.get(label).cloned().unwrap_or(Value::Null),
                    ),
                ];
                tagged(feature_json(&layer, h.index, None, &extra), &layer)
            })
            .collect(),
    ))
}
