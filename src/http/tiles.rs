//! Tile routes: `GET /tiles/{z}/{x}/{y}.mvt`, `GET /tiles/{layers}/{z}/{x}/{y}.mvt`, and TileJSON.
//!
//! A request is looked up in the tile cache before anything else is done with it (layers are
//! resolved and filters compiled only on a miss), and concurrent misses of one tile render it
//! once.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::params::Params;
use super::tile_cache::{CachedTile, Encoding, tile_key};
use super::{ApiError, AppState, if_none_match};
use crate::data::union_bounds;
use crate::export::attribution;
use crate::mercator::TileCoord;
use crate::source::{Catalog, LayerSource, TileRequest};

/// The MVT media type.
pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// Brotli quality of tiles compressed on the fly (fast; 11 would take 100× longer).
pub const TILE_BROTLI_QUALITY: u32 = 4;

/// Tiles at least this large are compressed on the CPU pool rather than inline.
const COMPRESS_ON_POOL_BYTES: usize = 16 * 1024;

/// `GET /tiles/{z}/{x}/{y}.mvt`.
pub async fn tile_all(
    State(state): State<AppState>,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (layers, coord) = tile_path(uri.path())?;
    serve_tile(&state, layers, coord, query.as_deref(), &headers).await
}

/// `GET /tiles/{layers}/{z}/{x}/{y}.mvt`.
pub async fn tile_layers(
    State(state): State<AppState>,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (layers, coord) = tile_path(uri.path())?;
    serve_tile(&state, layers, coord, query.as_deref(), &headers).await
}

/// Splits `/tiles[/{layers}]/{z}/{x}/{y}.mvt`.
fn tile_path(path: &str) -> Result<(Option<&str>, TileCoord), ApiError> {
    let rest = path.strip_prefix("/tiles/").unwrap_or(path);
    let mut parts = rest.rsplitn(4, '/');
    let (y, x, z) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let layers = parts.next();
    let coord = TileCoord::parse(z, x, y, "mvt")
        .map_err(|e| ApiError::bad_request("invalid_tile", e.to_string()))?;
    Ok((layers, coord))
}

/// The lowest `minzoom` and the highest `maxzoom` of some layers.
pub fn zoom_range(layers: &[Arc<LayerSource>]) -> (u8, u8) {
    let minzoom = layers.iter().map(|l| l.info.config.minzoom).min();
    let maxzoom = layers.iter().map(|l| l.info.config.maxzoom).max();
    (minzoom.unwrap_or(0), maxzoom.unwrap_or(0))
}

/// Resolves a comma list of layer ids (all layers for `None`), in the order given.
pub fn resolve_layers(
    catalog: &Catalog,
    list: Option<&str>,
) -> Result<Vec<Arc<LayerSource>>, ApiError> {
    let Some(list) = list else {
        return Ok(catalog.feature_layers());
    };
    let mut out: Vec<Arc<LayerSource>> = Vec::new();
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
            out.push(Arc::clone(layer));
        }
    }
    if out.len() > 1
        && let Some(archive) = out.iter().find(|l| l.as_archive().is_some())
    {
        return Err(ApiError::bad_request(
            "invalid_layers",
            format!(
                "{:?} is a tile archive, a tileset of its own: ask for /tiles/{}/{{z}}/{{x}}/{{y}}.mvt alone",
                archive.id(),
                archive.id()
            ),
        ));
    }
    Ok(out)
}

/// Answers tile `coord` of some layers (all for `None`), from the cache or rendered once.
pub(super) async fn serve_tile(
    state: &AppState,
    layer_list: Option<&str>,
    coord: TileCoord,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let params = match query {
        Some(q) if !q.is_empty() => Params::parse_str(q, &["filter", "filter-lang", "f"])?,
        _ => Params::default(),
    };
    if let Some(f) = params.get("f").filter(|f| *f != "mvt") {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!(
                "f={:?} is not offered for tiles; use f=mvt",
                f.chars().take(40).collect::<String>()
            ),
        ));
    }
    let filter_text = params.get("filter");
    let filter_lang = params.get("filter-lang");
    let catalog = state.catalog();
    let encoding = Encoding::negotiate(
        headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let filter_key = filter_text.map(|t| (filter_lang.unwrap_or("cql2-text"), t));
    let layers_key = layer_list.unwrap_or("");
    let version = catalog.data_version();
    let key = tile_key(version, layers_key, filter_key, coord, encoding);
    if let Some(hit) = state.tiles().get(key) {
        state.metrics().tile_hit();
        return Ok(respond(state, &hit, encoding, headers));
    }
    let layers = resolve_layers(&catalog, layer_list)?;
    if let [only] = layers.as_slice()
        && let Some(archive) = only.as_archive()
    {
        if filter_text.is_some() {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!(
                    "{:?} is a tile archive: its tiles are served as stored and cannot be filtered",
                    only.id()
                ),
            ));
        }
        return serve_archive_tile(state, archive, coord, version, layers_key, headers).await;
    }
    let (tile, coalesced) = state
        .tiles()
        .get_or_make(key, || async {
            let raw_key = tile_key(
                catalog.version(),
                layers_key,
                filter_key,
                coord,
                Encoding::Identity,
            );
            let render = || async {
                let mut requests = Vec::with_capacity(layers.len());
                for layer in &layers {
                    let filter = state
                        .filter(&catalog, layer, filter_text, filter_lang)
                        .await?;
                    requests.push(TileRequest {
                        layer: Arc::clone(layer),
                        filter,
                    });
                }
                let bytes = catalog.tile(&state.ctx(), &requests, coord).await?;
                let etag = format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&bytes));
                Ok::<_, ApiError>(CachedTile {
                    body: bytes.into(),
                    etag: HeaderValue::from_str(&etag).expect("hex is a valid header value"),
                })
            };
            let raw = if encoding == Encoding::Identity {
                return render().await;
            } else {
                state.tiles().get_or_make(raw_key, render).await?.0
            };
            if raw.body.is_empty() {
                return Ok(raw);
            }
            let body = if raw.body.len() >= COMPRESS_ON_POOL_BYTES {
                let bytes = raw.body.clone();
                state
                    .pool()
                    .run(state.ctx().cancel, move |_| {
                        Ok(encoding.compress(&bytes, TILE_BROTLI_QUALITY))
                    })
                    .await
                    .map_err(crate::source::SourceError::from)?
            } else {
                encoding.compress(&raw.body, TILE_BROTLI_QUALITY)
            };
            let tag = raw.etag.to_str().unwrap_or("\"\"").trim_end_matches('"');
            let etag = format!("{tag}-{}\"", encoding.token().unwrap_or_default());
            Ok(CachedTile {
                body,
                etag: HeaderValue::from_str(&etag).expect("hex is a valid header value"),
            })
        })
        .await?;
    state.metrics().tile_miss(coalesced);
    Ok(respond(state, &tile, encoding, headers))
}

/// Answers a tile of an archive: passed through as stored when the client accepts the
/// archive's compression (PMTiles tiles are usually gzipped), otherwise decompressed and, if
/// the client accepts it, compressed again as it prefers.
async fn serve_archive_tile(
    state: &AppState,
    archive: &crate::source::Archive,
    coord: TileCoord,
    version: u64,
    layers_key: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let stored_as = match archive.compression() {
        crate::source::archive::TileCompression::Gzip => Encoding::Gzip,
        crate::source::archive::TileCompression::Brotli => Encoding::Brotli,
        crate::source::archive::TileCompression::None => Encoding::Identity,
    };
    let accepted: Vec<&str> = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let encoding = Encoding::negotiate_stored(accepted.iter().copied(), stored_as);
    let key = tile_key(version, layers_key, None, coord, encoding);
    if let Some(hit) = state.tiles().get(key) {
        state.metrics().tile_hit();
        return Ok(respond(state, &hit, encoding, headers));
    }
    let (tile, coalesced) = state
        .tiles()
        .get_or_make(key, || async {
            let body = match archive.stored_tile(coord).await? {
                None => bytes::Bytes::new(),
                Some(t) if t.compression.token() == encoding.token() => t.bytes,
                Some(t) => {
                    // Recoding a large tile is CPU work: on the pool, as rendered tiles are.
                    let large = t.bytes.len() >= COMPRESS_ON_POOL_BYTES;
                    let recode = move || -> Result<bytes::Bytes, String> {
                        let raw = t.compression.decompress(&t.bytes)?;
                        Ok(encoding.compress(&raw, TILE_BROTLI_QUALITY))
                    };
                    let recoded = if large {
                        state
                            .pool()
                            .run(state.ctx().cancel, move |_| Ok(recode()))
                            .await
                            .map_err(crate::source::SourceError::from)?
                    } else {
                        recode()
                    };
                    recoded.map_err(|e| ApiError::from(crate::source::SourceError::Internal(e)))?
                }
            };
            let etag = format!(
                "\"{:016x}-{}\"",
                xxhash_rust::xxh3::xxh3_64(&body),
                encoding.token().unwrap_or("identity")
            );
            Ok::<_, ApiError>(CachedTile {
                body,
                etag: HeaderValue::from_str(&etag).expect("hex is a valid header value"),
            })
        })
        .await?;
    state.metrics().tile_miss(coalesced);
    Ok(respond(state, &tile, encoding, headers))
}

fn respond(
    state: &AppState,
    tile: &CachedTile,
    encoding: Encoding,
    headers: &HeaderMap,
) -> Response {
    let not_modified = tile
        .etag
        .to_str()
        .is_ok_and(|etag| if_none_match(headers, etag));
    let status = if not_modified {
        StatusCode::NOT_MODIFIED
    } else if tile.body.is_empty() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::OK
    };
    let mut response = if status == StatusCode::OK {
        Response::new(Body::from(tile.body.clone()))
    } else {
        status.into_response()
    };
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::ETAG, tile.etag.clone());
    h.insert(header::CACHE_CONTROL, state.headers().cache_control.clone());
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if status == StatusCode::OK {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(MVT_CONTENT_TYPE),
        );
        if let Some(token) = encoding.token() {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(token));
        }
    }
    response
}

/// `GET /tiles.json`.
pub async fn tilejson_all(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    tilejson(&state, None, &headers)
}

/// `GET /tiles/{layers}.json`.
pub async fn tilejson_layers(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let segment = uri.path().strip_prefix("/tiles/").unwrap_or_default();
    let list = segment.strip_suffix(".json").ok_or_else(|| {
        ApiError::not_found("not_found", "TileJSON lives at /tiles/{layers}.json")
    })?;
    let list = percent_encoding::percent_decode_str(list)
        .decode_utf8()
        .map_err(|_| ApiError::bad_request("invalid_layers", "layer ids are UTF-8"))?;
    tilejson(&state, Some(&list), &headers)
}

/// TileJSON 3.0.0 for a set of layers.
fn tilejson(
    state: &AppState,
    list: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
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
    let (minzoom, maxzoom) = zoom_range(&layers);
    let bounds = union_bounds(layers.iter().filter_map(|l| l.info.bounds)).unwrap_or([
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
    let vector_layers: Vec<Value> = layers.iter().flat_map(|l| l.info.vector_layers()).collect();
    let name = match list {
        None => "Terril".to_owned(),
        Some(_) => layers
            .iter()
            .map(|l| l.info.config.title.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let doc = json!({
        "tilejson": "3.0.0",
        "name": name,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [path],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": bounds,
        "center": center,
        "attribution": attribution(layers.iter().map(|l| l.info.config.attribution.as_str())),
        "vector_layers": vector_layers,
    });
    Ok(super::resources::cached(
        serde_json::to_vec(&doc).map_err(ApiError::internal)?,
        "application/json",
        "no-cache",
        headers,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths() {
        let (l, c) = tile_path("/tiles/10/520/345.mvt").unwrap();
        assert_eq!((l, c.z, c.x, c.y), (None, 10, 520, 345));
        let (l, c) = tile_path("/tiles/communes,tourism/10/520/345.mvt").unwrap();
        assert_eq!((l, c.z), (Some("communes,tourism"), 10));
        assert!(tile_path("/tiles/10/520/345.png").is_err());
        assert!(tile_path("/tiles/10/5200/345.mvt").is_err());
    }

    #[test]
    fn etag_matching() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(if_none_match(&with("\"a\", \"b\""), "\"b\""));
        assert!(if_none_match(&with("W/\"b\""), "\"b\""));
        assert!(if_none_match(&with("*"), "\"b\""));
        assert!(!if_none_match(&with("\"c\""), "\"b\""));
    }
}
