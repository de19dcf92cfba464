//! The in-memory source: a GeoJSON layer with its R-tree and its tile side, answering tiles,
//! items and queries on the CPU pool.

use geo::{BoundingRect, Geometry, Intersects, Rect};
use serde::Serialize;
use serde::ser::SerializeMap;

use super::{FeatureOut, ItemsPage, ItemsQuery};
use crate::cancel::{Cancel, Cancelled};
use crate::crs::Crs;
use crate::data::{Feature, Layer};
use crate::filter::Evaluator;
use crate::index::{SpatialIndex, mercator_envelope};
use crate::query::Indexed;
use crate::tile::TileLayer;

/// A loaded layer, indexed and prepared for tiles.
#[derive(Debug)]
pub struct MemoryLayer {
    /// The features.
    pub data: Layer,
    /// Their R-tree (EPSG:3857 envelopes).
    pub index: SpatialIndex,
    /// Their tile side.
    pub tiles: TileLayer,
}

impl MemoryLayer {
    /// Indexes a layer and prepares it for tiles.
    #[must_use]
    pub fn build(data: Layer) -> Self {
        let index = SpatialIndex::of_layer(&data);
        let tiles = TileLayer::build(&data);
        Self { data, index, tiles }
    }

    /// The layer with its index, for the query functions.
    #[must_use]
    pub fn indexed(&self) -> Indexed<'_> {
        Indexed {
            layer: &self.data,
            index: &self.index,
        }
    }

    /// Feature `i` as GeoJSON parts, with only the `select`ed properties when given.
    #[must_use]
    pub fn feature_out(&self, i: usize, select: Option<&[String]>, crs: Crs) -> FeatureOut {
        let f = &self.data.features[i];
        let properties = serde_json::to_string(&Properties {
            layer: &self.data,
            feature: f,
            select,
        })
        .unwrap_or_else(|_| "{}".into());
        FeatureOut {
            id: f.id.to_string(),
            geometry: geometry_json(f.geometry.as_ref(), crs),
            properties,
        }
    }

    /// One page of items.
    pub fn items(
        &self,
        query: &ItemsQuery,
        filter: Option<&Evaluator<'_>>,
        cancel: &Cancel,
    ) -> Result<ItemsPage, Cancelled> {
        let layer = &self.data;
        let candidates: Vec<usize> = match query.bbox {
            // Boxes in lon/lat; one across the antimeridian is two.
            Some(boxes) => {
                let mut hits: Vec<usize> = boxes
                    .iter()
                    .flatten()
                    .flat_map(|b| self.index.intersecting(mercator_envelope(*b)))
                    .collect();
                hits.sort_unstable();
                hits.dedup();
                hits
            }
            None => (0..layer.features.len()).collect(),
        };
        let mut matched = Vec::new();
        for (n, i) in candidates.into_iter().enumerate() {
            if n.is_multiple_of(256) {
                cancel.check()?;
            }
            let f = &layer.features[i];
            let in_box = query.bbox.is_none_or(|boxes| {
                f.geometry
                    .as_ref()
                    .is_some_and(|g| boxes.iter().flatten().any(|b| box_meets(g, *b)))
            });
            if in_box && filter.is_none_or(|e| e.matches(f)) {
                matched.push(i);
            }
        }
        let features = matched
            .iter()
            .skip(query.offset)
            .take(query.limit)
            .map(|&i| self.feature_out(i, query.properties.as_deref(), query.crs))
            .collect();
        Ok(ItemsPage {
            number_matched: matched.len() as u64,
            features,
        })
    }
}

fn box_meets(g: &Geometry<f64>, b: Rect<f64>) -> bool {
    g.bounding_rect().is_some_and(|r| r.intersects(&b)) && g.intersects(&b)
}

/// A geometry as GeoJSON text in `crs` (`null` for none).
#[must_use]
pub fn geometry_json(geometry: Option<&Geometry<f64>>, crs: Crs) -> String {
    match geometry {
        None => "null".into(),
        Some(g) => {
            let g = crs.from_lonlat(g);
            serde_json::to_string(&geojson::Geometry::new(geojson::GeometryValue::from(&g)))
                .unwrap_or_else(|_| "null".into())
        }
    }
}

/// A feature's properties serialized with their names.
struct Properties<'a> {
    layer: &'a Layer,
    feature: &'a Feature,
    select: Option<&'a [String]>,
}

impl Serialize for Properties<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match self.select {
            None => {
                for (k, v) in self.feature.properties.iter() {
                    map.serialize_entry(self.layer.key_name(*k), v)?;
                }
            }
            Some(keys) => {
                for name in keys {
                    if let Some(v) = self.layer.key(name).and_then(|k| self.feature.get(k)) {
                        map.serialize_entry(name, v)?;
                    }
                }
            }
        }
        map.end()
    }
}
