//! Topology-preserving simplification helpers (EPSG:3857 metres).
//!
//! Neighbouring polygons (communes) share their borders vertex for vertex. Simplifying each
//! polygon on its own would move a shared border differently on each side and open visible
//! gaps. So the rings of a layer are cut into *arcs* at the vertices where the set of rings
//! sharing an edge changes (junctions), as TopoJSON does; each distinct arc is kept once, in a
//! canonical direction, and simplified once: both sides of a border get the same line.
//!
//! Douglas–Peucker runs once per arc, not once per zoom: [`keep_tolerances`] records for every
//! vertex the tolerance below which it is kept (its distance to the chord that removed it,
//! capped by its ancestors' in the recursion), so the arc at any tolerance is the vertices
//! above it — the same line Douglas–Peucker would give at that tolerance. The recursion uses
//! an explicit stack, so a ring of a million vertices needs no deep call stack.
//!
//! The tolerance is half a display pixel: MapLibre draws a 4096-unit tile 512 px wide, so
//! [`TOLERANCE_UNITS`] = 4 units.

use geo::line_intersection::LineIntersection;
use geo::sweep::Intersections;
use geo::{Coord, Line};
use rustc_hash::FxHashMap;

use crate::mercator::tile_size_m;
use crate::tile::EXTENT;

/// Simplification tolerance in tile units (4096 per tile): half a pixel of a 512 px tile.
pub const TOLERANCE_UNITS: f64 = 4.0;

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

/// Exact identity of a vertex: shared borders repeat the same coordinates bit for bit.
type Key = (u64, u64);

fn key(c: Coord<f64>) -> Key {
    (c.x.to_bits(), c.y.to_bits())
}

/// A ring's distinct vertices, without the closing repeat or consecutive duplicates.
#[must_use]
pub fn open_ring(ring: &[Coord<f64>]) -> Vec<Coord<f64>> {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(ring.len());
    for &c in ring {
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    out
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

/// The arcs of a set of rings.
#[derive(Debug, Default)]
pub struct Topology {
    /// Each distinct arc once, in canonical direction, both end nodes included (a free ring
    /// is one arc that ends where it starts).
    pub arcs: Vec<Vec<Coord<f64>>>,
    /// Per ring (in input order): its arcs, each with whether it runs backwards. Empty for a
    /// ring of fewer than 3 distinct vertices.
    pub plans: Vec<Vec<(u32, bool)>>,
}

impl Topology {
    /// Cuts open rings (no closing repeat) into shared arcs. Vertices are numbered first, so
    /// that the bookkeeping holds small integers rather than coordinates.
    #[must_use]
    pub fn build(rings: Vec<Vec<Coord<f64>>>) -> Self {
        let mut ids: FxHashMap<Key, u32> = FxHashMap::default();
        let mut vertices: Vec<Coord<f64>> = Vec::new();
        let rings: Vec<Vec<u32>> = rings
            .into_iter()
            .map(|ring| {
                ring.into_iter()
                    .map(|c| {
                        *ids.entry(key(c)).or_insert_with(|| {
                            vertices.push(c);
                            vertices.len() as u32 - 1
                        })
                    })
                    .collect()
            })
            .collect();
        drop(ids);

        // Which rings use each edge, and how many rings touch each vertex.
        let edge = |a: u32, b: u32| if a <= b { (a, b) } else { (b, a) };
        let mut sharers: FxHashMap<(u32, u32), Sharers> = FxHashMap::default();
        let mut touching: Vec<(u32, u32)> = vec![(0, u32::MAX); vertices.len()];
        for (r, ring) in rings.iter().enumerate() {
            let r = r as u32;
            let n = ring.len();
            if n < 3 {
                continue;
            }
            for i in 0..n {
                sharers
                    .entry(edge(ring[i], ring[(i + 1) % n]))
                    .or_insert(Sharers([NONE, NONE]))
                    .add(r);
                let t = &mut touching[ring[i] as usize];
                if t.1 != r {
                    *t = (t.0 + 1, r);
                }
            }
        }

        let mut arcs: Vec<Vec<u32>> = Vec::new();
        // Arcs by a hash of their vertices; equal hashes are compared in full.
        let mut arc_ids: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
        let mut plans = Vec::with_capacity(rings.len());
        for ring in &rings {
            let n = ring.len();
            if n < 3 {
                plans.push(Vec::new());
                continue;
            }
            let users = |i: usize| sharers[&edge(ring[i % n], ring[(i + 1) % n])];
            let is_node = |i: usize| {
                let (before, after) = (users(i + n - 1), users(i));
                before != after
                    || touching[ring[i] as usize].0 as usize > before.count().max(after.count())
            };
            let nodes: Vec<usize> = (0..n).filter(|&i| is_node(i)).collect();
            let mut pieces: Vec<Vec<u32>> = Vec::new();
            if nodes.is_empty() {
                // A free ring (an island, or an enclave shared whole with one neighbour):
                // start at its smallest vertex; `canonical_arc` then fixes the direction.
                let start = (0..n)
                    .min_by_key(|&i| key(vertices[ring[i] as usize]))
                    .unwrap_or(0);
                pieces.push((0..=n).map(|k| ring[(start + k) % n]).collect());
            } else {
                for (j, &from) in nodes.iter().enumerate() {
                    let to = nodes.get(j + 1).copied().unwrap_or(nodes[0] + n);
                    pieces.push((from..=to).map(|k| ring[k % n]).collect());
                }
            }
            let mut plan = Vec::with_capacity(pieces.len());
            for piece in pieces {
                let (canonical, reversed) = canonical_arc(piece, &vertices);
                let same = arc_ids.entry(arc_hash(&canonical)).or_default();
                let id = match same.iter().find(|&&id| arcs[id as usize] == canonical) {
                    Some(&id) => id,
                    None => {
                        let id = arcs.len() as u32;
                        arcs.push(canonical);
                        same.push(id);
                        id
                    }
                };
                plan.push((id, reversed));
            }
            plans.push(plan);
        }
        Self {
            arcs: arcs
                .into_iter()
                .map(|arc| arc.into_iter().map(|v| vertices[v as usize]).collect())
                .collect(),
            plans,
        }
    }
}

fn arc_hash(vertices: &[u32]) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for v in vertices {
        hasher.update(&v.to_le_bytes());
    }
    hasher.digest()
}

/// Puts an arc in the direction both its users agree on; returns whether it was reversed.
fn canonical_arc(mut arc: Vec<u32>, vertices: &[Coord<f64>]) -> (Vec<u32>, bool) {
    let n = arc.len();
    let key = |v: u32| key(vertices[v as usize]);
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
/// keeping the vertices whose value exceeds `ε` gives exactly Douglas–Peucker at `ε`. The
/// ends are kept at every tolerance.
#[must_use]
pub fn keep_tolerances(coords: &[Coord<f64>]) -> Vec<f64> {
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
        // The farthest vertex; the last of equals, as geo's Douglas–Peucker picks.
        let mut best = (from + 1, -1.0);
        for (i, &c) in coords.iter().enumerate().take(to).skip(from + 1) {
            let d = segment_distance(c, a, b);
            if d >= best.1 {
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

/// Whether rings (closed or open) cross themselves or each other, or overlap along a segment
/// (touching at a point is allowed), or one has fewer than 3 distinct vertices. A sweep over
/// the segments keeps this O(n log n) for ordinary rings.
#[must_use]
pub fn rings_cross(rings: &[&[Coord<f64>]]) -> bool {
    if rings.iter().any(|r| open_ring(r).len() < 3) {
        return true;
    }
    let segments = rings.iter().flat_map(|r| {
        let n = r.len();
        let closed = n > 1 && r[0] == r[n - 1];
        let count = if closed { n - 1 } else { n };
        (0..count)
            .map(move |i| Line::new(r[i], r[(i + 1) % n]))
            .filter(|l| l.start != l.end)
    });
    Intersections::<Line<f64>>::from_iter(segments).any(|(_, _, hit)| match hit {
        LineIntersection::SinglePoint { is_proper, .. } => is_proper,
        LineIntersection::Collinear { intersection } => intersection.start != intersection.end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, Simplify};

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
        let keep = keep_tolerances(&line.0);
        for eps in [0.5, 2.0, 5.0, 20.0, 100.0] {
            let ours: Vec<Coord<f64>> = line
                .0
                .iter()
                .zip(&keep)
                .filter(|(_, t)| **t > eps)
                .map(|(c, _)| *c)
                .collect();
            assert_eq!(LineString(ours), line.simplify(eps), "ε = {eps}");
        }
    }

    #[test]
    fn crossing_rings_are_found() {
        let c = |pts: &[(f64, f64)]| -> Vec<Coord<f64>> {
            pts.iter().map(|&(x, y)| Coord { x, y }).collect()
        };
        let bowtie = c(&[(0.0, 0.0), (10.0, 10.0), (10.0, 0.0), (0.0, 10.0)]);
        assert!(rings_cross(&[&bowtie]));
        let square = c(&[
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 10.0),
            (0.0, 10.0),
            (0.0, 0.0),
        ]);
        assert!(!rings_cross(&[&square]));
        let escaped_hole = c(&[(5.0, 5.0), (15.0, 5.0), (15.0, 6.0), (5.0, 6.0)]);
        assert!(rings_cross(&[&square, &escaped_hole]));
        let inner_hole = c(&[(5.0, 5.0), (6.0, 5.0), (6.0, 6.0), (5.0, 6.0)]);
        assert!(!rings_cross(&[&square, &inner_hole]));
    }

    #[test]
    fn shared_edges_become_one_arc() {
        // Two squares sharing the edge x = 1.
        let a = vec![
            Coord { x: 0.0, y: 0.0 },
            Coord { x: 1.0, y: 0.0 },
            Coord { x: 1.0, y: 1.0 },
            Coord { x: 0.0, y: 1.0 },
        ];
        let b = vec![
            Coord { x: 1.0, y: 0.0 },
            Coord { x: 2.0, y: 0.0 },
            Coord { x: 2.0, y: 1.0 },
            Coord { x: 1.0, y: 1.0 },
        ];
        let t = Topology::build(vec![a, b]);
        assert_eq!(t.plans.len(), 2);
        let shared: Vec<u32> = t.plans[0]
            .iter()
            .map(|p| p.0)
            .filter(|id| t.plans[1].iter().any(|q| q.0 == *id))
            .collect();
        assert_eq!(shared.len(), 1, "{t:?}");
        assert_eq!(t.arcs[shared[0] as usize].len(), 2);
    }
}
