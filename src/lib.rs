//! Terril: a geospatial tile and map server for the Pôle Métropolitain de l'Artois.
//!
//! GeoJSON layers are loaded once, reprojected to EPSG:3857, indexed in an R-tree and served
//! as Mapbox Vector Tiles with TileJSON. Layout:
//!
//! | module | role |
//! |---|---|
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

/// Serves `state` on a bound listener until `shutdown` completes, then lets in-flight
/// requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
