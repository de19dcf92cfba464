//! `GET /metrics` in the Prometheus text format: requests by route and status, latency
//! histograms, tile cache hits, misses and bytes, the data version and reloads.

use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
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
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
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
    /// Tiles answered from the cache.
    pub tile_cache_hits: Counter,
    /// Tiles rendered because the cache did not hold them.
    pub tile_cache_misses: Counter,
    cache_bytes: Gauge,
    cache_entries: Gauge,
    data_version: Family<VersionLabels, Gauge>,
    current_version: Mutex<String>,
    reloads: Family<OutcomeLabels, Counter>,
    features: Gauge,
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
        Self {
            registry,
            requests,
            latency,
            tile_cache_hits,
            tile_cache_misses,
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
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(seconds);
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
    pub fn serving(&self, version: u64, features: usize) {
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

/// Route-level middleware: times each request and counts it by route template and status.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    state.metrics().observe(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let metrics = state.metrics();
    let (bytes, entries) = state.cache().usage();
    metrics
        .cache_bytes
        .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    metrics
        .cache_entries
        .set(i64::try_from(entries).unwrap_or(i64::MAX));
    let catalog = state.catalog();
    metrics.serving(catalog.version(), catalog.feature_count());
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
