//! Territorial queries over HTTP: `/query/at`, `/query/within`, `/query/nearest`, `/query/near`.
//! Answers are GeoJSON FeatureCollections; distances are ground metres on WGS84. `crs` picks
//! the CRS of the geometry returned (lon/lat parameters stay WGS84).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::features::{GEOJSON, MAX_LIMIT, crs_param, feature_collection, find_layer};
use super::params::{Params, lon_lat};
use super::{ApiError, AppState};
use crate::crs::Crs;
use crate::query::{MAX_DISTANCE_M, MAX_K};
use crate::source::{Found, LayerSource, near as near_query};

/// Metres rounded to the centimetre for output.
fn metres(d: f64) -> Value {
    json!((d * 100.0).round() / 100.0)
}

/// The found features as a FeatureCollection, each with its layer, and its distance (and
/// nearest target) when the query measured one.
fn collection(found: &[(Arc<str>, Found)], target_layer: Option<&str>, crs: Crs) -> Response {
    let features: Vec<_> = found.iter().map(|(_, f)| f.feature.clone()).collect();
    let head = json!({
        "type": "FeatureCollection",
        "numberReturned": found.len(),
    });
    let body = feature_collection(head, &features, |i| {
        let (layer, f) = &found[i];
        let mut props: Vec<(&str, Value)> = Vec::new();
        if let Some(d) = f.distance_m {
            props.push(("distance_m", metres(d)));
        }
        if let Some((id, name)) = &f.target {
            props.push(("target_layer", json!(target_layer)));
            props.push(("target_id", json!(id)));
            props.push(("target_name", name.clone()));
        }
        (props, vec![("layer", json!(&**layer))])
    });
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON));
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", crs.uri())) {
        h.insert("content-crs", v);
    }
    response
}

fn tagged(layer: &LayerSource, found: Vec<Found>) -> Vec<(Arc<str>, Found)> {
    let id: Arc<str> = layer.id().into();
    found.into_iter().map(|f| (Arc::clone(&id), f)).collect()
}

/// `GET /query/at?lon&lat[&layers]`: features whose geometry contains the point.
pub async fn at(State(state): State<AppState>, raw: RawQuery) -> Result<Response, ApiError> {
    let p = Params::parse(&raw, &["lon", "lat", "layers", "crs"])?;
    let (lon, lat) = lon_lat(&p)?;
    let crs = crs_param(&p, "crs")?;
    let catalog = state.catalog();
    let layers: Vec<Arc<LayerSource>> = match p.get("layers") {
        None => catalog
            .layers()
            .iter()
            .filter(|l| l.info.queryable)
            .cloned()
            .collect(),
        Some(list) => list
            .split(',')
            .map(|id| find_layer(&catalog, id))
            .collect::<Result<_, _>>()?,
    };
    let ctx = state.ctx();
    let mut found = Vec::new();
    for layer in &layers {
        found.extend(tagged(layer, layer.at(&ctx, lon, lat, crs).await?));
    }
    Ok(collection(&found, None, crs))
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
            "crs",
        ],
    )?;
    let catalog = state.catalog();
    let layer = find_layer(&catalog, p.required("layer")?)?;
    let (lon, lat) = lon_lat(&p)?;
    let radius_m = p.required_number("radius_m", 0.0..=MAX_DISTANCE_M)?;
    let limit = p.integer("limit", 1..=MAX_LIMIT)?.unwrap_or(MAX_LIMIT);
    let crs = crs_param(&p, "crs")?;
    let filter = state
        .filter(&catalog, &layer, p.get("filter"), p.get("filter-lang"))
        .await?;
    let found = layer
        .within(&state.ctx(), lon, lat, radius_m, filter, limit, crs)
        .await?;
    Ok(collection(&tagged(&layer, found), None, crs))
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
            "crs",
        ],
    )?;
    let catalog = state.catalog();
    let layer = find_layer(&catalog, p.required("layer")?)?;
    let (lon, lat) = lon_lat(&p)?;
    let k = p.integer("k", 1..=MAX_K)?.unwrap_or(1);
    let max = p
        .number("max_distance_m", 0.0..=f64::MAX)?
        .unwrap_or(f64::INFINITY);
    let crs = crs_param(&p, "crs")?;
    let filter = state
        .filter(&catalog, &layer, p.get("filter"), p.get("filter-lang"))
        .await?;
    let found = layer
        .nearest(&state.ctx(), lon, lat, k, filter, max, crs)
        .await?;
    Ok(collection(&tagged(&layer, found), None, crs))
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
            "crs",
        ],
    )?;
    let catalog = state.catalog();
    let layer = find_layer(&catalog, p.required("layer")?)?;
    let target = find_layer(&catalog, p.required("target")?)?;
    let distance_m = p.required_number("distance_m", 0.0..=MAX_DISTANCE_M)?;
    let limit = p.integer("limit", 1..=MAX_LIMIT)?.unwrap_or(MAX_LIMIT);
    let crs = crs_param(&p, "crs")?;
    let filter = state
        .filter(&catalog, &layer, p.get("filter"), p.get("filter-lang"))
        .await?;
    let target_filter = state
        .filter(
            &catalog,
            &target,
            p.get("target_filter"),
            p.get("filter-lang"),
        )
        .await?;
    let found = near_query(
        &state.ctx(),
        &layer,
        filter,
        &target,
        target_filter,
        distance_m,
        limit,
        crs,
    )
    .await?;
    Ok(collection(&tagged(&layer, found), Some(target.id()), crs))
}
