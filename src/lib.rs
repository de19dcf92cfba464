//! Terril: a geospatial tile and map server for the Pôle Métropolitain de l'Artois.
//!
//! Layers — GeoJSON files held in memory, PostGIS tables, or tile archives — are served as
//! Mapbox Vector Tiles with TileJSON, through OGC API – Features with CQL2 filters, and through
//! spatial queries in ground metres. The modules form floors; each uses only the floors below:
//!
//! | floor | modules | role |
//! |---|---|---|
//! | maths | [`mercator`], [`geodesy`], [`crs`], [`cancel`] | projections, tile maths, ground distances, cancellation |
//! | data | [`data`] | `catalog.toml`, features and properties, GeoJSON loading, the data folder |
//! | engines | [`index`], [`tile`], [`filter`], [`query`], [`pool`] | R-tree, tile pipeline, CQL2, queries, the CPU pool |
//! | sources | [`source`], [`export`] | the `Source` seam (memory, PostGIS, archives), the catalog served, archive export |
//! | serving | [`resources`], [`http`] | styles, glyphs, sprites, the map app; axum routes |
//!
//! The library can be used without HTTP: load a [`source::Catalog`] and call
//! [`source::Catalog::tile`], or build a [`tile::TileLayer`] and call [`tile::render_layer`].

#![forbid(unsafe_code)]

pub mod cancel;
pub mod crs;
pub mod data;
pub mod export;
pub mod filter;
pub mod geodesy;
pub mod http;
pub mod index;
pub mod mercator;
pub mod pool;
pub mod query;
pub mod resources;
pub mod source;
pub mod tile;

pub use http::{AppState, ServerOptions, serve, watch};
