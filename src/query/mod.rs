//! Spatial queries in ground metres: which features contain a point, lie within a radius,
//! are nearest, or lie near the features of another layer.
//!
//! The R-tree (EPSG:3857 envelopes) proposes candidates; exact geometry and
//! [`distance::distance_m`] (WGS84 geodesic metres) decide.

pub mod distance;
pub mod filter;

use std::collections::BinaryHeap;

use geo::{Geometry, Intersects, Point, Rect};

use crate::layer::{Feature, Layer};
use crate::mercator::lonlat_to_mercator;
use distance::{distance_m, mercator_to_ground_lower_bound, search_box};
use filter::Filter;

/// Largest radius or distance a query may ask for, in metres.
pub const MAX_DISTANCE_M: f64 = 100_000.0;

/// Most neighbours a nearest query may ask for.
pub const MAX_K: usize = 1000;

/// A feature found by a query, with its ground distance when the query measures one.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Position of the feature in its layer.
    pub index: usize,
    /// Ground distance in metres (0 when the geometries meet).
    pub distance_m: f64,
}

fn passes(filter: Option<&Filter>, feature: &Feature) -> bool {
    filter.is_none_or(|f| f.matches(feature))
}

/// Features of `layer` whose geometry contains or touches the lon/lat point.
#[must_use]
pub fn at(layer: &Layer, lon: f64, lat: f64, filter: Option<&Filter>) -> Vec<usize> {
    let point = Point::new(lon, lat);
    let (x, y) = lonlat_to_mercator(lon, lat);
    let mut out: Vec<usize> = layer
        .index
        .intersecting(Rect::new((x, y), (x, y)))
        .filter(|&i| {
            let f = &layer.features[i];
            f.lonlat.intersects(&point) && passes(filter, f)
        })
        .collect();
    out.sort_unstable();
    out
}

/// Features of `layer` within `radius_m` ground metres of the point, nearest first (ties by
/// position), at most `limit`.
#[must_use]
pub fn within(
    layer: &Layer,
    lon: f64,
    lat: f64,
    radius_m: f64,
    filter: Option<&Filter>,
    limit: usize,
) -> Vec<Hit> {
    let point: Geometry<f64> = Point::new(lon, lat).into();
    let area = search_box(Rect::new((lon, lat), (lon, lat)), radius_m);
    let mut hits: Vec<Hit> = layer
        .index
        .intersecting(area)
        .filter_map(|i| {
            let f = &layer.features[i];
            if !passes(filter, f) {
                return None;
            }
            let d = distance_m(&point, &f.lonlat);
            (d <= radius_m).then_some(Hit {
                index: i,
                distance_m: d,
            })
        })
        .collect();
    sort_hits(&mut hits);
    hits.truncate(limit);
    hits
}

/// The `k` features of `layer` nearest to the point (ground metres), nearest first, none
/// farther than `max_distance_m`.
#[must_use]
pub fn nearest(
    layer: &Layer,
    lon: f64,
    lat: f64,
    k: usize,
    filter: Option<&Filter>,
    max_distance_m: f64,
) -> Vec<Hit> {
    if k == 0 {
        return Vec::new();
    }
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
    for (i, envelope_m) in layer.index.nearest([x, y]) {
        let lower_bound = envelope_m * factor;
        if lower_bound > max_distance_m {
            break;
        }
        if best.len() == k && best.peek().is_some_and(|(worst, _)| lower_bound > worst.0) {
            break;
        }
        let f = &layer.features[i];
        if !passes(filter, f) {
            continue;
        }
        let d = distance_m(&point, &f.lonlat);
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
    hits
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

/// Features of `layer` within `distance_m` of any feature of `target`, each with its nearest
/// target; nearest first.
#[must_use]
pub fn near(
    layer: &Layer,
    filter: Option<&Filter>,
    target: &Layer,
    target_filter: Option<&Filter>,
    distance_m_max: f64,
) -> Vec<NearHit> {
    let mut out = Vec::new();
    for (i, f) in layer.features.iter().enumerate() {
        if !passes(filter, f) {
            continue;
        }
        let Some(area) = geo::BoundingRect::bounding_rect(&f.lonlat) else {
            continue;
        };
        let mut best: Option<(f64, usize)> = None;
        let mut candidates: Vec<usize> = target
            .index
            .intersecting(search_box(area, distance_m_max))
            .collect();
        candidates.sort_unstable();
        for j in candidates {
            let t = &target.features[j];
            if !passes(target_filter, t) {
                continue;
            }
            let d = distance_m(&f.lonlat, &t.lonlat);
            if d <= distance_m_max && best.is_none_or(|(b, _)| d < b) {
                best = Some((d, j));
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
    out
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
