//! A loaded GeoJSON layer: its catalog entry, features (WGS84 lon/lat), property names and a
//! summary (fields and their types, geometry types, bounds). Nothing here knows how a layer is
//! drawn or queried.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use geo::BoundingRect;

use super::config::LayerConfig;
use super::feature::{Feature, FieldType, KeyId, PropValue, geometry_type_name};
use super::geojson::{LoadError, Parsed, parse_features};

/// A layer's features with their summary.
#[derive(Debug)]
pub struct Layer {
    /// The catalog entry.
    pub config: LayerConfig,
    /// Features in file order.
    pub features: Vec<Feature>,
    /// Property names; a feature's keys index this table.
    pub keys: Vec<Arc<str>>,
    /// Property names and their types, over all features.
    pub fields: BTreeMap<String, FieldType>,
    /// GeoJSON geometry type names present.
    pub geometry_types: BTreeSet<&'static str>,
    /// West, south, east, north in degrees; `None` when no feature has a geometry.
    pub bounds: Option<[f64; 4]>,
    /// Features without geometry (listed in items, left out of tiles and spatial queries).
    pub unlocated: usize,
    /// Coordinates clamped onto the valid range while loading.
    pub clamped: usize,
    /// Positions of the features sorted by id.
    by_id: Vec<u32>,
}

impl Layer {
    /// Parses a GeoJSON FeatureCollection into a layer; `file` names it in messages.
    pub fn from_geojson(config: LayerConfig, file: &str, bytes: &[u8]) -> Result<Self, LoadError> {
        Ok(Self::new(config, parse_features(file, bytes)?))
    }

    /// Builds a layer from parsed features.
    #[must_use]
    pub fn new(config: LayerConfig, parsed: Parsed) -> Self {
        let Parsed {
            features,
            keys,
            by_id,
            clamped,
        } = parsed;
        let mut types: Vec<Option<FieldType>> = vec![None; keys.len()];
        let mut geometry_types = BTreeSet::new();
        let mut bounds: Option<[f64; 4]> = None;
        let mut unlocated = 0;
        for feature in &features {
            for (key, value) in feature.properties.iter() {
                if let Some(t) = FieldType::of(value) {
                    let slot = &mut types[*key as usize];
                    *slot = Some(slot.map_or(t, |old| old.merge(t)));
                }
            }
            let Some(geometry) = &feature.geometry else {
                unlocated += 1;
                continue;
            };
            geometry_types.insert(geometry_type_name(geometry));
            if let Some(r) = geometry.bounding_rect() {
                let b = bounds.get_or_insert([r.min().x, r.min().y, r.max().x, r.max().y]);
                *b = [
                    b[0].min(r.min().x),
                    b[1].min(r.min().y),
                    b[2].max(r.max().x),
                    b[3].max(r.max().y),
                ];
            }
        }
        let fields = keys
            .iter()
            .zip(types)
            .filter_map(|(k, t)| Some((k.to_string(), t?)))
            .collect();
        Self {
            config,
            features,
            keys,
            fields,
            geometry_types,
            bounds,
            unlocated,
            clamped,
            by_id,
        }
    }

    /// The layer id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// The key of property `name`, if any feature has it.
    #[must_use]
    pub fn key(&self, name: &str) -> Option<KeyId> {
        self.keys
            .iter()
            .position(|k| &**k == name)
            .map(|i| i as KeyId)
    }

    /// The name of key `key`.
    #[must_use]
    pub fn key_name(&self, key: KeyId) -> &str {
        &self.keys[key as usize]
    }

    /// The position of the feature whose id is `id`.
    #[must_use]
    pub fn position_of(&self, id: &str) -> Option<usize> {
        self.by_id
            .binary_search_by(|&i| (*self.features[i as usize].id).cmp(id))
            .ok()
            .map(|at| self.by_id[at] as usize)
    }

    /// Property `name` of feature `i`.
    #[must_use]
    pub fn property(&self, i: usize, name: &str) -> Option<&PropValue> {
        self.features[i].get(self.key(name)?)
    }
}

/// The union of several west/south/east/north boxes.
#[must_use]
pub fn union_bounds(boxes: impl IntoIterator<Item = [f64; 4]>) -> Option<[f64; 4]> {
    boxes.into_iter().reduce(|a, b| {
        [
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[2].max(b[2]),
            a[3].max(b[3]),
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_and_finds_by_id() {
        let text = br#"{"type":"FeatureCollection","features":[
          {"type":"Feature","id":"b","properties":{"n":1,"s":"x"},"geometry":{"type":"Point","coordinates":[2,50]}},
          {"type":"Feature","id":"a","properties":{"n":1.5,"s":null},"geometry":{"type":"Point","coordinates":[3,51]}},
          {"type":"Feature","id":"c","properties":{"d":"2020-01-02"},"geometry":null}]}"#;
        let layer = Layer::from_geojson(LayerConfig::named("t"), "t", text).unwrap();
        assert_eq!(layer.fields["n"], FieldType::Number);
        assert_eq!(layer.fields["s"], FieldType::String);
        assert_eq!(layer.fields["d"], FieldType::Date);
        assert_eq!(layer.bounds, Some([2.0, 50.0, 3.0, 51.0]));
        assert_eq!(layer.unlocated, 1);
        assert_eq!(layer.position_of("a"), Some(1));
        assert_eq!(layer.position_of("c"), Some(2));
        assert_eq!(layer.position_of("z"), None);
        assert_eq!(layer.property(0, "s"), Some(&PropValue::Str("x".into())));
    }
}
