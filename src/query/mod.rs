//! Spatial queries over in-memory layers, in ground metres: which features contain a point,
//! lie within a radius, are nearest, or lie near the features of another layer.
//!
//! The R-tree (EPSG:3857 envelopes) proposes candidates; exact geometry and
//! [`distance_m`] (WGS84 geodesic metres) decide. Every loop looks at its
//! [`Cancel`] token, so that an abandoned request stops its work.

use std::collections::BinaryHeap;

use geo::{BoundingRect, Geometry, Intersects, Point, Rect};

use crate::cancel::{Cancel, Cancelled};
use crate::data::Layer;
use crate::filter::Evaluator;
use crate::geodesy::{distance_m, mercator_to_ground_lower_bound, search_box};
use crate::index::{SpatialIndex, mercator_envelope};
use crate::mercator::lonlat_to_mercator;

/// Largest radius or distance a query may ask for, in metres.
pub const MAX_DISTANCE_M: f64 = 100_000.0;

/// Most neighbours a nearest query may ask for.
pub const MAX_K: usize = 1000;

/// Features between two looks at the cancellation token.
const CANCEL_EVERY: usize = 64;

/// An in-memory layer with its index.
#[derive(Clone, Copy)]
pub struct Indexed<'a> {
    /// The features.
    pub layer: &'a Layer,
    /// Their R-tree.
    pub index: &'a SpatialIndex,
}

/// A feature found by a query, with its ground distance when the query measures one.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Position of the feature in its layer.
    pub index: usize,
    /// Ground distance in metres (0 when the geometries meet).
    pub distance_m: f64,
}

fn passes(filter: Option<&Evaluator<'_>>, f: &crate::data::Feature) -> bool {
    filter.is_none_or(|e| e.matches(f))
}

fn tick(n: usize, cancel: &Cancel) -> Result<(), Cancelled> {
    if n.is_multiple_of(CANCEL_EVERY) {
        cancel.check()
    } else {
        Ok(())
    }
}

/// Features of `layer` whose geometry contains or touches the lon/lat point.
pub fn at(
    source: Indexed<'_>,
    lon: f64,
    lat: f64,
    filter: Option<&Evaluator<'_>>,
    cancel: &Cancel,
) -> Result<Vec<usize>, Cancelled> {
    let point = Point::new(lon, lat);
    let (x, y) = lonlat_to_mercator(lon, lat);
    let mut out = Vec::new();
    for (n, i) in source
        .index
        .intersecting(Rect::new((x, y), (x, y)))
        .enumerate()
    {
        tick(n, cancel)?;
        let f = &source.layer.features[i];
        if f.geometry.as_ref().is_some_and(|g| g.intersects(&point)) && passes(filter, f) {
            out.push(i);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Features within `radius_m` ground metres of the point, nearest first (ties by position),
/// at most `limit`.
pub fn within(
    source: Indexed<'_>,
    lon: f64,
    lat: f64,
    radius_m: f64,
    filter: Option<&Evaluator<'_>>,
    limit: usize,
    cancel: &Cancel,
) -> Result<Vec<Hit>, Cancelled> {
    let point: Geometry<f64> = Point::new(lon, lat).into();
    let area = search_box(Rect::new((lon, lat), (lon, lat)), radius_m);
    let mut hits = Vec::new();
    for (n, i) in source.index.intersecting(area).enumerate() {
        tick(n, cancel)?;
        let f = &source.layer.features[i];
        let Some(g) = &f.geometry else { continue };
        if !passes(filter, f) {
            continue;
        }
        let d = distance_m(&point, g);
        if d <= radius_m {
            hits.push(Hit {
                index: i,
                distance_m: d,
            });
        }
    }
    sort_hits(&mut hits);
    hits.truncate(limit);
    Ok(hits)
}

/// The `k` features nearest to the point (ground metres), nearest first, none farther than
/// `max_distance_m`.
pub fn nearest(
    source: Indexed<'_>,
    lon: f64,
    lat: f64,
    k: usize,
    filter: Option<&Evaluator<'_>>,
    max_distance_m: f64,
    cancel: &Cancel,
) -> Result<Vec<Hit>, Cancelled> {
    if k == 0 {
        return Ok(Vec::new());
    }
    let layer = source.layer;
    let point: Geometry<f64> = Point::new(lon, lat).into();
    let (x, y) = lonlat_to_mercator(lon, lat);
    let bounds = layer.bounds.unwrap_or([lon, lat, lon, lat]);
    // Ground metres ≥ factor × EPSG:3857 metres anywhere between the point and the layer.
    let factor = mercator_to_ground_lower_bound(
        lat,
        bounds[1].abs().max(bounds[3].abs()).copysign(bounds[1]),
    );
    // A max-heap of the best k so far, by (distance, position).
    let mut best: BinaryHeap<(OrderedM, usize)> = BinaryHeap::with_capacity(k + 1);
    for (n, (i, envelope_m)) in source.index.nearest([x, y]).enumerate() {
        tick(n, cancel)?;
        let lower_bound = envelope_m * factor;
        if lower_bound > max_distance_m {
            break;
        }
        if best.len() == k && best.peek().is_some_and(|(worst, _)| lower_bound > worst.0) {
            break;
        }
        let f = &layer.features[i];
        let Some(g) = &f.geometry else { continue };
        if !passes(filter, f) {
            continue;
        }
        let d = distance_m(&point, g);
        if d > max_distance_m {
            continue;
        }
        best.push((OrderedM(d), i));
        if best.len() > k {
            best.pop();
        }
    }
    let mut hits: Vec<Hit> = best
        .into_iter()
        .map(|(d, i)| Hit {
            index: i,
            distance_m: d.0,
        })
        .collect();
    sort_hits(&mut hits);
    Ok(hits)
}

/// A feature of one layer near a feature of another.
#[derive(Debug, Clone, PartialEq)]
pub struct NearHit {
    /// Position of the feature in the queried layer.
    pub index: usize,
    /// Position of its nearest target in the target layer.
    pub target: usize,
    /// Ground distance between them in metres.
    pub distance_m: f64,
}

/// Features of `source` within `max_m` of any feature of `target` that passes its filter, each
/// with its nearest such target; nearest first, at most `limit`.
///
/// The target filter is evaluated once per target. For each feature, candidate targets are
/// measured in order of a lower bound on their ground distance (from their EPSG:3857
/// envelopes), stopping as soon as the bound exceeds the best distance found: a feature that
/// touches a target costs one exact distance, however large `max_m` is.
pub fn near(
    source: Indexed<'_>,
    filter: Option<&Evaluator<'_>>,
    target: Indexed<'_>,
    target_filter: Option<&Evaluator<'_>>,
    max_m: f64,
    limit: usize,
    cancel: &Cancel,
) -> Result<Vec<NearHit>, Cancelled> {
    let mut target_ok: Vec<bool> = Vec::with_capacity(target.layer.features.len());
    for (n, t) in target.layer.features.iter().enumerate() {
        tick(n, cancel)?;
        target_ok.push(t.geometry.is_some() && passes(target_filter, t));
    }
    let mut out = Vec::new();
    let mut candidates: Vec<(f64, usize)> = Vec::new();
    for (i, f) in source.layer.features.iter().enumerate() {
        cancel.check()?;
        let Some(g) = &f.geometry else { continue };
        if !passes(filter, f) {
            continue;
        }
        let Some(area) = g.bounding_rect() else {
            continue;
        };
        let own = mercator_envelope(area);
        let factor = mercator_to_ground_lower_bound(
            area.min().y - max_m / 110_500.0,
            area.max().y + max_m / 110_500.0,
        );
        candidates.clear();
        candidates.extend(
            target
                .index
                .intersecting_with_envelopes(search_box(area, max_m))
                .filter(|(j, _)| target_ok[*j])
                .map(|(j, envelope)| (rect_gap(own, envelope) * factor, j)),
        );
        candidates.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut best: Option<(f64, usize)> = None;
        for &(lower_bound, j) in &candidates {
            if lower_bound > max_m || best.is_some_and(|(d, _)| lower_bound > d) {
                break;
            }
            let Some(tg) = &target.layer.features[j].geometry else {
                continue;
            };
            let d = distance_m(g, tg);
            if d <= max_m && best.is_none_or(|(b, bj)| d < b || (d == b && j < bj)) {
                best = Some((d, j));
            }
            if d == 0.0 {
                break;
            }
        }
        if let Some((d, j)) = best {
            out.push(NearHit {
                index: i,
                target: j,
                distance_m: d,
            });
        }
    }
    out.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then(a.index.cmp(&b.index))
    });
    out.truncate(limit);
    Ok(out)
}

/// The gap between two boxes (0 when they meet), in their units.
fn rect_gap(a: Rect<f64>, b: Rect<f64>) -> f64 {
    let dx = (b.min().x - a.max().x).max(a.min().x - b.max().x).max(0.0);
    let dy = (b.min().y - a.max().y).max(a.min().y - b.max().y).max(0.0);
    dx.hypot(dy)
}

fn sort_hits(hits: &mut [Hit]) {
    hits.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then(a.index.cmp(&b.index))
    });
}

/// Metres with a total order, for the heap.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrderedM(f64);

impl Eq for OrderedM {}

impl PartialOrd for OrderedM {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedM {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
