//! Terril: a geospatial tile and map server for the Pôle Métropolitain de l'Artois.
//!
//! GeoJSON layers are loaded once, reprojected to EPSG:3857, indexed in an R-tree and served
//! as Mapbox Vector Tiles with TileJSON. Layout:
//!
//! | module | role |
//! |---|---|
//! | [`export`] | the tile pyramid written to a PMTiles archive |
//! | [`embedded`] | the default data compiled into the binary |
//! | [`config`] | `catalog.toml`: which layers, their metadata and zoom ranges |
//! | [`mercator`] | lon/lat ↔ EPSG:3857, z/x/y tile maths (pure) |
//! | [`layer`] | GeoJSON loading and validation; [`layer::Layer`], [`layer::Catalog`] |
//! | [`index`] | the R-tree over feature envelopes (candidates only) |
//! | [`query`] | CQL2 filters, ground distances, point/radius/nearest/near queries |
//! | [`tile`] | simplify → clip → quantize → encode MVT, and the tile cache |
//! | [`resources`] | MapLibre styles, SDF glyphs, sprite sheets, the map app |
//! | [`http`] | axum routes, JSON errors, caching headers |
//!
//! The library can be used without HTTP: load a [`layer::Catalog`] and call [`tile::render`].

#![forbid(unsafe_code)]

pub mod config;
pub mod embedded;
pub mod export;
pub mod http;
pub mod index;
pub mod layer;
pub mod mercator;
pub mod query;
pub mod resources;
pub mod tile;

use std::future::Future;

use tokio::net::TcpListener;

pub use http::{AppState, ServerOptions};

/// The whole HTTP application for a state.
pub fn app(state: AppState) -> axum::Router {
    http::router(state)
}

/// Serves `state` on a bound listener until `shutdown` completes; then stops accepting
/// connections and lets in-flight requests finish, for at most the state's `shutdown_grace`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = state.options().shutdown_grace;
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping.send(());
    });
    let deadline = async move {
        if stopped.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = std::future::IntoFuture::into_future(server) => result,
        () = deadline => {
            tracing::warn!("shutdown deadline of {} s reached: closing the remaining connections", grace.as_secs_f64());
            Ok(())
        }
    }
}

/// Reloads the data whenever its files change, checking every `every`. The new data is built
/// off to the side and swapped in only if every layer loads; otherwise the old data keeps
/// serving and `/health` shows the error.
///
/// `loaded` is the [`layer::DataSource::fingerprint`] taken just before the data being served
/// was read, so that a change made while it loaded is not missed.
pub async fn watch(state: AppState, every: std::time::Duration, loaded: Option<u64>) {
    let Some(source) = state.source().cloned() else {
        return;
    };
    let fingerprint = move || {
        let source = source.clone();
        async move {
            tokio::task::spawn_blocking(move || source.fingerprint())
                .await
                .ok()
                .flatten()
        }
    };
    let mut last = loaded;
    loop {
        tokio::time::sleep(every).await;
        let now = fingerprint().await;
        if now != last {
            last = now;
            // Let a writer finish its files before reading them.
            tokio::time::sleep(every / 2).await;
            last = fingerprint().await.or(last);
            let _ = state.reload().await;
        }
    }
}
