//! OGC API – Tiles 1.0 over the vector tiles: the WebMercatorQuad tile matrix set (OGC
//! 17-083r4, EPSG:3857, 256-pixel tiles, zooms 0–24), the dataset's tileset (every layer) and
//! each collection's, their lists, and tiles addressed as `{tileMatrix}/{tileRow}/{tileCol}`
//! (zoom, then y, then x: the same tiles as `/tiles/{z}/{x}/{y}.mvt`).

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::features::{find_layer, wants_json_only};
use super::params::Params;
use super::tiles::{MVT_CONTENT_TYPE, serve_tile, zoom_range};
use super::{ApiError, AppState};
use crate::data::FieldType;
use crate::mercator::{MAX_ZOOM, ORIGIN_SHIFT_M, TileCoord};
use crate::source::LayerSource;

/// The one tile matrix set offered.
pub const TMS_ID: &str = "WebMercatorQuad";
/// Its registered URI.
pub const TMS_URI: &str = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad";
const CRS_3857: &str = "http://www.opengis.net/def/crs/EPSG/0/3857";
const REL_TILING_SCHEME: &str = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme";
const REL_TILESETS_VECTOR: &str = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector";
const REL_GEODATA: &str = "http://www.opengis.net/def/rel/ogc/1.0/geodata";
const TILE_PIXELS: u32 = 256;
/// The standardized rendering pixel size, metres (OGC 17-083r4).
const PIXEL_SIZE_M: f64 = 0.000_28;

/// The conformance classes of OGC API – Tiles this module implements.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
];

/// `f` only, and only `json`.
fn json_only(raw: &RawQuery) -> Result<(), ApiError> {
    wants_json_only(&Params::parse(raw, &["f"])?)
}

fn respond(doc: &Value, headers: &HeaderMap) -> Result<Response, ApiError> {
    Ok(super::resources::cached(
        serde_json::to_vec(doc).map_err(ApiError::internal)?,
        "application/json",
        "no-cache",
        headers,
    ))
}

/// The WebMercatorQuad definition: one tile matrix per zoom, origin at the top left corner
/// of the EPSG:3857 square.
#[must_use]
pub fn web_mercator_quad() -> Value {
    let side = 2.0 * ORIGIN_SHIFT_M;
    let matrices: Vec<Value> = (0..=MAX_ZOOM)
        .map(|z| {
            let n = 1u32 << z;
            let cell = side / f64::from(TILE_PIXELS) / f64::from(n);
            json!({
                "id": z.to_string(),
                "scaleDenominator": cell / PIXEL_SIZE_M,
                "cellSize": cell,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-ORIGIN_SHIFT_M, ORIGIN_SHIFT_M],
                "tileWidth": TILE_PIXELS,
                "tileHeight": TILE_PIXELS,
                "matrixWidth": n,
                "matrixHeight": n,
            })
        })
        .collect();
    json!({
        "id": TMS_ID,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": CRS_3857,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
    })
}

/// `GET /tileMatrixSets`.
pub async fn tile_matrix_sets(
    State(state): State<AppState>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    json_only(&raw)?;
    let base = state.base_url(&headers);
    respond(
        &json!({"tileMatrixSets": [{
            "id": TMS_ID,
            "title": "Google Maps Compatible for the World",
            "uri": TMS_URI,
            "crs": CRS_3857,
            "links": [{"href": format!("{base}/tileMatrixSets/{TMS_ID}"), "rel": "self", "type": "application/json", "title": "The tile matrix set"}],
        }]}),
        &headers,
    )
}

/// `GET /tileMatrixSets/{id}`.
pub async fn tile_matrix_set(
    Path(id): Path<String>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    json_only(&raw)?;
    known_tms(&id)?;
    respond(&web_mercator_quad(), &headers)
}

fn known_tms(id: &str) -> Result<(), ApiError> {
    if id == TMS_ID {
        Ok(())
    } else {
        let shown: String = id.chars().take(64).collect();
        Err(ApiError::not_found(
            "unknown_tile_matrix_set",
            format!("no tile matrix set {shown:?}; this server offers {TMS_ID}"),
        ))
    }
}

/// The geometry dimension of a layer's features (0 points, 1 lines, 2 polygons), when one.
fn geometry_dimension(layer: &LayerSource) -> Option<u8> {
    let dims: Vec<u8> = layer
        .info
        .geometry_types
        .iter()
        .map(|t| match t.as_str() {
            "Point" | "MultiPoint" => 0,
            "LineString" | "MultiLineString" => 1,
            _ => 2,
        })
        .collect();
    let first = *dims.first()?;
    dims.iter().all(|&d| d == first).then_some(first)
}

fn schema_type(t: FieldType) -> Value {
    match t {
        FieldType::Integer => json!({"type": "integer"}),
        FieldType::Number => json!({"type": "number"}),
        FieldType::Boolean => json!({"type": "boolean"}),
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::Timestamp => json!({"type": "string", "format": "date-time"}),
        FieldType::String | FieldType::Mixed => json!({"type": "string"}),
    }
}

/// The tileset's `layers` entries of one layer: its features, and its label points when it
/// has them.
fn tileset_layers(layer: &LayerSource, base: &str) -> Vec<Value> {
    let config = &layer.info.config;
    let schema = |fields: &[(String, FieldType)]| {
        let properties: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, t)| (k.clone(), schema_type(*t)))
            .collect();
        json!({"type": "object", "properties": properties})
    };
    let mut entry = json!({
        "id": layer.id(),
        "title": config.title,
        "description": config.description,
        "dataType": "vector",
        "minTileMatrix": config.minzoom.to_string(),
        "maxTileMatrix": config.maxzoom.to_string(),
        "propertiesSchema": schema(&layer.info.tile_fields),
        "links": [{"href": format!("{base}/collections/{}", layer.id()), "rel": REL_GEODATA, "type": "application/json", "title": config.title}],
    });
    if let Some(d) = geometry_dimension(layer) {
        entry["geometryDimension"] = json!(d);
    }
    if let Some(b) = layer.info.bounds {
        entry["boundingBox"] = json!({"lowerLeft": [b[0], b[1]], "upperRight": [b[2], b[3]], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"});
    }
    let mut out = vec![entry];
    if let Some(fields) = &layer.info.label_fields {
        out.push(json!({
            "id": config.label_layer_name(),
            "title": format!("{} (label points)", config.title),
            "description": format!("One label point inside each feature of {}", layer.id()),
            "dataType": "vector",
            "geometryDimension": 0,
            "minTileMatrix": config.minzoom.to_string(),
            "maxTileMatrix": config.maxzoom.to_string(),
            "propertiesSchema": schema(fields),
        }));
    }
    out
}

/// The tileset metadata of some layers; `path` is the tileset's own path
/// (`/tiles/WebMercatorQuad` or `/collections/{id}/tiles/WebMercatorQuad`).
fn tileset(layers: &[std::sync::Arc<LayerSource>], title: &str, base: &str, path: &str) -> Value {
    let (minzoom, maxzoom) = zoom_range(layers);
    let bounds = crate::data::union_bounds(layers.iter().filter_map(|l| l.info.bounds));
    // Rows and columns with data at each zoom (from the layers' bounds).
    let limits: Vec<Value> = match bounds {
        Some([w, s, e, n]) => (minzoom..=maxzoom)
            .map(|z| {
                let a = TileCoord::containing(w, n, z);
                let b = TileCoord::containing(e, s, z);
                json!({"tileMatrix": z.to_string(), "minTileRow": a.y, "maxTileRow": b.y, "minTileCol": a.x, "maxTileCol": b.x})
            })
            .collect(),
        None => Vec::new(),
    };
    let mut doc = json!({
        "title": title,
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "tileMatrixSetLimits": limits,
        "layers": layers.iter().flat_map(|l| tileset_layers(l, base)).collect::<Vec<_>>(),
        "links": [
            {"href": format!("{base}{path}"), "rel": "self", "type": "application/json", "title": "This tileset"},
            {"href": format!("{base}/tileMatrixSets/{TMS_ID}"), "rel": REL_TILING_SCHEME, "type": "application/json", "title": "The tile matrix set"},
            {"href": format!("{base}{path}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"), "rel": "item", "type": MVT_CONTENT_TYPE, "templated": true, "title": "Mapbox vector tiles"},
        ],
    });
    if let Some([w, s, e, n]) = bounds {
        doc["boundingBox"] = json!({"lowerLeft": [w, s], "upperRight": [e, n], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"});
    }
    doc
}

/// A tileset list at `list_path` holding its one WebMercatorQuad tileset.
fn tileset_list(title: &str, base: &str, list_path: &str) -> Value {
    json!({
        "tilesets": [{
            "title": title,
            "dataType": "vector",
            "crs": CRS_3857,
            "tileMatrixSetURI": TMS_URI,
            "links": [
                {"href": format!("{base}{list_path}/{TMS_ID}"), "rel": "self", "type": "application/json", "title": "The tileset"},
                {"href": format!("{base}/tileMatrixSets/{TMS_ID}"), "rel": REL_TILING_SCHEME, "type": "application/json", "title": "The tile matrix set"},
            ],
        }],
        "links": [{"href": format!("{base}{list_path}"), "rel": "self", "type": "application/json", "title": "This list"}],
    })
}

/// The link to a tileset list, as the landing page and collections carry it.
#[must_use]
pub fn tilesets_link(href: String) -> Value {
    json!({"href": href, "rel": REL_TILESETS_VECTOR, "type": "application/json", "title": "Vector tilesets (OGC API – Tiles)"})
}

/// `GET /tiles`: the dataset's tilesets (one: every layer, WebMercatorQuad).
pub async fn dataset_tilesets(
    State(state): State<AppState>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    json_only(&raw)?;
    let base = state.base_url(&headers);
    respond(
        &tileset_list("Terril: every layer", &base, "/tiles"),
        &headers,
    )
}

/// `GET /tiles/WebMercatorQuad`: the dataset's tileset. (`/tiles/{id}` names a layer's
/// TileJSON, so the tile matrix set is the one literal segment here.)
pub async fn dataset_tileset_wmq(
    State(state): State<AppState>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    json_only(&raw)?;
    let base = state.base_url(&headers);
    let catalog = state.catalog();
    respond(
        &tileset(
            &catalog.feature_layers(),
            "Terril: every layer",
            &base,
            &format!("/tiles/{TMS_ID}"),
        ),
        &headers,
    )
}

/// `GET /collections/{id}/tiles`.
pub async fn collection_tilesets(
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    json_only(&raw)?;
    let layer = find_layer(&state.catalog(), &id)?;
    let base = state.base_url(&headers);
    let path = format!("/collections/{}/tiles", layer.id());
    respond(
        &tileset_list(&layer.info.config.title, &base, &path),
        &headers,
    )
}

/// `GET /collections/{id}/tiles/{tileMatrixSetId}`.
pub async fn collection_tileset(
    State(state): State<AppState>,
    Path((id, tms)): Path<(String, String)>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    json_only(&raw)?;
    known_tms(&tms)?;
    let layer = find_layer(&state.catalog(), &id)?;
    let base = state.base_url(&headers);
    let path = format!("/collections/{}/tiles/{TMS_ID}", layer.id());
    let title = layer.info.config.title.clone();
    respond(&tileset(&[layer], &title, &base, &path), &headers)
}

/// `{tileMatrix}/{tileRow}/{tileCol}` as a tile.
fn coord(tms: &str, matrix: &str, row: &str, col: &str) -> Result<TileCoord, ApiError> {
    known_tms(tms)?;
    // The path names no extension here; the XYZ parser wants one.
    TileCoord::parse(matrix, col, &format!("{row}.mvt"), "mvt")
        .map_err(|e| ApiError::bad_request("invalid_tile", e.to_string()))
}

/// `GET /tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}`: every layer.
pub async fn dataset_tile(
    State(state): State<AppState>,
    Path((matrix, row, col)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let coord = coord(TMS_ID, &matrix, &row, &col)?;
    serve_tile(&state, None, coord, query.as_deref(), &headers).await
}

/// `GET /collections/{id}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}`.
pub async fn collection_tile(
    State(state): State<AppState>,
    Path((id, tms, matrix, row, col)): Path<(String, String, String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let coord = coord(&tms, &matrix, &row, &col)?;
    // One collection, never a comma list.
    let layer = find_layer(&state.catalog(), &id)?;
    serve_tile(&state, Some(layer.id()), coord, query.as_deref(), &headers).await
}
