//! Spatial index over a layer's feature envelopes (EPSG:3857 metres), bulk-loaded into an `rstar` R-tree.
//!
//! The index only proposes candidates whose envelope meets a box; exact geometry decides.
//! Features without geometry are not indexed.

use geo::{BoundingRect, Rect};

use crate::data::Layer;
use crate::mercator::lonlat_to_mercator;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// An R-tree of feature envelopes, each carrying the feature's position in its layer.
#[derive(Debug, Default)]
pub struct SpatialIndex {
    tree: RTree<Entry>,
}

impl SpatialIndex {
    /// Indexes the features of a layer by their EPSG:3857 envelopes. (Web Mercator maps
    /// longitude and latitude each monotonically, so the projected lon/lat box is the exact
    /// envelope of the projected geometry.)
    #[must_use]
    pub fn of_layer(layer: &Layer) -> Self {
        Self::bulk_load_sparse(layer.features.iter().enumerate().filter_map(|(i, f)| {
            Some((i, mercator_envelope(f.geometry.as_ref()?.bounding_rect()?)))
        }))
    }

    /// Bulk-loads envelopes given in layer order (position `i` is feature `i`).
    #[must_use]
    pub fn bulk_load(envelopes: impl IntoIterator<Item = Rect<f64>>) -> Self {
        Self::bulk_load_sparse(envelopes.into_iter().enumerate())
    }

    /// Bulk-loads `(position, envelope)` pairs.
    #[must_use]
    pub fn bulk_load_sparse(envelopes: impl IntoIterator<Item = (usize, Rect<f64>)>) -> Self {
        let entries = envelopes
            .into_iter()
            .map(|(i, r)| {
                let rect = Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
                GeomWithData::new(rect, i)
            })
            .collect();
        Self {
            tree: RTree::bulk_load(entries),
        }
    }

    /// Positions of the features whose envelope intersects `area`, in no particular order.
    ///
    /// ```
    /// use geo::Rect;
    /// use terril::index::SpatialIndex;
    /// let index = SpatialIndex::bulk_load([
    ///     Rect::new((0.0, 0.0), (10.0, 10.0)),
    ///     Rect::new((20.0, 20.0), (30.0, 30.0)),
    /// ]);
    /// let hits: Vec<usize> = index.intersecting(Rect::new((5.0, 5.0), (6.0, 6.0))).collect();
    /// assert_eq!(hits, vec![0]);
    /// ```
    pub fn intersecting(&self, area: Rect<f64>) -> impl Iterator<Item = usize> + '_ {
        let aabb = AABB::from_corners([area.min().x, area.min().y], [area.max().x, area.max().y]);
        self.tree
            .locate_in_envelope_intersecting(&aabb)
            .map(|entry| entry.data)
    }

    /// Like [`SpatialIndex::intersecting`], with each feature's envelope.
    pub fn intersecting_with_envelopes(
        &self,
        area: Rect<f64>,
    ) -> impl Iterator<Item = (usize, Rect<f64>)> + '_ {
        let aabb = AABB::from_corners([area.min().x, area.min().y], [area.max().x, area.max().y]);
        self.tree
            .locate_in_envelope_intersecting(&aabb)
            .map(|entry| {
                let (lo, hi) = (entry.geom().lower(), entry.geom().upper());
                (entry.data, Rect::new((lo[0], lo[1]), (hi[0], hi[1])))
            })
    }

    /// Positions of all features by increasing distance from `point` to their envelope, with
    /// that distance (EPSG:3857 metres; 0 inside the envelope). Lazy: stop when you have enough.
    ///
    /// ```
    /// use geo::Rect;
    /// use terril::index::SpatialIndex;
    /// let index = SpatialIndex::bulk_load([
    ///     Rect::new((0.0, 0.0), (1.0, 1.0)),
    ///     Rect::new((10.0, 0.0), (11.0, 1.0)),
    /// ]);
    /// let order: Vec<(usize, f64)> = index.nearest([9.0, 0.5]).collect();
    /// assert_eq!(order, vec![(1, 1.0), (0, 8.0)]);
    /// ```
    pub fn nearest(&self, point: [f64; 2]) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.tree
            .nearest_neighbor_iter_with_distance_2(&point)
            .map(|(entry, d2)| (entry.data, d2.sqrt()))
    }

    /// Number of indexed envelopes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tree.size()
    }

    /// Whether the index is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }
}

/// The EPSG:3857 envelope of a lon/lat box.
#[must_use]
pub fn mercator_envelope(lonlat: Rect<f64>) -> Rect<f64> {
    let (x0, y0) = lonlat_to_mercator(lonlat.min().x, lonlat.min().y);
    let (x1, y1) = lonlat_to_mercator(lonlat.max().x, lonlat.max().y);
    Rect::new((x0, y0), (x1, y1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index agrees with a brute-force scan on a fixed pseudo-random set of boxes.
    #[test]
    fn matches_brute_force() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 10_000) as f64
        };
        let boxes: Vec<Rect<f64>> = (0..500)
            .map(|_| {
                let (x, y, w, h) = (next(), next(), next() / 50.0, next() / 50.0);
                Rect::new((x, y), (x + w, y + h))
            })
            .collect();
        let index = SpatialIndex::bulk_load(boxes.clone());
        assert_eq!(index.len(), 500);
        for _ in 0..100 {
            let (x, y, w, h) = (next(), next(), next() / 10.0, next() / 10.0);
            let q = Rect::new((x, y), (x + w, y + h));
            let mut got: Vec<usize> = index.intersecting(q).collect();
            got.sort_unstable();
            let want: Vec<usize> = boxes
                .iter()
                .enumerate()
                .filter(|(_, b)| {
                    b.min().x <= q.max().x
                        && b.max().x >= q.min().x
                        && b.min().y <= q.max().y
                        && b.max().y >= q.min().y
                })
                .map(|(i, _)| i)
                .collect();
            assert_eq!(got, want);
        }
    }
}
