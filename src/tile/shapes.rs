//! A layer's geometry for tiles, in EPSG:3857 metres, stored once and compactly: polygon rings
//! as shared arcs ([`Topology`]), lines as arcs of their own, points as coordinates — every
//! vertex with its Douglas–Peucker tolerance ([`keep_tolerances`]). A feature at zoom `z` is
//! rebuilt from the vertices whose tolerance exceeds half a pixel at `z`; no copy of the
//! geometry is kept per zoom.
//!
//! Simplification must not make a polygon invalid (a ring that collapses, rings that cross):
//! when it would at some zoom, the arcs of that polygon are drawn whole at that zoom, for
//! every polygon sharing them, so a border is never simplified on one side only. Those arcs
//! are found once, when the layer loads, and only among the features a tile at that zoom
//! draws (larger than [`MIN_FEATURE_UNITS`]).

use geo::{
    BoundingRect, Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point,
    Polygon,
};
use rustc_hash::FxHashSet;

use super::clip::{ClipBox, clip_line, clip_ring};
use super::encode::{TileGeometry, quantize_line, quantize_ring};
use super::simplify::{Topology, keep_tolerances, open_ring, rings_cross, tolerance_m};
use super::{EXTENT, MIN_FEATURE_UNITS, TileFrame};
use crate::mercator::tile_size_m;

/// What a feature is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// No geometry.
    None,
    /// Coordinates `start..end`.
    Points(u32, u32),
    /// Arcs `start..end`, one per line.
    Lines(u32, u32),
    /// Polygons `start..end`.
    Polygons(u32, u32),
}

/// A layer's geometry, ready to be drawn at any zoom.
#[derive(Debug, Default)]
pub struct Shapes {
    coords: Vec<Coord<f64>>,
    /// Douglas–Peucker tolerance (metres) of each vertex; infinite at arc ends and for points.
    keep: Vec<f32>,
    /// Arc `a` is `coords[arc_start[a]..arc_start[a + 1]]`.
    arc_start: Vec<u32>,
    /// Ring `r` is `ring_parts[ring_start[r]..ring_start[r + 1]]`, each part `arc << 1 |
    /// reversed`.
    ring_start: Vec<u32>,
    ring_parts: Vec<u32>,
    /// Polygon `p` is rings `polygon_start[p]..polygon_start[p + 1]`, exterior first.
    polygon_start: Vec<u32>,
    shapes: Vec<Shape>,
    /// Per zoom: the arcs drawn whole at that zoom (sorted).
    whole: Vec<Vec<u32>>,
}

/// Scratch buffers reused across the features of a tile.
#[derive(Debug, Default)]
pub struct Scratch {
    ring: Vec<Coord<f64>>,
}

impl Shapes {
    /// Stores geometries (given in feature order, each projected to EPSG:3857 by `project`,
    /// one at a time) and finds, for each zoom in `minzoom..=maxzoom`, the arcs
    /// simplification must leave whole.
    #[must_use]
    pub fn build(
        geometries: &[Option<&Geometry<f64>>],
        project: impl Fn(&Geometry<f64>) -> Geometry<f64>,
        minzoom: u8,
        maxzoom: u8,
    ) -> Self {
        Self::build_checked(geometries, project, minzoom, maxzoom, true)
    }

    /// [`Shapes::build`], where `check_validity` false takes every polygon for valid without
    /// checking (one segment-intersection sweep per polygon less): for the few features of
    /// one tile, read again for every tile. An invalid polygon then has its arcs kept whole
    /// wherever simplification leaves it invalid, instead of being simplified freely.
    #[must_use]
    pub fn build_checked(
        geometries: &[Option<&Geometry<f64>>],
        project: impl Fn(&Geometry<f64>) -> Geometry<f64>,
        minzoom: u8,
        maxzoom: u8,
        check_validity: bool,
    ) -> Self {
        let mut s = Self {
            arc_start: vec![0],
            ring_start: vec![0],
            polygon_start: vec![0],
            ..Self::default()
        };
        // Polygon rings first, all together, for their shared arcs; and what the validity
        // search needs of each polygonal feature: its size, and whether it is valid at all.
        let mut rings: Vec<Vec<Coord<f64>>> = Vec::new();
        let mut polygon_rings: Vec<usize> = Vec::new(); // rings per polygon
        let mut polygonal: Vec<(usize, f64)> = Vec::new();
        for (i, g) in geometries.iter().enumerate() {
            let Some(g @ (Geometry::Polygon(_) | Geometry::MultiPolygon(_))) = g else {
                continue;
            };
            let m = project(g);
            let mut valid = true;
            for p in polygons_of(&m) {
                polygon_rings.push(1 + p.interiors().len());
                let first = rings.len();
                rings.push(open_ring(&p.exterior().0));
                rings.extend(p.interiors().iter().map(|r| open_ring(&r.0)));
                if check_validity {
                    let slices: Vec<&[Coord<f64>]> =
                        rings[first..].iter().map(Vec::as_slice).collect();
                    valid &= !rings_cross(&slices);
                }
            }
            // A polygon invalid to begin with has nothing to protect.
            if valid && let Some(r) = m.bounding_rect() {
                polygonal.push((i, r.width().max(r.height())));
            }
        }
        let topology = Topology::build(rings);
        for arc in &topology.arcs {
            s.push_arc(arc, true);
        }
        let mut degenerate = 0;
        for plan in &topology.plans {
            if plan.is_empty() {
                // Fewer than 3 distinct vertices: nothing to draw.
                degenerate += 1;
            } else {
                s.ring_parts.extend(
                    plan.iter()
                        .map(|&(arc, reversed)| arc << 1 | u32::from(reversed)),
                );
            }
            s.ring_start.push(s.ring_parts.len() as u32);
        }
        if degenerate > 0 {
            tracing::debug!(
                degenerate,
                "rings of fewer than 3 distinct vertices are not drawn"
            );
        }
        drop(topology);
        let mut next_ring = 0u32;
        for n in polygon_rings {
            next_ring += n as u32;
            s.polygon_start.push(next_ring);
        }
        // Then each feature's shape, lines and points stored as they come.
        let mut next_polygon = 0u32;
        for g in geometries {
            let shape = match g.map(|g| (g, project(g))) {
                None => Shape::None,
                Some((_, Geometry::Point(p))) => s.push_points(&[p.0]),
                Some((_, Geometry::MultiPoint(mp))) => {
                    s.push_points(&mp.0.iter().map(|p| p.0).collect::<Vec<_>>())
                }
                Some((_, Geometry::LineString(l))) => s.push_lines(std::slice::from_ref(&l)),
                Some((_, Geometry::MultiLineString(ml))) => s.push_lines(&ml.0),
                Some((g @ (Geometry::Polygon(_) | Geometry::MultiPolygon(_)), _)) => {
                    let n = polygons_of(g).len() as u32;
                    let shape = Shape::Polygons(next_polygon, next_polygon + n);
                    next_polygon += n;
                    shape
                }
                // The loader accepts none of these.
                Some(_) => Shape::None,
            };
            s.shapes.push(shape);
        }
        s.find_whole_arcs(&polygonal, minzoom, maxzoom);
        s
    }

    fn push_arc(&mut self, coords: &[Coord<f64>], simplify: bool) -> u32 {
        let id = self.arc_start.len() as u32 - 1;
        self.coords.extend_from_slice(coords);
        if simplify {
            self.keep
                .extend(keep_tolerances(coords).into_iter().map(|t| t as f32));
        } else {
            self.keep
                .extend(std::iter::repeat_n(f32::INFINITY, coords.len()));
        }
        self.arc_start.push(self.coords.len() as u32);
        id
    }

    fn push_points(&mut self, points: &[Coord<f64>]) -> Shape {
        let start = self.coords.len() as u32;
        self.coords.extend_from_slice(points);
        self.keep
            .extend(std::iter::repeat_n(f32::INFINITY, points.len()));
        Shape::Points(start, self.coords.len() as u32)
    }

    fn push_lines(&mut self, lines: &[LineString<f64>]) -> Shape {
        let start = self.arc_start.len() as u32 - 1;
        for l in lines {
            self.push_arc(&l.0, true);
        }
        Shape::Lines(start, self.arc_start.len() as u32 - 1)
    }

    /// For each zoom, the arcs of the drawn polygons that simplification would make invalid;
    /// `polygonal` lists the valid polygonal features with their size (EPSG:3857 metres).
    fn find_whole_arcs(&mut self, polygonal: &[(usize, f64)], minzoom: u8, maxzoom: u8) {
        self.whole = vec![Vec::new(); usize::from(maxzoom) + 1];
        let mut rings: Vec<Vec<Coord<f64>>> = Vec::new();
        for z in minzoom..=maxzoom {
            let eps = tolerance_m(z) as f32;
            let min_size = MIN_FEATURE_UNITS / (f64::from(EXTENT) / tile_size_m(z));
            let mut whole: FxHashSet<u32> = FxHashSet::default();
            loop {
                let mut more: Vec<u32> = Vec::new();
                for &(i, size) in polygonal {
                    if size < min_size {
                        continue;
                    }
                    let Shape::Polygons(a, b) = self.shapes[i] else {
                        continue;
                    };
                    let mut broken = false;
                    let mut dropped = false;
                    rings.clear();
                    for p in a..b {
                        for r in self.polygon_start[p as usize]..self.polygon_start[p as usize + 1]
                        {
                            let mut ring = Vec::new();
                            dropped |= self.rebuild_ring(
                                r as usize,
                                eps,
                                |arc| whole.contains(&arc),
                                &mut ring,
                                |c| c,
                            );
                            broken |= ring.len() < 3;
                            rings.push(ring);
                        }
                    }
                    if !dropped {
                        continue;
                    }
                    let slices: Vec<&[Coord<f64>]> = rings.iter().map(Vec::as_slice).collect();
                    if broken || rings_cross(&slices) {
                        for p in a..b {
                            for r in
                                self.polygon_start[p as usize]..self.polygon_start[p as usize + 1]
                            {
                                for &part in self.ring_parts(r as usize) {
                                    if !whole.contains(&(part >> 1)) {
                                        more.push(part >> 1);
                                    }
                                }
                            }
                        }
                    }
                }
                if more.is_empty() {
                    break;
                }
                whole.extend(more);
            }
            let mut whole: Vec<u32> = whole.into_iter().collect();
            whole.sort_unstable();
            self.whole[usize::from(z)] = whole;
        }
    }

    fn ring_parts(&self, r: usize) -> &[u32] {
        &self.ring_parts[self.ring_start[r] as usize..self.ring_start[r + 1] as usize]
    }

    /// How many vertices feature `i` has (shared arcs counted once per ring using them): the
    /// work of drawing it at full detail.
    #[must_use]
    pub fn vertices(&self, i: usize) -> usize {
        let arc_len =
            |a: u32| (self.arc_start[a as usize + 1] - self.arc_start[a as usize]) as usize;
        match self.shapes[i] {
            Shape::None => 0,
            Shape::Points(a, b) => (b - a) as usize,
            Shape::Lines(a, b) => (a..b).map(arc_len).sum(),
            Shape::Polygons(a, b) => {
                let rings = self.polygon_start[a as usize] as usize
                    ..self.polygon_start[b as usize] as usize;
                rings
                    .flat_map(|r| self.ring_parts(r).iter().map(|part| arc_len(part >> 1)))
                    .sum()
            }
        }
    }

    fn arc(&self, a: u32) -> (&[Coord<f64>], &[f32]) {
        let range = self.arc_start[a as usize] as usize..self.arc_start[a as usize + 1] as usize;
        (&self.coords[range.clone()], &self.keep[range])
    }

    /// Appends ring `r` at tolerance `eps` to `out` as an open ring (no closing repeat, no
    /// consecutive duplicates), each kept vertex mapped through `map`. Returns whether any
    /// vertex was left out.
    fn rebuild_ring(
        &self,
        r: usize,
        eps: f32,
        whole: impl Fn(u32) -> bool,
        out: &mut Vec<Coord<f64>>,
        map: impl Fn(Coord<f64>) -> Coord<f64>,
    ) -> bool {
        let mut dropped = false;
        let start = out.len();
        for &part in self.ring_parts(r) {
            let (arc, reversed) = (part >> 1, part & 1 == 1);
            let all = whole(arc);
            let (coords, keep) = self.arc(arc);
            let mut push = |c: &Coord<f64>, t: &f32| {
                if all || *t > eps {
                    let m = map(*c);
                    if out.len() == start || out.last() != Some(&m) {
                        out.push(m);
                    }
                } else {
                    dropped = true;
                }
            };
            if reversed {
                coords.iter().zip(keep).rev().for_each(|(c, t)| push(c, t));
            } else {
                coords.iter().zip(keep).for_each(|(c, t)| push(c, t));
            }
        }
        while out.len() > start + 1 && out[start] == out[out.len() - 1] {
            out.pop();
        }
        dropped
    }

    /// The zoom whose detail tiles of zoom `z` are drawn with: `z` itself up to the top zoom
    /// prepared, that top zoom above it (overzoomed tiles).
    fn detail_zoom(&self, z: u8) -> u8 {
        match self.whole.len().checked_sub(1) {
            Some(top) => z.min(u8::try_from(top).unwrap_or(u8::MAX)),
            None => z,
        }
    }

    fn whole_at(&self, z: u8) -> &[u32] {
        self.whole
            .get(usize::from(z))
            .or(self.whole.last())
            .map_or(&[], Vec::as_slice)
    }

    /// Whether feature `i` is a point or points.
    #[must_use]
    pub fn is_point(&self, i: usize) -> bool {
        matches!(self.shapes[i], Shape::Points(..))
    }

    /// Feature `i` as drawn at zoom `z` (EPSG:3857): simplified at half a pixel, with the arcs
    /// kept whole there. `None` for a feature without geometry.
    #[must_use]
    pub fn geometry_at(&self, i: usize, z: u8) -> Option<Geometry<f64>> {
        let eps = tolerance_m(self.detail_zoom(z)) as f32;
        let whole = self.whole_at(z);
        let is_whole = |arc: u32| whole.binary_search(&arc).is_ok();
        Some(match self.shapes[i] {
            Shape::None => return None,
            Shape::Points(a, b) => {
                let pts = &self.coords[a as usize..b as usize];
                if pts.len() == 1 {
                    Geometry::Point(Point(pts[0]))
                } else {
                    Geometry::MultiPoint(MultiPoint(pts.iter().map(|c| Point(*c)).collect()))
                }
            }
            Shape::Lines(a, b) => {
                let lines: Vec<LineString<f64>> = (a..b)
                    .map(|arc| {
                        let (coords, keep) = self.arc(arc);
                        LineString(
                            coords
                                .iter()
                                .zip(keep)
                                .filter(|(_, t)| **t > eps)
                                .map(|(c, _)| *c)
                                .collect(),
                        )
                    })
                    .collect();
                if lines.len() == 1 {
                    Geometry::LineString(lines.into_iter().next().expect("one line"))
                } else {
                    Geometry::MultiLineString(MultiLineString(lines))
                }
            }
            Shape::Polygons(a, b) => {
                let polygons: Vec<Polygon<f64>> = (a..b)
                    .map(|p| {
                        let mut rings = (self.polygon_start[p as usize]
                            ..self.polygon_start[p as usize + 1])
                            .map(|r| {
                                let mut ring = Vec::new();
                                self.rebuild_ring(r as usize, eps, is_whole, &mut ring, |c| c);
                                if let Some(&first) = ring.first() {
                                    ring.push(first);
                                }
                                LineString(ring)
                            });
                        let exterior = rings.next().unwrap_or_else(|| LineString(Vec::new()));
                        Polygon::new(exterior, rings.collect())
                    })
                    .collect();
                if polygons.len() == 1 {
                    Geometry::Polygon(polygons.into_iter().next().expect("one polygon"))
                } else {
                    Geometry::MultiPolygon(MultiPolygon(polygons))
                }
            }
        })
    }

    /// Feature `i` projected into a tile, clipped to its buffer and quantized; `None` if
    /// nothing of it is left.
    pub fn tile_geometry(
        &self,
        i: usize,
        z: u8,
        frame: &TileFrame,
        clip_box: ClipBox,
        scratch: &mut Scratch,
    ) -> Option<TileGeometry> {
        let eps = tolerance_m(self.detail_zoom(z)) as f32;
        match self.shapes[i] {
            Shape::None => None,
            Shape::Points(a, b) => {
                let mut pts: Vec<[i32; 2]> = self.coords[a as usize..b as usize]
                    .iter()
                    .map(|&c| frame.to_tile(c))
                    .filter(|c| clip_box.contains(*c))
                    .map(|c| [c.x.round() as i32, c.y.round() as i32])
                    .collect();
                pts.dedup();
                (!pts.is_empty()).then_some(TileGeometry::Points(pts))
            }
            Shape::Lines(a, b) => {
                let mut out = Vec::new();
                for arc in a..b {
                    let (coords, keep) = self.arc(arc);
                    scratch.ring.clear();
                    scratch.ring.extend(
                        coords
                            .iter()
                            .zip(keep)
                            .filter(|(_, t)| **t > eps)
                            .map(|(c, _)| frame.to_tile(*c)),
                    );
                    out.extend(
                        clip_line(&scratch.ring, clip_box)
                            .iter()
                            .filter_map(|piece| quantize_line(piece)),
                    );
                }
                (!out.is_empty()).then_some(TileGeometry::Lines(out))
            }
            Shape::Polygons(a, b) => {
                let whole = self.whole_at(z);
                let is_whole = |arc: u32| !whole.is_empty() && whole.binary_search(&arc).is_ok();
                let mut out = Vec::new();
                for p in a..b {
                    let rings = self.polygon_start[p as usize]..self.polygon_start[p as usize + 1];
                    let mut polygon: Vec<Vec<[i32; 2]>> = Vec::new();
                    for (k, r) in rings.enumerate() {
                        scratch.ring.clear();
                        self.rebuild_ring(r as usize, eps, is_whole, &mut scratch.ring, |c| {
                            frame.to_tile(c)
                        });
                        if let Some(&first) = scratch.ring.first() {
                            scratch.ring.push(first);
                        }
                        let ring = quantize_ring(&clip_ring(&scratch.ring, clip_box), k == 0);
                        match (k, ring) {
                            (0, None) => break,
                            (_, Some(ring)) => polygon.push(ring),
                            (_, None) => {}
                        }
                    }
                    if !polygon.is_empty() {
                        out.push(polygon);
                    }
                }
                (!out.is_empty()).then_some(TileGeometry::Polygons(out))
            }
        }
    }

    /// The zooms at which some arc is drawn whole to keep polygons valid.
    pub fn protected_zooms(&self) -> impl Iterator<Item = u8> + '_ {
        self.whole
            .iter()
            .enumerate()
            .filter(|(_, w)| !w.is_empty())
            .map(|(z, _)| z as u8)
    }

    /// Vertices stored.
    #[must_use]
    pub fn vertex_count(&self) -> usize {
        self.coords.len()
    }
}

/// The polygons of a polygonal geometry.
fn polygons_of(g: &Geometry<f64>) -> Vec<&Polygon<f64>> {
    match g {
        Geometry::Polygon(p) => vec![p],
        Geometry::MultiPolygon(mp) => mp.iter().collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, BooleanOps, CoordsIter, polygon};

    /// The geometries at a given tolerance, through the zoom whose tolerance it is closest to.
    fn at_zoom(polygons: &[Polygon<f64>], z: u8) -> Vec<Polygon<f64>> {
        let geometries: Vec<Geometry<f64>> =
            polygons.iter().cloned().map(Geometry::Polygon).collect();
        let refs: Vec<Option<&Geometry<f64>>> = geometries.iter().map(Some).collect();
        let shapes = Shapes::build(&refs, Clone::clone, 0, 24);
        (0..polygons.len())
            .map(|i| match shapes.geometry_at(i, z) {
                Some(Geometry::Polygon(p)) => p,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn crosses(p: &Polygon<f64>) -> bool {
        let rings: Vec<&[Coord<f64>]> = std::iter::once(&p.exterior().0[..])
            .chain(p.interiors().iter().map(|r| &r.0[..]))
            .collect();
        rings_cross(&rings)
    }

    /// Two squares sharing a wiggly border, 2 km across: after simplification they still share
    /// it exactly, so there is neither gap nor overlap between them.
    #[test]
    fn shared_border_stays_shared() {
        let wiggle: Vec<(f64, f64)> = (0..=20)
            .map(|i| {
                (
                    1000.0 + if i % 2 == 0 { 0.0 } else { 30.0 },
                    f64::from(i) * 100.0,
                )
            })
            .collect();
        let mut west: Vec<(f64, f64)> = vec![(0.0, 0.0)];
        west.extend(wiggle.iter().copied());
        west.push((0.0, 2000.0));
        west.push((0.0, 0.0));
        let mut east: Vec<(f64, f64)> = vec![(2000.0, 0.0), (2000.0, 2000.0)];
        east.extend(wiggle.iter().rev().copied());
        east.push((2000.0, 0.0));
        let a = Polygon::new(LineString::from(west), vec![]);
        let b = Polygon::new(LineString::from(east), vec![]);
        let total = a.unsigned_area() + b.unsigned_area();
        // Tolerances of ~150 m (z8), ~19 m (z11) and ~1 m (z15).
        for z in [8u8, 11, 15] {
            let out = at_zoom(&[a.clone(), b.clone()], z);
            let (sa, sb) = (&out[0], &out[1]);
            assert!(!crosses(sa) && !crosses(sb));
            let overlap = sa.intersection(sb).unsigned_area();
            let union = sa.union(sb).unsigned_area();
            assert!(overlap < 1e-6, "z{z}: overlap {overlap}");
            assert!(
                (union - total).abs() < 1e-6,
                "z{z}: union {union} vs {total}: a gap opened"
            );
            if z == 8 {
                assert!(
                    sa.exterior().0.len() < 10,
                    "z{z}: the wiggle should be gone"
                );
            }
        }
    }

    /// A polygon with a hole keeps its hole, and an island keeps its shape within tolerance.
    #[test]
    fn free_rings_and_holes() {
        let p = polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 1000.0, y: 0.0), (x: 1000.0, y: 0.5), (x: 1000.0, y: 1000.0), (x: 0.0, y: 1000.0), (x: 0.0, y: 0.0)],
            interiors: [[(x: 400.0, y: 400.0), (x: 600.0, y: 400.0), (x: 600.0, y: 600.0), (x: 400.0, y: 600.0), (x: 400.0, y: 400.0)]],
        );
        let s = &at_zoom(std::slice::from_ref(&p), 14)[0];
        assert_eq!(s.interiors().len(), 1);
        assert_eq!(s.exterior().0.len(), 5, "the collinear vertex goes");
        assert!((s.unsigned_area() - p.unsigned_area()).abs() < 1e-6);
    }

    /// A sliver thinner than the tolerance, but long enough to be drawn, keeps its full
    /// geometry rather than collapsing into a line.
    #[test]
    fn drawn_slivers_never_collapse() {
        let p = polygon![(x: 0.0, y: 0.0), (x: 50.0, y: 1.0), (x: 100.0, y: 0.0), (x: 50.0, y: -1.0), (x: 0.0, y: 0.0)];
        let g = Geometry::Polygon(p.clone());
        let shapes = Shapes::build(&[Some(&g)], Clone::clone, 0, 16);
        // At z14 (2.4 m tolerance, 19 m to a pixel) the sliver is drawn, and kept whole.
        assert_eq!(shapes.geometry_at(0, 14), Some(Geometry::Polygon(p)));
        assert!(shapes.protected_zooms().any(|z| z == 14));
    }

    /// A ring of 200,000 vertices is stored once and drawn simplified at every zoom (the
    /// criterion benchmark times a million).
    #[test]
    fn a_huge_ring_is_simplified() {
        let n = 200_000;
        let ring: Vec<(f64, f64)> = (0..=n)
            .map(|i| {
                let i = if i == n { 0 } else { i };
                let a = f64::from(i) / f64::from(n) * std::f64::consts::TAU;
                let r = 100_000.0 + (f64::from(i) * 0.37).sin() * 30.0;
                (a.cos() * r, a.sin() * r)
            })
            .collect();
        let g = Geometry::Polygon(Polygon::new(LineString::from(ring), vec![]));
        let shapes = Shapes::build(&[Some(&g)], Clone::clone, 0, 16);
        assert_eq!(shapes.vertex_count(), n as usize + 1);
        let z8 = shapes.geometry_at(0, 8).unwrap();
        assert!(z8.coords_count() < 1000);
        let Geometry::Polygon(p) = z8 else { panic!() };
        assert!(!crosses(&p));
    }
}
