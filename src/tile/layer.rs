//! A layer prepared for tiles: geometry in EPSG:3857 (full and simplified per zoom), numeric
//! MVT ids, label points, interned tile properties, and each feature's size for low-zoom
//! generalization. Built once from a [`Layer`] when it loads.

use geo::{Area, BoundingRect, Coord, Euclidean, Geometry, Length, MapCoords, Polygon};

use super::encode::TileGeometry;
use super::mvt::{LayerWriter, MvtValue, PropTable, PropTableBuilder};
use super::shapes::{Scratch, Shapes};
use super::{BUFFER, EXTENT, MIN_FEATURE_UNITS, TileFrame, clip::ClipBox};
use crate::cancel::{Cancel, Cancelled};
use crate::data::{FieldType, Layer};
use crate::filter::Evaluator;
use crate::index::SpatialIndex;
use crate::mercator::{TileCoord, lonlat_to_mercator};

/// Features checked between two looks at the cancellation token.
const CANCEL_EVERY: usize = 64;

/// The tile side of a layer.
#[derive(Debug)]
pub struct TileLayer {
    /// The geometry, EPSG:3857, drawable at any zoom.
    shapes: Shapes,
    /// Numeric MVT id per feature (none for a feature of a query result whose id is text).
    ids: Vec<Option<u64>>,
    /// Whether the MVT ids are the GeoJSON ids themselves (all numeric, like INSEE codes);
    /// when not, tiles also carry each feature's string id as the property `id`.
    pub ids_are_numeric: bool,
    /// One point inside each polygonal feature (EPSG:3857), for layers with a `label`.
    labels: Option<Vec<Option<Coord<f64>>>>,
    /// Area (m²) or length (m) in EPSG:3857 per feature: what generalization keeps first.
    size: Vec<f32>,
    props: PropTable,
    /// Tags of feature `i`: `tags[offsets[i]..offsets[i + 1]]`.
    tags: Vec<[u32; 2]>,
    offsets: Vec<u32>,
    label_tags: Vec<[u32; 2]>,
    label_offsets: Vec<u32>,
    /// Fields written into the feature layer, with their types.
    pub fields: Vec<(String, FieldType)>,
    /// Fields written into the label layer.
    pub label_fields: Vec<(String, FieldType)>,
}

/// A point inside a polygon to hang its label on: the middle of the widest stretch, inside
/// the polygon, of the horizontal line through the middle of its box (moved off any vertex).
/// This is the interior-point rule of JTS and of `geo`'s `InteriorPoint`, and gives the same
/// point on valid polygons; the stretches inside are told by counting crossings (even–odd)
/// instead of a point-in-polygon test each, which makes it many times faster.
fn label_point(p: &Polygon<f64>) -> Option<Coord<f64>> {
    let exterior = &p.exterior().0;
    match exterior.len() {
        0 => return None,
        1 => return Some(exterior[0]),
        _ => {}
    }
    let bounds = p.bounding_rect()?;
    let rings = || std::iter::once(p.exterior()).chain(p.interiors());
    let mut y = (bounds.min().y + bounds.max().y) / 2.0;
    if rings().flat_map(|r| &r.0).any(|c| c.y == y) {
        let closest = rings()
            .flat_map(|r| &r.0)
            .filter(|c| c.y != y)
            .min_by(|a, b| (a.y - y).abs().total_cmp(&(b.y - y).abs()));
        if let Some(c) = closest {
            y = (y + c.y) / 2.0;
        }
    }
    let mut crossings: Vec<f64> = Vec::new();
    for ring in rings() {
        for edge in ring.0.windows(2) {
            let (a, b) = (edge[0], edge[1]);
            if (a.y < y) != (b.y < y) {
                crossings.push(a.x + (y - a.y) * (b.x - a.x) / (b.y - a.y));
            }
        }
    }
    crossings.sort_by(f64::total_cmp);
    let mut best: Option<(f64, f64)> = None;
    for pair in crossings.chunks_exact(2) {
        let width = pair[1] - pair[0];
        if best.is_none_or(|(w, _)| width > w) {
            best = Some((width, (pair[0] + pair[1]) / 2.0));
        }
    }
    Some(best.map_or(exterior[0], |(_, x)| Coord { x, y }))
}

/// A lon/lat geometry in EPSG:3857.
fn project(g: &Geometry<f64>) -> Geometry<f64> {
    g.map_coords(to_mercator)
}

fn to_mercator(c: Coord<f64>) -> Coord<f64> {
    let (x, y) = lonlat_to_mercator(c.x, c.y);
    Coord { x, y }
}

/// How features get their numeric MVT ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MvtIds {
    /// A whole layer: the ids themselves when they are all whole numbers (like INSEE codes),
    /// else the 1-based position, with the id as the text property `id`.
    Layer,
    /// Some features of a larger table (a database's answer for one tile): each feature's id
    /// when it is a whole number, else no MVT id and the text property `id`, so that the
    /// same feature has the same id in every tile.
    Feature,
}

impl TileLayer {
    /// Prepares a layer for tiles at every zoom it is shown at.
    #[must_use]
    pub fn build(layer: &Layer) -> Self {
        Self::build_with(
            layer,
            MvtIds::Layer,
            layer.config.minzoom,
            layer.config.maxzoom,
        )
    }

    /// Prepares some features of a table for the tiles of zoom `z` alone: the part of a
    /// database layer one tile needs.
    #[must_use]
    pub fn for_zoom(features: &Layer, z: u8) -> Self {
        Self::build_with(features, MvtIds::Feature, z, z)
    }

    fn build_with(layer: &Layer, policy: MvtIds, minzoom: u8, maxzoom: u8) -> Self {
        let config = &layer.config;
        // Sizes and label points, one feature projected at a time.
        let wants_labels = config.label.is_some()
            && layer.features.iter().any(|f| {
                matches!(
                    f.geometry,
                    Some(Geometry::Polygon(_) | Geometry::MultiPolygon(_))
                )
            });
        let mut size: Vec<f32> = Vec::with_capacity(layer.features.len());
        let mut label_points: Vec<Option<Coord<f64>>> = Vec::new();
        for f in &layer.features {
            let g = f.geometry.as_ref().map(project);
            size.push(match &g {
                Some(g @ (Geometry::Polygon(_) | Geometry::MultiPolygon(_))) => {
                    g.unsigned_area() as f32
                }
                Some(Geometry::LineString(l)) => Euclidean.length(l) as f32,
                Some(Geometry::MultiLineString(l)) => Euclidean.length(l) as f32,
                _ => 0.0,
            });
            if wants_labels {
                label_points.push(match &g {
                    // The largest part of a multipolygon carries the label.
                    Some(Geometry::MultiPolygon(mp)) => mp
                        .iter()
                        .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))
                        .and_then(label_point),
                    Some(Geometry::Polygon(p)) => label_point(p),
                    _ => None,
                });
            }
        }
        let labels = wants_labels.then_some(label_points);
        let shapes = Shapes::build_checked(
            &layer
                .features
                .iter()
                .map(|f| f.geometry.as_ref())
                .collect::<Vec<_>>(),
            project,
            minzoom,
            maxzoom,
            policy == MvtIds::Layer,
        );

        let whole = |id: &str| id.parse().ok().filter(|n: &u64| n.to_string() == id);
        let (ids, ids_are_numeric, text_id): (Vec<Option<u64>>, bool, Vec<bool>) = match policy {
            // The GeoJSON ids when they all are whole numbers, else the 1-based position.
            MvtIds::Layer => {
                let numeric: Option<Vec<u64>> =
                    layer.features.iter().map(|f| whole(&f.id)).collect();
                let all = numeric.is_some();
                let ids = numeric.unwrap_or_else(|| (1..=layer.features.len() as u64).collect());
                let text = !all && layer.key("id").is_none();
                (
                    ids.into_iter().map(Some).collect(),
                    all,
                    vec![text; layer.features.len()],
                )
            }
            MvtIds::Feature => {
                let ids: Vec<Option<u64>> = layer.features.iter().map(|f| whole(&f.id)).collect();
                let free = layer.key("id").is_none();
                let text = ids
                    .iter()
                    .zip(&layer.features)
                    .map(|(n, f)| n.is_none() && !f.id.is_empty() && free)
                    .collect();
                (ids, false, text)
            }
        };
        let string_id = text_id.iter().any(|t| *t);

        // Tags, interned once.
        let mut builder = PropTableBuilder::default();
        let id_key = string_id.then(|| builder.key("id"));
        let label_key = config.label.as_deref().and_then(|l| layer.key(l));
        let kept: Vec<Option<u32>> = layer
            .keys
            .iter()
            .map(|k| config.keeps_in_tiles(k).then(|| builder.key(k)))
            .collect();
        let label_tile_key = config
            .label
            .as_deref()
            .filter(|_| labels.is_some())
            .map(|l| builder.key(l));
        let mut tags = Vec::new();
        let mut offsets = vec![0u32];
        let mut label_tags = Vec::new();
        let mut label_offsets = vec![0u32];
        for (f, text) in layer.features.iter().zip(&text_id) {
            let id_tag = id_key
                .filter(|_| *text)
                .map(|k| [k, builder.value(&MvtValue::String(f.id.to_string()))]);
            tags.extend(id_tag);
            for (key, value) in f.properties.iter() {
                if let (Some(k), Some(v)) = (kept[*key as usize], MvtValue::of(value)) {
                    tags.push([k, builder.value(&v)]);
                }
            }
            offsets.push(tags.len() as u32);
            if labels.is_some() {
                label_tags.extend(id_tag);
                if let (Some(k), Some(v)) = (
                    label_tile_key,
                    label_key.and_then(|lk| f.get(lk)).and_then(MvtValue::of),
                ) {
                    label_tags.push([k, builder.value(&v)]);
                }
                label_offsets.push(label_tags.len() as u32);
            }
        }

        let mut fields: Vec<(String, FieldType)> = Vec::new();
        let mut label_fields: Vec<(String, FieldType)> = Vec::new();
        if string_id {
            fields.push(("id".into(), FieldType::String));
            label_fields.push(("id".into(), FieldType::String));
        }
        for (name, t) in &layer.fields {
            if config.keeps_in_tiles(name) {
                fields.push((name.clone(), *t));
            }
        }
        if let Some(label) = config.label.as_deref().filter(|_| labels.is_some())
            && let Some(t) = layer.fields.get(label)
        {
            label_fields.push((label.to_owned(), *t));
        }
        Self {
            shapes,
            ids,
            ids_are_numeric,
            labels,
            size,
            props: builder.finish(),
            tags,
            offsets,
            label_tags,
            label_offsets,
            fields,
            label_fields,
        }
    }

    /// Whether the layer ships a `{id}_labels` point layer.
    #[must_use]
    pub fn has_labels(&self) -> bool {
        self.labels.is_some()
    }

    /// The numeric MVT id of feature `i`.
    #[must_use]
    pub fn tile_id(&self, i: usize) -> Option<u64> {
        self.ids[i]
    }

    /// The geometry (EPSG:3857) feature `i` is drawn with at zoom `z`.
    #[must_use]
    pub fn geometry_at(&self, z: u8, i: usize) -> Option<Geometry<f64>> {
        self.shapes.geometry_at(i, z)
    }

    /// The stored geometry.
    #[must_use]
    pub fn shapes(&self) -> &Shapes {
        &self.shapes
    }

    fn tags(&self, i: usize) -> &[[u32; 2]] {
        &self.tags[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    fn label_tags(&self, i: usize) -> &[[u32; 2]] {
        &self.label_tags[self.label_offsets[i] as usize..self.label_offsets[i + 1] as usize]
    }
}

/// What to draw of one in-memory layer in a tile.
#[derive(Clone, Copy)]
pub struct LayerTile<'a> {
    /// The features.
    pub layer: &'a Layer,
    /// Their tile side.
    pub tiles: &'a TileLayer,
    /// Their index.
    pub index: &'a SpatialIndex,
    /// A CQL2 filter's evaluator; `None` keeps every feature.
    pub filter: Option<&'a Evaluator<'a>>,
}

/// The work of drawing tile `coord` of a layer, in vertices of the features the tile's area
/// meets, counted up to `limit` (the count stops there): small enough, and the tile may be
/// drawn where the request is handled instead of waiting for a CPU worker.
#[must_use]
pub fn tile_work(tiles: &TileLayer, index: &SpatialIndex, coord: TileCoord, limit: usize) -> usize {
    let mut work = 0;
    for (i, _) in index.intersecting_with_envelopes(TileFrame::new(coord).buffered_area()) {
        work += tiles.shapes.vertices(i) + 1;
        if work > limit {
            break;
        }
    }
    work
}

/// Renders one layer (and its label layer) of tile `coord`, appending the MVT layer messages
/// to `out`. Returns whether any feature was written; stops with [`Cancelled`] when the token
/// says so.
pub fn render_layer(
    request: LayerTile<'_>,
    coord: TileCoord,
    cancel: &Cancel,
    out: &mut Vec<u8>,
) -> Result<bool, Cancelled> {
    let LayerTile {
        layer,
        tiles,
        index,
        filter,
    } = request;
    let config = &layer.config;
    if !config.shows_at(coord.z) {
        return Ok(false);
    }
    let frame = TileFrame::new(coord);
    let min_size_m = MIN_FEATURE_UNITS / frame.scale();
    let mut candidates: Vec<usize> = Vec::new();
    for (n, (i, envelope)) in index
        .intersecting_with_envelopes(frame.buffered_area())
        .enumerate()
    {
        if n.is_multiple_of(CANCEL_EVERY) {
            cancel.check()?;
        }
        let is_point = tiles.shapes.is_point(i);
        if !is_point && envelope.width() < min_size_m && envelope.height() < min_size_m {
            continue;
        }
        if filter.is_some_and(|f| !f.matches(&layer.features[i])) {
            continue;
        }
        candidates.push(i);
    }
    let generalize = config.generalize.filter(|g| g.applies_at(coord.z));
    let by_size = |a: &usize, b: &usize| tiles.size[*b].total_cmp(&tiles.size[*a]).then(a.cmp(b));
    if let Some(g) = generalize
        && candidates.len() > g.max_features
    {
        // The largest `max_features`.
        candidates.select_nth_unstable_by(g.max_features, by_size);
        candidates.truncate(g.max_features);
    }
    // Drawn in file order (neighbours share arcs and sit together in memory: twice as fast as
    // drawing by size); when the byte budget of a generalized tile is reached, drawn again
    // largest first so that the smallest are the ones left out.
    candidates.sort_unstable();
    let budget = generalize.map_or(usize::MAX, |g| g.max_tile_bytes());
    let start = out.len();
    let draw = |candidates: &[usize], out: &mut Vec<u8>| {
        draw(
            tiles,
            coord,
            candidates,
            budget,
            cancel,
            config,
            layer.id(),
            out,
        )
    };
    let (any, cut) = draw(&candidates, out)?;
    if !cut {
        return Ok(any);
    }
    out.truncate(start);
    candidates.sort_unstable_by(by_size);
    Ok(draw(&candidates, out)?.0)
}

/// Draws `candidates` in their order into `out` (the layer and its label layer), stopping
/// before the feature that would take the tile past `budget` bytes. Returns whether any
/// feature was written and whether the budget cut the list short.
#[allow(clippy::too_many_arguments)]
fn draw(
    tiles: &TileLayer,
    coord: TileCoord,
    candidates: &[usize],
    budget: usize,
    cancel: &Cancel,
    config: &crate::data::LayerConfig,
    id: &str,
    out: &mut Vec<u8>,
) -> Result<(bool, bool), Cancelled> {
    let frame = TileFrame::new(coord);
    let clip_box = ClipBox::buffered(EXTENT, BUFFER);
    let mut features = LayerWriter::new(&tiles.props);
    let mut labels = LayerWriter::new(&tiles.props);
    let mut scratch = Scratch::default();
    let mut over_budget = false;
    for (n, &i) in candidates.iter().enumerate() {
        if n.is_multiple_of(CANCEL_EVERY) {
            cancel.check()?;
        }
        let Some(geometry) = tiles
            .shapes
            .tile_geometry(i, coord.z, &frame, clip_box, &mut scratch)
        else {
            continue;
        };
        if features.byte_len() + labels.byte_len() + out.len() > budget {
            over_budget = true;
            break;
        }
        features.add(tiles.ids[i], &geometry, tiles.tags(i));
        if let Some(point) = tiles.labels.as_ref().and_then(|l| l[i]) {
            let c = frame.to_tile(point);
            if clip_box.contains(c) {
                let p = [c.x.round() as i32, c.y.round() as i32];
                labels.add(
                    tiles.ids[i],
                    &TileGeometry::Points(vec![p]),
                    tiles.label_tags(i),
                );
            }
        }
    }
    let any = features.feature_count() > 0;
    features.finish(id, EXTENT, out);
    labels.finish(&config.label_layer_name(), EXTENT, out);
    Ok((any, over_budget))
}

/// Renders features fetched for one tile (a database's answer, already filtered and capped)
/// exactly as an in-memory layer is rendered: shared borders simplified once, clipped,
/// generalized and labelled the same way. Their ids are taken feature by feature
/// ([`MvtIds::Feature`]).
pub fn render_features(
    features: &Layer,
    coord: TileCoord,
    cancel: &Cancel,
    out: &mut Vec<u8>,
) -> Result<bool, Cancelled> {
    cancel.check()?;
    let tiles = TileLayer::for_zoom(features, coord.z);
    cancel.check()?;
    let index = SpatialIndex::of_layer(features);
    render_layer(
        LayerTile {
            layer: features,
            tiles: &tiles,
            index: &index,
            filter: None,
        },
        coord,
        cancel,
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::InteriorPoint;

    /// On every commune of the embedded data (projected), and on a square with a hole across
    /// its middle, the label point is the point `geo`'s `InteriorPoint` gives.
    #[test]
    fn label_points_are_geo_interior_points() {
        let bytes = crate::data::embedded::file("communes.geojson").expect("embedded communes");
        let layer = Layer::from_geojson(
            crate::data::LayerConfig::named("communes"),
            "communes.geojson",
            bytes,
        )
        .expect("the embedded communes load");
        let mut polygons: Vec<Polygon<f64>> = Vec::new();
        for f in &layer.features {
            match f.geometry.as_ref().map(project) {
                Some(Geometry::Polygon(p)) => polygons.push(p),
                Some(Geometry::MultiPolygon(mp)) => polygons.extend(mp.0),
                _ => {}
            }
        }
        assert!(polygons.len() >= 115);
        polygons.push(geo::Polygon::new(
            geo::LineString::from(vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]),
            vec![geo::LineString::from(vec![
                (2.0, 4.0),
                (8.0, 4.0),
                (8.0, 6.0),
                (2.0, 6.0),
            ])],
        ));
        for p in &polygons {
            let ours = label_point(p).expect("a point");
            let theirs = p.interior_point().expect("a point").0;
            assert!(
                (ours.x - theirs.x).abs() < 1e-6 && (ours.y - theirs.y).abs() < 1e-6,
                "{ours:?} vs {theirs:?}"
            );
        }
    }
}
