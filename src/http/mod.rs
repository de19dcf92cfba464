//! HTTP API (axum): routes, shared state (with atomic data reloads), and the middleware every
//! request passes: limits, metrics, compression, CORS and request logs.

mod catalog;
pub mod error;
pub mod features;
pub mod limits;
pub mod metrics;
mod openapi;
pub mod params;
mod query;
mod resources;
mod tiles;

pub use catalog::catalog_summary;
pub use error::ApiError;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::layer::{Catalog, DataSource};
use crate::resources::glyphs::GlyphCache;
use crate::tile::cache::TileCache;
use metrics::Metrics;

/// How the server presents itself and protects itself; defaults suit a local server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Base URL written into TileJSON and styles (no trailing slash); `None` derives it from
    /// the request's `Host` header.
    pub public_url: Option<String>,
    /// `Cache-Control` value for tiles and other cacheable resources.
    pub cache_control: String,
    /// Whether to send open CORS headers (`Access-Control-Allow-Origin: *`).
    pub cors: bool,
    /// Requests answered at once; more are refused with 503 and `Retry-After`.
    pub max_concurrency: usize,
    /// Longest time a request may take before a 503.
    pub request_timeout: Duration,
    /// After SIGTERM, how long in-flight requests may take to finish.
    pub shutdown_grace: Duration,
    /// Largest response body sent; larger answers are a 400 asking for less.
    pub max_response_bytes: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            public_url: None,
            cache_control: "public, max-age=3600".into(),
            cors: true,
            max_concurrency: 1024,
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            max_response_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The outcome of the last data (re)load, shown at `/health`.
#[derive(Debug, Clone, Default)]
pub struct LoadStatus {
    /// When the data being served was loaded.
    pub loaded_at: Option<SystemTime>,
    /// Loads that succeeded (the first included).
    pub loads: u64,
    /// The last failed reload's message, cleared by the next success.
    pub last_error: Option<String>,
    /// When the last reload failed.
    pub failed_at: Option<SystemTime>,
}

/// What every handler shares: the data, the tile cache and the options.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    catalog: ArcSwap<Catalog>,
    source: Option<DataSource>,
    status: Mutex<LoadStatus>,
    /// Serialises reloads: one at a time, so a slow old load cannot overwrite a newer one.
    reloading: tokio::sync::Mutex<()>,
    cache: TileCache,
    glyphs: Arc<GlyphCache>,
    metrics: Metrics,
    options: ServerOptions,
}

impl AppState {
    /// State serving `catalog` with a tile cache of `cache_bytes` (0 disables it).
    #[must_use]
    pub fn new(catalog: Catalog, cache_bytes: u64, options: ServerOptions) -> Self {
        Self::build(catalog, None, cache_bytes, options)
    }

    /// State serving `catalog`, loaded from `source`, which [`AppState::reload`] reads again.
    #[must_use]
    pub fn with_source(
        catalog: Catalog,
        source: DataSource,
        cache_bytes: u64,
        options: ServerOptions,
    ) -> Self {
        Self::build(catalog, Some(source), cache_bytes, options)
    }

    fn build(
        catalog: Catalog,
        source: Option<DataSource>,
        cache_bytes: u64,
        options: ServerOptions,
    ) -> Self {
        let metrics = Metrics::default();
        metrics.serving(catalog.version(), catalog.feature_count());
        metrics.reloaded(true);
        Self {
            inner: Arc::new(Shared {
                catalog: ArcSwap::from_pointee(catalog),
                source,
                status: Mutex::new(LoadStatus {
                    loaded_at: Some(SystemTime::now()),
                    loads: 1,
                    ..LoadStatus::default()
                }),
                reloading: tokio::sync::Mutex::new(()),
                cache: TileCache::new(cache_bytes),
                glyphs: Arc::default(),
                metrics,
                options,
            }),
        }
    }

    /// The data being served. Hold the `Arc` for the whole request: a reload swaps in new data
    /// for later requests and never changes it under a running one.
    #[must_use]
    pub fn catalog(&self) -> Arc<Catalog> {
        self.inner.catalog.load_full()
    }

    /// Loads the data again, off to the side, and swaps it in only if every layer loads.
    /// On failure the old data keeps serving and the error is kept for `/health`.
    pub async fn reload(&self) -> Result<u64, String> {
        let Some(source) = self.inner.source.clone() else {
            return Err("this server has no data source to reload".into());
        };
        let _one_at_a_time = self.inner.reloading.lock().await;
        let loaded = tokio::task::spawn_blocking(move || source.load())
            .await
            .map_err(|e| format!("the reload task failed: {e}"))?;
        let mut status = self.inner.status.lock().unwrap_or_else(|e| e.into_inner());
        match loaded {
            Ok(catalog) => {
                let version = catalog.version();
                self.inner.metrics.serving(version, catalog.feature_count());
                self.inner.metrics.reloaded(true);
                self.inner.catalog.store(Arc::new(catalog));
                status.loaded_at = Some(SystemTime::now());
                status.loads += 1;
                status.last_error = None;
                status.failed_at = None;
                tracing::info!(version = format!("{version:016x}"), "data reloaded");
                Ok(version)
            }
            Err(e) => {
                self.inner.metrics.reloaded(false);
                status.last_error = Some(e.to_string());
                status.failed_at = Some(SystemTime::now());
                tracing::error!(error = %e, "reload failed; the previous data keeps serving");
                Err(e.to_string())
            }
        }
    }

    /// Where the data comes from, if it can be reloaded.
    #[must_use]
    pub fn source(&self) -> Option<&DataSource> {
        self.inner.source.as_ref()
    }

    /// The outcome of the last load.
    #[must_use]
    pub fn load_status(&self) -> LoadStatus {
        self.inner
            .status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
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

    /// The metrics.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
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
    let options = state.options().clone();
    let cors = options.cors.then(|| {
        CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
            .allow_headers(Any)
            .expose_headers([header::ETAG, header::CONTENT_ENCODING])
    });
    let timeout = options.request_timeout;
    let limits = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(move |e| {
            limits::handle_error(e, timeout)
        }))
        .load_shed()
        .concurrency_limit(options.max_concurrency.max(1))
        .timeout(timeout);
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
        .route("/metrics", get(metrics::metrics))
        .route("/catalog", get(catalog::catalog))
        .route("/tiles.json", get(tiles::tilejson_all))
        .route("/tiles/{layers}", get(tiles::tilejson_layers))
        .route("/tiles/{z}/{x}/{y}", get(tiles::tile_all))
        .route("/tiles/{layers}/{z}/{x}/{y}", get(tiles::tile_layers))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::cap_response,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
        .layer(CompressionLayer::new())
        .layer(tower::util::option_layer(cors))
        .layer(limits)
        .layer(axum::middleware::from_fn(limits::guard))
        .layer(TraceLayer::new_for_http())
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks) or is `*`.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().any(|value| {
        value.to_str().is_ok_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t == etag)
        })
    })
}

/// A header value from a string we built ourselves.
fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}
