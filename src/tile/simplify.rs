//! Per-zoom simplification that keeps shared borders shared (EPSG:3857 metres).
//!
//! Neighbouring polygons (communes) share their borders vertex for vertex. Simplifying each
//! polygon on its own would move a shared border differently on each side and open visible
//! gaps. So the rings of a layer are first cut into *arcs* at the vertices where the set of
//! polygons sharing an edge changes (junctions), as TopoJSON does; each distinct arc is
//! simplified once with Douglas–Peucker in a canonical direction, and rings are rebuilt from
//! their arcs. Both sides of a border therefore get exactly the same simplified line.
//!
//! The tolerance is half a display pixel: MapLibre draws a 4096-unit tile 512 px wide, so
//! [`TOLERANCE_UNITS`] = 4 units. A ring that would collapse, or a polygon that simplification
//! would make invalid (self-intersecting), keeps its full geometry at that zoom.

use std::collections::HashMap;

use geo::{
    Coord, Geometry, LineString, MultiLineString, MultiPolygon, Polygon, Simplify, Validation,
};

use crate::layer::Feature;
use crate::mercator::tile_size_m;
use crate::tile::EXTENT;

/// Simplification tolerance in tile units (4096 per tile): half a pixel of a 512 px tile.
pub const TOLERANCE_UNITS: f64 = 4.0;

/// Above this share of the full vertex count a zoom level is not worth storing.
const KEEP_RATIO: f64 = 0.9;

/// The Douglas–Peucker tolerance at zoom `z`, in EPSG:3857 metres.
///
/// ```
/// use terril::tile::simplify::tolerance_m;
/// // At z12 a tile is ~9.8 km wide: half a 512 px pixel is ~9.6 m.
/// assert!((tolerance_m(12) - 9.55).abs() < 0.01);
/// ```
#[must_use]
pub fn tolerance_m(z: u8) -> f64 {
    tile_size_m(z) / f64::from(EXTENT) * TOLERANCE_UNITS
}

/// A layer's geometry simplified for each zoom where simplification pays.
#[derive(Debug, Default)]
pub struct ZoomGeometries {
    /// Index `z`: `Some` holds one geometry per feature; `None` means use the full geometry.
    levels: Vec<Option<Vec<Geometry<f64>>>>,
}

impl ZoomGeometries {
    /// Simplifies every feature for each zoom in `minzoom..=maxzoom`, from the lowest up,
    /// stopping once a level would keep more than 90 % of the vertices.
    #[must_use]
    pub fn build(features: &[Feature], minzoom: u8, maxzoom: u8) -> Self {
        let geometries: Vec<&Geometry<f64>> = features.iter().map(|f| &f.mercator).collect();
        let full_count: usize = geometries.iter().map(|g| vertex_count(g)).sum();
        let topology = Topology::build(&geometries);
        let mut levels: Vec<Option<Vec<Geometry<f64>>>> = vec![None; usize::from(maxzoom) + 1];
        for z in minzoom..=maxzoom {
            let level = topology.simplify(&geometries, tolerance_m(z));
            let count: usize = level.iter().map(vertex_count).sum();
            if count as f64 > full_count as f64 * KEEP_RATIO {
                break;
            }
            levels[usize::from(z)] = Some(level);
        }
        Self { levels }
    }

    /// The geometry of feature `i` for zoom `z` (falls back to `full`, the unsimplified one).
    #[must_use]
    pub fn get<'a>(&'a self, z: u8, i: usize, full: &'a Geometry<f64>) -> &'a Geometry<f64> {
        match self.levels.get(usize::from(z)) {
            Some(Some(level)) => &level[i],
            _ => full,
        }
    }

    /// Zoom levels that hold simplified geometry.
    pub fn simplified_zooms(&self) -> impl Iterator<Item = u8> + '_ {
        self.levels
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_some())
            .map(|(z, _)| z as u8)
    }
}

fn vertex_count(geometry: &Geometry<f64>) -> usize {
    use geo::CoordsIter;
    geometry.coords_count()
}

/// Exact identity of a vertex: shared borders repeat the same coordinates bit for bit.
type Key = (u64, u64);

fn key(c: Coord<f64>) -> Key {
    (c.x.to_bits(), c.y.to_bits())
}

/// How to rebuild one ring.
#[derive(Debug)]
enum RingPlan {
    /// Arcs in order, each with a flag telling whether it runs backwards.
    Arcs(Vec<(usize, bool)>),
    /// Too small to cut into arcs: kept as it is.
    Verbatim,
}

/// The arcs of all polygon rings of a layer.
#[derive(Debug)]
struct Topology {
    /// Each distinct arc once, in canonical direction, both end nodes included.
    arcs: Vec<Vec<Coord<f64>>>,
    /// One plan per ring, in the order [`rings_of`] visits them.
    plans: Vec<RingPlan>,
}

/// The rings of a geometry's polygons, exterior first, in a fixed order.
fn rings_of(geometry: &Geometry<f64>) -> Vec<&LineString<f64>> {
    match geometry {
        Geometry::Polygon(p) => std::iter::once(p.exterior()).chain(p.interiors()).collect(),
        Geometry::MultiPolygon(mp) => mp
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .collect(),
        _ => Vec::new(),
    }
}

/// A ring's distinct vertices, without the closing repeat or consecutive duplicates.
fn open_ring(ring: &LineString<f64>) -> Vec<Coord<f64>> {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
    for &c in &ring.0 {
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    out
}

fn edge_key(a: Coord<f64>, b: Coord<f64>) -> (Key, Key) {
    let (ka, kb) = (key(a), key(b));
    if ka <= kb { (ka, kb) } else { (kb, ka) }
}

impl Topology {
    fn build(geometries: &[&Geometry<f64>]) -> Self {
        let rings: Vec<Vec<Coord<f64>>> = geometries
            .iter()
            .flat_map(|g| rings_of(g))
            .map(open_ring)
            .collect();

        // Which rings use each edge, and how many rings touch each vertex.
        let mut sharers: HashMap<(Key, Key), Vec<u32>> = HashMap::new();
        let mut touching: HashMap<Key, (u32, u32)> = HashMap::new();
        for (r, ring) in rings.iter().enumerate() {
            let r = r as u32;
            let n = ring.len();
            if n < 3 {
                continue;
            }
            for i in 0..n {
                let users = sharers
                    .entry(edge_key(ring[i], ring[(i + 1) % n]))
                    .or_default();
                if users.last() != Some(&r) {
                    users.push(r);
                }
                let t = touching.entry(key(ring[i])).or_insert((0, u32::MAX));
                if t.1 != r {
                    *t = (t.0 + 1, r);
                }
            }
        }

        let mut arcs: Vec<Vec<Coord<f64>>> = Vec::new();
        let mut arc_ids: HashMap<Vec<Key>, usize> = HashMap::new();
        let mut plans = Vec::with_capacity(rings.len());
        for ring in &rings {
            let n = ring.len();
            if n < 3 {
                plans.push(RingPlan::Verbatim);
                continue;
            }
            let users = |i: usize| &sharers[&edge_key(ring[i % n], ring[(i + 1) % n])];
            let is_node = |i: usize| {
                let (before, after) = (users(i + n - 1), users(i));
                before != after
                    || touching[&key(ring[i])].0 as usize > before.len().max(after.len())
            };
            let nodes: Vec<usize> = (0..n).filter(|&i| is_node(i)).collect();
            let mut pieces: Vec<Vec<Coord<f64>>> = Vec::new();
            if nodes.is_empty() {
                // A free ring (an island, or an enclave shared whole with one neighbour):
                // start at its smallest vertex; `canonical_arc` then fixes the direction.
                let start = (0..n).min_by_key(|&i| key(ring[i])).unwrap_or(0);
                let arc: Vec<Coord<f64>> = (0..=n).map(|k| ring[(start + k) % n]).collect();
                pieces.push(arc);
            } else {
                for (j, &from) in nodes.iter().enumerate() {
                    let to = nodes.get(j + 1).copied().unwrap_or(nodes[0] + n);
                    pieces.push((from..=to).map(|k| ring[k % n]).collect());
                }
            }
            let mut plan = Vec::with_capacity(pieces.len());
            for piece in pieces {
                let (canonical, reversed) = canonical_arc(piece);
                let keys: Vec<Key> = canonical.iter().map(|&c| key(c)).collect();
                let id = *arc_ids.entry(keys).or_insert_with(|| {
                    arcs.push(canonical);
                    arcs.len() - 1
                });
                plan.push((id, reversed));
            }
            plans.push(RingPlan::Arcs(plan));
        }
        Self { arcs, plans }
    }

    /// Simplifies every geometry with tolerance `epsilon_m` (EPSG:3857 metres).
    ///
    /// A polygon whose rebuilt rings collapse or cross gets its arcs back at full detail, for
    /// every polygon that shares them, and the round repeats until all are valid: a border is
    /// never simplified on one side only, so fixing one commune opens no gap beside it.
    fn simplify(&self, geometries: &[&Geometry<f64>], epsilon_m: f64) -> Vec<Geometry<f64>> {
        let mut arcs: Vec<Vec<Coord<f64>>> = self
            .arcs
            .iter()
            .map(|arc| LineString::from(arc.clone()).simplify(epsilon_m).0)
            .collect();
        let mut full = vec![false; arcs.len()];
        loop {
            let mut restore = Vec::new();
            let mut plans = self.plans.iter();
            let out: Vec<Geometry<f64>> = geometries
                .iter()
                .map(|g| {
                    let mut used = Vec::new();
                    let mut collapsed = false;
                    let mut next_ring = |original: &LineString<f64>| -> LineString<f64> {
                        let plan = plans.next().expect("one plan per ring");
                        if let RingPlan::Arcs(parts) = plan {
                            used.extend(parts.iter().map(|&(id, _)| id));
                        }
                        rebuild_ring(plan, &arcs).unwrap_or_else(|| {
                            collapsed = true;
                            original.clone()
                        })
                    };
                    let simplified = match g {
                        Geometry::Polygon(p) => {
                            Geometry::Polygon(rebuild_polygon(p, &mut next_ring))
                        }
                        Geometry::MultiPolygon(mp) => Geometry::MultiPolygon(MultiPolygon(
                            mp.iter()
                                .map(|p| rebuild_polygon(p, &mut next_ring))
                                .collect(),
                        )),
                        Geometry::LineString(l) => {
                            return Geometry::LineString(l.simplify(epsilon_m));
                        }
                        Geometry::MultiLineString(ml) => {
                            return Geometry::MultiLineString(MultiLineString(
                                ml.iter().map(|l| l.simplify(epsilon_m)).collect(),
                            ));
                        }
                        other => return (*other).clone(),
                    };
                    if (collapsed || !simplified.is_valid()) && g.is_valid() {
                        restore.extend(used.into_iter().filter(|&id| !full[id]));
                    }
                    simplified
                })
                .collect();
            if restore.is_empty() {
                return out;
            }
            for id in restore {
                full[id] = true;
                arcs[id].clone_from(&self.arcs[id]);
            }
        }
    }
}

fn rebuild_polygon(
    polygon: &Polygon<f64>,
    next_ring: &mut impl FnMut(&LineString<f64>) -> LineString<f64>,
) -> Polygon<f64> {
    let exterior = next_ring(polygon.exterior());
    let interiors = polygon.interiors().iter().map(&mut *next_ring).collect();
    Polygon::new(exterior, interiors)
}

/// Puts an arc in the direction both its users agree on; returns whether it was reversed.
fn canonical_arc(mut arc: Vec<Coord<f64>>) -> (Vec<Coord<f64>>, bool) {
    let n = arc.len();
    let (first, last) = (key(arc[0]), key(arc[n - 1]));
    let reverse = first > last || (first == last && n > 2 && key(arc[1]) > key(arc[n - 2]));
    if reverse {
        arc.reverse();
    }
    (arc, reverse)
}

/// Joins simplified arcs into a closed ring, or `None` if it collapsed below 3 vertices.
fn rebuild_ring(plan: &RingPlan, arcs: &[Vec<Coord<f64>>]) -> Option<LineString<f64>> {
    let RingPlan::Arcs(parts) = plan else {
        return None;
    };
    let mut coords: Vec<Coord<f64>> = Vec::new();
    for &(id, reversed) in parts {
        let arc = &arcs[id];
        let mut push = |c: Coord<f64>| {
            if coords.last() != Some(&c) {
                coords.push(c);
            }
        };
        if reversed {
            arc.iter().rev().for_each(|&c| push(c));
        } else {
            arc.iter().for_each(|&c| push(c));
        }
    }
    if coords.len() > 1 && coords.first() == coords.last() {
        coords.pop();
    }
    if coords.len() < 3 {
        return None;
    }
    coords.push(coords[0]);
    Some(LineString(coords))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, BooleanOps, polygon};

    fn feature(p: Polygon<f64>) -> Feature {
        // Build directly in "mercator" space: these tests are about the plane.
        let g = Geometry::Polygon(p);
        Feature {
            id: String::new(),
            properties: Default::default(),
            lonlat: g.clone(),
            mercator: g.clone(),
            envelope: geo::BoundingRect::bounding_rect(&g).unwrap(),
        }
    }

    /// Two squares sharing a wiggly border: after simplification they still share it exactly,
    /// so there is neither gap nor overlap between them.
    #[test]
    fn shared_border_stays_shared() {
        let wiggle: Vec<(f64, f64)> = (0..=20)
            .map(|i| {
                (
                    100.0 + if i % 2 == 0 { 0.0 } else { 3.0 },
                    f64::from(i) * 10.0,
                )
            })
            .collect();
        let mut west: Vec<(f64, f64)> = vec![(0.0, 0.0)];
        west.extend(wiggle.iter().copied());
        west.push((0.0, 200.0));
        west.push((0.0, 0.0));
        let mut east: Vec<(f64, f64)> = vec![(200.0, 0.0), (200.0, 200.0)];
        east.extend(wiggle.iter().rev().copied());
        east.push((200.0, 0.0));
        let a = Polygon::new(LineString::from(west), vec![]);
        let b = Polygon::new(LineString::from(east), vec![]);
        let total = a.unsigned_area() + b.unsigned_area();
        let features = [feature(a), feature(b)];
        let topology = Topology::build(&features.iter().map(|f| &f.mercator).collect::<Vec<_>>());
        for eps in [1.0, 5.0, 50.0] {
            let out = topology.simplify(
                &features.iter().map(|f| &f.mercator).collect::<Vec<_>>(),
                eps,
            );
            let (Geometry::Polygon(sa), Geometry::Polygon(sb)) = (&out[0], &out[1]) else {
                panic!()
            };
            assert!(sa.is_valid() && sb.is_valid());
            let overlap = sa.intersection(sb).unsigned_area();
            let union = sa.union(sb).unsigned_area();
            assert!(overlap < 1e-6, "eps {eps}: overlap {overlap}");
            assert!(
                (union - total).abs() < 1e-6,
                "eps {eps}: union {union} vs {total}: a gap opened"
            );
            if eps >= 5.0 {
                assert!(
                    sa.exterior().0.len() < 10,
                    "eps {eps}: the wiggle should be gone"
                );
            }
        }
    }

    /// A polygon with a hole keeps its hole, and an island keeps its shape within tolerance.
    #[test]
    fn free_rings_and_holes() {
        let p = polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 0.5), (x: 100.0, y: 100.0), (x: 0.0, y: 100.0), (x: 0.0, y: 0.0)],
            interiors: [[(x: 40.0, y: 40.0), (x: 60.0, y: 40.0), (x: 60.0, y: 60.0), (x: 40.0, y: 60.0), (x: 40.0, y: 40.0)]],
        );
        let features = [feature(p.clone())];
        let topology = Topology::build(&[&features[0].mercator]);
        let out = topology.simplify(&[&features[0].mercator], 1.0);
        let Geometry::Polygon(s) = &out[0] else {
            panic!()
        };
        assert_eq!(s.interiors().len(), 1);
        assert_eq!(s.exterior().0.len(), 5, "the collinear vertex goes");
        assert!((s.unsigned_area() - p.unsigned_area()).abs() < 1e-9);
    }

    /// A ring smaller than the tolerance keeps its full geometry rather than collapsing.
    #[test]
    fn tiny_rings_never_collapse() {
        let p = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0), (x: 0.0, y: 0.0)];
        let features = [feature(p.clone())];
        let topology = Topology::build(&[&features[0].mercator]);
        let out = topology.simplify(&[&features[0].mercator], 1000.0);
        assert_eq!(out[0], Geometry::Polygon(p));
    }
}
