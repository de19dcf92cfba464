//! PostgreSQL/PostGIS layers: tables and views in any SRID (4326, 3857, 2154 …), read through a
//! pool of connections (`tokio-postgres` with `deadpool-postgres`) with prepared statements.
//!
//! - Tiles: the database selects the rows of a tile — a `&&` condition on `ST_TileEnvelope`
//!   transformed to the column's SRID (so the spatial index serves it), features too small
//!   to draw left out by their box, largest boxes first under the layer's generalization cap —
//!   and returns them as WKB; Terril converts them to lon/lat (`proj4rs`, from the SRID's PROJ
//!   definition) and draws them with the in-memory renderer: shared borders simplified once,
//!   clipped, labelled and encoded the same way. Drawing in Rust measured faster than
//!   `ST_AsMVT` on the national communes, and it keeps the database to reading.
//! - Items and queries: CQL2 compiled to SQL with bound parameters ([`sql`]); ground distances
//!   on the WGS84 spheroid (`geography`, `ST_DWithin`, `ST_Distance(…, true)`), nearest by
//!   KNN `<->` checked on the spheroid.
//! - Faults: every query has the request's deadline; a query whose request goes away or
//!   times out is cancelled in PostgreSQL; a pool that is exhausted, or a database that does
//!   not answer, is a 503 with `Retry-After`, never a hang; connections come back by
//!   themselves when the database does.
//! - Edits: a watcher polls the tables' write counters (`pg_stat_user_tables`) every second and
//!   listens on the channel `terril_changes` (see the README for the trigger that notifies
//!   it); a change bumps the data generation, which every tile key and ETag carries.

pub mod sql;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::StreamExt;
use geo::{BoundingRect, Geometry, Rect};
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use super::{FeatureOut, Found, ItemsPage, ItemsQuery, SourceError};
use crate::cancel::{Cancel, Cancelled};
use crate::crs::{Crs, ToLonLat};
use crate::data::feature::{Feature, KeyId, PropValue};
use crate::data::geojson::Parsed;
use crate::data::{FieldType, Layer, LayerConfig};
use crate::filter::{Field, Filter, Schema};
use crate::mercator::TileCoord;
use crate::tile::{EXTENT, MIN_FEATURE_UNITS};
use sql::{Param, SqlWriter, TableSql, quote_ident};

/// How long a request waits for a free connection before it is refused (503 with
/// `Retry-After`): every connection busy that long means the database is saturated.
pub const POOL_WAIT: Duration = Duration::from_secs(2);

/// The channel Terril listens on for change notifications.
pub const CHANNEL: &str = "terril_changes";

/// A PostgreSQL database with its pool and health.
#[derive(Debug)]
pub struct Database {
    pool: Pool,
    config: tokio_postgres::Config,
    shown: String,
    up: AtomicBool,
    generation: AtomicU64,
    last_error: Mutex<Option<String>>,
    statement_timeout: Duration,
    /// The served tables (`"schema"."table"`), whose edits the watcher looks for.
    tables: Mutex<Vec<String>>,
    watching: AtomicBool,
}

/// A column of a table, as published.
#[derive(Debug, Clone)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type in the catalog and for filters.
    pub field_type: FieldType,
    /// Whether its values are written as text (arrays, JSON, and types without a JSON form).
    pub as_text: bool,
}

/// A table or view served as a layer.
#[derive(Debug)]
pub struct PgLayer {
    db: Arc<Database>,
    /// `"schema"."table"`.
    qualified: String,
    /// The schema and table, for messages and change tracking.
    pub schema: String,
    /// The table.
    pub table: String,
    geometry_column: String,
    geography: bool,
    /// The geometry column's SRID.
    pub srid: i32,
    id: Option<String>,
    id_is_integer: bool,
    columns: Vec<Column>,
    tile_columns: Vec<usize>,
    label: Option<usize>,
    polygonal: bool,
    /// Whether rows may hold points (which have no size to filter on).
    may_hold_points: bool,
    /// Whether rows may hold lines (which are left out of tiles they are too small for).
    may_hold_lines: bool,
    /// The column rows are drawn in the order of (the primary key, else the id).
    order_key: Option<String>,
    /// The unit of the geometry's coordinates.
    units: Units,
    /// How the geometry reaches lon/lat for tiles.
    to_lonlat: ToLonLat4326,
    config: LayerConfig,
}

/// The unit of a layer's coordinates, for the size below which features are not drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Units {
    Degrees,
    Metres,
    Other,
}

/// How a layer's geometry is brought to lon/lat for tiles.
#[derive(Debug)]
enum ToLonLat4326 {
    /// It is lon/lat already (SRID 4326, or a geography column).
    Already,
    /// In Rust, from the SRID's PROJ definition: the database only reads.
    Here(Box<ToLonLat>),
    /// By `ST_Transform` in the database, for systems `proj4rs` cannot do as PROJ would.
    InDatabase,
}

/// What introspection found, for the layer's public description.
#[derive(Debug, Clone)]
pub struct Introspected {
    /// GeoJSON geometry type names.
    pub geometry_types: Vec<String>,
    /// Rows (an estimate for large tables).
    pub count: Option<u64>,
    /// Bounds in lon/lat.
    pub bounds: Option<[f64; 4]>,
}

fn err_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => e.to_string(),
    }
}

impl Database {
    /// Connects to a database named by a libpq-style URL or key=value string, and checks that
    /// PostGIS answers. `statement_timeout` bounds every statement; `max_size` connections.
    pub async fn connect(
        url: &str,
        statement_timeout: Duration,
        max_size: usize,
    ) -> Result<Arc<Self>, String> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| format!("the database URL is not valid: {e}"))?;
        libpq_defaults(&mut config);
        if config.get_application_name().is_none() {
            config.application_name("terril");
        }
        // No JIT: tile statements are short, and compiling them costs more than it saves.
        config.options(format!(
            "-c statement_timeout={} -c jit=off -c work_mem=32MB -c max_parallel_workers_per_gather=0",
            statement_timeout.as_millis().max(1)
        ));
        config.connect_timeout(Duration::from_secs(5));
        let shown = format!(
            "{}/{}",
            config
                .get_hosts()
                .first()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(h) => h.clone(),
                    #[cfg(unix)]
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .unwrap_or_else(|| "localhost".into()),
            config.get_dbname().unwrap_or("")
        );
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| format!("cannot create the connection pool: {e}"))?;
        let db = Arc::new(Self {
            pool,
            config,
            shown,
            up: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            last_error: Mutex::default(),
            statement_timeout,
            tables: Mutex::default(),
            watching: AtomicBool::new(false),
        });
        let client = db
            .pool
            .get()
            .await
            .map_err(|e| format!("cannot reach PostgreSQL at {}: {e}", db.shown))?;
        client
            .query_one("SELECT postgis_lib_version()", &[])
            .await
            .map_err(|e| {
                format!(
                    "PostgreSQL at {} answers, but PostGIS does not ({}): CREATE EXTENSION postgis",
                    db.shown,
                    err_message(&e)
                )
            })?;
        db.up.store(true, Ordering::Relaxed);
        Ok(db)
    }

    /// `host/dbname`, without credentials.
    #[must_use]
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Whether the database answered its last check.
    #[must_use]
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Why it did not, if it did not.
    #[must_use]
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A number that changes whenever a served table does.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    fn down(&self, why: String) -> SourceError {
        self.up.store(false, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
        SourceError::Unavailable {
            layer: self.shown.clone(),
            reason: "the database does not answer".into(),
        }
    }

    fn answered(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
            tracing::info!(database = %self.shown, "the database answers again");
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, SourceError> {
        match self.pool.get().await {
            Ok(c) => Ok(c),
            Err(deadpool_postgres::PoolError::Timeout(deadpool_postgres::TimeoutType::Wait)) => {
                Err(SourceError::Overloaded)
            }
            Err(e) => {
                tracing::warn!(database = %self.shown, error = %e, "no database connection");
                Err(self.down(e.to_string()))
            }
        }
    }

    /// Runs a statement with the request's deadline; the statement is cancelled in
    /// PostgreSQL if the request goes away or its deadline passes.
    pub async fn query(
        &self,
        cancel: &Cancel,
        statement: &str,
        params: &[Param],
    ) -> Result<Vec<Row>, SourceError> {
        let client = match cancel.deadline() {
            Some(d) => tokio::time::timeout_at(d.into(), self.client())
                .await
                .map_err(|_| SourceError::Cancelled)??,
            None => self.client().await?,
        };
        let prepared = match client.prepare_cached(statement).await {
            Ok(s) => s,
            Err(e) => return Err(self.error(e, statement)),
        };
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p.as_ref() as _).collect();
        let mut guard = CancelOnDrop(Some(client.cancel_token()));
        let run = client.query(&prepared, &refs);
        let outcome = match cancel.deadline() {
            Some(d) => match tokio::time::timeout_at(d.into(), run).await {
                Ok(r) => r,
                // The guard cancels the statement as it goes.
                Err(_) => return Err(SourceError::Cancelled),
            },
            None => run.await,
        };
        guard.0 = None;
        match outcome {
            Ok(rows) => {
                self.answered();
                Ok(rows)
            }
            Err(e) => Err(self.error(e, statement)),
        }
    }

    fn error(&self, e: tokio_postgres::Error, statement: &str) -> SourceError {
        match e.code() {
            Some(c) if *c == SqlState::QUERY_CANCELED => SourceError::Cancelled,
            Some(c) if c.code().starts_with("22") => {
                // Data exceptions: a value of the request that does not fit a column.
                SourceError::BadRequest(format!(
                    "the database refused a value of the request: {}",
                    err_message(&e)
                ))
            }
            Some(c) if c.code().starts_with("08") || c.code().starts_with("57P") => {
                self.down(err_message(&e))
            }
            Some(_) => {
                tracing::error!(error = %err_message(&e), statement, "a database statement failed");
                SourceError::Internal(err_message(&e))
            }
            None if e.is_closed() || e.to_string().contains("connection") => {
                self.down(e.to_string())
            }
            None => SourceError::Internal(e.to_string()),
        }
    }

    /// The geometry columns of the database (`schema`, `table`, `column`), from
    /// `geometry_columns` and `geography_columns`.
    pub async fn discover(&self) -> Result<Vec<(String, String, String)>, String> {
        let rows = self
            .query(
                &Cancel::new(),
                "SELECT f_table_schema::text, f_table_name::text, f_geometry_column::text FROM geometry_columns \
                 UNION ALL SELECT f_table_schema::text, f_table_name::text, f_geography_column::text FROM geography_columns \
                 ORDER BY 1, 2, 3",
                &[],
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(rows
            .iter()
            .filter(|r| {
                let schema: &str = r.get(0);
                !matches!(schema, "topology" | "tiger" | "tiger_data" | "pg_catalog")
            })
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    /// Serves these tables from now on, and watches them for edits: their write counters every
    /// second, and the notification channel; a change bumps [`Database::generation`]. The
    /// watch also tells whether the database answers.
    pub fn track(self: &Arc<Self>, tables: Vec<String>) {
        *self.tables.lock().unwrap_or_else(|e| e.into_inner()) = tables;
        if self.watching.swap(true, Ordering::Relaxed) {
            return;
        }
        let db = Arc::clone(self);
        tokio::spawn(async move {
            let mut last: Option<Vec<(String, i64)>> = None;
            loop {
                let tables = db.tables.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let counters = db
                    .query(
                        &Cancel::until(std::time::Instant::now() + Duration::from_secs(2)),
                        "SELECT relid::regclass::text, (n_tup_ins + n_tup_upd + n_tup_del)::bigint \
                         FROM pg_stat_user_tables WHERE relid = ANY(SELECT to_regclass(unnest($1::text[]))) ORDER BY 1",
                        &[Box::new(tables.clone())],
                    )
                    .await
                    .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect::<Vec<_>>());
                if let Ok(now) = counters {
                    if last.as_ref().is_some_and(|l| *l != now) {
                        db.generation.fetch_add(1, Ordering::Relaxed);
                        tracing::info!("a database table changed: tiles and items follow");
                    }
                    last = Some(now);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let db = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                if let Err(e) = db.listen().await {
                    tracing::debug!(error = %e, "change notifications: reconnecting");
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        });
    }

    /// Listens on [`CHANNEL`] until the connection ends.
    async fn listen(&self) -> Result<(), String> {
        let (client, mut connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|e| e.to_string())?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        let forward = tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(message) = stream.next().await {
                match message {
                    Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                        let _ = tx.send(n.payload().to_owned());
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(|e| e.to_string())?;
        while let Some(table) = rx.recv().await {
            self.generation.fetch_add(1, Ordering::Relaxed);
            tracing::info!(table, "change notified: tiles and items follow");
        }
        forward.abort();
        Ok(())
    }

    /// Introspects a table named by a catalog entry into a layer.
    pub async fn layer(
        self: &Arc<Self>,
        config: LayerConfig,
    ) -> Result<(PgLayer, Introspected), String> {
        let schema = config.schema.clone().unwrap_or_else(|| "public".into());
        let table = config.table.clone().unwrap_or_else(|| config.id.clone());
        let qualified = format!("{}.{}", quote_ident(&schema), quote_ident(&table));
        let none = Cancel::new();
        let fail = |e: SourceError| format!("{qualified}: {e}");
        let geometry = self
            .query(
                &none,
                "SELECT f_geometry_column::text, srid, type::text, false FROM geometry_columns \
                   WHERE f_table_schema = $1::text AND f_table_name = $2::text \
                 UNION ALL SELECT f_geography_column::text, srid, type::text, true FROM geography_columns \
                   WHERE f_table_schema = $1::text AND f_table_name = $2::text",
                &[Box::new(schema.clone()), Box::new(table.clone())],
            )
            .await
            .map_err(fail)?;
        let chosen = match &config.geometry_column {
            Some(name) => geometry.iter().find(|r| r.get::<_, String>(0) == *name),
            None => geometry.first(),
        };
        let Some(chosen) = chosen else {
            return Err(format!(
                "{qualified}: no geometry column{} (is the table spelled right, and registered in geometry_columns?)",
                config
                    .geometry_column
                    .as_ref()
                    .map(|c| format!(" named {c:?}"))
                    .unwrap_or_default()
            ));
        };
        let geometry_column: String = chosen.get(0);
        let mut srid: i32 = chosen.get(1);
        let declared: String = chosen.get(2);
        let geography: bool = chosen.get(3);
        if srid == 0 {
            // An unconstrained column: take the SRID of its first row.
            let rows = self
                .query(
                    &none,
                    &format!(
                        "SELECT ST_SRID({}) FROM {qualified} t WHERE {} IS NOT NULL LIMIT 1",
                        col(&geometry_column),
                        col(&geometry_column)
                    ),
                    &[],
                )
                .await
                .map_err(fail)?;
            srid = rows.first().map_or(4326, |r| r.get(0));
        }
        let columns = self
            .query(
                &none,
                "SELECT a.attname::text, t.typname::text, t.typcategory::text \
                 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
                 WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum",
                &[Box::new(qualified.clone())],
            )
            .await
            .map_err(fail)?;
        let key = self
            .query(
                &none,
                "SELECT a.attname::text FROM pg_index i \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                 WHERE i.indrelid = $1::text::regclass AND i.indisprimary",
                &[Box::new(qualified.clone())],
            )
            .await
            .map_err(fail)?;
        let id = match &config.id_column {
            Some(c) => Some(c.clone()),
            None if key.len() == 1 => Some(key[0].get(0)),
            None => None,
        };
        let indexed = self
            .query(
                &none,
                "SELECT count(*) FROM pg_index i \
                 JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                 WHERE i.indrelid = $1::text::regclass AND am.amname IN ('gist', 'spgist', 'brin') \
                   AND a.attname = $2::text",
                &[
                    Box::new(qualified.clone()),
                    Box::new(geometry_column.clone()),
                ],
            )
            .await
            .map_err(fail)?;
        if indexed.first().is_none_or(|r| r.get::<_, i64>(0) == 0) {
            tracing::warn!(
                table = %qualified,
                column = %geometry_column,
                "no spatial index on the geometry column: tiles and queries will scan the whole table (CREATE INDEX ON {qualified} USING gist ({}))",
                col(&geometry_column)
            );
        }
        let proj = self
            .query(
                &none,
                "SELECT proj4text::text FROM spatial_ref_sys WHERE srid = $1::int4",
                &[Box::new(srid)],
            )
            .await
            .map_err(fail)?;
        let definition: Option<String> = proj.first().and_then(|r| r.get(0));
        let to_lonlat = if geography || srid == 4326 {
            ToLonLat4326::Already
        } else {
            match definition.as_deref().and_then(ToLonLat::from_proj_string) {
                Some(t) => ToLonLat4326::Here(Box::new(t)),
                None => ToLonLat4326::InDatabase,
            }
        };
        let metres = definition
            .as_deref()
            .is_some_and(|d| d.contains("+units=m ") || d.ends_with("+units=m"));
        let mut published: Vec<Column> = Vec::new();
        let mut id_is_integer = false;
        for row in &columns {
            let name: String = row.get(0);
            let typname: String = row.get(1);
            let category: String = row.get(2);
            // The geometry is the feature's; the id is the feature's too (as in GeoJSON), not
            // one of its properties.
            if name == geometry_column || typname == "geometry" || typname == "geography" {
                continue;
            }
            if Some(&name) == id.as_ref() {
                id_is_integer = matches!(typname.as_str(), "int2" | "int4" | "int8");
                continue;
            }
            let (field_type, as_text) = match (typname.as_str(), category.as_str()) {
                ("int2" | "int4" | "int8" | "oid", _) => (FieldType::Integer, false),
                ("float4" | "float8" | "numeric", _) => (FieldType::Number, false),
                ("bool", _) => (FieldType::Boolean, false),
                ("date", _) => (FieldType::Date, false),
                ("timestamp" | "timestamptz", _) => (FieldType::Timestamp, false),
                ("text" | "varchar" | "bpchar" | "name" | "citext", _) => {
                    (FieldType::String, false)
                }
                ("json" | "jsonb", _) | (_, "A") => (FieldType::Mixed, true),
                _ => (FieldType::String, true),
            };
            published.push(Column {
                name,
                field_type,
                as_text,
            });
        }
        if let Some(id) = &id
            && !columns.iter().any(|r| r.get::<_, String>(0) == *id)
        {
            return Err(format!("{qualified}: no column {id:?} for the ids"));
        }
        let tile_columns: Vec<usize> = published
            .iter()
            .enumerate()
            .filter(|(_, c)| config.keeps_in_tiles(&c.name))
            .map(|(i, _)| i)
            .collect();
        let label = config
            .label
            .as_ref()
            .and_then(|l| published.iter().position(|c| &c.name == l));
        let geometry_types = geometry_type_names(&declared);
        let polygonal = geometry_types
            .iter()
            .any(|t| t == "Polygon" || t == "MultiPolygon");
        let order_key = if key.len() == 1 {
            Some(key[0].get::<_, String>(0))
        } else {
            id.clone()
        };
        let layer = PgLayer {
            db: Arc::clone(self),
            qualified: qualified.clone(),
            schema,
            table,
            geometry_column,
            geography,
            srid,
            id,
            id_is_integer,
            columns: published,
            tile_columns,
            label,
            polygonal,
            may_hold_points: true,
            may_hold_lines: true,
            order_key,
            units: if geography || srid == 4326 {
                Units::Degrees
            } else if metres {
                Units::Metres
            } else {
                Units::Other
            },
            to_lonlat,
            config,
        };
        let g = layer.geometry_expr("t");
        let stats = self
            .query(
                &none,
                &format!(
                    "SELECT (SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = $1::text::regclass), \
                            (SELECT count(*) FROM (SELECT 1 FROM {qualified} t LIMIT 100001) s), \
                            (SELECT ST_AsText(ST_Extent(ST_Transform({g}, 4326))::geometry) FROM {qualified} t)"
                ),
                &[Box::new(qualified.clone())],
            )
            .await
            .map_err(fail)?;
        let row = &stats[0];
        let estimate: i64 = row.get(0);
        let counted: i64 = row.get(1);
        let count = if counted <= 100_000 {
            counted
        } else {
            estimate
        };
        let bounds = row
            .get::<_, Option<String>>(2)
            .and_then(|wkt| box_bounds(&wkt));
        let types = if geometry_types.is_empty() {
            let rows = self
                .query(
                    &none,
                    &format!(
                        "SELECT DISTINCT GeometryType({g})::text FROM (SELECT {} FROM {qualified} t LIMIT 10000) t",
                        col(&layer.geometry_column)
                    ),
                    &[],
                )
                .await
                .map_err(fail)?;
            let mut names: Vec<String> = rows
                .iter()
                .filter_map(|r| r.get::<_, Option<String>>(0))
                .flat_map(|t| geometry_type_names(&t))
                .collect();
            names.sort();
            names.dedup();
            names
        } else {
            geometry_types
        };
        let layer = PgLayer {
            polygonal: types.iter().any(|t| t == "Polygon" || t == "MultiPolygon"),
            may_hold_points: types.is_empty()
                || types.iter().any(|t| t == "Point" || t == "MultiPoint"),
            may_hold_lines: types.is_empty()
                || types
                    .iter()
                    .any(|t| t == "LineString" || t == "MultiLineString"),
            ..layer
        };
        Ok((
            layer,
            Introspected {
                geometry_types: types,
                count: Some(count.max(0) as u64),
                bounds,
            },
        ))
    }
}

/// Fills what the URL leaves out as libpq would: `PGHOST` (else the local socket directory,
/// else localhost), `PGPORT`, `PGUSER` (else the login name), `PGPASSWORD`, `PGDATABASE`.
fn libpq_defaults(config: &mut tokio_postgres::Config) {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if config.get_hosts().is_empty() {
        match env("PGHOST") {
            Some(host) => {
                config.host(&host);
            }
            None => {
                #[cfg(unix)]
                if std::path::Path::new("/var/run/postgresql").is_dir() {
                    config.host_path("/var/run/postgresql");
                } else {
                    config.host("localhost");
                }
                #[cfg(not(unix))]
                config.host("localhost");
            }
        }
    }
    if config.get_ports().is_empty()
        && let Some(port) = env("PGPORT").and_then(|p| p.parse().ok())
    {
        config.port(port);
    }
    if config.get_user().is_none()
        && let Some(user) = env("PGUSER")
            .or_else(|| env("USER"))
            .or_else(|| env("LOGNAME"))
    {
        config.user(&user);
    }
    if config.get_password().is_none()
        && let Some(password) = env("PGPASSWORD")
    {
        config.password(password);
    }
    if config.get_dbname().is_none()
        && let Some(db) = env("PGDATABASE")
    {
        config.dbname(&db);
    }
}

/// The GeoJSON names of a PostGIS geometry type (empty for a generic `GEOMETRY`).
fn geometry_type_names(declared: &str) -> Vec<String> {
    let base = declared.to_ascii_uppercase();
    let base = base.trim_end_matches(['Z', 'M']).trim_end();
    match base {
        "POINT" => vec!["Point".into()],
        "MULTIPOINT" => vec!["MultiPoint".into()],
        "LINESTRING" => vec!["LineString".into()],
        "MULTILINESTRING" => vec!["MultiLineString".into()],
        "POLYGON" => vec!["Polygon".into()],
        "MULTIPOLYGON" => vec!["MultiPolygon".into()],
        _ => Vec::new(),
    }
}

/// West, south, east, north of a `BOX(…)` or polygon WKT's numbers.
fn box_bounds(text: &str) -> Option<[f64; 4]> {
    let nums: Vec<f64> = text
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e' || c == 'E'))
        .filter_map(|s| s.parse().ok())
        .collect();
    if nums.len() < 4 {
        return None;
    }
    let xs = nums.iter().step_by(2);
    let ys = nums.iter().skip(1).step_by(2);
    let (w, e) = xs.fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let (s, n) = ys.fold((f64::MAX, f64::MIN), |(a, b), &y| (a.min(y), b.max(y)));
    Some([w, s, e, n])
}

fn col(name: &str) -> String {
    format!("t.{}", quote_ident(name))
}

/// Cancels a running statement when dropped armed (its request went away).
struct CancelOnDrop(Option<tokio_postgres::CancelToken>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let (Some(token), Ok(handle)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            handle.spawn(async move {
                let _ = token.cancel_query(NoTls).await;
            });
        }
    }
}

impl PgLayer {
    /// The layer's queryables.
    #[must_use]
    pub fn schema(&self) -> Schema {
        Schema {
            fields: self
                .columns
                .iter()
                .map(|c| Field {
                    name: c.name.as_str().into(),
                    field_type: c.field_type,
                    key: None,
                })
                .collect(),
            geometry_column: Some(self.geometry_column.clone()),
        }
    }

    /// Every column with its type.
    #[must_use]
    pub fn fields(&self) -> Vec<(String, FieldType)> {
        self.columns
            .iter()
            .map(|c| (c.name.clone(), c.field_type))
            .collect()
    }

    /// The columns written into tiles, with the `id` text property that layers with
    /// non-numeric ids carry.
    #[must_use]
    pub fn tile_fields(&self) -> Vec<(String, FieldType)> {
        let mut out = Vec::new();
        if self.id.is_some() && !self.id_is_integer && !self.columns.iter().any(|c| c.name == "id")
        {
            out.push(("id".into(), FieldType::String));
        }
        out.extend(
            self.tile_columns
                .iter()
                .map(|&i| (self.columns[i].name.clone(), self.columns[i].field_type)),
        );
        out
    }

    /// The label layer's fields, for a labelled polygon layer.
    #[must_use]
    pub fn label_fields(&self) -> Option<Vec<(String, FieldType)>> {
        let label = self.label?;
        if !self.polygonal {
            return None;
        }
        let mut out = Vec::new();
        if self.id.is_some() && !self.id_is_integer {
            out.push(("id".into(), FieldType::String));
        }
        out.push((
            self.columns[label].name.clone(),
            self.columns[label].field_type,
        ));
        Some(out)
    }

    /// The database.
    #[must_use]
    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }

    /// The geometry in the table's SRID, under alias `alias`.
    fn geometry_expr(&self, alias: &str) -> String {
        let c = format!("{alias}.{}", quote_ident(&self.geometry_column));
        if self.geography {
            format!("{c}::geometry")
        } else {
            c
        }
    }

    fn table_sql(&self, alias: &str) -> TableSql {
        TableSql {
            alias: alias.into(),
            geometry: self.geometry_expr(alias),
            srid: self.srid,
            id: self.id.clone(),
        }
    }

    fn condition(
        &self,
        w: &mut SqlWriter,
        alias: &str,
        filter: Option<&Filter>,
    ) -> Result<String, SourceError> {
        match filter {
            None => Ok("TRUE".into()),
            Some(f) => w
                .pred(&self.table_sql(alias), &f.root)
                .map_err(|e| SourceError::BadRequest(e.0)),
        }
    }

    /// The columns a tile carries: those kept in tiles, and the label.
    fn tile_props(&self) -> Vec<usize> {
        let mut props = self.tile_columns.clone();
        if let Some(l) = self.label.filter(|l| !props.contains(l)) {
            props.push(l);
        }
        props
    }

    /// Whether tile `coord` is drawn by the database (`ST_AsMVT`) rather than by Terril from
    /// the rows: at a zoom the layer is generalized at, where the tile would hold more than
    /// `max_features` features (as PostGIS estimates from the table's statistics). There
    /// features are a few pixels wide, the per-feature simplification of PostGIS is as good as
    /// a shared one, and PostGIS drawing the capped rows measured 1.5× as fast as reading them
    /// (national communes, z5); where the cap does not bite, reading the rows measured 1.25×
    /// as fast (z7).
    pub async fn drawn_in_database(&self, cancel: &Cancel, coord: TileCoord) -> bool {
        let Some(rule) = self.config.generalize.filter(|g| g.applies_at(coord.z)) else {
            return false;
        };
        if self.geography {
            return true;
        }
        let mut w = SqlWriter::default();
        let z = w.bind(Box::new(i32::from(coord.z)), "int4");
        let x = w.bind(Box::new(coord.x as i32), "int4");
        let y = w.bind(Box::new(coord.y as i32), "int4");
        let table = w.bind(Box::new(self.qualified.clone()), "text");
        let column = w.bind(Box::new(self.geometry_column.clone()), "text");
        let envelope = if self.srid == 3857 {
            format!("ST_TileEnvelope({z}, {x}, {y})")
        } else {
            format!(
                "ST_Transform(ST_TileEnvelope({z}, {x}, {y}), {})",
                self.srid
            )
        };
        let statement = format!(
            "SELECT (SELECT reltuples FROM pg_class WHERE oid = {table}::regclass)::float8 \
                    * _postgis_selectivity({table}::regclass, {column}, {envelope})::float8"
        );
        match self.db.query(cancel, &statement, &w.params).await {
            Ok(rows) => rows
                .first()
                .and_then(|r| r.get::<_, Option<f64>>(0))
                .is_none_or(|estimate| estimate < 0.0 || estimate > rule.max_features as f64),
            // No statistics yet (the table was never analyzed): the cap is there for a reason.
            Err(_) => true,
        }
    }

    /// The `FROM … WHERE … ORDER BY … LIMIT` of tile `coord`: the rows whose box meets the
    /// tile and its buffer, filtered, largest box first and capped where the layer is
    /// generalized; with `leave_out_small`, without those too small to draw there (told by
    /// their box, which is read without the geometry).
    fn tile_selection(
        &self,
        w: &mut SqlWriter,
        coord: TileCoord,
        filter: Option<&Filter>,
        leave_out_small: bool,
    ) -> Result<String, SourceError> {
        // The tile and its buffer, kept inside the world (a box past the antimeridian would
        // wrap around once in lon/lat), with its edges cut into 16 so that they bend as they
        // should in the table's SRID.
        let world = crate::mercator::ORIGIN_SHIFT_M * (1.0 - 1e-12);
        let r = coord.bounds();
        let margin = r.width() * f64::from(crate::tile::BUFFER) / f64::from(EXTENT);
        let mut corner = |v: f64| w.bind(Box::new(v.clamp(-world, world)), "float8");
        let (west, south) = (corner(r.min().x - margin), corner(r.min().y - margin));
        let (east, north) = (corner(r.max().x + margin), corner(r.max().y + margin));
        let envelope = format!("ST_MakeEnvelope({west}, {south}, {east}, {north}, 3857)");
        let srid = if self.geography { 4326 } else { self.srid };
        let search = if srid == 3857 {
            envelope
        } else {
            let piece = w.bind(Box::new(r.width() / 16.0), "float8");
            format!("ST_Transform(ST_Segmentize({envelope}, {piece}), {srid})")
        };
        let g = self.geometry_expr("t");
        let meets = if self.geography {
            format!(
                "t.{} && ({search})::geography",
                quote_ident(&self.geometry_column)
            )
        } else {
            format!("{g} && {search}")
        };
        let condition = self.condition(w, "t", filter)?;
        let b = format!("({g})::box2d");
        let size = format!("GREATEST(ST_XMax({b}) - ST_XMin({b}), ST_YMax({b}) - ST_YMin({b}))");
        let small = match self.table_units(coord, MIN_FEATURE_UNITS) {
            Some(t) if leave_out_small => {
                let t = w.bind(Box::new(t), "float8");
                if self.may_hold_points {
                    format!(" AND ({size} >= {t} OR GeometryType({g}) IN ('POINT', 'MULTIPOINT'))")
                } else {
                    format!(" AND {size} >= {t}")
                }
            }
            _ => String::new(),
        };
        let key = self
            .order_key
            .as_ref()
            .map(|k| format!("t.{}", quote_ident(k)));
        let order = match self.config.generalize.filter(|g| g.applies_at(coord.z)) {
            Some(rule) => format!(
                " ORDER BY (ST_XMax({b}) - ST_XMin({b})) * (ST_YMax({b}) - ST_YMin({b})) DESC{} LIMIT {}",
                key.map(|k| format!(", {k}")).unwrap_or_default(),
                rule.max_features
            ),
            None => key.map(|k| format!(" ORDER BY {k}")).unwrap_or_default(),
        };
        Ok(format!(
            "FROM {} t WHERE {meets} AND ({condition}){small}{order}",
            self.qualified
        ))
    }

    /// `units` tile units of zoom `coord.z` as a length in the table's units, on the short
    /// side: a Web Mercator metre is cos(latitude) ground metres, and the tile's latitude
    /// farthest from the equator gives the least. `None` for units other than metres and
    /// degrees.
    fn table_units(&self, coord: TileCoord, units: f64) -> Option<f64> {
        let m = units * crate::mercator::tile_size_m(coord.z) / f64::from(EXTENT);
        let r = coord.bounds();
        let (_, north) = crate::mercator::mercator_to_lonlat(0.0, r.max().y);
        let (_, south) = crate::mercator::mercator_to_lonlat(0.0, r.min().y);
        let cos = north.abs().max(south.abs()).to_radians().cos();
        match self.units {
            Units::Degrees => Some(m * cos / 111_319.49 * 0.99),
            Units::Metres => Some(m * cos * 0.9),
            Units::Other => None,
        }
    }

    /// The rows tile `coord` needs, each with its id as text, its tile columns, and its
    /// geometry as WKB (lon/lat, or the table's SRID when [`Self::tile_features`] converts
    /// it). Polygons are all read, however small: the borders they share with their
    /// neighbours are simplified as in memory only if the neighbours are there.
    pub async fn tile_rows(
        &self,
        cancel: &Cancel,
        coord: TileCoord,
        filter: Option<&Filter>,
    ) -> Result<Vec<Row>, SourceError> {
        let mut w = SqlWriter::default();
        let selection = self.tile_selection(
            &mut w,
            coord,
            filter,
            !self.polygonal && self.may_hold_lines,
        )?;
        let g = self.geometry_expr("t");
        let id = match &self.id {
            Some(id) => format!("t.{}::text", quote_ident(id)),
            None => "NULL::text".into(),
        };
        let props: String = self
            .tile_props()
            .into_iter()
            .map(|i| format!(", {}", self.tile_value("t", &self.columns[i])))
            .collect();
        let geometry = match self.to_lonlat {
            ToLonLat4326::InDatabase => format!("ST_AsBinary(ST_Transform({g}, 4326))"),
            _ => format!("ST_AsBinary({g})"),
        };
        let statement = format!("SELECT {id}{props}, {geometry} {selection}");
        self.db.query(cancel, &statement, &w.params).await
    }

    /// A column as a tile value: a whole number, a number, a boolean, or text.
    fn tile_value(&self, alias: &str, c: &Column) -> String {
        let v = format!("{alias}.{}", quote_ident(&c.name));
        match (c.field_type, c.as_text) {
            (FieldType::Integer, false) => format!("{v}::int8"),
            (FieldType::Number, false) => format!("{v}::float8"),
            (FieldType::Boolean, false) => v,
            _ => format!("{v}::text"),
        }
    }

    /// The numeric MVT id (the id when it is a whole number) and the `id` text property for
    /// the others, as for [`crate::tile::MvtIds::Feature`].
    fn id_columns(&self, alias: &str) -> (String, Option<String>) {
        match &self.id {
            Some(id) if self.id_is_integer => (format!("{alias}.{}::int8", quote_ident(id)), None),
            Some(id) => {
                let v = format!("{alias}.{}::text", quote_ident(id));
                (
                    format!("CASE WHEN {v} ~ '^(0|[1-9][0-9]{{0,17}})$' THEN {v}::int8 END"),
                    (!self.columns.iter().any(|c| c.name == "id")).then(|| {
                        format!(
                            "CASE WHEN {v} ~ '^(0|[1-9][0-9]{{0,17}})$' OR {v} = '' THEN NULL ELSE {v} END"
                        )
                    }),
                )
            }
            None => ("NULL::int8".into(), None),
        }
    }

    /// Tile `coord` drawn by the database, at a zoom the layer is generalized at: the rows of
    /// [`Self::tile_selection`], simplified in the table's SRID (so that fewer vertices are
    /// transformed) and encoded by `ST_AsMVT`; with the label layer (`ST_PointOnSurface`) of
    /// a labelled polygon layer.
    pub async fn tile_in_database(
        &self,
        cancel: &Cancel,
        coord: TileCoord,
        filter: Option<&Filter>,
    ) -> Result<Vec<u8>, SourceError> {
        let mut w = SqlWriter::default();
        let selection = self.tile_selection(&mut w, coord, filter, true)?;
        let g = self.geometry_expr("t");
        let tolerance = crate::tile::simplify::tolerance_m(coord.z);
        let srid = if self.geography { 4326 } else { self.srid };
        let g3 = match self.table_units(coord, crate::tile::simplify::TOLERANCE_UNITS) {
            Some(t) if srid != 3857 => {
                let t = w.bind(Box::new(t), "float8");
                format!("ST_Transform(ST_Simplify({g}, {t}, true), 3857)")
            }
            _ => {
                let t = w.bind(Box::new(tolerance), "float8");
                let m = if srid == 3857 {
                    g.clone()
                } else {
                    format!("ST_Transform({g}, 3857)")
                };
                format!("ST_Simplify({m}, {t}, true)")
            }
        };
        let (mvt_id, id_text) = self.id_columns("t");
        let mut props: Vec<(String, String)> = Vec::new();
        let has_id_text = id_text.is_some();
        if let Some(id_text) = id_text {
            props.push((id_text, quote_ident("id")));
        }
        for &i in &self.tile_columns {
            let c = &self.columns[i];
            props.push((self.tile_value("t", c), quote_ident(&c.name)));
        }
        let label = self
            .label
            .filter(|_| self.polygonal)
            .map(|i| &self.columns[i]);
        let selected: String = props
            .iter()
            .map(|(e, a)| format!(", {e} AS {a}"))
            .chain(label.map(|c| format!(", {} AS __label", self.tile_value("t", c))))
            .collect();
        let carried: String = props.iter().map(|(_, a)| format!(", c.{a}")).collect();
        let z = w.bind(Box::new(i32::from(coord.z)), "int4");
        let x = w.bind(Box::new(coord.x as i32), "int4");
        let y = w.bind(Box::new(coord.y as i32), "int4");
        let envelope = format!("ST_TileEnvelope({z}, {x}, {y})");
        let name = w.bind(Box::new(self.config.id.clone()), "text");
        let mut statement = format!(
            "WITH c AS MATERIALIZED (SELECT {g3} AS g3, {mvt_id} AS mvt_id{selected} {selection}) \
             SELECT coalesce((SELECT ST_AsMVT(f, {name}, 4096, 'geom', 'mvt_id') FROM \
               (SELECT ST_AsMVTGeom(c.g3, {envelope}, 4096, 64, true) AS geom, c.mvt_id{carried} FROM c) f \
               WHERE f.geom IS NOT NULL), ''::bytea)"
        );
        if let Some(c) = label {
            let label_name = w.bind(Box::new(self.config.label_layer_name()), "text");
            let id_prop = if has_id_text { ", c.\"id\"" } else { "" };
            statement.push_str(&format!(
                " || coalesce((SELECT ST_AsMVT(l, {label_name}, 4096, 'geom', 'mvt_id') FROM \
                   (SELECT ST_AsMVTGeom(ST_PointOnSurface(c.g3), {envelope}, 4096, 64, true) AS geom, c.mvt_id{id_prop}, c.__label AS {} \
                    FROM c WHERE GeometryType(c.g3) IN ('POLYGON', 'MULTIPOLYGON')) l \
                   WHERE l.geom IS NOT NULL), ''::bytea)",
                quote_ident(&c.name)
            ));
        }
        let rows = self.db.query(cancel, &statement, &w.params).await?;
        Ok(rows
            .first()
            .map(|r| r.get::<_, Vec<u8>>(0))
            .unwrap_or_default())
    }

    /// The bytes of geometry (WKB) some fetched rows hold: about 16 per vertex.
    #[must_use]
    pub fn rows_wkb_bytes(&self, rows: &[Row]) -> usize {
        let column = self.tile_props().len() + 1;
        rows.iter()
            .map(|row| row.get::<_, Option<&[u8]>>(column).map_or(0, <[u8]>::len))
            .sum()
    }

    /// The rows of [`Self::tile_rows`] as features in lon/lat, ready for
    /// [`crate::tile::render_features`]. CPU work: run it on the pool.
    pub fn tile_features(
        &self,
        rows: &[Row],
        coord: TileCoord,
        cancel: &Cancel,
    ) -> Result<Layer, Cancelled> {
        let props = self.tile_props();
        let keys: Vec<Arc<str>> = props
            .iter()
            .map(|&i| Arc::from(self.columns[i].name.as_str()))
            .collect();
        let mut unreadable = 0usize;
        // The geometries first, in the table's SRID, with the box they span.
        let mut geometries: Vec<Option<Geometry<f64>>> = Vec::with_capacity(rows.len());
        let mut area: Option<Rect<f64>> = None;
        let mut wkb_bytes = 0usize;
        for (n, row) in rows.iter().enumerate() {
            if n % 256 == 0 {
                cancel.check()?;
            }
            let wkb: Option<&[u8]> = row.get(props.len() + 1);
            wkb_bytes += wkb.map_or(0, <[u8]>::len);
            geometries.push(
                match wkb.map(|b| geozero::ToGeo::to_geo(&geozero::wkb::Wkb(b))) {
                    Some(Ok(g)) => {
                        if let Some(r) = g.bounding_rect() {
                            area = Some(area.map_or(r, |a| {
                                Rect::new(
                                    (a.min().x.min(r.min().x), a.min().y.min(r.min().y)),
                                    (a.max().x.max(r.max().x), a.max().y.max(r.max().y)),
                                )
                            }));
                        }
                        Some(g)
                    }
                    Some(Err(_)) => {
                        unreadable += 1;
                        None
                    }
                    None => None,
                },
            );
        }
        // Then to lon/lat. At zooms the layer is generalized at, through a grid over that box
        // when the SRID is converted here and the grid costs less than half the exact
        // conversion of every position (16 bytes of WKB each), good to a twentieth of the
        // tile's unit (in degrees of latitude, where they are shortest). Elsewhere exactly:
        // even a twentieth of a unit moves some vertices across the simplification
        // tolerance, and the tiles would no longer be those of the same data in memory.
        cancel.check()?;
        let r = coord.bounds();
        let (_, north) = crate::mercator::mercator_to_lonlat(0.0, r.max().y);
        let (_, south) = crate::mercator::mercator_to_lonlat(0.0, r.min().y);
        let cos = north.abs().max(south.abs()).to_radians().cos();
        let unit_deg = crate::mercator::tile_size_m(coord.z) / f64::from(EXTENT) * cos / 111_319.49;
        let grid = match (&self.to_lonlat, area) {
            (ToLonLat4326::Here(t), Some(a))
                if self
                    .config
                    .generalize
                    .is_some_and(|g| g.applies_at(coord.z)) =>
            {
                t.over(a, unit_deg / 20.0, wkb_bytes / 32)
            }
            _ => None,
        };
        let mut features = Vec::with_capacity(rows.len());
        for (n, (row, geometry)) in rows.iter().zip(geometries).enumerate() {
            if n % 256 == 0 {
                cancel.check()?;
            }
            let Some(mut geometry) = geometry else {
                continue;
            };
            let converted = match (&self.to_lonlat, &grid) {
                (_, Some(grid)) => grid.geometry(&mut geometry),
                (ToLonLat4326::Here(t), None) => t.geometry(&mut geometry),
                _ => true,
            };
            if !converted {
                unreadable += 1;
                continue;
            }
            let mut properties: Vec<(KeyId, PropValue)> = Vec::with_capacity(props.len());
            for (k, &i) in props.iter().enumerate() {
                let c = &self.columns[i];
                let at = k + 1;
                let value = match (c.field_type, c.as_text) {
                    (FieldType::Integer, false) => {
                        row.get::<_, Option<i64>>(at).map(PropValue::Int)
                    }
                    (FieldType::Number, false) => {
                        row.get::<_, Option<f64>>(at).map(PropValue::Float)
                    }
                    (FieldType::Boolean, false) => {
                        row.get::<_, Option<bool>>(at).map(PropValue::Bool)
                    }
                    _ => row
                        .get::<_, Option<&str>>(at)
                        .map(|s| PropValue::Str(s.into())),
                };
                if let Some(v) = value {
                    properties.push((k as KeyId, v));
                }
            }
            features.push(Feature {
                id: row.get::<_, Option<&str>>(0).unwrap_or_default().into(),
                properties: properties.into_boxed_slice(),
                geometry: Some(geometry),
            });
        }
        if unreadable > 0 {
            tracing::warn!(
                layer = %self.config.id,
                unreadable,
                "rows whose geometry cannot be drawn (curves, or outside the projection) were left out of a tile"
            );
        }
        let by_id = (0..features.len() as u32).collect();
        Ok(Layer::new(
            self.config.clone(),
            Parsed {
                features,
                keys,
                by_id,
                clamped: 0,
            },
        ))
    }

    /// The output geometry as GeoJSON text in `crs`.
    fn geojson_expr(&self, alias: &str, crs: Crs) -> String {
        let g = self.geometry_expr(alias);
        match crs {
            Crs::Crs84 => format!("ST_AsGeoJSON(ST_Transform({g}, 4326), 9)"),
            Crs::Epsg4326 => {
                format!("ST_AsGeoJSON(ST_FlipCoordinates(ST_Transform({g}, 4326)), 9)")
            }
            Crs::Epsg3857 | Crs::Epsg2154 => {
                format!("ST_AsGeoJSON(ST_Transform({g}, {}), 3)", crs.srid())
            }
        }
    }

    /// The properties as JSON, all or `select`ed ones (in column order).
    fn properties_expr(&self, alias: &str, select: Option<&[String]>) -> String {
        let columns: Vec<&Column> = self
            .columns
            .iter()
            .filter(|c| select.is_none_or(|s| s.contains(&c.name)))
            .collect();
        if columns.is_empty() {
            return "'{}'::jsonb".into();
        }
        columns
            .chunks(40)
            .map(|chunk| {
                let pairs: Vec<String> = chunk
                    .iter()
                    .map(|c| {
                        let v = format!("{alias}.{}", quote_ident(&c.name));
                        let v = match c.field_type {
                            FieldType::Mixed if c.as_text => format!("to_jsonb({v})"),
                            _ if c.as_text => format!("{v}::text"),
                            _ => v,
                        };
                        format!("{}, {v}", sql_literal(&c.name))
                    })
                    .collect();
                format!("jsonb_build_object({})", pairs.join(", "))
            })
            .collect::<Vec<_>>()
            .join(" || ")
    }

    fn id_expr(&self, alias: &str) -> String {
        match &self.id {
            Some(id) => format!("{alias}.{}::text", quote_ident(id)),
            None => format!("{alias}.ctid::text"),
        }
    }

    fn order(&self, alias: &str) -> String {
        match &self.id {
            Some(id) if self.id_is_integer => format!("{alias}.{}", quote_ident(id)),
            Some(id) => format!("{alias}.{}::text COLLATE \"C\"", quote_ident(id)),
            None => format!("{alias}.ctid"),
        }
    }

    fn feature(row: &Row, offset: usize) -> FeatureOut {
        FeatureOut {
            id: row.get(offset),
            geometry: row
                .get::<_, Option<String>>(offset + 1)
                .unwrap_or_else(|| "null".into()),
            properties: row
                .get::<_, Option<String>>(offset + 2)
                .unwrap_or_else(|| "{}".into()),
        }
    }

    /// The columns of a found feature: id (as `__id`), geometry, properties.
    fn feature_columns(&self, alias: &str, crs: Crs, select: Option<&[String]>) -> String {
        format!(
            "{} AS __id, {}::text, ({})::text",
            self.id_expr(alias),
            self.geojson_expr(alias, crs),
            self.properties_expr(alias, select)
        )
    }

    /// One page of items.
    pub async fn items(
        &self,
        cancel: &Cancel,
        query: &ItemsQuery,
        filter: Option<&Filter>,
    ) -> Result<ItemsPage, SourceError> {
        let mut w = SqlWriter::default();
        let g = self.geometry_expr("t");
        let mut conditions = vec![self.condition(&mut w, "t", filter)?];
        if let Some(boxes) = &query.bbox {
            let parts: Vec<String> = boxes
                .iter()
                .flatten()
                .map(|b| {
                    let poly = w.geometry_literal(&geo::Geometry::Polygon(b.to_polygon()), 4326);
                    let area = if self.srid == 4326 {
                        poly
                    } else {
                        format!("ST_Transform(ST_Segmentize({poly}, 0.01), {})", self.srid)
                    };
                    format!("({g} && {area} AND ST_Intersects({g}, {area}))")
                })
                .collect();
            conditions.push(format!("({})", parts.join(" OR ")));
        }
        let condition = conditions.join(" AND ");
        let count = self
            .db
            .query(
                cancel,
                &format!(
                    "SELECT count(*) FROM {} t WHERE {condition}",
                    self.qualified
                ),
                &w.params,
            )
            .await?;
        let number_matched = count.first().map_or(0, |r| r.get::<_, i64>(0)).max(0) as u64;
        let limit = w.bind(Box::new(query.limit as i64), "int8");
        let offset = w.bind(Box::new(query.offset as i64), "int8");
        let rows = self
            .db
            .query(
                cancel,
                &format!(
                    "SELECT {} FROM {} t WHERE {condition} ORDER BY {} LIMIT {limit} OFFSET {offset}",
                    self.feature_columns("t", query.crs, query.properties.as_deref()),
                    self.qualified,
                    self.order("t")
                ),
                &w.params,
            )
            .await?;
        Ok(ItemsPage {
            number_matched,
            features: rows.iter().map(|r| Self::feature(r, 0)).collect(),
        })
    }

    /// The feature with id `id`.
    pub async fn item(
        &self,
        cancel: &Cancel,
        id: &str,
        crs: Crs,
    ) -> Result<Option<FeatureOut>, SourceError> {
        let Some(id_column) = &self.id else {
            return Ok(None);
        };
        let mut w = SqlWriter::default();
        let p = w.bind(Box::new(id.to_owned()), "text");
        let rows = self
            .db
            .query(
                cancel,
                &format!(
                    "SELECT {} FROM {} t WHERE t.{}::text = {p} LIMIT 1",
                    self.feature_columns("t", crs, None),
                    self.qualified,
                    quote_ident(id_column)
                ),
                &w.params,
            )
            .await?;
        Ok(rows.first().map(|r| Self::feature(r, 0)))
    }

    /// Features containing the lon/lat point.
    pub async fn at(
        &self,
        cancel: &Cancel,
        lon: f64,
        lat: f64,
        crs: Crs,
    ) -> Result<Vec<Found>, SourceError> {
        let mut w = SqlWriter::default();
        let point = self.point(&mut w, lon, lat);
        let g = self.geometry_expr("t");
        let rows = self
            .db
            .query(
                cancel,
                &format!(
                    "SELECT {} FROM {} t WHERE ST_Intersects({g}, {point}) ORDER BY {}",
                    self.feature_columns("t", crs, None),
                    self.qualified,
                    self.order("t")
                ),
                &w.params,
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Found {
                feature: Self::feature(r, 0),
                distance_m: None,
                target: None,
            })
            .collect())
    }

    /// The lon/lat point in the table's SRID.
    fn point(&self, w: &mut SqlWriter, lon: f64, lat: f64) -> String {
        let x = w.bind(Box::new(lon), "float8");
        let y = w.bind(Box::new(lat), "float8");
        if self.srid == 4326 {
            format!("ST_SetSRID(ST_MakePoint({x}, {y}), 4326)")
        } else {
            format!(
                "ST_Transform(ST_SetSRID(ST_MakePoint({x}, {y}), 4326), {})",
                self.srid
            )
        }
    }

    /// Features within `radius_m` of the point, nearest first (ties by id), at most `limit`.
    #[allow(clippy::too_many_arguments)]
    pub async fn within(
        &self,
        cancel: &Cancel,
        lon: f64,
        lat: f64,
        radius_m: f64,
        filter: Option<&Filter>,
        limit: usize,
        crs: Crs,
    ) -> Result<Vec<Found>, SourceError> {
        let mut w = SqlWriter::default();
        let condition = self.condition(&mut w, "t", filter)?;
        let g = self.geometry_expr("t");
        let [west, south, east, north] = search_box_lonlat(lon, lat, lon, lat, radius_m);
        let area = w.geometry_literal(
            &geo::Geometry::Polygon(geo::Rect::new((west, south), (east, north)).to_polygon()),
            self.srid,
        );
        let x = w.bind(Box::new(lon), "float8");
        let y = w.bind(Box::new(lat), "float8");
        let r = w.bind(Box::new(radius_m), "float8");
        let limit = w.bind(Box::new(limit as i64), "int8");
        let geog = format!("ST_Transform({g}, 4326)::geography");
        let point = format!("ST_SetSRID(ST_MakePoint({x}, {y}), 4326)::geography");
        let rows = self
            .db
            .query(
                cancel,
                &format!(
                    "SELECT * FROM (SELECT {}, ST_Distance({geog}, {point}, true) AS d FROM {} t \
                     WHERE {g} && {area} AND ({condition})) s WHERE s.d <= {r} ORDER BY s.d, s.__id COLLATE \"C\" LIMIT {limit}",
                    self.feature_columns("t", crs, None),
                    self.qualified,
                ),
                &w.params,
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Found {
                feature: Self::feature(r, 0),
                distance_m: Some(r.get(3)),
                target: None,
            })
            .collect())
    }

    /// The `k` features nearest to the point: candidates by KNN in the table's SRID, then the
    /// exact answer among all features within the `k`-th candidate's ground distance.
    #[allow(clippy::too_many_arguments)]
    pub async fn nearest(
        &self,
        cancel: &Cancel,
        lon: f64,
        lat: f64,
        k: usize,
        filter: Option<&Filter>,
        max_distance_m: f64,
        crs: Crs,
    ) -> Result<Vec<Found>, SourceError> {
        let mut w = SqlWriter::default();
        let condition = self.condition(&mut w, "t", filter)?;
        let g = self.geometry_expr("t");
        let point = self.point(&mut w, lon, lat);
        let x = w.bind(Box::new(lon), "float8");
        let y = w.bind(Box::new(lat), "float8");
        let wanted = k + 8;
        let limit = w.bind(Box::new(wanted as i64), "int8");
        let rows = self
            .db
            .query(
                cancel,
                &format!(
                    "SELECT ST_Distance(ST_Transform({g}, 4326)::geography, ST_SetSRID(ST_MakePoint({x}, {y}), 4326)::geography, true) \
                     FROM {} t WHERE {g} IS NOT NULL AND ({condition}) ORDER BY {g} <-> {point} LIMIT {limit}",
                    self.qualified
                ),
                &w.params,
            )
            .await?;
        let mut distances: Vec<f64> = rows.iter().map(|r| r.get(0)).collect();
        distances.sort_by(f64::total_cmp);
        let radius = if distances.len() < wanted {
            // Every feature is a candidate: the radius that holds them all.
            distances.last().copied().unwrap_or(0.0)
        } else {
            distances[k - 1]
        };
        let radius = radius.min(max_distance_m);
        if distances.is_empty() || radius < 0.0 {
            return Ok(Vec::new());
        }
        let found = self
            .within(
                cancel,
                lon,
                lat,
                radius * (1.0 + 1e-9) + 1e-6,
                filter,
                k,
                crs,
            )
            .await?;
        Ok(found
            .into_iter()
            .filter(|f| f.distance_m.is_some_and(|d| d <= max_distance_m))
            .collect())
    }

    /// Features within `distance_m` of a feature of `target` (a table of the same database),
    /// each with its nearest target, nearest first.
    #[allow(clippy::too_many_arguments)]
    pub async fn near(
        &self,
        cancel: &Cancel,
        filter: Option<&Filter>,
        target: &PgLayer,
        target_filter: Option<&Filter>,
        distance_m: f64,
        limit: usize,
        crs: Crs,
    ) -> Result<Vec<Found>, SourceError> {
        let mut w = SqlWriter::default();
        let condition = self.condition(&mut w, "a", filter)?;
        let target_condition = target.condition(&mut w, "b", target_filter)?;
        let d = w.bind(Box::new(distance_m), "float8");
        let limit = w.bind(Box::new(limit as i64), "int8");
        let ga = self.geometry_expr("a");
        let gb = target.geometry_expr("b");
        let label = target
            .label
            .map(|i| &target.columns[i].name)
            .or_else(|| {
                target
                    .columns
                    .iter()
                    .find(|c| c.name == "name")
                    .map(|c| &c.name)
            })
            .map_or_else(
                || "NULL".to_owned(),
                |n| format!("to_jsonb(b.{})::text", quote_ident(n)),
            );
        let statement = format!(
            "SELECT {}, n.tid, n.tname, n.d FROM {} a \
             CROSS JOIN LATERAL (SELECT ST_Transform({ga}, 4326) AS g4) ga \
             CROSS JOIN LATERAL (SELECT {} AS tid, {label} AS tname, \
                 ST_Distance(ga.g4::geography, ST_Transform({gb}, 4326)::geography, true) AS d \
               FROM {} b \
               WHERE {gb} && ST_Transform(ST_Expand(ST_Envelope(ga.g4), \
                   {d} / (111000.0 * cos(radians(LEAST(85.0, GREATEST(abs(ST_YMin(ga.g4)), abs(ST_YMax(ga.g4))) + {d} / 110500.0)))), \
                   {d} / 110500.0), {}) \
                 AND ST_DWithin(ga.g4::geography, ST_Transform({gb}, 4326)::geography, {d}, true) \
                 AND ({target_condition}) \
               ORDER BY d, {} COLLATE \"C\" LIMIT 1) n \
             WHERE {ga} IS NOT NULL AND ({condition}) ORDER BY n.d, {} COLLATE \"C\" LIMIT {limit}",
            self.feature_columns("a", crs, None),
            self.qualified,
            target.id_expr("b"),
            target.qualified,
            target.srid,
            target.id_expr("b"),
            self.id_expr("a"),
        );
        let rows = self.db.query(cancel, &statement, &w.params).await?;
        Ok(rows
            .iter()
            .map(|r| Found {
                feature: Self::feature(r, 0),
                distance_m: Some(r.get(5)),
                target: Some((
                    r.get(3),
                    r.get::<_, Option<String>>(4)
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .unwrap_or(Value::Null),
                )),
            })
            .collect())
    }

    /// Every feature passing `filter`, for a query joining this layer with another backend's:
    /// each as output (geometry in `crs`), with its label and its lon/lat geometry as
    /// GeoJSON; at most `max`.
    pub async fn all_features(
        &self,
        cancel: &Cancel,
        filter: Option<&Filter>,
        max: usize,
        crs: Crs,
    ) -> Result<Vec<(FeatureOut, Value, String)>, SourceError> {
        let mut w = SqlWriter::default();
        let condition = self.condition(&mut w, "t", filter)?;
        let g = self.geometry_expr("t");
        let label = self
            .label
            .map(|i| &self.columns[i].name)
            .or_else(|| {
                self.columns
                    .iter()
                    .find(|c| c.name == "name")
                    .map(|c| &c.name)
            })
            .map_or_else(
                || "NULL".to_owned(),
                |n| format!("to_jsonb(t.{})::text", quote_ident(n)),
            );
        let limit = w.bind(Box::new(max as i64 + 1), "int8");
        let rows = self
            .db
            .query(
                cancel,
                &format!(
                    "SELECT {}, {label}, ST_AsGeoJSON(ST_Transform({g}, 4326))::text FROM {} t \
                     WHERE {g} IS NOT NULL AND ({condition}) ORDER BY {} LIMIT {limit}",
                    self.feature_columns("t", crs, None),
                    self.qualified,
                    self.order("t")
                ),
                &w.params,
            )
            .await?;
        if rows.len() > max {
            return Err(SourceError::BadRequest(format!(
                "more than {max} features of {} take part in this query: narrow it with a filter",
                self.config.id
            )));
        }
        Ok(rows
            .iter()
            .map(|r| {
                (
                    Self::feature(r, 0),
                    r.get::<_, Option<String>>(3)
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .unwrap_or(Value::Null),
                    r.get(4),
                )
            })
            .collect())
    }

    /// The statement timeout of the database.
    #[must_use]
    pub fn statement_timeout(&self) -> Duration {
        self.db.statement_timeout
    }
}

/// A string as an SQL literal (for column names the table itself gave).
fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A lon/lat box sure to hold every point within `radius_m` of the box `w s e n`.
#[must_use]
pub fn search_box_lonlat(w: f64, s: f64, e: f64, n: f64, radius_m: f64) -> [f64; 4] {
    let dlat = radius_m / 110_500.0;
    let south = (s - dlat).max(-90.0);
    let north = (n + dlat).min(90.0);
    let widest = south.abs().max(north.abs()).min(89.9);
    let dlon = (radius_m / (111_000.0 * widest.to_radians().cos())).min(360.0);
    [(w - dlon).max(-180.0), south, (e + dlon).min(180.0), north]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_boxes() {
        assert_eq!(geometry_type_names("MULTIPOLYGON"), ["MultiPolygon"]);
        assert_eq!(geometry_type_names("POINTZ"), ["Point"]);
        assert!(geometry_type_names("GEOMETRY").is_empty());
        assert_eq!(
            box_bounds("POLYGON((2.3 50.3,2.3 50.6,3.1 50.6,3.1 50.3,2.3 50.3))"),
            Some([2.3, 50.3, 3.1, 50.6])
        );
        assert_eq!(sql_literal("it's"), "'it''s'");
    }
}
