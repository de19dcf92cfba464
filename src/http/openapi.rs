//! `GET /api`: the OpenAPI 3.0 document describing every route and parameter.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::features::typed_json;
use super::params::Params;
use super::{ApiError, AppState};
use crate::crs::Crs;

fn param(name: &str, location: &str, required: bool, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": location, "required": required, "description": description, "schema": schema})
}

fn number(min: f64, max: f64) -> Value {
    json!({"type": "number", "minimum": min, "maximum": max})
}

fn refp(name: &str) -> Value {
    json!({"$ref": format!("#/components/parameters/{name}")})
}

fn responses(ok: &str, media: &str) -> Value {
    json!({
        "200": {"description": ok, "content": {media: {"schema": {"type": "object"}}}},
        "400": {"$ref": "#/components/responses/BadRequest"},
        "404": {"$ref": "#/components/responses/NotFound"},
    })
}

fn get(summary: &str, parameters: Vec<Value>, ok: &str, media: &str) -> Value {
    json!({"get": {"summary": summary, "parameters": parameters, "responses": responses(ok, media)}})
}

/// The document, with `base` as the server URL.
#[must_use]
pub fn document(base: &str) -> Value {
    let geojson = "application/geo+json";
    let js = "application/json";
    let layer_param = param(
        "layer",
        "query",
        true,
        "Layer id (see /collections)",
        json!({"type": "string"}),
    );
    let filter = refp("filter");
    let filter_lang = refp("filter-lang");
    let tile_path = [
        param(
            "z",
            "path",
            true,
            "Zoom, 0-24",
            json!({"type": "integer", "minimum": 0, "maximum": 24}),
        ),
        param(
            "x",
            "path",
            true,
            "Column, 0..2^z",
            json!({"type": "integer", "minimum": 0}),
        ),
        param(
            "y",
            "path",
            true,
            "Row with the .mvt extension, e.g. 345.mvt",
            json!({"type": "string", "pattern": "^[0-9]+\\.mvt$"}),
        ),
    ];
    let mut layered_tile = vec![param(
        "layers",
        "path",
        true,
        "Comma list of layer ids",
        json!({"type": "string"}),
    )];
    let tile_format = param(
        "f",
        "query",
        false,
        "Output format: mvt",
        json!({"type": "string", "enum": ["mvt"]}),
    );
    let tile_query = [filter.clone(), filter_lang.clone(), tile_format];
    layered_tile.extend(tile_path.iter().cloned());
    layered_tile.extend(tile_query.iter().cloned());
    let mut all_tile: Vec<Value> = tile_path.to_vec();
    all_tile.extend(tile_query.iter().cloned());
    let mvt = json!({
        "get": {
            "summary": "A Mapbox Vector Tile (MVT 2.1, extent 4096); above a layer's maxzoom, drawn with that zoom's detail",
            "parameters": all_tile,
            "responses": {
                "200": {"description": "The tile", "content": {"application/vnd.mapbox-vector-tile": {"schema": {"type": "string", "format": "binary"}}}},
                "204": {"description": "No feature in this tile"},
                "304": {"description": "Not modified (If-None-Match)"},
                "400": {"$ref": "#/components/responses/BadRequest"},
                "404": {"$ref": "#/components/responses/NotFound"},
            }
        }
    });
    let mut mvt_layers = mvt.clone();
    mvt_layers["get"]["parameters"] = json!(layered_tile);
    // OGC API – Tiles: the same tiles addressed {tileMatrix}/{tileRow}/{tileCol}.
    let ogc_tile_path = [
        param(
            "tileMatrix",
            "path",
            true,
            "Zoom, 0-24",
            json!({"type": "string", "pattern": "^([0-9]|1[0-9]|2[0-4])$"}),
        ),
        param(
            "tileRow",
            "path",
            true,
            "Row (y), 0..2^z",
            json!({"type": "integer", "minimum": 0}),
        ),
        param(
            "tileCol",
            "path",
            true,
            "Column (x), 0..2^z",
            json!({"type": "integer", "minimum": 0}),
        ),
    ];
    let tms_param = param(
        "tileMatrixSetId",
        "path",
        true,
        "Tile matrix set: WebMercatorQuad",
        json!({"type": "string", "enum": ["WebMercatorQuad"]}),
    );
    let mut ogc_tile = mvt.clone();
    ogc_tile["get"]["parameters"] =
        json!(ogc_tile_path.iter().chain(&tile_query).collect::<Vec<_>>());
    let mut ogc_collection_tile = mvt.clone();
    ogc_collection_tile["get"]["parameters"] = json!(
        [refp("collectionId"), tms_param.clone()]
            .iter()
            .chain(&ogc_tile_path)
            .chain(&tile_query)
            .collect::<Vec<_>>()
    );
    let crs_uris: Vec<&str> = Crs::ALL.iter().map(|c| c.uri()).collect();
    let file_param = param("file", "path", true, "File name", json!({"type": "string"}));
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Terril",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Vector tiles, OGC API – Features and territorial queries for the Pôle Métropolitain de l'Artois. Coordinates are WGS84 lon/lat; distances are ground metres on the WGS84 ellipsoid.",
            "license": {"name": "MIT OR Apache-2.0"},
        },
        "servers": [{"url": base}],
        "paths": {
            "/": get("Landing page", vec![refp("f")], "Links to the API definition, conformance and collections", js),
            "/conformance": get("Conformance classes", vec![refp("f")], "The classes implemented", js),
            "/api": get("This document", vec![refp("f")], "OpenAPI 3.0", "application/vnd.oai.openapi+json;version=3.0"),
            "/collections": get("The layers as feature collections", vec![refp("f")], "Collections", js),
            "/collections/{collectionId}": get("One collection", vec![refp("collectionId"), refp("f")], "The collection", js),
            "/collections/{collectionId}/queryables": get("Properties that filters may use, as JSON Schema", vec![refp("collectionId"), refp("f")], "Queryables", "application/schema+json"),
            "/collections/{collectionId}/items": get(
                "Features of a collection, filtered and paged",
                vec![refp("collectionId"), refp("bbox"), refp("bbox-crs"), refp("crs"), refp("limit"), refp("offset"), refp("properties"), filter.clone(), filter_lang.clone(), refp("filter-crs"), refp("f")],
                "A FeatureCollection with numberMatched, numberReturned and next/prev links",
                geojson,
            ),
            "/collections/{collectionId}/items/{featureId}": get(
                "One feature",
                vec![refp("collectionId"), param("featureId", "path", true, "Feature id", json!({"type": "string"})), refp("crs"), refp("f")],
                "A Feature",
                geojson,
            ),
            "/query/at": get(
                "Features whose geometry contains a point",
                vec![refp("lon"), refp("lat"), param("layers", "query", false, "Comma list of layer ids (default: all)", json!({"type": "string"})), refp("crs")],
                "A FeatureCollection; each feature names its layer",
                geojson,
            ),
            "/query/within": get(
                "Features within a ground distance of a point, nearest first",
                vec![layer_param.clone(), refp("lon"), refp("lat"), param("radius_m", "query", true, "Radius in metres (≤ 100 km)", number(0.0, 100_000.0)), filter.clone(), filter_lang.clone(), refp("limit"), refp("crs")],
                "A FeatureCollection; each feature has distance_m",
                geojson,
            ),
            "/query/nearest": get(
                "The k features nearest to a point",
                vec![layer_param.clone(), refp("lon"), refp("lat"), param("k", "query", false, "How many (1-1000, default 1)", json!({"type": "integer", "minimum": 1, "maximum": 1000})), filter.clone(), filter_lang.clone(), param("max_distance_m", "query", false, "Farthest distance in metres", number(0.0, f64::MAX)), refp("crs")],
                "A FeatureCollection, nearest first; each feature has distance_m",
                geojson,
            ),
            "/query/near": get(
                "Features of a layer within a distance of any feature of a target layer",
                vec![
                    layer_param,
                    param("target", "query", true, "Target layer id", json!({"type": "string"})),
                    param("distance_m", "query", true, "Distance in metres (≤ 100 km)", number(0.0, 100_000.0)),
                    filter,
                    param("target_filter", "query", false, "CQL2 filter on the target layer", json!({"type": "string"})),
                    filter_lang,
                    refp("limit"),
                    refp("crs"),
                ],
                "A FeatureCollection, nearest first; each feature has distance_m, target_layer, target_id and target_name",
                geojson,
            ),
            "/tiles.json": get("TileJSON 3.0.0 of all layers", vec![], "TileJSON", js),
            "/tiles/{layers}.json": get("TileJSON 3.0.0 of a comma list of layers", vec![param("layers", "path", true, "Comma list of layer ids with .json, e.g. communes,tourism.json", json!({"type": "string"}))], "TileJSON", js),
            "/tiles/{z}/{x}/{y}": mvt,
            "/tiles/{layers}/{z}/{x}/{y}": mvt_layers,
            "/catalog": get("Every layer with count, bounds, zooms and fields", vec![], "The catalog", js),
            "/health": get("Whether the server is serving", vec![], "Status, data version, counts", js),
            "/metrics": get("Prometheus metrics", vec![], "Metrics in the Prometheus text format", "text/plain"),
            "/styles": get("The MapLibre styles offered", vec![], "Style names and URLs", js),
            "/styles/{file}": get("A MapLibre style (territoire.json, tourisme.json, planification.json) with URLs pointing at this server", vec![file_param.clone()], "The style", js),
            "/fonts/{fontstack}/{range}": get("SDF glyphs of 256 code points, e.g. /fonts/DejaVu Sans Book/0-255.pbf", vec![param("fontstack", "path", true, "Comma list of font names", json!({"type": "string"})), param("range", "path", true, "start-end.pbf, a multiple of 256", json!({"type": "string"}))], "Glyphs (protobuf)", "application/x-protobuf"),
            "/sprites/{file}": get("The icon sprite: terril.json, terril.png, terril@2x.json, terril@2x.png", vec![file_param.clone()], "Sprite index or sheet", "image/png"),
            "/embed": get("The map alone, for an iframe (the page reads ?view= itself)", vec![], "HTML", "text/html"),
            "/assets/{file}": get("The map page's scripts and styles (MapLibre GL JS among them)", vec![file_param.clone()], "A static asset", "application/javascript"),
            "/assets/icons/{file}": get("The map page's icons", vec![file_param], "An SVG icon", "image/svg+xml"),
            "/tiles": get("The dataset's vector tilesets (OGC API – Tiles)", vec![refp("f")], "A tileset list", js),
            "/tiles/WebMercatorQuad": get("The dataset's tileset: every layer, WebMercatorQuad", vec![refp("f")], "Tileset metadata", js),
            "/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}": ogc_tile,
            "/tileMatrixSets": get("The tile matrix sets offered", vec![refp("f")], "A tile matrix set list", js),
            "/tileMatrixSets/{tileMatrixSetId}": get("A tile matrix set definition (OGC 17-083r4)", vec![tms_param.clone(), refp("f")], "The tile matrix set", js),
            "/collections/{collectionId}/tiles": get("A collection's vector tilesets", vec![refp("collectionId"), refp("f")], "A tileset list", js),
            "/collections/{collectionId}/tiles/{tileMatrixSetId}": get("A collection's tileset", vec![refp("collectionId"), tms_param, refp("f")], "Tileset metadata", js),
            "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}": ogc_collection_tile,
        },
        "components": {
            "parameters": {
                "f": param("f", "query", false, "Output format: json", json!({"type": "string", "enum": ["json"]})),
                "collectionId": param("collectionId", "path", true, "Layer id", json!({"type": "string"})),
                "bbox": param("bbox", "query", false, "west,south,east,north in degrees (CRS84)", json!({"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}})),
                "bbox-crs": param("bbox-crs", "query", false, "CRS of bbox (default CRS84)", json!({"type": "string", "enum": crs_uris})),
                "filter-crs": param("filter-crs", "query", false, "Only CRS84", json!({"type": "string", "enum": [Crs::Crs84.uri()]})),
                "crs": param("crs", "query", false, "CRS of the answer's coordinates (default CRS84; EPSG:4326 is lat/lon)", json!({"type": "string", "enum": crs_uris})),
                "limit": param("limit", "query", false, "Items per page (1-10000)", json!({"type": "integer", "minimum": 1, "maximum": 10_000, "default": 10})),
                "offset": param("offset", "query", false, "Items to skip", json!({"type": "integer", "minimum": 0, "default": 0})),
                "properties": param("properties", "query", false, "Comma list of the properties to return", json!({"type": "string"})),
                "filter": param("filter", "query", false, "CQL2 filter (≤ 16 KiB), e.g. theme = 'MEMOIRE'", json!({"type": "string"})),
                "filter-lang": param("filter-lang", "query", false, "cql2-text (default) or cql2-json", json!({"type": "string", "enum": ["cql2-text", "cql2-json"]})),
                "lon": param("lon", "query", true, "Longitude, degrees", number(-180.0, 180.0)),
                "lat": param("lat", "query", true, "Latitude, degrees", number(-90.0, 90.0)),
            },
            "schemas": {
                "Error": {"type": "object", "required": ["code", "description"], "properties": {"code": {"type": "string"}, "description": {"type": "string"}}},
            },
            "responses": {
                "BadRequest": {"description": "A parameter is missing, malformed or out of range", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "NotFound": {"description": "No such collection, layer or feature", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        },
    })
}

pub async fn api(
    State(state): State<AppState>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(&raw, &["f"])?;
    if let Some(f) = params.get("f").filter(|f| *f != "json") {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("f={f:?} is not offered here; use f=json"),
        ));
    }
    Ok(typed_json(
        &document(&state.base_url(&headers)),
        "application/vnd.oai.openapi+json;version=3.0",
    ))
}
