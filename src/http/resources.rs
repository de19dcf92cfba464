//! Routes for web maps and people: the map page (`/`, `/embed`), its assets, MapLibre styles,
//! glyph ranges and sprite sheets. All are built into the binary; none reads a path from disk.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;

use super::assets::Stored;
use super::features::{landing, typed_json};
use super::{ApiError, AppState, header_value, if_none_match};
use crate::resources::glyphs::{GlyphError, parse_range};
use crate::resources::{sprites, styles, web};

/// Content-Security-Policy of HTML pages: scripts, styles, data and workers from this origin
/// only. `frame-ancestors` stays open so that `/embed` can sit in another site's iframe.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     worker-src 'self' blob:; child-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'";

/// Brotli quality of stored static bodies: the best, since they are compressed once.
const STATIC_QUALITY: u32 = 11;

/// A stored body, compressed once, answered in the encoding the request accepts.
async fn stored(
    state: &AppState,
    key: String,
    media: &'static str,
    cache_control: &HeaderValue,
    headers: &HeaderMap,
    make: impl FnOnce() -> Bytes + Send + 'static,
) -> Result<Response, ApiError> {
    let body = state
        .assets()
        .get_or_store(
            state.light_pool(),
            state.ctx().cancel,
            &key,
            media,
            STATIC_QUALITY,
            make,
        )
        .await
        .map_err(crate::source::SourceError::from)?;
    Ok(body.respond(headers, cache_control))
}

/// A computed body with a strong ETag from its bytes, stored as it is; `If-None-Match` gives 304.
pub fn cached(
    bytes: impl Into<Body> + AsRef<[u8]>,
    content_type: &str,
    cache_control: &str,
    headers: &HeaderMap,
) -> Response {
    let etag = format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(bytes.as_ref()));
    let mut response = if if_none_match(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(bytes.into());
        r.headers_mut()
            .insert(header::CONTENT_TYPE, header_value(content_type));
        r
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, header_value(&etag));
    h.insert(header::CACHE_CONTROL, header_value(cache_control));
    response
}

async fn html(state: &AppState, headers: &HeaderMap) -> Result<Response, ApiError> {
    let no_cache = HeaderValue::from_static("no-cache");
    let mut response = stored(
        state,
        "page:map".into(),
        "text/html; charset=utf-8",
        &no_cache,
        headers,
        || Bytes::from(map_page()),
    )
    .await?;
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, header_value(CSP));
    response
        .headers_mut()
        .insert(header::X_CONTENT_TYPE_OPTIONS, header_value("nosniff"));
    Ok(response)
}

/// Whether a request to `/` wants the OGC landing page rather than the map: `?f=json`, or an
/// `Accept` header that does not name HTML explicitly with at least the weight it gives JSON
/// (`*/*` alone, as HTTP libraries send, gets JSON; a browser's HTML-first header gets the map).
fn wants_json(raw: &RawQuery, headers: &HeaderMap) -> bool {
    let query = raw.0.as_deref().unwrap_or("");
    if query.split('&').any(|p| p == "f=json") {
        return true;
    }
    if query.split('&').any(|p| p == "f=html") {
        return false;
    }
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    !prefers_html(&accept)
}

/// Whether an `Accept` header names HTML with a weight above zero and at least that of JSON.
fn prefers_html(accept: &str) -> bool {
    let (mut html, mut json) = (None::<f32>, 0f32);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "text/html" | "application/xhtml+xml" => html = Some(html.map_or(q, |h| h.max(q))),
            "application/json" | "application/geo+json" | "application/*" => json = json.max(q),
            _ => {}
        }
    }
    html.is_some_and(|h| h > 0.0 && h >= json)
}

fn map_page() -> Vec<u8> {
    match web::MAPLIBRE_MISSING {
        Some(reason) => web::missing_page(reason).into_bytes(),
        None => web::index_html().to_vec(),
    }
}

/// `GET /`: the map for browsers, the OGC API landing page for `Accept: application/json` or `?f=json`.
pub async fn root(
    State(state): State<AppState>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if wants_json(&raw, &headers) {
        return landing(state, raw, headers).await;
    }
    html(&state, &headers).await
}

/// `GET /embed`: the same page; the app drops its panels when loaded from this path.
pub async fn embed(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    html(&state, &headers).await
}

/// The names of the assets worth compressing as soon as the server starts (the map page's).
pub fn warm_list() -> Vec<&'static str> {
    let mut names = vec![
        "maplibre-gl.mjs",
        "maplibre-gl-worker.mjs",
        "maplibre-gl.css",
    ];
    names.extend(web::app_files());
    names
}

/// An asset's stored body: compressed at build time when it was, else now.
fn asset_body(name: &str, bytes: &'static [u8], media: &str) -> Stored {
    match web::precompressed(name) {
        Some((br, gz)) => Stored::precompressed(
            Bytes::from_static(bytes),
            Bytes::from_static(gz),
            Bytes::from_static(br),
            media,
        ),
        None => Stored::new(Bytes::from_static(bytes), media, STATIC_QUALITY),
    }
}

/// Compresses the map page and its assets once, so that visitors never wait for it. Runs on
/// a thread of its own when the server starts (a one-off, outside the request pool).
pub fn warm(state: &AppState) {
    let assets = state.assets();
    if assets.get("page:map").is_none() {
        let page = Stored::new(
            Bytes::from(map_page()),
            "text/html; charset=utf-8",
            STATIC_QUALITY,
        );
        assets.insert("page:map".into(), page);
    }
    for name in warm_list() {
        let key = format!("asset:{name}");
        if let Some((bytes, media)) = web::asset(name)
            && assets.get(&key).is_none()
        {
            assets.insert(key, asset_body(name, bytes, media));
        }
    }
    // What every map view asks for before its first labels: the sprite sheets and the Latin
    // glyph ranges of the styles' fonts, rendered with FreeType once rather than for the first
    // visitor.
    for retina in [false, true] {
        if let Ok(sheet) = sprites::sheet(retina) {
            for (ext, body, media) in [
                ("json", &sheet.json, "application/json"),
                ("png", &sheet.png, "image/png"),
            ] {
                let key = format!("sprite:{retina}:{ext}");
                if assets.get(&key).is_none() {
                    let stored = Stored::new(Bytes::from(body.clone()), media, STATIC_QUALITY);
                    assets.insert(key, stored);
                }
            }
        }
    }
    for font in ["DejaVu Sans Book", "DejaVu Sans Bold"] {
        for start in [0, 256] {
            let key = format!("glyphs:{font}:{start}");
            if assets.get(&key).is_some() {
                continue;
            }
            if let Ok(bytes) = state.glyphs().get(font, start) {
                let stored = Stored::new(
                    Bytes::from(bytes.as_ref().clone()),
                    "application/x-protobuf",
                    STATIC_QUALITY,
                );
                assets.insert(key, stored);
            }
        }
    }
}

/// `GET /assets/{file}`.
pub async fn asset(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(name) = path?;
    let (bytes, media) =
        web::asset(&name).ok_or_else(|| ApiError::not_found("not_found", "no such asset"))?;
    let cache_control = state.headers().cache_control.clone();
    let key = format!("asset:{name}");
    let body = match state.assets().get(&key) {
        Some(hit) => hit,
        None => {
            let body = state
                .light_pool()
                .run(state.ctx().cancel, move |_| {
                    Ok(asset_body(&name, bytes, media))
                })
                .await
                .map_err(crate::source::SourceError::from)?;
            state.assets().insert(key, body)
        }
    };
    Ok(body.respond(&headers, &cache_control))
}

/// `GET /assets/icons/{file}.svg`: the icons of the sprite, as SVG, for legends.
pub async fn icon(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(name) = path?;
    let bytes =
        sprites::icon_svg(&name).ok_or_else(|| ApiError::not_found("not_found", "no such icon"))?;
    let cache_control = state.headers().cache_control.clone();
    stored(
        &state,
        format!("icon:{name}"),
        "image/svg+xml",
        &cache_control,
        &headers,
        move || Bytes::copy_from_slice(bytes),
    )
    .await
}

/// `GET /styles`: the styles with their URLs.
pub async fn style_list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let base = state.base_url(&headers);
    let list: Vec<_> = styles::names()
        .into_iter()
        .map(|n| json!({"id": n, "url": format!("{base}/styles/{n}.json")}))
        .collect();
    typed_json(&json!({ "styles": list }), "application/json")
}

/// `GET /styles/{name}.json`.
pub async fn style(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(file) = path?;
    let name = file.strip_suffix(".json").unwrap_or(&file);
    let base = state.base_url(&headers);
    let style = styles::style(name, &base).ok_or_else(|| {
        ApiError::not_found(
            "unknown_style",
            format!(
                "no style {:?}; see /styles",
                name.chars().take(64).collect::<String>()
            ),
        )
    })?;
    let no_cache = HeaderValue::from_static("no-cache");
    stored(
        &state,
        format!("style:{name}:{base}"),
        "application/json",
        &no_cache,
        &headers,
        move || Bytes::from(serde_json::to_vec(&style).unwrap_or_default()),
    )
    .await
}

/// `GET /fonts/{fontstack}/{range}.pbf`.
pub async fn glyphs(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((fontstack, range)) = path?;
    if !range.ends_with(".pbf") {
        return Err(ApiError::not_found(
            "not_found",
            "glyph ranges end with .pbf",
        ));
    }
    let start =
        parse_range(&range).map_err(|e| ApiError::bad_request("invalid_range", e.to_string()))?;
    if fontstack.len() > 256 {
        return Err(ApiError::bad_request(
            "invalid_fontstack",
            "font stack names are at most 256 bytes",
        ));
    }
    let key = format!("glyphs:{fontstack}:{start}");
    let cache_control = state.headers().cache_control.clone();
    if let Some(hit) = state.assets().get(&key) {
        return Ok(hit.respond(&headers, &cache_control));
    }
    let glyphs = state.glyphs();
    // Rendering a range takes FreeType milliseconds: CPU work for the pool. A render that ends
    // past the request's deadline is answered 503 like any other late work.
    let rendered = state
        .light_pool()
        .run(state.ctx().cancel, move |cancel| {
            let r = glyphs.get(&fontstack, start);
            cancel.check()?;
            Ok(r)
        })
        .await
        .map_err(crate::source::SourceError::from)?;
    let bytes = match rendered {
        Ok(b) => b,
        Err(e @ GlyphError::UnknownFont(_)) => {
            return Err(ApiError::not_found("unknown_font", e.to_string()));
        }
        Err(e @ GlyphError::BadRange) => {
            return Err(ApiError::bad_request("invalid_range", e.to_string()));
        }
        Err(e @ GlyphError::Render(_)) => return Err(ApiError::internal(e)),
    };
    stored(
        &state,
        key,
        "application/x-protobuf",
        &cache_control,
        &headers,
        move || Bytes::from(bytes.as_ref().clone()),
    )
    .await
}

/// `GET /sprites/{name}[@2x].{json,png}`.
pub async fn sprite(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(file) = path?;
    let (stem, ext) = file
        .rsplit_once('.')
        .ok_or_else(|| ApiError::not_found("not_found", "sprites end with .json or .png"))?;
    let (name, retina) = match stem.strip_suffix("@2x") {
        Some(n) => (n, true),
        None => (stem, false),
    };
    if name != sprites::SPRITE_NAME || !matches!(ext, "json" | "png") {
        return Err(ApiError::not_found(
            "unknown_sprite",
            format!(
                "the sprite is /sprites/{}[@2x].{{json,png}}",
                sprites::SPRITE_NAME
            ),
        ));
    }
    let sheet = state
        .light_pool()
        .run(state.ctx().cancel, move |_| {
            Ok(sprites::sheet(retina).cloned())
        })
        .await
        .map_err(crate::source::SourceError::from)?
        .map_err(ApiError::internal)?;
    let cache_control = state.headers().cache_control.clone();
    let (body, media) = if ext == "png" {
        (sheet.png, "image/png")
    } else {
        (sheet.json, "application/json")
    };
    stored(
        &state,
        format!("sprite:{retina}:{ext}"),
        media,
        &cache_control,
        &headers,
        move || Bytes::from(body),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::prefers_html;

    #[test]
    fn html_only_when_named_first() {
        // Browsers.
        assert!(prefers_html(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(prefers_html("text/html"));
        // HTTP libraries and clients of the API.
        assert!(!prefers_html("*/*"));
        assert!(!prefers_html(""));
        assert!(!prefers_html("application/json"));
        assert!(!prefers_html("application/json, text/html;q=0.5"));
        assert!(!prefers_html("text/html;q=0, */*"));
        assert!(!prefers_html("application/geo+json;q=0.9, text/html;q=0.8"));
    }
}
