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
pub mod simplify;

use geo::{Coord, Geometry, Rect};

use crate::mercator::{TileCoord, tile_size_m};
use clip::{ClipBox, clip_line, clip_ring};
use encode::{TileGeometry, quantize_line, quantize_ring};

pub use layer::{LayerTile, TileLayer, render_layer};

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

/// Projects, clips and quantizes a geometry (EPSG:3857) into a tile; `None` if nothing is left.
#[must_use]
pub fn to_tile_geometry(
    geometry: &Geometry<f64>,
    frame: &TileFrame,
    clip_box: ClipBox,
) -> Option<TileGeometry> {
    let project =
        |cs: &[Coord<f64>]| -> Vec<Coord<f64>> { cs.iter().map(|&c| frame.to_tile(c)).collect() };
    let points = |cs: &mut dyn Iterator<Item = Coord<f64>>| -> Option<TileGeometry> {
        let mut pts: Vec<[i32; 2]> = cs
            .map(|c| frame.to_tile(c))
            .filter(|c| clip_box.contains(*c))
            .map(|c| [c.x.round() as i32, c.y.round() as i32])
            .collect();
        pts.dedup();
        (!pts.is_empty()).then_some(TileGeometry::Points(pts))
    };
    let lines = |ls: &mut dyn Iterator<Item = &geo::LineString<f64>>| -> Option<TileGeometry> {
        let out: Vec<Vec<[i32; 2]>> = ls
            .flat_map(|l| clip_line(&project(&l.0), clip_box))
            .filter_map(|piece| quantize_line(&piece))
            .collect();
        (!out.is_empty()).then_some(TileGeometry::Lines(out))
    };
    let polygon = |p: &geo::Polygon<f64>| -> Option<Vec<Vec<[i32; 2]>>> {
        let exterior = quantize_ring(&clip_ring(&project(&p.exterior().0), clip_box), true)?;
        let mut rings = vec![exterior];
        rings.extend(
            p.interiors()
                .iter()
                .filter_map(|hole| quantize_ring(&clip_ring(&project(&hole.0), clip_box), false)),
        );
        Some(rings)
    };
    match geometry {
        Geometry::Point(p) => points(&mut std::iter::once(p.0)),
        Geometry::MultiPoint(mp) => points(&mut mp.iter().map(|p| p.0)),
        Geometry::LineString(l) => lines(&mut std::iter::once(l)),
        Geometry::MultiLineString(ml) => lines(&mut ml.iter()),
        Geometry::Polygon(p) => polygon(p).map(|rings| TileGeometry::Polygons(vec![rings])),
        Geometry::MultiPolygon(mp) => {
            let out: Vec<_> = mp.iter().filter_map(polygon).collect();
            (!out.is_empty()).then_some(TileGeometry::Polygons(out))
        }
        // The loader accepts none of these.
        Geometry::Line(_)
        | Geometry::Rect(_)
        | Geometry::Triangle(_)
        | Geometry::GeometryCollection(_) => None,
    }
}
