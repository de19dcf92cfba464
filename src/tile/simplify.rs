//! Per-zoom simplification that keeps shared borders shared (EPSG:3857 metres).
//!
//! Neighbouring polygons (communes) share their borders vertex for vertex. Simplifying each
//! polygon on its own would move a shared border differently on each side and open visible
//! gaps. So the rings of a layer are first cut into *arcs* at the vertices where the set of
//! polygons sharing an edge changes (junctions), as TopoJSON does; each distinct arc is
//! simplified in a canonical direction, and rings are rebuilt from their arcs. Both sides of a
//! border therefore get exactly the same simplified line.
//!
//! Douglas–Peucker runs once per arc, not once per zoom: it records for every vertex the
//! tolerance below which it is kept (its distance to the chord that removed it, capped by its
//! ancestors' in the recursion), so the arc at any tolerance is the vertices above it — the
//! same line Douglas–Peucker would give at that tolerance. The recursion uses an explicit
//! stack, so a ring of a million vertices needs no deep call stack.
//!
//! The tolerance is half a display pixel: MapLibre draws a 4096-unit tile 512 px wide, so
//! [`TOLERANCE_UNITS`] = 4 units. A ring that would collapse, or a polygon whose simplified
//! rings would cross (found with a sweep over its segments, O(n log n)), gets its arcs back at
//! full detail at that zoom, for every polygon sharing them.

use geo::line_intersection::LineIntersection;
use geo::sweep::Intersections;
use geo::{Coord, Geometry, Line, LineString, MultiLineString, MultiPolygon, Polygon};
use rustc_hash::FxHashMap;

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
    /// Index `z`: `Some` holds one entry per feature (`None`: use the full geometry); a level
    /// of `None` means every feature uses its full geometry.
    levels: Vec<Option<Vec<Option<Geometry<f64>>>>>,
}

impl ZoomGeometries {
    /// Simplifies every feature (EPSG:3857) for each zoom in `minzoom..=maxzoom`, from the
    /// lowest up, stopping once a level would keep more than 90 % of the vertices.
    #[must_use]
    pub fn build(geometries: &[Option<&Geometry<f64>>], minzoom: u8, maxzoom: u8) -> Self {
        let full_count: usize = geometries.iter().flatten().map(|g| vertex_count(g)).sum();
        let mut levels: Vec<Option<Vec<Option<Geometry<f64>>>>> =
            (0..=maxzoom).map(|_| None).collect();
        if full_count == 0 {
            return Self { levels };
        }
        let topology = Topology::build(geometries);
        for z in minzoom..=maxzoom {
            let level = topology.simplify(geometries, tolerance_m(z));
            let count: usize = level
                .iter()
                .zip(geometries)
                .map(|(s, g)| match (s, g) {
                    (Some(s), _) => vertex_count(s),
                    (None, Some(g)) => vertex_count(g),
                    (None, None) => 0,
                })
                .sum();
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
            Some(Some(level)) => level[i].as_ref().unwrap_or(full),
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
    Arcs(Vec<(u32, bool)>),
    /// Too small to cut into arcs: kept as it is.
    Verbatim,
}

/// An arc with the Douglas–Peucker tolerance of each vertex.
#[derive(Debug)]
struct Arc {
    coords: Vec<Coord<f64>>,
    /// Largest tolerance at which each vertex is kept (infinite at the ends).
    keep_below: Vec<f64>,
}

/// The arcs of all polygon rings of a layer.
#[derive(Debug)]
struct Topology {
    /// Each distinct arc once, in canonical direction, both end nodes included.
    arcs: Vec<Arc>,
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

/// The rings using an edge: up to two, or [`MANY`] when more do (overlapping data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sharers([u32; 2]);

const NONE: u32 = u32::MAX;
const MANY: u32 = u32::MAX - 1;

impl Sharers {
    fn add(&mut self, ring: u32) {
        let [a, b] = &mut self.0;
        if *a == ring || *b == ring {
        } else if *a == NONE {
            *a = ring;
        } else if *b == NONE {
            *b = ring;
        } else {
            *b = MANY;
        }
    }

    fn count(self) -> usize {
        match self.0 {
            [NONE, _] => 0,
            [_, NONE] => 1,
            [_, MANY] => 3,
            _ => 2,
        }
    }
}

impl Topology {
    fn build(geometries: &[Option<&Geometry<f64>>]) -> Self {
        let rings: Vec<Vec<Coord<f64>>> = geometries
            .iter()
            .flatten()
            .flat_map(|g| rings_of(g))
            .map(open_ring)
            .collect();

        // Which rings use each edge, and how many rings touch each vertex.
        let mut sharers: FxHashMap<(Key, Key), Sharers> = FxHashMap::default();
        let mut touching: FxHashMap<Key, (u32, u32)> = FxHashMap::default();
        for (r, ring) in rings.iter().enumerate() {
            let r = r as u32;
            let n = ring.len();
            if n < 3 {
                continue;
            }
            for i in 0..n {
                sharers
                    .entry(edge_key(ring[i], ring[(i + 1) % n]))
                    .or_insert(Sharers([NONE, NONE]))
                    .add(r);
                let t = touching.entry(key(ring[i])).or_insert((0, u32::MAX));
                if t.1 != r {
                    *t = (t.0 + 1, r);
                }
            }
        }

        let mut arcs: Vec<Arc> = Vec::new();
        // Arcs by a hash of their vertices; equal hashes are compared in full.
        let mut arc_ids: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
        let mut plans = Vec::with_capacity(rings.len());
        for ring in &rings {
            let n = ring.len();
            if n < 3 {
                plans.push(RingPlan::Verbatim);
                continue;
            }
            let users = |i: usize| sharers[&edge_key(ring[i % n], ring[(i + 1) % n])];
            let is_node = |i: usize| {
                let (before, after) = (users(i + n - 1), users(i));
                before != after
                    || touching[&key(ring[i])].0 as usize > before.count().max(after.count())
            };
            let nodes: Vec<usize> = (0..n).filter(|&i| is_node(i)).collect();
            let mut pieces: Vec<Vec<Coord<f64>>> = Vec::new();
            if nodes.is_empty() {
                // A free ring (an island, or an enclave shared whole with one neighbour):
                // start at its smallest vertex; `canonical_arc` then fixes the direction.
                let start = (0..n).min_by_key(|&i| key(ring[i])).unwrap_or(0);
                pieces.push((0..=n).map(|k| ring[(start + k) % n]).collect());
            } else {
                for (j, &from) in nodes.iter().enumerate() {
                    let to = nodes.get(j + 1).copied().unwrap_or(nodes[0] + n);
                    pieces.push((from..=to).map(|k| ring[k % n]).collect());
                }
            }
            let mut plan = Vec::with_capacity(pieces.len());
            for piece in pieces {
                let (canonical, reversed) = canonical_arc(piece);
                let hash = arc_hash(&canonical);
                let same = arc_ids.entry(hash).or_default();
                let id = match same
                    .iter()
                    .find(|&&id| arcs[id as usize].coords == canonical)
                {
                    Some(&id) => id,
                    None => {
                        let id = arcs.len() as u32;
                        let keep_below = keep_tolerances(&canonical);
                        arcs.push(Arc {
                            coords: canonical,
                            keep_below,
                        });
                        same.push(id);
                        id
                    }
                };
                plan.push((id, reversed));
            }
            plans.push(RingPlan::Arcs(plan));
        }
        Self { arcs, plans }
    }

    /// Simplifies every geometry with tolerance `epsilon_m` (EPSG:3857 metres); `None` where a
    /// geometry is left as it is (points, unlocated features).
    ///
    /// A polygon whose rebuilt rings collapse or cross gets its arcs back at full detail, for
    /// every polygon that shares them, and the round repeats until all are valid: a border is
    /// never simplified on one side only, so fixing one commune opens no gap beside it.
    fn simplify(
        &self,
        geometries: &[Option<&Geometry<f64>>],
        epsilon_m: f64,
    ) -> Vec<Option<Geometry<f64>>> {
        let mut full = vec![false; self.arcs.len()];
        loop {
            let mut restore: Vec<u32> = Vec::new();
            let mut plans = self.plans.iter();
            let out: Vec<Option<Geometry<f64>>> = geometries
                .iter()
                .map(|g| {
                    let g = (*g)?;
                    let mut used: Vec<u32> = Vec::new();
                    let mut collapsed = false;
                    let mut next_ring = |original: &LineString<f64>| -> LineString<f64> {
                        let plan = plans.next().expect("one plan per ring");
                        if let RingPlan::Arcs(parts) = plan {
                            used.extend(parts.iter().map(|&(id, _)| id));
                        }
                        self.rebuild_ring(plan, epsilon_m, &full)
                            .unwrap_or_else(|| {
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
                            return Some(Geometry::LineString(simplify_line(l, epsilon_m)));
                        }
                        Geometry::MultiLineString(ml) => {
                            return Some(Geometry::MultiLineString(MultiLineString(
                                ml.iter().map(|l| simplify_line(l, epsilon_m)).collect(),
                            )));
                        }
                        _ => return None,
                    };
                    if (collapsed || rings_cross(&simplified)) && !rings_cross(g) {
                        restore.extend(used.into_iter().filter(|&id| !full[id as usize]));
                    }
                    Some(simplified)
                })
                .collect();
            if restore.is_empty() {
                return out;
            }
            for id in restore {
                full[id as usize] = true;
            }
        }
    }

    /// Joins the arcs of a ring, simplified at `epsilon_m` (or whole where `full` says so),
    /// into a closed ring; `None` if it collapsed below 3 vertices.
    fn rebuild_ring(
        &self,
        plan: &RingPlan,
        epsilon_m: f64,
        full: &[bool],
    ) -> Option<LineString<f64>> {
        let RingPlan::Arcs(parts) = plan else {
            return None;
        };
        let mut coords: Vec<Coord<f64>> = Vec::new();
        for &(id, reversed) in parts {
            let arc = &self.arcs[id as usize];
            let whole = full[id as usize];
            let kept = arc
                .coords
                .iter()
                .zip(&arc.keep_below)
                .filter(|(_, t)| whole || **t > epsilon_m)
                .map(|(c, _)| *c);
            let mut push = |c: Coord<f64>| {
                if coords.last() != Some(&c) {
                    coords.push(c);
                }
            };
            if reversed {
                kept.collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .for_each(&mut push);
            } else {
                kept.for_each(&mut push);
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
}

fn arc_hash(coords: &[Coord<f64>]) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for c in coords {
        hasher.update(&c.x.to_bits().to_le_bytes());
        hasher.update(&c.y.to_bits().to_le_bytes());
    }
    hasher.digest()
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

/// Distance from `p` to the segment `a`–`b` (to `a` when the segment is a point).
fn segment_distance(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    if len2 == 0.0 {
        return (p.x - a.x).hypot(p.y - a.y);
    }
    let t = (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0);
    (p.x - (a.x + t * dx)).hypot(p.y - (a.y + t * dy))
}

/// For each vertex of a polyline, the largest Douglas–Peucker tolerance at which it is kept:
/// keeping the vertices whose value exceeds `ε` gives exactly Douglas–Peucker at `ε`.
fn keep_tolerances(coords: &[Coord<f64>]) -> Vec<f64> {
    let n = coords.len();
    let mut keep = vec![0.0; n];
    if n == 0 {
        return keep;
    }
    keep[0] = f64::INFINITY;
    keep[n - 1] = f64::INFINITY;
    let mut stack: Vec<(usize, usize, f64)> = vec![(0, n - 1, f64::INFINITY)];
    while let Some((from, to, cap)) = stack.pop() {
        if to <= from + 1 {
            continue;
        }
        let (a, b) = (coords[from], coords[to]);
        let mut best = (from + 1, -1.0);
        for (i, &c) in coords.iter().enumerate().take(to).skip(from + 1) {
            let d = segment_distance(c, a, b);
            if d > best.1 {
                best = (i, d);
            }
        }
        let (k, d) = best;
        let t = d.min(cap);
        keep[k] = t;
        stack.push((from, k, t));
        stack.push((k, to, t));
    }
    keep
}

/// A line simplified with Douglas–Peucker at `epsilon_m`.
fn simplify_line(line: &LineString<f64>, epsilon_m: f64) -> LineString<f64> {
    let keep = keep_tolerances(&line.0);
    LineString(
        line.0
            .iter()
            .zip(&keep)
            .filter(|(_, t)| **t > epsilon_m)
            .map(|(c, _)| *c)
            .collect(),
    )
}

/// Whether the rings of a polygonal geometry cross themselves or each other, or overlap along
/// a segment (touching at a point is allowed), or a ring has fewer than 3 distinct vertices.
/// A sweep over the segments keeps this O(n log n) for ordinary rings.
#[must_use]
pub fn rings_cross(geometry: &Geometry<f64>) -> bool {
    let rings = rings_of(geometry);
    if rings.iter().any(|r| open_ring(r).len() < 3) {
        return true;
    }
    let segments = rings
        .iter()
        .flat_map(|r| r.lines().filter(|l| l.start != l.end));
    Intersections::<Line<f64>>::from_iter(segments).any(|(_, _, hit)| match hit {
        LineIntersection::SinglePoint { is_proper, .. } => is_proper,
        LineIntersection::Collinear { intersection } => intersection.start != intersection.end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, BooleanOps, Simplify, polygon};

    fn simplify_all(polygons: &[Polygon<f64>], eps: f64) -> Vec<Polygon<f64>> {
        let geometries: Vec<Geometry<f64>> =
            polygons.iter().cloned().map(Geometry::Polygon).collect();
        let refs: Vec<Option<&Geometry<f64>>> = geometries.iter().map(Some).collect();
        Topology::build(&refs)
            .simplify(&refs, eps)
            .into_iter()
            .map(|g| match g {
                Some(Geometry::Polygon(p)) => p,
                other => panic!("{other:?}"),
            })
            .collect()
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
        for eps in [1.0, 5.0, 50.0] {
            let out = simplify_all(&[a.clone(), b.clone()], eps);
            let (sa, sb) = (&out[0], &out[1]);
            assert!(!rings_cross(&Geometry::Polygon(sa.clone())));
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
        let s = &simplify_all(std::slice::from_ref(&p), 1.0)[0];
        assert_eq!(s.interiors().len(), 1);
        assert_eq!(s.exterior().0.len(), 5, "the collinear vertex goes");
        assert!((s.unsigned_area() - p.unsigned_area()).abs() < 1e-9);
    }

    /// A ring smaller than the tolerance keeps its full geometry rather than collapsing.
    #[test]
    fn tiny_rings_never_collapse() {
        let p = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0), (x: 0.0, y: 0.0)];
        assert_eq!(simplify_all(std::slice::from_ref(&p), 1000.0)[0], p);
    }

    /// The tolerances recorded once give, at any ε, the line geo's Douglas–Peucker gives.
    #[test]
    fn recorded_tolerances_match_douglas_peucker() {
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as f64 / f64::from(1u32 << 31)
        };
        let line = LineString::from(
            (0..400)
                .map(|i| {
                    (
                        f64::from(i),
                        (f64::from(i) / 9.0).sin() * 30.0 + next() * 8.0,
                    )
                })
                .collect::<Vec<_>>(),
        );
        for eps in [0.5, 2.0, 5.0, 20.0, 100.0] {
            assert_eq!(simplify_line(&line, eps), line.simplify(eps), "ε = {eps}");
        }
    }

    #[test]
    fn crossing_rings_are_found() {
        let bowtie = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 10.0), (x: 10.0, y: 0.0), (x: 0.0, y: 10.0), (x: 0.0, y: 0.0)];
        assert!(rings_cross(&Geometry::Polygon(bowtie)));
        let square = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0), (x: 0.0, y: 0.0)];
        assert!(!rings_cross(&Geometry::Polygon(square.clone())));
        let escaped_hole = Polygon::new(
            square.exterior().clone(),
            vec![LineString::from(vec![
                (5.0, 5.0),
                (15.0, 5.0),
                (15.0, 6.0),
                (5.0, 6.0),
                (5.0, 5.0),
            ])],
        );
        assert!(rings_cross(&Geometry::Polygon(escaped_hole)));
    }

    /// A ring of 200,000 vertices is simplified for every zoom (the criterion benchmark times
    /// a million).
    #[test]
    fn a_huge_ring_is_simplified() {
        let n = 200_000;
        let ring: Vec<(f64, f64)> = (0..=n)
            .map(|i| {
                let a = f64::from(i) / f64::from(n) * std::f64::consts::TAU;
                let r = 100_000.0 + (f64::from(i) * 0.37).sin() * 30.0;
                (a.cos() * r, a.sin() * r)
            })
            .collect();
        let g = Geometry::Polygon(Polygon::new(LineString::from(ring), vec![]));
        let levels = ZoomGeometries::build(&[Some(&g)], 0, 16);
        assert!(levels.simplified_zooms().count() > 5);
        let z8 = levels.get(8, 0, &g);
        assert!(vertex_count(z8) < 1000 && !rings_cross(z8));
    }
}
