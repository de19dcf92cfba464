//! The tile pipeline: select with the R-tree → per-zoom simplified geometry → clip → quantize → encode MVT.
//!
//! Everything here is pure: [`render`] turns layers and a [`TileCoord`] into MVT bytes.

pub mod cache;
pub mod clip;
pub mod encode;
pub mod simplify;

use geo::{Coord, Geometry, Rect};

use crate::layer::Layer;
use crate::mercator::{TileCoord, tile_size_m};
use crate::query::filter::Filter;
use clip::{ClipBox, clip_line, clip_ring};
use encode::{TileFeature, TileGeometry, TileValue, encode_layer, quantize_line, quantize_ring};

/// Tile extent: the grid is 4096 × 4096 units.
pub const EXTENT: u32 = 4096;

/// Extra units kept around the tile so that lines and outlines join across tile edges.
pub const BUFFER: u32 = 64;

/// A feature whose envelope is smaller than this in both directions (tile units) is dropped,
/// unless it is a point: one display pixel of a 512 px tile.
pub const MIN_FEATURE_UNITS: f64 = 8.0;

/// A layer to draw in a tile, with the filter its features must pass.
#[derive(Clone, Copy)]
pub struct LayerRequest<'a> {
    /// The layer.
    pub layer: &'a Layer,
    /// A compiled CQL2 filter; `None` keeps every feature.
    pub filter: Option<&'a Filter>,
}

impl<'a> From<&'a Layer> for LayerRequest<'a> {
    fn from(layer: &'a Layer) -> Self {
        Self {
            layer,
            filter: None,
        }
    }
}

/// Renders one tile of `layers` (in drawing order). Returns `None` when no feature falls in it.
///
/// Layers outside their zoom range at `coord.z` are left out.
pub fn render(
    layers: &[LayerRequest<'_>],
    coord: TileCoord,
) -> Result<Option<Vec<u8>>, mvt::Error> {
    let mut tile = mvt::Tile::new(EXTENT);
    let mut any = false;
    for &LayerRequest { layer, filter } in layers {
        if !layer.config.shows_at(coord.z) {
            continue;
        }
        let (features, labels) = layer_features(layer, coord, filter);
        if !features.is_empty() {
            encode_layer(&mut tile, layer.id(), &features)?;
            any = true;
        }
        if !labels.is_empty() {
            encode_layer(&mut tile, &layer.label_layer_name(), &labels)?;
        }
    }
    if !any {
        return Ok(None);
    }
    tile.to_bytes().map(Some)
}

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

    /// The area covered by the tile and its buffer, in EPSG:3857 metres.
    #[must_use]
    pub fn buffered_area(&self) -> Rect<f64> {
        let b = f64::from(BUFFER);
        let e = f64::from(EXTENT);
        Rect::new(self.to_mercator(-b, e + b), self.to_mercator(e + b, -b))
    }
}

/// The features of `layer` in a tile, and the label points of its polygons (see
/// [`Layer::label_points`]).
fn layer_features(
    layer: &Layer,
    coord: TileCoord,
    filter: Option<&Filter>,
) -> (Vec<TileFeature>, Vec<TileFeature>) {
    let frame = TileFrame::new(coord);
    let clip_box = ClipBox::buffered(EXTENT, BUFFER);
    let min_size_m = MIN_FEATURE_UNITS / frame.scale;
    let mut candidates: Vec<usize> = layer.index.intersecting(frame.buffered_area()).collect();
    // File order is drawing order.
    candidates.sort_unstable();
    let mut out = Vec::new();
    let mut labels = Vec::new();
    for i in candidates {
        let feature = &layer.features[i];
        let is_point = matches!(
            feature.mercator,
            Geometry::Point(_) | Geometry::MultiPoint(_)
        );
        if !is_point
            && feature.envelope.width() < min_size_m
            && feature.envelope.height() < min_size_m
        {
            continue;
        }
        if filter.is_some_and(|f| !f.matches(feature)) {
            continue;
        }
        let geometry = layer.zooms.get(coord.z, i, &feature.mercator);
        let Some(geometry) = to_tile_geometry(geometry, &frame, clip_box) else {
            continue;
        };
        let properties = tile_properties(layer, i);
        if let Some(point) = layer.label_points.as_ref().and_then(|points| points[i]) {
            let label = to_tile_geometry(&Geometry::Point(point), &frame, clip_box);
            if let Some(label) = label {
                labels.push(TileFeature {
                    id: layer.tile_ids[i],
                    geometry: label,
                    properties: label_properties(layer, i),
                });
            }
        }
        out.push(TileFeature {
            id: layer.tile_ids[i],
            geometry,
            properties,
        });
    }
    (out, labels)
}

/// The properties written for feature `i`: its string `id` first when the MVT id is not that id,
/// then the kept properties.
fn tile_properties(layer: &Layer, i: usize) -> Vec<(String, TileValue)> {
    let feature = &layer.features[i];
    let mut props = Vec::with_capacity(feature.properties.len() + 1);
    if let Some(id) = string_id(layer, i) {
        props.push(id);
    }
    for (key, value) in &feature.properties {
        if layer.keeps_in_tiles(key)
            && let Some(v) = TileValue::from_json(value)
        {
            props.push((key.clone(), v));
        }
    }
    props
}

/// The `id` property, for layers whose MVT ids are not their GeoJSON ids.
fn string_id(layer: &Layer, i: usize) -> Option<(String, TileValue)> {
    let feature = &layer.features[i];
    (!layer.ids_are_numeric && !feature.properties.contains_key("id"))
        .then(|| ("id".to_owned(), TileValue::String(feature.id.clone())))
}

/// A label point carries only what a label needs: the label property (and the string id).
fn label_properties(layer: &Layer, i: usize) -> Vec<(String, TileValue)> {
    let mut props: Vec<(String, TileValue)> = string_id(layer, i).into_iter().collect();
    if let Some(key) = &layer.config.label
        && let Some(value) = layer.features[i]
            .properties
            .get(key)
            .and_then(TileValue::from_json)
    {
        props.push((key.clone(), value));
    }
    props
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
