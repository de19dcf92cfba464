//! `GET /metrics` in the Prometheus text format: requests by route and status, latency
//! histograms, tile cache hits, misses and bytes, the data version and reloads.

use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

fn latency_histogram() -> Histogram {
    // 0.1 ms to ~1.6 s.
    Histogram::new(exponential_buckets(0.000_1, 2.0, 15))
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    tile_cache_hits: Counter,
    tile_cache_misses: Counter,
    tile_coalesced: Counter,
    filter_cache_hits: Counter,
    filter_cache_misses: Counter,
    pool_completed: Counter,
    pool_cancelled: Counter,
    pool_refused: Counter,
    pool_waiting: Gauge,
    pool_running: Gauge,
    cache_bytes: Gauge,
    cache_entries: Gauge,
    data_version: Family<VersionLabels, Gauge>,
    current_version: Mutex<String>,
    reloads: Family<OutcomeLabels, Counter>,
    features: Gauge,
    connections_open: Gauge,
    connections_refused: Family<ReasonLabels, Counter>,
    in_flight: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("terril");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer, by route",
            latency.clone(),
        );
        let tile_cache_hits = Counter::default();
        registry.register(
            "tile_cache_hits",
            "Tiles answered from the cache",
            tile_cache_hits.clone(),
        );
        let tile_cache_misses = Counter::default();
        registry.register(
            "tile_cache_misses",
            "Tiles rendered because the cache did not hold them",
            tile_cache_misses.clone(),
        );
        let tile_coalesced = Counter::default();
        registry.register(
            "tile_renders_coalesced",
            "Tile misses answered by a render another request had started (single flight)",
            tile_coalesced.clone(),
        );
        let filter_cache_hits = Counter::default();
        registry.register(
            "filter_cache_hits",
            "CQL2 filters found compiled",
            filter_cache_hits.clone(),
        );
        let filter_cache_misses = Counter::default();
        registry.register(
            "filter_cache_misses",
            "CQL2 filters compiled",
            filter_cache_misses.clone(),
        );
        let pool_completed = Counter::default();
        registry.register(
            "cpu_jobs_completed",
            "CPU jobs (renders, scans, compilations) finished",
            pool_completed.clone(),
        );
        let pool_cancelled = Counter::default();
        registry.register(
            "cpu_jobs_cancelled",
            "CPU jobs stopped because their request went away or timed out",
            pool_cancelled.clone(),
        );
        let pool_refused = Counter::default();
        registry.register(
            "cpu_jobs_refused",
            "CPU jobs refused with 503 because the queue was full",
            pool_refused.clone(),
        );
        let pool_waiting = Gauge::default();
        registry.register(
            "cpu_jobs_waiting",
            "CPU jobs waiting for a worker",
            pool_waiting.clone(),
        );
        let pool_running = Gauge::default();
        registry.register("cpu_jobs_running", "CPU jobs running", pool_running.clone());
        let cache_bytes = Gauge::default();
        registry.register(
            "tile_cache_bytes",
            "Bytes held by the tile cache",
            cache_bytes.clone(),
        );
        let cache_entries = Gauge::default();
        registry.register(
            "tile_cache_entries",
            "Entries in the tile cache",
            cache_entries.clone(),
        );
        let data_version = Family::<VersionLabels, Gauge>::default();
        registry.register(
            "data_version",
            "1 for the data version being served",
            data_version.clone(),
        );
        let reloads = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "data_reloads",
            "Data reloads by outcome (ok, error)",
            reloads.clone(),
        );
        let features = Gauge::default();
        registry.register(
            "features",
            "Features being served, over all layers",
            features.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "connections_open",
            "Client connections open",
            connections_open.clone(),
        );
        let connections_refused = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "connections_refused",
            "Client connections refused at the door, by reason (full, per_address)",
            connections_refused.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "Requests read and not yet answered",
            in_flight.clone(),
        );
        Self {
            in_flight,
            connections_open,
            connections_refused,
            registry,
            requests,
            latency,
            tile_cache_hits,
            tile_cache_misses,
            tile_coalesced,
            filter_cache_hits,
            filter_cache_misses,
            pool_completed,
            pool_cancelled,
            pool_refused,
            pool_waiting,
            pool_running,
            cache_bytes,
            cache_entries,
            data_version,
            current_version: Mutex::new(String::new()),
            reloads,
            features,
        }
    }
}

impl Metrics {
    /// Records one answered request.
    pub fn observe(&self, route: &'static str, method: &'static str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(seconds);
    }

    /// Connections open now.
    pub fn connections(&self, open: usize) {
        self.connections_open
            .set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    /// A connection refused at the door.
    pub fn refused(&self, reason: &'static str) {
        self.connections_refused
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// A tile answered from the cache.
    pub fn tile_hit(&self) {
        self.tile_cache_hits.inc();
    }

    /// A tile that was not in the cache; `coalesced` when another request's render answered it.
    pub fn tile_miss(&self, coalesced: bool) {
        self.tile_cache_misses.inc();
        if coalesced {
            self.tile_coalesced.inc();
        }
    }

    /// A compiled filter looked up.
    pub fn filter_cache(&self, hit: bool) {
        if hit {
            self.filter_cache_hits.inc();
        } else {
            self.filter_cache_misses.inc();
        }
    }

    /// Records the outcome of a data load (`ok` or `error`).
    pub fn reloaded(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.reloads
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Marks `version` as the data being served.
    pub fn serving(&self, version: u64, features: u64) {
        let version = format!("{version:016x}");
        let mut current = self
            .current_version
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if *current != version {
            if !current.is_empty() {
                self.data_version.remove(&VersionLabels {
                    version: current.clone(),
                });
            }
            self.data_version
                .get_or_create(&VersionLabels {
                    version: version.clone(),
                })
                .set(1);
            *current = version;
        }
        self.features
            .set(i64::try_from(features).unwrap_or(i64::MAX));
    }
}

/// Middleware around everything: times each request from the moment it is read to the
/// moment its answer is ready, and counts it by route template and status. Labels are
/// static strings: nothing is allocated per request.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_label(request.uri().path());
    let method = match *request.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    // Decremented on drop, so a request whose client went away is not counted for ever.
    let _in_flight = InFlight::enter(&state);
    let response = next.run(request).await;
    state.metrics().observe(
        route,
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// One request counted in `http_requests_in_flight` while it lives.
struct InFlight(Gauge);

impl InFlight {
    fn enter(state: &AppState) -> Self {
        let gauge = state.metrics().in_flight.clone();
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The route template of a path, as a static label.
#[must_use]
pub fn route_label(path: &str) -> &'static str {
    let segments = path.trim_start_matches('/').split('/').count();
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match (first, segments) {
        ("", _) => "/",
        ("tiles", 4) => "/tiles/{z}/{x}/{y}",
        ("tiles", 5) => "/tiles/{layers}/{z}/{x}/{y}",
        ("tiles", 2) => "/tiles/{layers}.json",
        ("tiles.json", 1) => "/tiles.json",
        ("health", 1) => "/health",
        ("metrics", 1) => "/metrics",
        ("catalog", 1) => "/catalog",
        ("embed", 1) => "/embed",
        ("assets", _) => "/assets/{file}",
        ("styles", 1) => "/styles",
        ("styles", _) => "/styles/{name}",
        ("fonts", _) => "/fonts/{fontstack}/{range}",
        ("sprites", _) => "/sprites/{file}",
        ("conformance", 1) => "/conformance",
        ("api", 1) => "/api",
        ("collections", 1) => "/collections",
        ("collections", 2) => "/collections/{id}",
        ("collections", 3) if path.ends_with("/queryables") => "/collections/{id}/queryables",
        ("collections", 3) => "/collections/{id}/items",
        ("collections", 4) => "/collections/{id}/items/{fid}",
        ("query", 2) if path.ends_with("/at") => "/query/at",
        ("query", 2) if path.ends_with("/within") => "/query/within",
        ("query", 2) if path.ends_with("/nearest") => "/query/nearest",
        ("query", 2) if path.ends_with("/near") => "/query/near",
        _ => "unmatched",
    }
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let metrics = state.metrics();
    let (bytes, entries) = state.tiles().usage();
    metrics
        .cache_bytes
        .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    metrics
        .cache_entries
        .set(i64::try_from(entries).unwrap_or(i64::MAX));
    let catalog = state.catalog();
    metrics.serving(catalog.version(), catalog.feature_count());
    let pool = state.pool().stats();
    let read = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let sync = |counter: &Counter, total: u64| {
        let now = counter.get();
        if total > now {
            counter.inc_by(total - now);
        }
    };
    sync(&metrics.pool_completed, read(&pool.completed));
    sync(&metrics.pool_cancelled, read(&pool.cancelled));
    sync(&metrics.pool_refused, read(&pool.refused));
    metrics
        .pool_waiting
        .set(pool.waiting.load(std::sync::atomic::Ordering::Relaxed) as i64);
    metrics
        .pool_running
        .set(pool.running.load(std::sync::atomic::Ordering::Relaxed) as i64);
    let mut text = String::new();
    if let Err(e) = encode(&mut text, &metrics.registry) {
        return super::ApiError::internal(e).into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
