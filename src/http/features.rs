//! OGC API – Features (Part 1 Core with GeoJSON and OpenAPI 3.0; Part 3 Filtering with CQL2):
//! landing page, conformance, collections, queryables, items and single features.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use geo::{BoundingRect, Intersects, Rect};
use serde_json::{Map, Value, json};

use super::params::Params;
use super::{ApiError, AppState, header_value};
use crate::layer::{Catalog, FieldType, Layer};
use crate::query::filter::{Filter, FilterError, FilterLang};

/// The GeoJSON media type.
pub const GEOJSON: &str = "application/geo+json";

/// Most items one page may hold.
pub const MAX_LIMIT: usize = 10_000;

/// Conformance classes implemented.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/accent-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
];

const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// A JSON response with a given media type.
pub fn typed_json(value: &Value, content_type: &str) -> Response {
    let mut response = Json(value).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header_value(content_type));
    response
}

/// A layer by id, or a 404 naming it.
pub fn find_layer(catalog: &Catalog, id: &str) -> Result<Arc<Layer>, ApiError> {
    catalog.layer(id).cloned().ok_or_else(|| {
        let shown: String = id.chars().take(64).collect();
        ApiError::not_found(
            "unknown_collection",
            format!("no collection {shown:?}; see /collections"),
        )
    })
}

/// Compiles an optional filter for a layer: 400 with the reason when it does not fit.
pub fn layer_filter(
    text: Option<&str>,
    lang: Option<&str>,
    layer: &Layer,
) -> Result<Option<Filter>, ApiError> {
    let lang = FilterLang::parse(lang).map_err(filter_error)?;
    text.map(|t| Filter::new(t, lang, layer).map_err(filter_error))
        .transpose()
}

/// A filter problem as a 400.
pub fn filter_error(e: FilterError) -> ApiError {
    ApiError::bad_request("invalid_filter", e.0)
}

/// A feature as GeoJSON, with `extra` properties appended and optionally only `select`ed ones.
#[must_use]
pub fn feature_json(
    layer: &Layer,
    index: usize,
    select: Option<&[String]>,
    extra: &[(&str, Value)],
) -> Value {
    let f = &layer.features[index];
    let mut properties: Map<String, Value> = match select {
        None => f.properties.clone(),
        Some(keys) => keys
            .iter()
            .filter_map(|k| f.properties.get(k).map(|v| (k.clone(), v.clone())))
            .collect(),
    };
    for (k, v) in extra {
        properties.insert((*k).to_owned(), v.clone());
    }
    let geometry = geojson::Geometry::new(geojson::GeometryValue::from(&f.lonlat));
    json!({
        "type": "Feature",
        "id": f.id,
        "geometry": geometry,
        "properties": properties,
    })
}

fn wants_json_only(params: &Params) -> Result<(), ApiError> {
    match params.get("f") {
        None | Some("json" | "geojson") => Ok(()),
        Some(other) => Err(ApiError::bad_request(
            "invalid_parameter",
            format!("f={other:?} is not offered here; use f=json"),
        )),
    }
}

pub async fn landing(
    State(state): State<AppState>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    wants_json_only(&Params::parse(&raw, &["f"])?)?;
    let base = state.base_url(&headers);
    Ok(typed_json(
        &json!({
            "title": "Terril",
            "description": "Vector tiles and spatial queries for the Pôle Métropolitain de l'Artois: communes, agglomerations, economic zones, campuses, tourist sites and infrastructure.",
            "links": [
                {"href": format!("{base}/?f=json"), "rel": "self", "type": "application/json", "title": "This document"},
                {"href": format!("{base}/api"), "rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0", "title": "The API definition (OpenAPI 3.0)"},
                {"href": format!("{base}/conformance"), "rel": "conformance", "type": "application/json", "title": "Conformance classes"},
                {"href": format!("{base}/collections"), "rel": "data", "type": "application/json", "title": "The layers as feature collections"},
                {"href": format!("{base}/tiles.json"), "rel": "describedby", "type": "application/json", "title": "TileJSON of the vector tiles"},
            ],
        }),
        "application/json",
    ))
}

pub async fn conformance(raw: RawQuery) -> Result<Response, ApiError> {
    wants_json_only(&Params::parse(&raw, &["f"])?)?;
    Ok(typed_json(
        &json!({ "conformsTo": CONFORMANCE }),
        "application/json",
    ))
}

fn collection_json(layer: &Layer, base: &str) -> Value {
    let id = layer.id();
    let bbox = layer.bounds.unwrap_or([-180.0, -90.0, 180.0, 90.0]);
    json!({
        "id": id,
        "title": layer.config.title,
        "description": layer.config.description,
        "attribution": layer.config.attribution,
        "license": layer.config.licence,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": { "spatial": { "bbox": [bbox], "crs": CRS84 } },
        "links": [
            {"href": format!("{base}/collections/{id}"), "rel": "self", "type": "application/json", "title": layer.config.title},
            {"href": format!("{base}/collections/{id}/items"), "rel": "items", "type": GEOJSON, "title": "Features"},
            {"href": format!("{base}/collections/{id}/queryables"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json", "title": "Queryables"},
            {"href": format!("{base}/tiles/{id}.json"), "rel": "describedby", "type": "application/json", "title": "TileJSON of this layer's vector tiles"},
        ],
    })
}

pub async fn collections(
    State(state): State<AppState>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    wants_json_only(&Params::parse(&raw, &["f"])?)?;
    let base = state.base_url(&headers);
    let catalog = state.catalog();
    Ok(typed_json(
        &json!({
            "links": [{"href": format!("{base}/collections"), "rel": "self", "type": "application/json"}],
            "collections": catalog.layers().iter().map(|l| collection_json(l, &base)).collect::<Vec<_>>(),
        }),
        "application/json",
    ))
}

pub async fn collection(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(id) = path?;
    wants_json_only(&Params::parse(&raw, &["f"])?)?;
    let layer = find_layer(&state.catalog(), &id)?;
    Ok(typed_json(
        &collection_json(&layer, &state.base_url(&headers)),
        "application/json",
    ))
}

/// The JSON Schema type of a field.
fn schema_type(t: FieldType) -> Value {
    match t {
        FieldType::Integer => json!({"type": "integer"}),
        FieldType::Number => json!({"type": "number"}),
        FieldType::String => json!({"type": "string"}),
        FieldType::Boolean => json!({"type": "boolean"}),
        FieldType::Mixed => json!({}),
    }
}

pub async fn queryables(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(id) = path?;
    wants_json_only(&Params::parse(&raw, &["f"])?)?;
    let layer = find_layer(&state.catalog(), &id)?;
    let base = state.base_url(&headers);
    let mut properties = Map::new();
    let kinds: Vec<&str> = layer.geometry_types.iter().copied().collect();
    properties.insert(
        "geometry".into(),
        json!({"title": format!("Geometry ({})", kinds.join(", ")), "format": "geometry-any"}),
    );
    if !layer.fields.contains_key("id") {
        properties.insert(
            "id".into(),
            json!({"title": "Feature id", "type": "string"}),
        );
    }
    for (name, t) in &layer.fields {
        let mut schema = schema_type(*t);
        schema["title"] = json!(name);
        properties.insert(name.clone(), schema);
    }
    Ok(typed_json(
        &json!({
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": format!("{base}/collections/{}/queryables", layer.id()),
            "type": "object",
            "title": layer.config.title,
            "properties": properties,
            "additionalProperties": false,
        }),
        "application/schema+json",
    ))
}

/// Parses `bbox` (west, south, east, north in lon/lat; 6 numbers allowed, heights ignored).
pub fn parse_bbox(text: &str) -> Result<Rect<f64>, ApiError> {
    let bad = |why: &str| {
        ApiError::bad_request(
            "invalid_bbox",
            format!("bbox {why}; expected west,south,east,north in degrees"),
        )
    };
    let nums: Vec<f64> = text
        .split(',')
        .map(|s| s.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("must be comma-separated numbers"))?;
    let (w, s, e, n) = match nums.as_slice() {
        [w, s, e, n] | [w, s, _, e, n, _] => (*w, *s, *e, *n),
        _ => return Err(bad("needs 4 numbers")),
    };
    if !(-180.0..=180.0).contains(&w)
        || !(-180.0..=180.0).contains(&e)
        || !(-90.0..=90.0).contains(&s)
        || !(-90.0..=90.0).contains(&n)
    {
        return Err(bad(
            "is out of range (longitude -180..180, latitude -90..90)",
        ));
    }
    if w > e || s > n {
        return Err(bad(
            "needs west ≤ east and south ≤ north (boxes across the antimeridian are not supported)",
        ));
    }
    Ok(Rect::new((w, s), (e, n)))
}

const ITEM_PARAMS: &[&str] = &[
    "f",
    "bbox",
    "bbox-crs",
    "limit",
    "offset",
    "properties",
    "filter",
    "filter-lang",
    "filter-crs",
];

pub async fn items(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(id) = path?;
    let params = Params::parse(&raw, ITEM_PARAMS)?;
    wants_json_only(&params)?;
    for crs_param in ["bbox-crs", "filter-crs"] {
        if let Some(crs) = params.get(crs_param)
            && crs != CRS84
        {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("{crs_param} must be {CRS84}"),
            ));
        }
    }
    let layer = find_layer(&state.catalog(), &id)?;
    let limit = params.integer("limit", 1..=MAX_LIMIT)?.unwrap_or(10);
    let offset = params.integer("offset", 0..=usize::MAX >> 1)?.unwrap_or(0);
    let bbox = params.get("bbox").map(parse_bbox).transpose()?;
    let filter = layer_filter(params.get("filter"), params.get("filter-lang"), &layer)?;
    let select: Option<Vec<String>> = match params.get("properties") {
        None => None,
        Some(list) => {
            let keys: Vec<String> = list
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if let Some(unknown) = keys.iter().find(|k| !layer.fields.contains_key(k.as_str())) {
                return Err(ApiError::bad_request(
                    "invalid_parameter",
                    format!(
                        "properties: {unknown:?} is not a property of {}",
                        layer.id()
                    ),
                ));
            }
            Some(keys)
        }
    };

    let bbox_polygon = bbox.map(|b| b.to_polygon());
    let matched: Vec<usize> = (0..layer.features.len())
        .filter(|&i| {
            let f = &layer.features[i];
            let in_box = bbox_polygon.as_ref().is_none_or(|b| {
                f.lonlat.bounding_rect().is_some_and(|r| r.intersects(b)) && f.lonlat.intersects(b)
            });
            in_box && filter.as_ref().is_none_or(|flt| flt.matches(f))
        })
        .collect();
    let page: Vec<Value> = matched
        .iter()
        .skip(offset)
        .take(limit)
        .map(|&i| feature_json(&layer, i, select.as_deref(), &[]))
        .collect();

    let base = state.base_url(&headers);
    let here = format!("{base}/collections/{}/items", layer.id());
    let mut links = vec![
        json!({"href": format!("{here}?{}", params.with(&[])), "rel": "self", "type": GEOJSON}),
        json!({"href": format!("{base}/collections/{}", layer.id()), "rel": "collection", "type": "application/json"}),
    ];
    if offset + page.len() < matched.len() {
        let next = params.with(&[
            ("offset", (offset + limit).to_string()),
            ("limit", limit.to_string()),
        ]);
        links.push(json!({"href": format!("{here}?{next}"), "rel": "next", "type": GEOJSON}));
    }
    if offset > 0 {
        let prev = params.with(&[
            ("offset", offset.saturating_sub(limit).to_string()),
            ("limit", limit.to_string()),
        ]);
        links.push(json!({"href": format!("{here}?{prev}"), "rel": "prev", "type": GEOJSON}));
    }
    Ok(typed_json(
        &json!({
            "type": "FeatureCollection",
            "numberMatched": matched.len(),
            "numberReturned": page.len(),
            "timeStamp": timestamp(),
            "links": links,
            "features": page,
        }),
        GEOJSON,
    ))
}

pub async fn item(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((id, fid)) = path?;
    wants_json_only(&Params::parse(&raw, &["f"])?)?;
    let layer = find_layer(&state.catalog(), &id)?;
    let index = layer
        .features
        .iter()
        .position(|f| f.id == fid)
        .ok_or_else(|| {
            let shown: String = fid.chars().take(64).collect();
            ApiError::not_found(
                "unknown_feature",
                format!("no feature {shown:?} in {}", layer.id()),
            )
        })?;
    let base = state.base_url(&headers);
    let mut feature = feature_json(&layer, index, None, &[]);
    let enc = percent_encoding::utf8_percent_encode(&fid, percent_encoding::NON_ALPHANUMERIC);
    feature["links"] = json!([
        {"href": format!("{base}/collections/{}/items/{enc}", layer.id()), "rel": "self", "type": GEOJSON},
        {"href": format!("{base}/collections/{}", layer.id()), "rel": "collection", "type": "application/json"},
    ]);
    Ok(typed_json(&feature, GEOJSON))
}

/// The current time, RFC 3339 in UTC to the second.
fn timestamp() -> String {
    format!("{:.0}", jiff::Timestamp::now())
}
