//! The tile pipeline: select with the R-tree → per-zoom simplified geometry → clip → quantize
//! → encode MVT, and generalization of dense layers at low zooms.
//!
//! Everything here is pure CPU work on in-memory layers: [`layer::render_layer`] appends one
//! layer of a tile to a buffer; tiles of several layers (from any source) are the
//! concatenation of their layers.

pub mod clip;
pub mod encode;
pub mod layer;
pub mod mvt;
pub mod shapes;
pub mod simplify;

use geo::{Coord, Rect};

use crate::mercator::{TileCoord, tile_size_m};

pub use layer::{LayerTile, MvtIds, TileLayer, render_features, render_layer, tile_work};

/// Tile extent: the grid is 4096 × 4096 units.
pub const EXTENT: u32 = 4096;

/// Extra units kept around the tile so that lines and outlines join across tile edges.
pub const BUFFER: u32 = 64;

/// A feature whose envelope is smaller than this in both directions (tile units) is dropped,
/// unless it is a point: one display pixel of a 512 px tile.
pub const MIN_FEATURE_UNITS: f64 = 8.0;

/// A tile's frame: how EPSG:3857 metres map onto its grid.
#[derive(Debug, Clone, Copy)]
pub struct TileFrame {
    min_x: f64,
    max_y: f64,
    scale: f64,
}

impl TileFrame {
    /// The frame of a tile.
    #[must_use]
    pub fn new(coord: TileCoord) -> Self {
        let bounds = coord.bounds();
        Self {
            min_x: bounds.min().x,
            max_y: bounds.max().y,
            scale: f64::from(EXTENT) / tile_size_m(coord.z),
        }
    }

    /// EPSG:3857 metres → tile units (y down).
    #[must_use]
    pub fn to_tile(&self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: (c.x - self.min_x) * self.scale,
            y: (self.max_y - c.y) * self.scale,
        }
    }

    /// Tile units → EPSG:3857 metres.
    #[must_use]
    pub fn to_mercator(&self, x: f64, y: f64) -> Coord<f64> {
        Coord {
            x: self.min_x + x / self.scale,
            y: self.max_y - y / self.scale,
        }
    }

    /// Tile units per EPSG:3857 metre.
    #[must_use]
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The area covered by the tile and its buffer, in EPSG:3857 metres.
    #[must_use]
    pub fn buffered_area(&self) -> Rect<f64> {
        let b = f64::from(BUFFER);
        let e = f64::from(EXTENT);
        Rect::new(self.to_mercator(-b, e + b), self.to_mercator(e + b, -b))
    }
}
