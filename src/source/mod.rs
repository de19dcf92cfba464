//! The `Source` seam: every layer is a [`LayerSource`] whose backend answers tiles, items and
//! queries — in memory (GeoJSON + R-tree), PostgreSQL/PostGIS, or a tile archive. Tiles,
//! OGC API – Features, the `/query/*` routes, TileJSON and `/catalog` talk to a
//! [`LayerSource`] and its [`LayerInfo`] and never learn which backend answered.
//!
//! The backends are a closed `enum`, not a trait object: the set is known when the binary is
//! built, every operation is matched exhaustively (adding a backend makes the compiler list
//! what it must answer), the async PostGIS calls need no boxing, and a backend that cannot
//! answer something (an archive has no features) says so in one place.
//!
//! CPU work of the in-memory backend runs on the [`CpuPool`]; PostGIS work runs in the
//! database; both stop when the request's [`Cancel`] token is set.

pub mod memory;

use std::sync::Arc;

use geo::Rect;
use serde_json::{Value, json};

use crate::cancel::Cancel;
use crate::crs::Crs;
use crate::data::config::Generalize;
use crate::data::{DataFolder, FieldType, LayerConfig, LayerKind, LoadError, union_bounds};
use crate::filter::{Filter, Schema};
use crate::mercator::TileCoord;
use crate::pool::{CpuPool, PoolError};
use crate::query::{self, MAX_DISTANCE_M};
use crate::tile::{LayerTile, render_layer};
pub use memory::MemoryLayer;

/// What a layer publishes about itself, whatever its backend.
#[derive(Debug, Clone)]
pub struct LayerInfo {
    /// The catalog entry.
    pub config: LayerConfig,
    /// Where its features come from.
    pub kind: LayerKind,
    /// GeoJSON geometry type names present.
    pub geometry_types: Vec<String>,
    /// Number of features (an estimate for large database tables).
    pub count: Option<u64>,
    /// Features without geometry.
    pub unlocated: u64,
    /// West, south, east, north in degrees.
    pub bounds: Option<[f64; 4]>,
    /// Every property and its type (the queryables of items).
    pub fields: Vec<(String, FieldType)>,
    /// Fields written into the layer's tiles.
    pub tile_fields: Vec<(String, FieldType)>,
    /// Fields of the `{id}_labels` point layer, when it has one.
    pub label_fields: Option<Vec<(String, FieldType)>>,
    /// Whether items and queries can be answered (archives hold only tiles).
    pub queryable: bool,
}

impl LayerInfo {
    /// The layer id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// The `vector_layers` entries of this layer, as TileJSON and archive metadata list them:
    /// one for the features and one for the label points when there are any.
    #[must_use]
    pub fn vector_layers(&self) -> Vec<Value> {
        let fields = |list: &[(String, FieldType)]| -> serde_json::Map<String, Value> {
            list.iter()
                .map(|(k, t)| (k.clone(), json!(t.tilejson_name())))
                .collect()
        };
        let mut entry = json!({
            "id": self.id(),
            "description": self.config.description,
            "minzoom": self.config.minzoom,
            "maxzoom": self.config.maxzoom,
            "fields": fields(&self.tile_fields),
        });
        if let Some(g) = &self.config.generalize {
            entry["generalization"] = generalization(g, self.config.minzoom);
        }
        let mut out = vec![entry];
        if let Some(label_fields) = &self.label_fields {
            out.push(json!({
                "id": self.config.label_layer_name(),
                "description": format!("One label point inside each feature of {}", self.id()),
                "minzoom": self.config.minzoom,
                "maxzoom": self.config.maxzoom,
                "fields": fields(label_fields),
            }));
        }
        out
    }
}

/// How a layer is generalized, as TileJSON and `/catalog` describe it.
#[must_use]
pub fn generalization(g: &Generalize, minzoom: u8) -> Value {
    json!({
        "zooms": [minzoom, g.full_from.saturating_sub(1)],
        "complete_from_zoom": g.full_from,
        "max_features_per_tile": g.max_features,
        "max_tile_bytes": g.max_tile_bytes(),
        "keeps": "the largest features (area for polygons, length for lines), then file order",
    })
}

/// The backend of a layer.
#[derive(Debug)]
pub enum Backend {
    /// A GeoJSON file held in memory.
    Memory(MemoryLayer),
}

/// A layer and the backend that answers for it.
#[derive(Debug)]
pub struct LayerSource {
    /// Its public description.
    pub info: LayerInfo,
    /// Its queryables, for filters.
    pub schema: Schema,
    /// Its backend.
    pub backend: Backend,
}

/// Why a source could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The CPU pool (or the database pool) is full.
    #[error("the server is busy; try again shortly")]
    Overloaded,
    /// The request was cancelled or timed out and its work stopped.
    #[error("the request took too long and its work was stopped")]
    Cancelled,
    /// The backend is down for now (a database that does not answer).
    #[error("layer {layer:?} is unavailable for now: {reason}")]
    Unavailable {
        /// The layer.
        layer: String,
        /// Why, for the client.
        reason: String,
    },
    /// The layer has tiles only.
    #[error("layer {0:?} is a tile archive: it has tiles but no features to query")]
    NotQueryable(String),
    /// A parameter does not fit this layer.
    #[error("{0}")]
    BadRequest(String),
    /// A fault of the server (logged; the client sees a generic message).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<PoolError> for SourceError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Overloaded => Self::Overloaded,
            PoolError::Cancelled => Self::Cancelled,
            PoolError::Panicked => Self::Internal("a worker panicked".into()),
        }
    }
}

/// What a request brings to a source: the CPU pool and its cancellation token.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The CPU pool.
    pub pool: CpuPool,
    /// The request's token.
    pub cancel: Cancel,
}

/// A feature as GeoJSON parts, ready to be written into a response.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureOut {
    /// The feature id.
    pub id: String,
    /// The geometry as GeoJSON text (`null` for none).
    pub geometry: String,
    /// The properties as a JSON object.
    pub properties: String,
}

impl FeatureOut {
    /// Writes the GeoJSON Feature, with `extra` properties appended and `top` members added
    /// beside `properties`.
    pub fn write_json(&self, out: &mut String, extra: &[(&str, Value)], top: &[(&str, Value)]) {
        out.push_str("{\"type\":\"Feature\",\"id\":");
        out.push_str(&Value::String(self.id.clone()).to_string());
        out.push_str(",\"geometry\":");
        out.push_str(&self.geometry);
        out.push_str(",\"properties\":");
        let props = self.properties.trim_end();
        if extra.is_empty() {
            out.push_str(props);
        } else {
            let open = props.strip_suffix('}').unwrap_or("{");
            out.push_str(open);
            let mut first = open.trim_end() == "{";
            for (k, v) in extra {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&Value::String((*k).to_owned()).to_string());
                out.push(':');
                out.push_str(&v.to_string());
            }
            out.push('}');
        }
        for (k, v) in top {
            out.push(',');
            out.push_str(&Value::String((*k).to_owned()).to_string());
            out.push(':');
            out.push_str(&v.to_string());
        }
        out.push('}');
    }
}

/// A page of items.
#[derive(Debug, Clone)]
pub struct ItemsPage {
    /// Features matching the query, over all pages.
    pub number_matched: u64,
    /// The features of this page.
    pub features: Vec<FeatureOut>,
}

/// What an items request asks for.
#[derive(Debug, Clone)]
pub struct ItemsQuery {
    /// Boxes in lon/lat (two when the request's box crosses the antimeridian).
    pub bbox: Option<[Option<Rect<f64>>; 2]>,
    /// Most features in the page.
    pub limit: usize,
    /// Features to skip.
    pub offset: usize,
    /// Properties to return (all when `None`).
    pub properties: Option<Vec<String>>,
    /// CRS of the geometry returned.
    pub crs: Crs,
}

/// A feature found by a query.
#[derive(Debug, Clone)]
pub struct Found {
    /// The feature.
    pub feature: FeatureOut,
    /// Its ground distance in metres, when the query measures one.
    pub distance_m: Option<f64>,
    /// Its nearest target (id and label) for `near`.
    pub target: Option<(String, Value)>,
}

/// A tile layer to draw, with its filter.
#[derive(Debug, Clone)]
pub struct TileRequest {
    /// The layer.
    pub layer: Arc<LayerSource>,
    /// The filter its features must pass.
    pub filter: Option<Arc<Filter>>,
}

impl LayerSource {
    /// Loads an in-memory layer from its GeoJSON bytes.
    pub fn memory(config: LayerConfig, file: &str, bytes: &[u8]) -> Result<Self, LoadError> {
        let data = crate::data::Layer::from_geojson(config, file, bytes)?;
        Ok(Self::from_memory(MemoryLayer::build(data)))
    }

    /// Wraps a built in-memory layer.
    #[must_use]
    pub fn from_memory(layer: MemoryLayer) -> Self {
        let data = &layer.data;
        let info = LayerInfo {
            config: data.config.clone(),
            kind: LayerKind::File,
            geometry_types: data
                .geometry_types
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            count: Some(data.features.len() as u64),
            unlocated: data.unlocated as u64,
            bounds: data.bounds,
            fields: data.fields.iter().map(|(k, t)| (k.clone(), *t)).collect(),
            tile_fields: layer.tiles.fields.clone(),
            label_fields: layer
                .tiles
                .has_labels()
                .then(|| layer.tiles.label_fields.clone()),
            queryable: true,
        };
        Self {
            schema: Schema::of_layer(data),
            info,
            backend: Backend::Memory(layer),
        }
    }

    /// The layer id.
    #[must_use]
    pub fn id(&self) -> &str {
        self.info.id()
    }

    /// The in-memory layer, if that is the backend.
    #[must_use]
    pub fn as_memory(&self) -> Option<&MemoryLayer> {
        match &self.backend {
            Backend::Memory(m) => Some(m),
        }
    }

    fn queryable(&self) -> Result<(), SourceError> {
        if self.info.queryable {
            Ok(())
        } else {
            Err(SourceError::NotQueryable(self.id().to_owned()))
        }
    }

    /// One page of items.
    pub async fn items(
        self: &Arc<Self>,
        ctx: &Ctx,
        query: ItemsQuery,
        filter: Option<Arc<Filter>>,
    ) -> Result<ItemsPage, SourceError> {
        self.queryable()?;
        match &self.backend {
            Backend::Memory(_) => {
                let me = Arc::clone(self);
                Ok(ctx
                    .pool
                    .run(ctx.cancel.clone(), move |cancel| {
                        let m = me.as_memory().expect("a memory layer");
                        let eval = filter.as_ref().map(|f| f.evaluator());
                        m.items(&query, eval.as_ref(), cancel)
                    })
                    .await?)
            }
        }
    }

    /// The feature with id `id`.
    pub async fn item(
        self: &Arc<Self>,
        _ctx: &Ctx,
        id: &str,
        crs: Crs,
    ) -> Result<Option<FeatureOut>, SourceError> {
        self.queryable()?;
        match &self.backend {
            Backend::Memory(m) => Ok(m.data.position_of(id).map(|i| m.feature_out(i, None, crs))),
        }
    }

    /// Features whose geometry contains the lon/lat point.
    pub async fn at(
        self: &Arc<Self>,
        ctx: &Ctx,
        lon: f64,
        lat: f64,
        crs: Crs,
    ) -> Result<Vec<Found>, SourceError> {
        self.queryable()?;
        match &self.backend {
            Backend::Memory(_) => {
                let me = Arc::clone(self);
                Ok(ctx
                    .pool
                    .run(ctx.cancel.clone(), move |cancel| {
                        let m = me.as_memory().expect("a memory layer");
                        Ok(query::at(m.indexed(), lon, lat, None, cancel)?
                            .into_iter()
                            .map(|i| found(m.feature_out(i, None, crs), None))
                            .collect())
                    })
                    .await?)
            }
        }
    }

    /// Features within `radius_m` of the point, nearest first.
    #[allow(clippy::too_many_arguments)]
    pub async fn within(
        self: &Arc<Self>,
        ctx: &Ctx,
        lon: f64,
        lat: f64,
        radius_m: f64,
        filter: Option<Arc<Filter>>,
        limit: usize,
        crs: Crs,
    ) -> Result<Vec<Found>, SourceError> {
        self.queryable()?;
        match &self.backend {
            Backend::Memory(_) => {
                let me = Arc::clone(self);
                Ok(ctx
                    .pool
                    .run(ctx.cancel.clone(), move |cancel| {
                        let m = me.as_memory().expect("a memory layer");
                        let eval = filter.as_ref().map(|f| f.evaluator());
                        let hits = query::within(
                            m.indexed(),
                            lon,
                            lat,
                            radius_m,
                            eval.as_ref(),
                            limit,
                            cancel,
                        )?;
                        Ok(hits
                            .into_iter()
                            .map(|h| found(m.feature_out(h.index, None, crs), Some(h.distance_m)))
                            .collect())
                    })
                    .await?)
            }
        }
    }

    /// The `k` features nearest to the point.
    #[allow(clippy::too_many_arguments)]
    pub async fn nearest(
        self: &Arc<Self>,
        ctx: &Ctx,
        lon: f64,
        lat: f64,
        k: usize,
        filter: Option<Arc<Filter>>,
        max_distance_m: f64,
        crs: Crs,
    ) -> Result<Vec<Found>, SourceError> {
        self.queryable()?;
        match &self.backend {
            Backend::Memory(_) => {
                let me = Arc::clone(self);
                Ok(ctx
                    .pool
                    .run(ctx.cancel.clone(), move |cancel| {
                        let m = me.as_memory().expect("a memory layer");
                        let eval = filter.as_ref().map(|f| f.evaluator());
                        let hits = query::nearest(
                            m.indexed(),
                            lon,
                            lat,
                            k,
                            eval.as_ref(),
                            max_distance_m,
                            cancel,
                        )?;
                        Ok(hits
                            .into_iter()
                            .map(|h| found(m.feature_out(h.index, None, crs), Some(h.distance_m)))
                            .collect())
                    })
                    .await?)
            }
        }
    }
}

fn found(feature: FeatureOut, distance_m: Option<f64>) -> Found {
    Found {
        feature,
        distance_m,
        target: None,
    }
}

/// Features of `layer` within `distance_m` of a feature of `target`, each with its nearest
/// target, nearest first.
#[allow(clippy::too_many_arguments)]
pub async fn near(
    ctx: &Ctx,
    layer: &Arc<LayerSource>,
    filter: Option<Arc<Filter>>,
    target: &Arc<LayerSource>,
    target_filter: Option<Arc<Filter>>,
    distance_m: f64,
    limit: usize,
    crs: Crs,
) -> Result<Vec<Found>, SourceError> {
    layer.queryable()?;
    target.queryable()?;
    let distance_m = distance_m.min(MAX_DISTANCE_M);
    match (&layer.backend, &target.backend) {
        (Backend::Memory(_), Backend::Memory(_)) => {
            let (me, them) = (Arc::clone(layer), Arc::clone(target));
            Ok(ctx
                .pool
                .run(ctx.cancel.clone(), move |cancel| {
                    let (m, t) = (
                        me.as_memory().expect("a memory layer"),
                        them.as_memory().expect("a memory layer"),
                    );
                    let eval = filter.as_ref().map(|f| f.evaluator());
                    let target_eval = target_filter.as_ref().map(|f| f.evaluator());
                    let hits = query::near(
                        m.indexed(),
                        eval.as_ref(),
                        t.indexed(),
                        target_eval.as_ref(),
                        distance_m,
                        limit,
                        cancel,
                    )?;
                    let label = t.data.config.label.as_deref().unwrap_or("name");
                    Ok(hits
                        .into_iter()
                        .map(|h| {
                            let tf = &t.data.features[h.target];
                            let name = t
                                .data
                                .property(h.target, label)
                                .map_or(Value::Null, |v| v.to_json());
                            Found {
                                feature: m.feature_out(h.index, None, crs),
                                distance_m: Some(h.distance_m),
                                target: Some((tf.id.to_string(), name)),
                            }
                        })
                        .collect())
                })
                .await?)
        }
    }
}

/// All layers being served, with a version that changes whenever the data changes.
#[derive(Debug)]
pub struct Catalog {
    layers: Vec<Arc<LayerSource>>,
    version: u64,
}

impl Catalog {
    /// A catalog of these layers.
    #[must_use]
    pub fn new(layers: Vec<Arc<LayerSource>>, version: u64) -> Self {
        Self { layers, version }
    }

    /// Loads `catalog.toml` and every layer of a data folder. Nothing is returned unless every
    /// layer loads.
    pub fn load(folder: &DataFolder) -> Result<Self, LoadError> {
        let config = folder.catalog()?;
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(format!("{config:?}").as_bytes());
        let mut layers = Vec::with_capacity(config.layers.len());
        for layer_config in config.layers {
            match layer_config.kind() {
                LayerKind::File => {
                    let file = layer_config.file_name();
                    let bytes = folder.read(&file).map_err(|problem| LoadError {
                        file: file.clone(),
                        feature: None,
                        problem,
                    })?;
                    hasher.update(&bytes);
                    let data = crate::data::Layer::from_geojson(layer_config, &file, &bytes)?;
                    // The text is no longer needed while the layer is indexed and prepared.
                    drop(bytes);
                    if data.clamped > 0 {
                        tracing::warn!(
                            file,
                            clamped = data.clamped,
                            "coordinates a rounding hair past ±180° / ±90° were clamped onto the range"
                        );
                    }
                    layers.push(Arc::new(LayerSource::from_memory(MemoryLayer::build(data))));
                }
                LayerKind::Postgis | LayerKind::Archive => {
                    return Err(LoadError {
                        file: crate::data::folder::CATALOG_FILE.into(),
                        feature: None,
                        problem: format!(
                            "layer {:?}: this kind of layer is not available in this build",
                            layer_config.id
                        ),
                    });
                }
            }
        }
        Ok(Self {
            layers,
            version: hasher.digest(),
        })
    }

    /// Layers in catalog order.
    #[must_use]
    pub fn layers(&self) -> &[Arc<LayerSource>] {
        &self.layers
    }

    /// The layer with this id.
    #[must_use]
    pub fn layer(&self, id: &str) -> Option<&Arc<LayerSource>> {
        self.layers.iter().find(|l| l.id() == id)
    }

    /// A hash of the catalog and every file's bytes: changes whenever the served data does.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Number of features over all layers (as far as known).
    #[must_use]
    pub fn feature_count(&self) -> u64 {
        self.layers.iter().filter_map(|l| l.info.count).sum()
    }

    /// Bounds of all layers together (west, south, east, north, degrees).
    #[must_use]
    pub fn bounds(&self) -> Option<[f64; 4]> {
        union_bounds(self.layers.iter().filter_map(|l| l.info.bounds))
    }

    /// Renders tile `coord` of the requested layers, in their order: the concatenation of
    /// each layer's MVT layers. Empty when no layer has a feature there.
    pub async fn tile(
        &self,
        ctx: &Ctx,
        requests: &[TileRequest],
        coord: TileCoord,
    ) -> Result<Vec<u8>, SourceError> {
        let requests: Vec<TileRequest> = requests
            .iter()
            .filter(|r| r.layer.info.config.shows_at(coord.z))
            .cloned()
            .collect();
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        Ok(ctx
            .pool
            .run(ctx.cancel.clone(), move |cancel| {
                let mut out = Vec::new();
                let mut any = false;
                for r in &requests {
                    match &r.layer.backend {
                        Backend::Memory(m) => {
                            let eval = r.filter.as_ref().map(|f| f.evaluator());
                            any |= render_layer(
                                LayerTile {
                                    layer: &m.data,
                                    tiles: &m.tiles,
                                    index: &m.index,
                                    filter: eval.as_ref(),
                                },
                                coord,
                                cancel,
                                &mut out,
                            )?;
                        }
                    }
                }
                if !any {
                    out.clear();
                }
                Ok(out)
            })
            .await?)
    }
}
