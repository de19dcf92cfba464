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

pub mod archive;
pub mod memory;
pub mod postgis;

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
use crate::tile::{LayerTile, render_features, render_layer, tile_work};
pub use archive::Archive;
pub use memory::MemoryLayer;
use postgis::{Database, PgLayer};

/// The most work (vertices of the features a tile meets) a tile may take to be drawn on the
/// request's own thread rather than on a CPU worker: about 50 µs of drawing.
pub const INLINE_TILE_WORK: usize = 2_000;

/// Most features a layer of another backend may bring to a `near` query.
pub const MAX_JOINED_FEATURES: usize = 200_000;

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
    /// The `vector_layers` an archive's metadata lists (its tiles are served as stored).
    pub archive_layers: Option<Vec<Value>>,
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
        if let Some(layers) = &self.archive_layers {
            return layers.clone();
        }
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
#[expect(
    clippy::large_enum_variant,
    reason = "one per layer, held behind an Arc: boxing would only add an indirection"
)]
pub enum Backend {
    /// A GeoJSON file held in memory.
    Memory(MemoryLayer),
    /// A PostGIS table or view.
    Postgis(PgLayer),
    /// A PMTiles or MBTiles archive: tiles only.
    Archive(Archive),
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
            archive_layers: None,
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

    /// Wraps an introspected PostGIS layer.
    #[must_use]
    pub fn from_postgis(layer: PgLayer, found: postgis::Introspected, config: LayerConfig) -> Self {
        let info = LayerInfo {
            config,
            kind: LayerKind::Postgis,
            geometry_types: found.geometry_types,
            count: found.count,
            unlocated: 0,
            bounds: found.bounds,
            fields: layer.fields(),
            tile_fields: layer.tile_fields(),
            label_fields: layer.label_fields(),
            queryable: true,
            archive_layers: None,
        };
        Self {
            schema: layer.schema(),
            info,
            backend: Backend::Postgis(layer),
        }
    }

    /// Wraps an open archive; the catalog entry's empty title, description and credit are
    /// filled from the archive's metadata, and its zooms are the archive's.
    #[must_use]
    pub fn from_archive(archive: Archive, mut config: LayerConfig) -> Self {
        let meta = &archive.meta;
        if config.title.is_empty() {
            config.title = meta.name.clone().unwrap_or_else(|| config.id.clone());
        }
        if config.description.is_empty() {
            config.description = meta
                .description
                .clone()
                .unwrap_or_else(|| format!("Tiles of the archive {}", archive.location));
        }
        if config.attribution.is_empty() {
            config.attribution = meta.attribution.clone().unwrap_or_default();
        }
        config.minzoom = meta.minzoom;
        config.maxzoom = meta.maxzoom;
        let info = LayerInfo {
            config,
            kind: LayerKind::Archive,
            geometry_types: Vec::new(),
            count: None,
            unlocated: 0,
            bounds: meta.bounds,
            fields: Vec::new(),
            tile_fields: Vec::new(),
            label_fields: None,
            queryable: false,
            archive_layers: Some(meta.vector_layers.clone()),
        };
        Self {
            schema: Schema::default(),
            info,
            backend: Backend::Archive(archive),
        }
    }

    /// The archive, if that is the backend.
    #[must_use]
    pub fn as_archive(&self) -> Option<&Archive> {
        match &self.backend {
            Backend::Archive(a) => Some(a),
            _ => None,
        }
    }

    /// The in-memory layer, if that is the backend.
    #[must_use]
    pub fn as_memory(&self) -> Option<&MemoryLayer> {
        match &self.backend {
            Backend::Memory(m) => Some(m),
            Backend::Postgis(_) | Backend::Archive(_) => None,
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
            Backend::Postgis(pg) => pg.items(&ctx.cancel, &query, filter.as_deref()).await,
            Backend::Archive(_) => Err(SourceError::NotQueryable(self.id().to_owned())),
        }
    }

    /// The feature with id `id`.
    pub async fn item(
        self: &Arc<Self>,
        ctx: &Ctx,
        id: &str,
        crs: Crs,
    ) -> Result<Option<FeatureOut>, SourceError> {
        self.queryable()?;
        match &self.backend {
            Backend::Memory(m) => Ok(m.data.position_of(id).map(|i| m.feature_out(i, None, crs))),
            Backend::Postgis(pg) => pg.item(&ctx.cancel, id, crs).await,
            Backend::Archive(_) => Err(SourceError::NotQueryable(self.id().to_owned())),
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
            Backend::Postgis(pg) => pg.at(&ctx.cancel, lon, lat, crs).await,
            Backend::Archive(_) => Err(SourceError::NotQueryable(self.id().to_owned())),
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
            Backend::Archive(_) => Err(SourceError::NotQueryable(self.id().to_owned())),
            Backend::Postgis(pg) => {
                pg.within(
                    &ctx.cancel,
                    lon,
                    lat,
                    radius_m,
                    filter.as_deref(),
                    limit,
                    crs,
                )
                .await
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
            Backend::Archive(_) => Err(SourceError::NotQueryable(self.id().to_owned())),
            Backend::Postgis(pg) => {
                pg.nearest(
                    &ctx.cancel,
                    lon,
                    lat,
                    k,
                    filter.as_deref(),
                    max_distance_m,
                    crs,
                )
                .await
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
        (Backend::Postgis(a), Backend::Postgis(b)) if Arc::ptr_eq(a.database(), b.database()) => {
            a.near(
                &ctx.cancel,
                filter.as_deref(),
                b,
                target_filter.as_deref(),
                distance_m,
                limit,
                crs,
            )
            .await
        }
        _ => {
            // Layers of a database take part through their features, filtered there.
            let joined = |side: &Arc<LayerSource>, filter: &Option<Arc<Filter>>| {
                let (side, filter, cancel) = (Arc::clone(side), filter.clone(), ctx.cancel.clone());
                async move {
                    match &side.backend {
                        Backend::Memory(_) | Backend::Archive(_) => Ok(None),
                        Backend::Postgis(pg) => pg
                            .all_features(&cancel, filter.as_deref(), MAX_JOINED_FEATURES, crs)
                            .await
                            .map(Some),
                    }
                }
            };
            let from_layer = joined(layer, &filter).await?;
            let from_target = joined(target, &target_filter).await?;
            let (me, them) = (Arc::clone(layer), Arc::clone(target));
            Ok(ctx
                .pool
                .run(ctx.cancel.clone(), move |cancel| {
                    let a = Joined::new(&me, from_layer);
                    let b = Joined::new(&them, from_target);
                    let eval = filter
                        .as_ref()
                        .filter(|_| a.in_memory())
                        .map(|f| f.evaluator());
                    let target_eval = target_filter
                        .as_ref()
                        .filter(|_| b.in_memory())
                        .map(|f| f.evaluator());
                    let hits = query::near(
                        a.indexed(),
                        eval.as_ref(),
                        b.indexed(),
                        target_eval.as_ref(),
                        distance_m,
                        limit,
                        cancel,
                    )?;
                    Ok(hits
                        .into_iter()
                        .map(|h| Found {
                            feature: a.output(h.index, crs),
                            distance_m: Some(h.distance_m),
                            target: Some((b.id(h.target), b.label(h.target))),
                        })
                        .collect())
                })
                .await?)
        }
    }
}

/// One side of a `near` query: an in-memory layer, or a database layer's features brought
/// into a temporary layer (with their output and labels).
#[expect(
    clippy::large_enum_variant,
    reason = "two per query, on the stack of one job"
)]
enum Joined<'a> {
    Memory(&'a MemoryLayer),
    Fetched {
        layer: crate::data::Layer,
        index: crate::index::SpatialIndex,
        out: Vec<(FeatureOut, Value)>,
    },
}

impl<'a> Joined<'a> {
    fn new(source: &'a LayerSource, fetched: Option<Vec<(FeatureOut, Value, String)>>) -> Self {
        match (&source.backend, fetched) {
            (Backend::Memory(m), _) => Self::Memory(m),
            (_, fetched) => {
                let fetched = fetched.unwrap_or_default();
                let mut features = Vec::with_capacity(fetched.len());
                let mut out = Vec::with_capacity(fetched.len());
                for (f, label, geojson) in fetched {
                    let geometry = geojson
                        .parse::<geojson::Geometry>()
                        .ok()
                        .and_then(|g| geo::Geometry::try_from(g).ok());
                    features.push(crate::data::Feature {
                        id: f.id.clone().into_boxed_str(),
                        properties: Box::new([]),
                        geometry,
                    });
                    out.push((f, label));
                }
                let mut by_id: Vec<u32> = (0..features.len() as u32).collect();
                by_id.sort_by(|&x, &y| features[x as usize].id.cmp(&features[y as usize].id));
                let layer = crate::data::Layer::new(
                    source.info.config.clone(),
                    crate::data::geojson::Parsed {
                        features,
                        keys: Vec::new(),
                        by_id,
                        clamped: 0,
                    },
                );
                let index = crate::index::SpatialIndex::of_layer(&layer);
                Self::Fetched { layer, index, out }
            }
        }
    }

    fn in_memory(&self) -> bool {
        matches!(self, Self::Memory(_))
    }

    fn indexed(&self) -> query::Indexed<'_> {
        match self {
            Self::Memory(m) => m.indexed(),
            Self::Fetched { layer, index, .. } => query::Indexed { layer, index },
        }
    }

    fn output(&self, i: usize, crs: Crs) -> FeatureOut {
        match self {
            Self::Memory(m) => m.feature_out(i, None, crs),
            Self::Fetched { out, .. } => out[i].0.clone(),
        }
    }

    fn id(&self, i: usize) -> String {
        match self {
            Self::Memory(m) => m.data.features[i].id.to_string(),
            Self::Fetched { out, .. } => out[i].0.id.clone(),
        }
    }

    fn label(&self, i: usize) -> Value {
        match self {
            Self::Memory(m) => {
                let label = m.data.config.label.as_deref().unwrap_or("name");
                m.data
                    .property(i, label)
                    .map_or(Value::Null, |v| v.to_json())
            }
            Self::Fetched { out, .. } => out[i].1.clone(),
        }
    }
}

/// All layers being served, with a version that changes whenever the data changes.
#[derive(Debug)]
pub struct Catalog {
    layers: Vec<Arc<LayerSource>>,
    version: u64,
    db: Option<Arc<Database>>,
    archives: Vec<String>,
}

/// A layer id for a discovered table: its name made URL-safe, prefixed with its schema when
/// that name is taken.
fn discovered_id(schema: &str, table: &str, taken: impl Fn(&str) -> bool) -> String {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                let c = c.to_ascii_lowercase();
                if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
            .trim_end_matches("_labels")
            .chars()
            .take(56)
            .collect()
    };
    let ok = |id: &str| crate::data::config::check_id(id).is_ok() && !taken(id);
    let plain = safe(table);
    if ok(&plain) {
        return plain;
    }
    let qualified = format!("{}_{}", safe(schema), plain);
    if ok(&qualified) {
        return qualified;
    }
    (2..)
        .map(|n| format!("{qualified}_{n}"))
        .find(|id| ok(id))
        .expect("some id is free")
}

impl Catalog {
    /// A catalog of these layers.
    #[must_use]
    pub fn new(layers: Vec<Arc<LayerSource>>, version: u64) -> Self {
        Self {
            layers,
            version,
            db: None,
            archives: Vec::new(),
        }
    }

    /// Loads `catalog.toml` and every layer of a data folder, and, with a database, the
    /// tables it names and every other geometry table it holds (discovered from
    /// `geometry_columns`). Nothing is returned unless every layer loads. GeoJSON is read
    /// and prepared on blocking threads.
    pub async fn load(folder: &DataFolder, db: Option<&Arc<Database>>) -> Result<Self, LoadError> {
        Self::load_with_archives(folder, db, &[]).await
    }

    /// [`Catalog::load`], then the archives given besides the catalog (paths or URLs), each a
    /// tileset named after its file's stem (`artois.pmtiles` → `artois`); a name that is taken
    /// is refused.
    pub async fn load_with_archives(
        folder: &DataFolder,
        db: Option<&Arc<Database>>,
        archives: &[String],
    ) -> Result<Self, LoadError> {
        let catalog_error = |problem: String| LoadError {
            file: crate::data::folder::CATALOG_FILE.into(),
            feature: None,
            problem,
        };
        let read = folder.clone();
        let config = tokio::task::spawn_blocking(move || read.catalog())
            .await
            .map_err(|e| catalog_error(e.to_string()))??;
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(format!("{config:?}").as_bytes());
        let discover = config.postgis.discover;
        let mut layers: Vec<Arc<LayerSource>> = Vec::with_capacity(config.layers.len());
        let mut tables: Vec<String> = Vec::new();
        for layer_config in config.layers {
            match layer_config.kind() {
                LayerKind::File => {
                    let folder = folder.clone();
                    let (layer, digest) =
                        tokio::task::spawn_blocking(move || Self::load_file(&folder, layer_config))
                            .await
                            .map_err(|e| catalog_error(e.to_string()))??;
                    hasher.update(&digest.to_le_bytes());
                    layers.push(Arc::new(layer));
                }
                LayerKind::Postgis => {
                    let Some(db) = db else {
                        return Err(catalog_error(format!(
                            "layer {:?} names a table, but no database was given (--pg-url or DATABASE_URL)",
                            layer_config.id
                        )));
                    };
                    let (pg, found) = db
                        .layer(layer_config.clone())
                        .await
                        .map_err(|e| catalog_error(format!("layer {:?}: {e}", layer_config.id)))?;
                    tables.push(format!(
                        "{}.{}",
                        postgis::sql::quote_ident(&pg.schema),
                        postgis::sql::quote_ident(&pg.table)
                    ));
                    layers.push(Arc::new(LayerSource::from_postgis(pg, found, layer_config)));
                }
                LayerKind::Archive => {
                    let location = layer_config.archive.clone().unwrap_or_default();
                    let base = match folder {
                        DataFolder::Dir(dir) => Some(dir.as_path()),
                        DataFolder::Embedded => None,
                    };
                    let archive = Archive::open(&location, base)
                        .await
                        .map_err(|e| catalog_error(format!("layer {:?}: {e}", layer_config.id)))?;
                    hasher.update(&archive.digest.to_le_bytes());
                    layers.push(Arc::new(LayerSource::from_archive(archive, layer_config)));
                }
            }
        }
        for location in archives {
            let id = archive::stem(location);
            let problem = |p: String| LoadError {
                file: location.clone(),
                feature: None,
                problem: p,
            };
            crate::data::config::check_id(&id).map_err(|e| {
                problem(format!(
                    "the archive is served as {id:?}, named after its file: {e}"
                ))
            })?;
            if layers.iter().any(|l| l.id() == id) {
                return Err(problem(format!(
                    "the archive would be served as {id:?}, named after its file, but a layer of \
                     that name exists; rename the file or name the archive in catalog.toml \
                     ([[layer]] id = \"…\" archive = \"…\")"
                )));
            }
            let archive = Archive::open(location, None).await.map_err(problem)?;
            hasher.update(&archive.digest.to_le_bytes());
            let mut config = LayerConfig::named(&id);
            config.archive = Some(location.clone());
            layers.push(Arc::new(LayerSource::from_archive(archive, config)));
        }
        if let Some(db) = db {
            let discovered = if discover {
                db.discover().await.map_err(catalog_error)?
            } else {
                Vec::new()
            };
            for (schema, table, column) in discovered {
                let named = layers.iter().any(|l| match &l.backend {
                    Backend::Postgis(pg) => pg.schema == schema && pg.table == table,
                    Backend::Memory(_) | Backend::Archive(_) => false,
                });
                if named {
                    continue;
                }
                let id = discovered_id(&schema, &table, |id| layers.iter().any(|l| l.id() == id));
                let mut config = LayerConfig::named(&id);
                config.table = Some(table.clone());
                config.schema = Some(schema.clone());
                config.geometry_column = Some(column.clone());
                config.title = table.clone();
                config.description = format!("The table {schema}.{table} of {}", db.shown());
                match db.layer(config.clone()).await {
                    Ok((pg, found)) => {
                        tracing::info!(layer = %id, table = %format!("{schema}.{table}"), "table discovered");
                        tables.push(format!(
                            "{}.{}",
                            postgis::sql::quote_ident(&schema),
                            postgis::sql::quote_ident(&table)
                        ));
                        layers.push(Arc::new(LayerSource::from_postgis(pg, found, config)));
                    }
                    Err(e) => {
                        tracing::warn!(table = %format!("{schema}.{table}"), error = %e, "table left out")
                    }
                }
            }
            hasher.update(tables.join(",").as_bytes());
            db.track(tables);
        }
        Ok(Self {
            layers,
            version: hasher.digest(),
            db: db.cloned(),
            archives: archives.to_vec(),
        })
    }

    /// Reads a GeoJSON layer and prepares it; returns it with a digest of its bytes.
    fn load_file(
        folder: &DataFolder,
        layer_config: LayerConfig,
    ) -> Result<(LayerSource, u64), LoadError> {
        let file = layer_config.file_name();
        let bytes = folder.read(&file).map_err(|problem| LoadError {
            file: file.clone(),
            feature: None,
            problem,
        })?;
        let digest = xxhash_rust::xxh3::xxh3_64(&bytes);
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
        Ok((LayerSource::from_memory(MemoryLayer::build(data)), digest))
    }

    /// The database, if layers come from one.
    #[must_use]
    pub fn database(&self) -> Option<&Arc<Database>> {
        self.db.as_ref()
    }

    /// The version of the data served now: [`Catalog::version`], moved on by every edit of a
    /// database table. Tile keys and ETags carry it.
    #[must_use]
    pub fn data_version(&self) -> u64 {
        let generation = self.db.as_ref().map_or(0, |db| db.generation());
        self.version ^ generation.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// The archives given besides the catalog, read again on every reload.
    #[must_use]
    pub fn extra_archives(&self) -> &[String] {
        &self.archives
    }

    /// The layers drawn from features (every layer but the archives, which are tilesets of
    /// their own), in catalog order: the whole-dataset tileset.
    #[must_use]
    pub fn feature_layers(&self) -> Vec<Arc<LayerSource>> {
        self.layers
            .iter()
            .filter(|l| !matches!(l.backend, Backend::Archive(_)))
            .cloned()
            .collect()
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
        // In-memory layers render together on the pool while the databases draw theirs.
        let memory: Vec<(usize, TileRequest)> = requests
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r.layer.backend, Backend::Memory(_)))
            .map(|(i, r)| (i, r.clone()))
            .collect();
        // A tile of a few features without filters costs less to draw than the hand-over to a
        // CPU worker and back: it is drawn here (bounded: at most INLINE_TILE_WORK vertices).
        let inline = memory.iter().all(|(_, r)| r.filter.is_none()) && {
            let mut work = 0;
            for (_, r) in &memory {
                if let Backend::Memory(m) = &r.layer.backend {
                    work += tile_work(&m.tiles, &m.index, coord, INLINE_TILE_WORK);
                }
            }
            work <= INLINE_TILE_WORK
        };
        let rendered = async {
            if memory.is_empty() {
                return Ok(Vec::new());
            }
            let job = move |cancel: &Cancel| {
                let mut parts = Vec::with_capacity(memory.len());
                for (i, r) in &memory {
                    let Backend::Memory(m) = &r.layer.backend else {
                        continue;
                    };
                    let eval = r.filter.as_ref().map(|f| f.evaluator());
                    let mut out = Vec::new();
                    let any = render_layer(
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
                    parts.push((*i, if any { out } else { Vec::new() }));
                }
                Ok(parts)
            };
            if inline {
                return job(&ctx.cancel).map_err(|c| SourceError::from(PoolError::from(c)));
            }
            ctx.pool
                .run(ctx.cancel.clone(), job)
                .await
                .map_err(SourceError::from)
        };
        // Database layers: the database selects the rows and the pool draws them, or the
        // database draws the tile where the layer's generalization cap bites.
        let drawn =
            futures_util::future::join_all(requests.iter().enumerate().filter_map(|(i, r)| {
                if matches!(r.layer.backend, Backend::Memory(_)) {
                    return None;
                }
                Some(async move {
                    let pg = match &r.layer.backend {
                        Backend::Postgis(pg) => pg,
                        Backend::Archive(a) => {
                            if r.filter.is_some() {
                                return Err(SourceError::BadRequest(format!(
                                    "layer {:?} is a tile archive: its tiles are served as \
                                     stored and cannot be filtered",
                                    r.layer.id()
                                )));
                            }
                            return Ok((i, a.tile(coord).await?));
                        }
                        Backend::Memory(_) => return Ok((i, Vec::new())),
                    };
                    let filter = r.filter.as_deref();
                    if pg.drawn_in_database(&ctx.cancel, coord).await {
                        let bytes = pg.tile_in_database(&ctx.cancel, coord, filter).await?;
                        return Ok::<_, SourceError>((i, bytes));
                    }
                    let rows = pg.tile_rows(&ctx.cancel, coord, filter).await?;
                    if rows.is_empty() {
                        return Ok((i, Vec::new()));
                    }
                    // Few vertices: drawn here, as small memory tiles are.
                    let inline = pg.rows_wkb_bytes(&rows) <= INLINE_TILE_WORK * 16;
                    let layer = Arc::clone(&r.layer);
                    let job = move |cancel: &Cancel| {
                        let Backend::Postgis(pg) = &layer.backend else {
                            return Ok(Vec::new());
                        };
                        let features = pg.tile_features(&rows, coord, cancel)?;
                        drop(rows);
                        let mut out = Vec::new();
                        render_features(&features, coord, cancel, &mut out)?;
                        Ok(out)
                    };
                    let bytes = if inline {
                        job(&ctx.cancel).map_err(|c| SourceError::from(PoolError::from(c)))?
                    } else {
                        ctx.pool
                            .run(ctx.cancel.clone(), job)
                            .await
                            .map_err(SourceError::from)?
                    };
                    Ok((i, bytes))
                })
            }));
        let (rendered, drawn) = futures_util::future::join(rendered, drawn).await;
        let mut parts: Vec<Vec<u8>> = vec![Vec::new(); requests.len()];
        for (i, bytes) in rendered? {
            parts[i] = bytes;
        }
        for part in drawn {
            let (i, bytes) = part?;
            parts[i] = bytes;
        }
        Ok(parts.concat())
    }
}
