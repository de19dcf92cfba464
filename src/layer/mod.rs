//! Features, layers and the catalog: GeoJSON loaded once, reprojected to EPSG:3857 and indexed.

mod load;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use geo::{Area, BoundingRect, Geometry, InteriorPoint, MapCoords, Point, Rect};
use serde::Serialize;
use serde_json::{Map, Value};

pub use load::{FeatureRef, LoadError, parse_features};

use crate::config::{CatalogConfig, LayerConfig};
use crate::index::SpatialIndex;
use crate::mercator::lonlat_to_mercator;
use crate::tile::simplify::ZoomGeometries;

/// Suffix of the tile layers that carry label points.
pub const LABEL_SUFFIX: &str = "_labels";

/// One feature: its id, properties and geometry in both lon/lat and EPSG:3857.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Stable string id (from GeoJSON `id`, or the position in the file when absent).
    pub id: String,
    /// All properties as read.
    pub properties: Map<String, Value>,
    /// Geometry in WGS84 lon/lat degrees, as read.
    pub lonlat: Geometry<f64>,
    /// Geometry in EPSG:3857 metres.
    pub mercator: Geometry<f64>,
    /// Envelope of [`Feature::mercator`].
    pub envelope: Rect<f64>,
}

impl Feature {
    /// Builds a feature from lon/lat geometry, projecting it once.
    #[must_use]
    pub fn new(id: String, properties: Map<String, Value>, lonlat: Geometry<f64>) -> Self {
        let mercator = lonlat.map_coords(|c| {
            let (x, y) = lonlat_to_mercator(c.x, c.y);
            geo::Coord { x, y }
        });
        let envelope = mercator
            .bounding_rect()
            .expect("loaded geometries are never empty");
        Self {
            id,
            properties,
            lonlat,
            mercator,
            envelope,
        }
    }
}

/// The type of a property across a layer, as published in TileJSON and the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum FieldType {
    /// Whole numbers only.
    Integer,
    /// Numbers, some with a fraction.
    Number,
    /// Text.
    String,
    /// true/false.
    Boolean,
    /// Arrays, objects or values of several types (written to tiles as JSON text).
    Mixed,
}

impl FieldType {
    fn of(value: &Value) -> Option<Self> {
        match value {
            Value::Null => None,
            Value::Bool(_) => Some(Self::Boolean),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(Self::Integer),
            Value::Number(_) => Some(Self::Number),
            Value::String(_) => Some(Self::String),
            Value::Array(_) | Value::Object(_) => Some(Self::Mixed),
        }
    }

    fn merge(self, other: Self) -> Self {
        match (self, other) {
            (a, b) if a == b => a,
            (Self::Integer, Self::Number) | (Self::Number, Self::Integer) => Self::Number,
            _ => Self::Mixed,
        }
    }

    /// The TileJSON name: `Number`, `String` or `Boolean`.
    #[must_use]
    pub fn tilejson_name(self) -> &'static str {
        match self {
            Self::Integer | Self::Number => "Number",
            Self::Boolean => "Boolean",
            Self::String | Self::Mixed => "String",
        }
    }

    /// The lower-case name used in summaries: `integer`, `number`, `string`, `boolean`, `mixed`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Number => "number",
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Mixed => "mixed",
        }
    }
}

/// The GeoJSON name of a geometry's type.
#[must_use]
pub fn geometry_type_name(geometry: &Geometry<f64>) -> &'static str {
    match geometry {
        Geometry::Point(_) => "Point",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::LineString(_) | Geometry::Line(_) => "LineString",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "Polygon",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
    }
}

/// A loaded layer: its features, index, per-zoom simplified geometry and a summary.
#[derive(Debug)]
pub struct Layer {
    /// The catalog entry.
    pub config: LayerConfig,
    /// Features in file order.
    pub features: Vec<Feature>,
    /// R-tree of the features' EPSG:3857 envelopes.
    pub index: SpatialIndex,
    /// Property names and their types, over all features.
    pub fields: BTreeMap<String, FieldType>,
    /// GeoJSON geometry type names present.
    pub geometry_types: BTreeSet<&'static str>,
    /// West, south, east, north in degrees; `None` for an empty layer.
    pub bounds: Option<[f64; 4]>,
    /// Numeric MVT feature ids, one per feature.
    pub tile_ids: Vec<u64>,
    /// Whether the MVT ids are the GeoJSON ids themselves (all numeric, like INSEE codes). When
    /// not, tiles also carry each feature's string id as the property `id`.
    pub ids_are_numeric: bool,
    /// Geometry simplified for each zoom, in EPSG:3857.
    pub zooms: ZoomGeometries,
    /// For a layer with a `label` property and polygons: one point inside each polygonal
    /// feature (EPSG:3857), served in tiles as the point layer `{id}_labels`, so that a map
    /// writes each name once rather than once per tile the polygon crosses.
    pub label_points: Option<Vec<Option<Point<f64>>>>,
}

impl Layer {
    /// Builds a layer from its catalog entry and parsed features.
    #[must_use]
    pub fn new(config: LayerConfig, features: Vec<Feature>) -> Self {
        let mut fields = BTreeMap::new();
        let mut geometry_types = BTreeSet::new();
        let mut bounds: Option<[f64; 4]> = None;
        for feature in &features {
            for (key, value) in &feature.properties {
                if let Some(t) = FieldType::of(value) {
                    fields
                        .entry(key.clone())
                        .and_modify(|old: &mut FieldType| *old = old.merge(t))
                        .or_insert(t);
                }
            }
            geometry_types.insert(geometry_type_name(&feature.lonlat));
            if let Some(r) = feature.lonlat.bounding_rect() {
                let b = bounds.get_or_insert([r.min().x, r.min().y, r.max().x, r.max().y]);
                *b = [
                    b[0].min(r.min().x),
                    b[1].min(r.min().y),
                    b[2].max(r.max().x),
                    b[3].max(r.max().y),
                ];
            }
        }
        // MVT ids are integers: use the GeoJSON ids when they all are, else the 1-based position.
        let numeric: Option<Vec<u64>> = features
            .iter()
            .map(|f| f.id.parse().ok().filter(|n: &u64| n.to_string() == f.id))
            .collect();
        let ids_are_numeric = numeric.is_some();
        let tile_ids = numeric.unwrap_or_else(|| (1..=features.len() as u64).collect());
        let index = SpatialIndex::bulk_load(features.iter().map(|f| f.envelope));
        let zooms = ZoomGeometries::build(&features, config.minzoom, config.maxzoom);
        let polygonal =
            |g: &Geometry<f64>| matches!(g, Geometry::Polygon(_) | Geometry::MultiPolygon(_));
        let label_points = (config.label.is_some()
            && features.iter().any(|f| polygonal(&f.mercator)))
        .then(|| {
            features
                .iter()
                .map(|f| match &f.mercator {
                    // The largest part of a multipolygon carries the label.
                    Geometry::MultiPolygon(mp) => mp
                        .iter()
                        .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))
                        .and_then(InteriorPoint::interior_point),
                    Geometry::Polygon(p) => p.interior_point(),
                    _ => None,
                })
                .collect()
        });
        Self {
            config,
            features,
            index,
            fields,
            geometry_types,
            bounds,
            tile_ids,
            ids_are_numeric,
            zooms,
            label_points,
        }
    }

    /// The layer id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// The name of the tile layer that holds this layer's label points.
    #[must_use]
    pub fn label_layer_name(&self) -> String {
        format!("{}{LABEL_SUFFIX}", self.config.id)
    }

    /// Whether property `key` is written into tiles.
    #[must_use]
    pub fn keeps_in_tiles(&self, key: &str) -> bool {
        self.config
            .properties
            .as_ref()
            .is_none_or(|kept| kept.iter().any(|k| k == key))
    }

    /// The fields written into tiles, with their types.
    pub fn tile_fields(&self) -> impl Iterator<Item = (&String, &FieldType)> {
        self.fields.iter().filter(|(k, _)| self.keeps_in_tiles(k))
    }
}

/// All layers being served, with a version that changes whenever the data changes.
#[derive(Debug)]
pub struct Catalog {
    layers: Vec<Arc<Layer>>,
    version: u64,
}

impl Catalog {
    /// Loads `catalog.toml` and every layer file from a folder.
    pub fn load_dir(dir: &Path) -> Result<Self, LoadError> {
        let catalog_path = dir.join("catalog.toml");
        let config = CatalogConfig::read(&catalog_path).map_err(|e| LoadError {
            file: catalog_path.display().to_string(),
            feature: None,
            problem: e.to_string(),
        })?;
        Self::from_config(config, |name| {
            std::fs::read(dir.join(name))
                .map_err(|e| format!("cannot read {}: {e}", dir.join(name).display()))
        })
    }

    /// Loads the layers of a parsed catalog, reading each file through `read`.
    ///
    /// Nothing is returned unless every layer loads.
    pub fn from_config(
        config: CatalogConfig,
        mut read: impl FnMut(&str) -> Result<Vec<u8>, String>,
    ) -> Result<Self, LoadError> {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let mut layers = Vec::with_capacity(config.layers.len());
        for layer_config in config.layers {
            let file = layer_config.file_name();
            let bytes = read(&file).map_err(|problem| LoadError {
                file: file.clone(),
                feature: None,
                problem,
            })?;
            hasher.update(format!("{layer_config:?}").as_bytes());
            hasher.update(&bytes);
            let features = parse_features(&file, &bytes)?;
            layers.push(Arc::new(Layer::new(layer_config, features)));
        }
        Ok(Self {
            layers,
            version: hasher.digest(),
        })
    }

    /// Layers in catalog order.
    #[must_use]
    pub fn layers(&self) -> &[Arc<Layer>] {
        &self.layers
    }

    /// The layer with this id.
    #[must_use]
    pub fn layer(&self, id: &str) -> Option<&Arc<Layer>> {
        self.layers.iter().find(|l| l.id() == id)
    }

    /// A hash of the catalog and every file's bytes: changes whenever the served data does.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Number of features over all layers.
    #[must_use]
    pub fn feature_count(&self) -> usize {
        self.layers.iter().map(|l| l.features.len()).sum()
    }

    /// Bounds of all layers together (west, south, east, north, degrees).
    #[must_use]
    pub fn bounds(&self) -> Option<[f64; 4]> {
        union_bounds(self.layers.iter().filter_map(|l| l.bounds))
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

/// Where the served data comes from, so that it can be loaded again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// A folder with `catalog.toml` and the GeoJSON files it names.
    Dir(std::path::PathBuf),
    /// The data built into the binary (never changes).
    Embedded,
}

impl DataSource {
    /// Loads every layer; nothing is returned unless all load.
    pub fn load(&self) -> Result<Catalog, LoadError> {
        match self {
            Self::Dir(dir) => Catalog::load_dir(dir),
            Self::Embedded => crate::embedded::catalog(),
        }
    }

    /// A cheap fingerprint of the files (names, sizes, modification times) that changes
    /// when any of them does; `None` for the built-in data.
    #[must_use]
    pub fn fingerprint(&self) -> Option<u64> {
        let Self::Dir(dir) = self else {
            return None;
        };
        let mut entries: Vec<(String, u64, u128)> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let meta = e.metadata().ok()?;
                let modified = meta
                    .modified()
                    .ok()?
                    .duration_since(std::time::UNIX_EPOCH)
                    .ok()?
                    .as_nanos();
                Some((name, meta.len(), modified))
            })
            .collect();
        entries.sort();
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for (name, len, modified) in entries {
            hasher.update(name.as_bytes());
            hasher.update(&len.to_le_bytes());
            hasher.update(&modified.to_le_bytes());
        }
        Some(hasher.digest())
    }
}
