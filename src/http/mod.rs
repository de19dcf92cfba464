//! HTTP API (axum): routes, shared state, and the headers every response gets.

mod catalog;
pub mod features;
mod openapi;
pub mod params;
mod query;
mod resources;
pub use catalog::catalog_summary;
pub mod error;
mod tiles;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::layer::Catalog;
use crate::resources::glyphs::GlyphCache;
use crate::tile::cache::TileCache;

pub use error::ApiError;

/// How the server presents itself; defaults suit a local server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Base URL written into TileJSON and styles (no trailing slash); `None` derives it from
    /// the request's `Host` header.
    pub public_url: Option<String>,
    /// `Cache-Control` value for tiles and other cacheable resources.
    pub cache_control: String,
    /// Whether to send open CORS headers (`Access-Control-Allow-Origin: *`).
    pub cors: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            public_url: None,
            cache_control: "public, max-age=3600".into(),
            cors: true,
        }
    }
}

/// What every handler shares: the data, the tile cache and the options.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    catalog: Arc<Catalog>,
    cache: TileCache,
    glyphs: Arc<GlyphCache>,
    options: ServerOptions,
}

impl AppState {
    /// State serving `catalog` with a tile cache of `cache_bytes` (0 disables it).
    #[must_use]
    pub fn new(catalog: Catalog, cache_bytes: u64, options: ServerOptions) -> Self {
        Self {
            inner: Arc::new(Shared {
                catalog: Arc::new(catalog),
                cache: TileCache::new(cache_bytes),
                glyphs: Arc::default(),
                options,
            }),
        }
    }

    /// The data being served.
    #[must_use]
    pub fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.inner.catalog)
    }

    /// The tile cache.
    #[must_use]
    pub fn cache(&self) -> &TileCache {
        &self.inner.cache
    }

    /// Rendered glyph ranges.
    #[must_use]
    pub fn glyphs(&self) -> Arc<GlyphCache> {
        Arc::clone(&self.inner.glyphs)
    }

    /// The options.
    #[must_use]
    pub fn options(&self) -> &ServerOptions {
        &self.inner.options
    }

    /// The base URL for links: the configured public URL, else `http://` + the `Host` header.
    #[must_use]
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.inner.options.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.len() <= 255
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
            .unwrap_or("127.0.0.1:8080");
        format!("http://{host}")
    }
}

/// The router with every route and middleware.
pub fn router(state: AppState) -> Router {
    let cors = state.options().cors.then(|| {
        CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
            .allow_headers(Any)
            .expose_headers([header::ETAG, header::CONTENT_ENCODING])
    });
    Router::new()
        .route("/", get(resources::root))
        .route("/embed", get(resources::embed))
        .route("/assets/{file}", get(resources::asset))
        .route("/assets/icons/{file}", get(resources::icon))
        .route("/styles", get(resources::style_list))
        .route("/styles/{file}", get(resources::style))
        .route("/fonts/{fontstack}/{range}", get(resources::glyphs))
        .route("/sprites/{file}", get(resources::sprite))
        .route("/conformance", get(features::conformance))
        .route("/api", get(openapi::api))
        .route("/collections", get(features::collections))
        .route("/collections/{id}", get(features::collection))
        .route("/collections/{id}/queryables", get(features::queryables))
        .route("/collections/{id}/items", get(features::items))
        .route("/collections/{id}/items/{fid}", get(features::item))
        .route("/query/at", get(query::at))
        .route("/query/within", get(query::within))
        .route("/query/nearest", get(query::nearest))
        .route("/query/near", get(query::near))
        .route("/health", get(catalog::health))
        .route("/catalog", get(catalog::catalog))
        .route("/tiles.json", get(tiles::tilejson_all))
        .route("/tiles/{layers}", get(tiles::tilejson_layers))
        .route("/tiles/{z}/{x}/{y}", get(tiles::tile_all))
        .route("/tiles/{layers}/{z}/{x}/{y}", get(tiles::tile_layers))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
        .layer(CompressionLayer::new())
        .layer(tower::util::option_layer(cors))
        .layer(TraceLayer::new_for_http())
}

/// A header value from a string we built ourselves.
fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}
