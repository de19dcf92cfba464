//! HTTP API (axum): routes, shared state (with atomic data reloads), and what every request
//! passes: the guard (URI and body limits), metrics, CORS; compression only on the routes
//! whose answers are computed (tiles and static assets are stored compressed).

pub mod assets;
mod catalog;
pub mod conn;
pub mod error;
pub mod features;
pub mod hosts;
pub mod limits;
pub mod metrics;
mod ogc_tiles;
mod openapi;
pub mod params;
mod query;
mod resources;
pub mod server;
pub mod tile_cache;
mod tiles;

pub use catalog::catalog_summary;
pub use error::ApiError;
pub use server::{serve, watch};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::routing::get;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{Any, CorsLayer};

use crate::cancel::Cancel;
use crate::data::DataFolder;
use crate::filter::{Filter, FilterError, FilterLang};
use crate::pool::CpuPool;
use crate::resources::glyphs::GlyphCache;
use crate::source::{Catalog, Ctx, LayerSource};
use metrics::Metrics;
use tile_cache::TileCache;

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
    /// CPU jobs (renders, scans, filter compilations) that may wait for a worker; more are
    /// refused with 503 and `Retry-After`.
    pub max_queue: usize,
    /// CPU workers (0: one per core).
    pub workers: usize,
    /// Longest time a request may work before it is stopped with a 503.
    pub request_timeout: Duration,
    /// After SIGTERM, how long in-flight requests may take to finish.
    pub shutdown_grace: Duration,
    /// Largest response body sent; larger answers are a 400 asking for less.
    pub max_response_bytes: usize,
    /// Limits on client connections.
    pub connections: conn::ConnectionLimits,
    /// Bytes of computed response bodies (items, queries, catalog…) held at once, however
    /// slowly clients read them; a body that would pass it gets 503 with `Retry-After`.
    pub max_body_memory: usize,
    /// Host names (lower case, no port) a request's `Host` may name when there is no
    /// `public_url`; `*` allows any. Others get a 400: a forged `Host` never reaches a link.
    pub allowed_hosts: Vec<String>,
    /// Whether `X-Forwarded-Host` and `X-Forwarded-Proto` (set by a reverse proxy in front)
    /// are believed; they are checked against `allowed_hosts` like `Host`.
    pub trust_forwarded: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            public_url: None,
            cache_control: "public, max-age=3600".into(),
            cors: true,
            max_queue: 1024,
            workers: 0,
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            max_response_bytes: 64 * 1024 * 1024,
            connections: conn::ConnectionLimits::default(),
            max_body_memory: 512 * 1024 * 1024,
            allowed_hosts: ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec(),
            trust_forwarded: false,
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
    /// The last failed reload's message (for the log; `/health` shows only its kind).
    pub last_error: Option<String>,
    /// When the last reload failed.
    pub failed_at: Option<SystemTime>,
}

/// What every handler shares: the data, the caches, the CPU pool and the options.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    catalog: ArcSwap<Catalog>,
    folder: Option<DataFolder>,
    status: Mutex<LoadStatus>,
    /// Serialises reloads: one at a time, so a slow old load cannot overwrite a newer one.
    reloading: tokio::sync::Mutex<()>,
    pool: CpuPool,
    /// A worker of its own for short, bounded jobs (compressing a static body, rendering a
    /// glyph range), so that cheap routes never queue behind renders and scans.
    light: CpuPool,
    tiles: TileCache,
    filters: moka::sync::Cache<FilterKey, Result<Arc<Filter>, FilterError>>,
    glyphs: Arc<GlyphCache>,
    assets: assets::Assets,
    /// Set once the startup work of [`AppState::warm_assets`] is done.
    warmed: std::sync::atomic::AtomicBool,
    metrics: Metrics,
    options: ServerOptions,
    headers: Headers,
    /// KiB of computed response bodies that may be held at once (see [`limits::hold`]).
    bodies: Arc<tokio::sync::Semaphore>,
}

/// Header values built once.
#[derive(Debug, Clone)]
pub struct Headers {
    /// `Cache-Control` of tiles and cacheable resources.
    pub cache_control: HeaderValue,
}

/// What identifies a compiled filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FilterKey {
    version: u64,
    layer: Arc<str>,
    lang: FilterLang,
    text: Arc<str>,
}

impl AppState {
    /// State serving `catalog` with a tile cache of `cache_bytes` (0 disables it).
    #[must_use]
    pub fn new(catalog: Catalog, cache_bytes: u64, options: ServerOptions) -> Self {
        Self::build(catalog, None, cache_bytes, options)
    }

    /// State serving `catalog`, loaded from `folder`, which [`AppState::reload`] reads again.
    #[must_use]
    pub fn with_folder(
        catalog: Catalog,
        folder: DataFolder,
        cache_bytes: u64,
        options: ServerOptions,
    ) -> Self {
        Self::build(catalog, Some(folder), cache_bytes, options)
    }

    fn build(
        catalog: Catalog,
        folder: Option<DataFolder>,
        cache_bytes: u64,
        options: ServerOptions,
    ) -> Self {
        let metrics = Metrics::default();
        metrics.serving(catalog.version(), catalog.feature_count());
        metrics.reloaded(true);
        let pool = if options.workers == 0 {
            let per_core = CpuPool::per_core();
            CpuPool::new(per_core.workers(), options.max_queue)
        } else {
            CpuPool::new(options.workers, options.max_queue)
        };
        Self {
            inner: Arc::new(Shared {
                catalog: ArcSwap::from_pointee(catalog),
                folder,
                status: Mutex::new(LoadStatus {
                    loaded_at: Some(SystemTime::now()),
                    loads: 1,
                    ..LoadStatus::default()
                }),
                reloading: tokio::sync::Mutex::new(()),
                pool,
                light: CpuPool::new(1, 256),
                tiles: TileCache::new(cache_bytes),
                filters: moka::sync::Cache::new(4096),
                glyphs: Arc::default(),
                assets: assets::Assets::default(),
                warmed: std::sync::atomic::AtomicBool::new(false),
                metrics,
                bodies: Arc::new(tokio::sync::Semaphore::new(
                    (options.max_body_memory / 1024).clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
                )),
                headers: Headers {
                    cache_control: HeaderValue::from_str(&options.cache_control)
                        .unwrap_or_else(|_| HeaderValue::from_static("no-cache")),
                },
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

    /// Loads the data again, off to the side, and swaps it in only if every layer loads; the
    /// caches are then emptied. On failure the old data keeps serving and the error is kept
    /// for `/health`.
    pub async fn reload(&self) -> Result<u64, String> {
        let Some(folder) = self.inner.folder.clone() else {
            return Err("this server has no data folder to reload".into());
        };
        let _one_at_a_time = self.inner.reloading.lock().await;
        let (db, archives) = {
            let catalog = self.catalog();
            (
                catalog.database().cloned(),
                catalog.extra_archives().to_vec(),
            )
        };
        let loaded = Catalog::load_with_archives(&folder, db.as_ref(), &archives).await;
        self.swap(loaded.map_err(|e| e.to_string()))
    }

    /// Serves `catalog` from now on (or records why a reload failed).
    pub fn swap(&self, loaded: Result<Catalog, String>) -> Result<u64, String> {
        let mut status = self.inner.status.lock().unwrap_or_else(|e| e.into_inner());
        match loaded {
            Ok(catalog) => {
                let version = catalog.version();
                self.inner.metrics.serving(version, catalog.feature_count());
                self.inner.metrics.reloaded(true);
                self.inner.catalog.store(Arc::new(catalog));
                self.inner.tiles.clear();
                self.inner.filters.invalidate_all();
                self.inner.assets.forget_data();
                status.loaded_at = Some(SystemTime::now());
                status.loads += 1;
                status.last_error = None;
                status.failed_at = None;
                tracing::info!(version = format!("{version:016x}"), "data reloaded");
                Ok(version)
            }
            Err(e) => {
                self.inner.metrics.reloaded(false);
                status.last_error = Some(e.clone());
                status.failed_at = Some(SystemTime::now());
                tracing::error!(error = %e, "reload failed; the previous data keeps serving");
                Err(e)
            }
        }
    }

    /// Where the data comes from, if it can be reloaded.
    #[must_use]
    pub fn folder(&self) -> Option<&DataFolder> {
        self.inner.folder.as_ref()
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
    pub fn tiles(&self) -> &TileCache {
        &self.inner.tiles
    }

    /// The CPU pool.
    #[must_use]
    pub fn pool(&self) -> &CpuPool {
        &self.inner.pool
    }

    /// The budget of computed response bodies held at once, in KiB.
    #[must_use]
    pub fn bodies(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.inner.bodies
    }

    /// The worker for short, bounded jobs of cheap routes.
    #[must_use]
    pub fn light_pool(&self) -> &CpuPool {
        &self.inner.light
    }

    /// A context for one request's work: the pool, and a token that expires at the request
    /// timeout.
    #[must_use]
    pub fn ctx(&self) -> Ctx {
        Ctx {
            pool: self.inner.pool.clone(),
            cancel: Cancel::until(Instant::now() + self.inner.options.request_timeout),
        }
    }

    /// Rendered glyph ranges.
    #[must_use]
    pub fn glyphs(&self) -> Arc<GlyphCache> {
        Arc::clone(&self.inner.glyphs)
    }

    /// Static bodies, compressed once.
    #[must_use]
    pub fn assets(&self) -> &assets::Assets {
        &self.inner.assets
    }

    /// Compresses the map page and its assets in the background, on a thread of its own.
    pub fn warm_assets(&self) {
        let state = self.clone();
        let _ = std::thread::Builder::new()
            .name("terril-warm".into())
            .spawn(move || {
                resources::warm(&state);
                state
                    .inner
                    .warmed
                    .store(true, std::sync::atomic::Ordering::Release);
            });
    }

    /// Whether the map page, its assets, the sprites and the first glyph ranges are ready
    /// (compressed and rendered once, at startup).
    #[must_use]
    pub fn warmed(&self) -> bool {
        self.inner.warmed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The metrics.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Header values built once.
    #[must_use]
    pub fn headers(&self) -> &Headers {
        &self.inner.headers
    }

    /// The options.
    #[must_use]
    pub fn options(&self) -> &ServerOptions {
        &self.inner.options
    }

    /// The compiled filter of `text` for `layer`, from the cache or compiled on the pool.
    pub async fn filter(
        &self,
        catalog: &Catalog,
        layer: &Arc<LayerSource>,
        text: Option<&str>,
        lang: Option<&str>,
    ) -> Result<Option<Arc<Filter>>, ApiError> {
        let lang = FilterLang::parse(lang).map_err(features::filter_error)?;
        let Some(text) = text else {
            return Ok(None);
        };
        let key = FilterKey {
            version: catalog.version(),
            layer: layer.id().into(),
            lang,
            text: text.into(),
        };
        if let Some(hit) = self.inner.filters.get(&key) {
            self.inner.metrics.filter_cache(true);
            return hit.map(Some).map_err(features::filter_error);
        }
        self.inner.metrics.filter_cache(false);
        let (source, owned) = (Arc::clone(layer), key.text.clone());
        let compiled = self
            .inner
            .pool
            .run(self.ctx().cancel, move |_| {
                Ok(Filter::new(&owned, lang, &source.schema).map(Arc::new))
            })
            .await
            .map_err(crate::source::SourceError::from)?;
        self.inner.filters.insert(key, compiled.clone());
        compiled.map(Some).map_err(features::filter_error)
    }

    /// The base URL for links: the configured public URL, else the scheme and host of the
    /// request (`Host`, or `X-Forwarded-Host`/`-Proto` from a trusted proxy), which
    /// [`hosts::check`] has checked against the allowed hosts.
    #[must_use]
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        let options = &self.inner.options;
        if let Some(url) = &options.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        let (scheme, host) = hosts::requested(headers, options.trust_forwarded);
        format!("{scheme}://{}", host.unwrap_or("localhost"))
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
    // Computed JSON answers are compressed on the way out, at a fast brotli level.
    let computed = Router::new()
        .route("/", get(resources::root))
        .route("/styles", get(resources::style_list))
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
        .route("/tiles", get(ogc_tiles::dataset_tilesets))
        .route(
            "/tiles/WebMercatorQuad",
            get(ogc_tiles::dataset_tileset_wmq),
        )
        .route("/tileMatrixSets", get(ogc_tiles::tile_matrix_sets))
        .route("/tileMatrixSets/{tms}", get(ogc_tiles::tile_matrix_set))
        .route(
            "/collections/{id}/tiles",
            get(ogc_tiles::collection_tilesets),
        )
        .route(
            "/collections/{id}/tiles/{tms}",
            get(ogc_tiles::collection_tileset),
        )
        // The cap and the memory budget look at the body before it is compressed.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::hold,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::cap_response,
        ))
        .layer(
            CompressionLayer::new()
                .quality(CompressionLevel::Precise(4))
                .no_deflate()
                .no_zstd(),
        );
    // Tiles and static resources carry their own stored encodings.
    let stored = Router::new()
        .route("/tiles/{z}/{x}/{y}", get(tiles::tile_all))
        .route("/tiles/{layers}/{z}/{x}/{y}", get(tiles::tile_layers))
        .route(
            "/tiles/WebMercatorQuad/{matrix}/{row}/{col}",
            get(ogc_tiles::dataset_tile),
        )
        .route(
            "/collections/{id}/tiles/{tms}/{matrix}/{row}/{col}",
            get(ogc_tiles::collection_tile),
        )
        .route("/embed", get(resources::embed))
        .route("/assets/{file}", get(resources::asset))
        .route("/assets/icons/{file}", get(resources::icon))
        .route("/fonts/{fontstack}/{range}", get(resources::glyphs))
        .route("/sprites/{file}", get(resources::sprite))
        .route("/styles/{file}", get(resources::style));
    computed
        .merge(stored)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state.clone())
        .layer(axum::middleware::from_fn(limits::guard))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            hosts::check,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        // Outermost, so that every answer, refusals of the layers above included, has them.
        .layer(tower::util::option_layer(cors))
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
