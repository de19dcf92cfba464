//! OGC API – Features (Part 1 Core with GeoJSON and OpenAPI 3.0; Part 2 CRS by reference;
//! Part 3 Filtering with CQL2): landing page, conformance, collections, queryables, items and
//! single features.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use geo::{BoundingRect, Coord, LineString, Polygon, Rect};
use serde_json::{Map, Value, json};

use super::params::Params;
use super::{ApiError, AppState, header_value};
use crate::crs::Crs;
use crate::data::FieldType;
use crate::filter::FilterError;
use crate::source::{Catalog, FeatureOut, ItemsQuery, LayerSource};

/// The GeoJSON media type.
pub const GEOJSON: &str = "application/geo+json";

/// Most items one page may hold.
pub const MAX_LIMIT: usize = 10_000;

/// Conformance classes implemented.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/accent-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/array-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
];

/// A JSON response with a given media type.
pub fn typed_json(value: &Value, content_type: &str) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header_value(content_type));
    response
}

/// A layer by id, or a 404 naming it.
pub fn find_layer(catalog: &Catalog, id: &str) -> Result<Arc<LayerSource>, ApiError> {
    catalog.layer(id).cloned().ok_or_else(|| {
        let shown: String = id.chars().take(64).collect();
        ApiError::not_found(
            "unknown_collection",
            format!("no collection {shown:?}; see /collections"),
        )
    })
}

/// A filter problem as a 400.
pub fn filter_error(e: FilterError) -> ApiError {
    ApiError::bad_request("invalid_filter", e.0)
}

/// `f`, when given, must name JSON: the only format these documents come in.
pub fn wants_json_only(params: &Params) -> Result<(), ApiError> {
    match params.get("f") {
        None | Some("json" | "geojson") => Ok(()),
        Some(other) => Err(ApiError::bad_request(
            "invalid_parameter",
            format!(
                "f={:?} is not offered here; use f=json",
                other.chars().take(40).collect::<String>()
            ),
        )),
    }
}

/// A CRS parameter (`crs`, `bbox-crs`, `filter-crs`), CRS84 when absent.
pub fn crs_param(params: &Params, name: &str) -> Result<Crs, ApiError> {
    match params.get(name) {
        None => Ok(Crs::Crs84),
        Some(uri) => Crs::from_uri(uri).ok_or_else(|| {
            let offered: Vec<&str> = Crs::ALL.iter().map(|c| c.uri()).collect();
            ApiError::bad_request(
                "invalid_crs",
                format!(
                    "{name}={:?} is not offered; use one of {}",
                    uri.chars().take(80).collect::<String>(),
                    offered.join(", ")
                ),
            )
        }),
    }
}

pub async fn landing(
    state: AppState,
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
                super::ogc_tiles::tilesets_link(format!("{base}/tiles")),
                {"href": format!("{base}/tileMatrixSets"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes", "type": "application/json", "title": "Tile matrix sets"},
            ],
        }),
        "application/json",
    ))
}

pub async fn conformance(raw: RawQuery) -> Result<Response, ApiError> {
    wants_json_only(&Params::parse(&raw, &["f"])?)?;
    Ok(typed_json(
        &json!({ "conformsTo": CONFORMANCE.iter().chain(super::ogc_tiles::CONFORMANCE).collect::<Vec<_>>() }),
        "application/json",
    ))
}

fn collection_json(layer: &LayerSource, base: &str) -> Value {
    let info = &layer.info;
    let id = info.id();
    let bbox = info.bounds.unwrap_or([-180.0, -90.0, 180.0, 90.0]);
    let mut links = vec![
        json!({"href": format!("{base}/collections/{id}"), "rel": "self", "type": "application/json", "title": info.config.title}),
        json!({"href": format!("{base}/tiles/{id}.json"), "rel": "describedby", "type": "application/json", "title": "TileJSON of this layer's vector tiles"}),
        super::ogc_tiles::tilesets_link(format!("{base}/collections/{id}/tiles")),
    ];
    if info.queryable {
        links.push(json!({"href": format!("{base}/collections/{id}/items"), "rel": "items", "type": GEOJSON, "title": "Features"}));
        links.push(json!({"href": format!("{base}/collections/{id}/queryables"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json", "title": "Queryables"}));
    }
    let mut c = json!({
        "id": id,
        "title": info.config.title,
        "description": info.config.description,
        "attribution": info.config.attribution,
        "license": info.config.licence,
        "extent": { "spatial": { "bbox": [bbox], "crs": Crs::Crs84.uri() } },
        "links": links,
    });
    if info.queryable {
        c["itemType"] = json!("feature");
        c["crs"] = json!(Crs::ALL.iter().map(|c| c.uri()).collect::<Vec<_>>());
        c["storageCrs"] = json!(Crs::Crs84.uri());
    }
    c
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
            "crs": Crs::ALL.iter().map(|c| c.uri()).collect::<Vec<_>>(),
            "collections": catalog.feature_layers().iter().map(|l| collection_json(l, &base)).collect::<Vec<_>>(),
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

/// The JSON Schema of a field.
fn schema_type(t: FieldType) -> Value {
    match t {
        FieldType::Integer => json!({"type": "integer"}),
        FieldType::Number => json!({"type": "number"}),
        FieldType::String => json!({"type": "string"}),
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::Timestamp => json!({"type": "string", "format": "date-time"}),
        FieldType::Boolean => json!({"type": "boolean"}),
        FieldType::Mixed => json!({}),
    }
}

fn queryable(layer: &LayerSource) -> Result<(), ApiError> {
    if layer.info.queryable {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "not_queryable",
            format!(
                "collection {:?} is a tile archive: it has tiles but no features to query",
                layer.id()
            ),
        ))
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
    queryable(&layer)?;
    let base = state.base_url(&headers);
    let info = &layer.info;
    let mut properties = Map::new();
    properties.insert(
        "geometry".into(),
        json!({"title": format!("Geometry ({})", info.geometry_types.join(", ")), "format": "geometry-any", "x-ogc-role": "primary-geometry"}),
    );
    if !info.fields.iter().any(|(k, _)| k == "id") {
        properties.insert(
            "id".into(),
            json!({"title": "Feature id", "type": "string", "x-ogc-role": "id"}),
        );
    }
    for (name, t) in &info.fields {
        let mut schema = schema_type(*t);
        schema["title"] = json!(name);
        properties.insert(name.clone(), schema);
    }
    Ok(typed_json(
        &json!({
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": format!("{base}/collections/{}/queryables", info.id()),
            "type": "object",
            "title": info.config.title,
            "properties": properties,
            "additionalProperties": false,
        }),
        "application/schema+json",
    ))
}

/// Parses `bbox` (4 or 6 numbers, heights ignored) in `crs` into lon/lat boxes: one, or two
/// when a CRS84 box crosses the antimeridian (west > east).
pub fn parse_bbox(text: &str, crs: Crs) -> Result<[Option<Rect<f64>>; 2], ApiError> {
    let bad = |why: &str| {
        ApiError::bad_request(
            "invalid_bbox",
            format!(
                "bbox {why}; expected minx,miny,maxx,maxy in the bbox-crs (west,south,east,north for CRS84)"
            ),
        )
    };
    let nums: Vec<f64> = text
        .split(',')
        .map(|s| s.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("must be comma-separated numbers"))?;
    let (a, b, c, d) = match nums.as_slice() {
        [a, b, c, d] | [a, b, _, c, d, _] => (*a, *b, *c, *d),
        _ => return Err(bad("needs 4 numbers")),
    };
    match crs {
        Crs::Crs84 | Crs::Epsg4326 => {
            let (w, s, e, n) = if crs == Crs::Crs84 {
                (a, b, c, d)
            } else {
                (b, a, d, c)
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
            if s > n {
                return Err(bad("needs south ≤ north"));
            }
            Ok(if w <= e {
                [Some(Rect::new((w, s), (e, n))), None]
            } else {
                [
                    Some(Rect::new((w, s), (180.0, n))),
                    Some(Rect::new((-180.0, s), (e, n))),
                ]
            })
        }
        projected => {
            if a > c || b > d {
                return Err(bad("needs minx ≤ maxx and miny ≤ maxy"));
            }
            // The box's outline, densified and unprojected: its lon/lat bounds hold it.
            let mut ring: Vec<Coord<f64>> = Vec::new();
            for i in 0..=16 {
                let t = f64::from(i) / 16.0;
                ring.push(Coord {
                    x: a + (c - a) * t,
                    y: b,
                });
                ring.push(Coord {
                    x: a + (c - a) * t,
                    y: d,
                });
                ring.push(Coord {
                    x: a,
                    y: b + (d - b) * t,
                });
                ring.push(Coord {
                    x: c,
                    y: b + (d - b) * t,
                });
            }
            let lonlat: Vec<Coord<f64>> =
                ring.into_iter().map(|p| projected.unproject(p)).collect();
            if lonlat.iter().any(|p| !p.x.is_finite() || !p.y.is_finite()) {
                return Err(bad("lies outside the area of its CRS"));
            }
            let outline = Polygon::new(LineString(lonlat), vec![]);
            Ok([outline.bounding_rect(), None])
        }
    }
}

const ITEM_PARAMS: &[&str] = &[
    "f",
    "bbox",
    "bbox-crs",
    "crs",
    "limit",
    "offset",
    "properties",
    "filter",
    "filter-lang",
    "filter-crs",
];

/// Adds `Content-Crs` to a response.
fn with_content_crs(mut response: Response, crs: Crs) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", crs.uri())) {
        response.headers_mut().insert("content-crs", v);
    }
    response
}

pub async fn items(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(id) = path?;
    let params = Params::parse(&raw, ITEM_PARAMS)?;
    wants_json_only(&params)?;
    let catalog = state.catalog();
    let layer = find_layer(&catalog, &id)?;
    queryable(&layer)?;
    let crs = crs_param(&params, "crs")?;
    let bbox_crs = crs_param(&params, "bbox-crs")?;
    if crs_param(&params, "filter-crs")? != Crs::Crs84 {
        return Err(ApiError::bad_request(
            "invalid_crs",
            format!(
                "filter-crs: filter geometries are read in {} only",
                Crs::Crs84.uri()
            ),
        ));
    }
    let limit = params.integer("limit", 1..=MAX_LIMIT)?.unwrap_or(10);
    let offset = params.integer("offset", 0..=usize::MAX >> 1)?.unwrap_or(0);
    let bbox = params
        .get("bbox")
        .map(|b| parse_bbox(b, bbox_crs))
        .transpose()?;
    let filter = state
        .filter(
            &catalog,
            &layer,
            params.get("filter"),
            params.get("filter-lang"),
        )
        .await?;
    let select: Option<Vec<String>> = match params.get("properties") {
        None => None,
        Some(list) => {
            let keys: Vec<String> = list
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if let Some(unknown) = keys
                .iter()
                .find(|k| !layer.info.fields.iter().any(|(f, _)| f == *k))
            {
                return Err(ApiError::bad_request(
                    "invalid_parameter",
                    format!(
                        "properties: {:?} is not a property of {}",
                        unknown.chars().take(64).collect::<String>(),
                        layer.id()
                    ),
                ));
            }
            Some(keys)
        }
    };
    let page = layer
        .items(
            &state.ctx(),
            ItemsQuery {
                bbox,
                limit,
                offset,
                properties: select,
                crs,
            },
            filter,
        )
        .await?;

    let base = state.base_url(&headers);
    let here = format!("{base}/collections/{}/items", layer.id());
    let mut links = vec![
        json!({"href": format!("{here}?{}", params.with(&[])), "rel": "self", "type": GEOJSON}),
        json!({"href": format!("{base}/collections/{}", layer.id()), "rel": "collection", "type": "application/json"}),
    ];
    let returned = page.features.len();
    if (offset + returned) < page.number_matched as usize {
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
    let head = json!({
        "type": "FeatureCollection",
        "numberMatched": page.number_matched,
        "numberReturned": returned,
        "timeStamp": timestamp(),
        "links": links,
    });
    let body = feature_collection(head, &page.features, |_| (vec![], vec![]));
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON));
    Ok(with_content_crs(response, crs))
}

/// A FeatureCollection from its head members and pre-serialized features; `extras` gives each
/// feature's extra properties and top-level members.
pub fn feature_collection<'a>(
    head: Value,
    features: &'a [FeatureOut],
    extras: impl Fn(usize) -> (Vec<(&'a str, Value)>, Vec<(&'a str, Value)>),
) -> String {
    let mut out = serde_json::to_string(&head).unwrap_or_else(|_| "{}".into());
    out.pop();
    if out.len() > 1 {
        out.push(',');
    }
    out.push_str("\"features\":[");
    for (i, f) in features.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let (props, top) = extras(i);
        f.write_json(&mut out, &props, &top);
    }
    out.push_str("]}");
    out
}

pub async fn item(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((id, fid)) = path?;
    let params = Params::parse(&raw, &["f", "crs"])?;
    wants_json_only(&params)?;
    let crs = crs_param(&params, "crs")?;
    let layer = find_layer(&state.catalog(), &id)?;
    queryable(&layer)?;
    let feature = layer.item(&state.ctx(), &fid, crs).await?.ok_or_else(|| {
        let shown: String = fid.chars().take(64).collect();
        ApiError::not_found(
            "unknown_feature",
            format!("no feature {shown:?} in {}", layer.id()),
        )
    })?;
    let base = state.base_url(&headers);
    let enc = percent_encoding::utf8_percent_encode(&fid, percent_encoding::NON_ALPHANUMERIC);
    let links = json!([
        {"href": format!("{base}/collections/{}/items/{enc}", layer.id()), "rel": "self", "type": GEOJSON},
        {"href": format!("{base}/collections/{}", layer.id()), "rel": "collection", "type": "application/json"},
    ]);
    let mut body = String::new();
    feature.write_json(&mut body, &[], &[("links", links)]);
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON));
    Ok(with_content_crs(response, crs))
}

/// The current time, RFC 3339 in UTC to the second.
fn timestamp() -> String {
    format!("{:.0}", jiff::Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes() {
        let [a, b] = parse_bbox("2.7,50.3,2.9,50.5", Crs::Crs84).unwrap();
        assert_eq!(a, Some(Rect::new((2.7, 50.3), (2.9, 50.5))));
        assert!(b.is_none());
        let [a, b] = parse_bbox("170,-10,-170,10", Crs::Crs84).unwrap();
        assert_eq!(a.unwrap().max().x, 180.0);
        assert_eq!(b.unwrap().min().x, -180.0);
        let [a, _] = parse_bbox("50.3,2.7,50.5,2.9", Crs::Epsg4326).unwrap();
        assert_eq!(a, Some(Rect::new((2.7, 50.3), (2.9, 50.5))));
        let [a, _] = parse_bbox("680000,7040000,700000,7050000", Crs::Epsg2154).unwrap();
        let a = a.unwrap();
        assert!(
            a.min().x > 2.6 && a.max().x < 3.01 && a.min().y > 50.3 && a.max().y < 50.6,
            "{a:?}"
        );
        assert!(parse_bbox("1,2,3", Crs::Crs84).is_err());
        assert!(parse_bbox("0,10,1,5", Crs::Crs84).is_err());
    }
}
