//! Tile archives as sources: PMTiles v3 (a local file, an `http(s)://` URL read with range
//! requests, or `s3://bucket/key` on S3-compatible object storage) and MBTiles (a local SQLite
//! file). An archive holds encoded Mapbox Vector Tiles (Web Mercator, EPSG:3857 tiling) and
//! their metadata; it has no features to query.
//!
//! PMTiles are read through the `pmtiles` crate over `object_store`, with a bounded cache of
//! directories; MBTiles through SQLite (`rusqlite`), on blocking threads. Tiles are handed out
//! as stored (with their compression, so a gzip-stored tile can be passed through to a client
//! that accepts gzip) or decompressed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use object_store::ObjectStore;
use pmtiles::{AsyncPmTilesReader, MokaCache, ObjectStoreBackend};
use serde_json::Value;

use super::SourceError;
use crate::mercator::TileCoord;

/// Bytes of PMTiles directories kept in memory per archive.
pub const DIRECTORY_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// How the tiles of an archive are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileCompression {
    /// Plain MVT bytes.
    None,
    /// gzip.
    Gzip,
    /// Brotli.
    Brotli,
}

impl TileCompression {
    /// The `Content-Encoding` token.
    #[must_use]
    pub fn token(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Gzip => Some("gzip"),
            Self::Brotli => Some("br"),
        }
    }

    /// Of bytes that may start with the gzip magic number (MBTiles does not say).
    fn sniff(bytes: &[u8]) -> Self {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            Self::Gzip
        } else {
            Self::None
        }
    }

    /// The MVT bytes of a tile stored this way.
    pub fn decompress(self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(bytes.len() * 3);
        match self {
            Self::None => out.extend_from_slice(bytes),
            Self::Gzip => {
                flate2::read::GzDecoder::new(bytes)
                    .read_to_end(&mut out)
                    .map_err(|e| format!("a gzip tile does not decompress: {e}"))?;
            }
            Self::Brotli => {
                brotli::Decompressor::new(bytes, 4096)
                    .read_to_end(&mut out)
                    .map_err(|e| format!("a brotli tile does not decompress: {e}"))?;
            }
        }
        Ok(out)
    }
}

/// A tile as stored in an archive.
#[derive(Debug, Clone)]
pub struct StoredTile {
    /// The bytes as stored.
    pub bytes: Bytes,
    /// Their compression.
    pub compression: TileCompression,
}

/// What an archive says about itself.
#[derive(Debug, Clone, Default)]
pub struct ArchiveMeta {
    /// Its name, if it gives one.
    pub name: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its credit line.
    pub attribution: Option<String>,
    /// Lowest zoom with tiles.
    pub minzoom: u8,
    /// Highest zoom with tiles.
    pub maxzoom: u8,
    /// West, south, east, north in degrees.
    pub bounds: Option<[f64; 4]>,
    /// TileJSON `vector_layers` of its tiles.
    pub vector_layers: Vec<Value>,
}

/// An open tile archive.
pub struct Archive {
    /// Where it is, as shown to users (no credentials).
    pub location: String,
    /// Its metadata.
    pub meta: ArchiveMeta,
    /// Changes whenever the archive's content does (header and metadata).
    pub digest: u64,
    store: Store,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("location", &self.location)
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

enum Store {
    Pmtiles {
        reader: AsyncPmTilesReader<ObjectStoreBackend, MokaCache>,
        compression: TileCompression,
    },
    Mbtiles(Mbtiles),
}

/// Whether a location names an archive Terril reads, by its extension.
#[must_use]
pub fn is_archive(location: &str) -> bool {
    let lower = location.to_ascii_lowercase();
    let path = lower.split(['?', '#']).next().unwrap_or("");
    path.ends_with(".pmtiles") || path.ends_with(".mbtiles")
}

/// The tileset name of an archive: its file's stem (`…/artois.pmtiles` → `artois`).
#[must_use]
pub fn stem(location: &str) -> String {
    let path = location.split(['?', '#']).next().unwrap_or("");
    let file = path.rsplit('/').next().unwrap_or(path);
    file.rsplit_once('.').map_or(file, |(s, _)| s).to_owned()
}

impl Archive {
    /// Opens the archive at `location`: an `http(s)://` or `s3://` URL, or a path (relative
    /// paths from `base`). S3 settings come from the usual environment variables
    /// (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, …).
    pub async fn open(location: &str, base: Option<&Path>) -> Result<Self, String> {
        let lower = location.to_ascii_lowercase();
        if lower.ends_with(".mbtiles") {
            if lower.contains("://") {
                return Err(format!(
                    "{location}: MBTiles is a SQLite file and is read from a local path only; \
                     put a PMTiles archive on object storage"
                ));
            }
            let path = local_path(location, base);
            let mb = tokio::task::spawn_blocking(move || Mbtiles::open(&path))
                .await
                .map_err(|e| e.to_string())??;
            return Ok(Self {
                location: location.to_owned(),
                meta: mb.meta.clone(),
                digest: mb.digest,
                store: Store::Mbtiles(mb),
            });
        }
        if !lower.ends_with(".pmtiles") {
            return Err(format!(
                "{location}: an archive is a .pmtiles or .mbtiles file"
            ));
        }
        let (store, key): (Box<dyn ObjectStore>, object_store::path::Path) =
            if let Some(rest) = location.strip_prefix("s3://") {
                let (bucket, key) = rest
                    .split_once('/')
                    .ok_or_else(|| format!("{location}: an S3 location is s3://bucket/key"))?;
                let mut builder =
                    object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Ok(endpoint) =
                    std::env::var("AWS_ENDPOINT_URL").or_else(|_| std::env::var("AWS_ENDPOINT"))
                {
                    builder = builder
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_endpoint(endpoint);
                }
                let store = builder.build().map_err(|e| format!("{location}: {e}"))?;
                (Box::new(store), object_store::path::Path::from(key))
            } else if lower.starts_with("http://") || lower.starts_with("https://") {
                let (dir, file) = location
                    .rsplit_once('/')
                    .ok_or_else(|| format!("{location}: not a file URL"))?;
                let store = object_store::http::HttpBuilder::new()
                    .with_url(dir)
                    .with_client_options(object_store::ClientOptions::new().with_allow_http(true))
                    .build()
                    .map_err(|e| format!("{location}: {e}"))?;
                (Box::new(store), object_store::path::Path::from(file))
            } else if lower.contains("://") {
                return Err(format!(
                    "{location}: archives are read from a path, http(s):// or s3://"
                ));
            } else {
                let path = local_path(location, base);
                let path =
                    std::fs::canonicalize(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let dir = path.parent().unwrap_or(Path::new("/"));
                let file = path
                    .file_name()
                    .and_then(|f| f.to_str())
                    .ok_or_else(|| format!("{location}: not a file name"))?
                    .to_owned();
                let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| format!("{location}: {e}"))?;
                (Box::new(store), object_store::path::Path::from(file))
            };
        let backend = ObjectStoreBackend::new(store, key);
        let reader = AsyncPmTilesReader::try_from_cached_source(
            backend,
            MokaCache::with_max_bytes(DIRECTORY_CACHE_BYTES),
        )
        .await
        .map_err(|e| format!("{location}: {e}"))?;
        let header = reader.get_header();
        if header.tile_type != pmtiles::TileType::Mvt {
            return Err(format!(
                "{location}: holds {:?} tiles; Terril serves vector tiles (MVT)",
                header.tile_type
            ));
        }
        let compression = match header.tile_compression {
            pmtiles::Compression::None | pmtiles::Compression::Unknown => TileCompression::None,
            pmtiles::Compression::Gzip => TileCompression::Gzip,
            pmtiles::Compression::Brotli => TileCompression::Brotli,
            pmtiles::Compression::Zstd => {
                return Err(format!(
                    "{location}: zstd-compressed tiles are not served (web clients cannot read \
                     them); rewrite the archive with gzip"
                ));
            }
        };
        let metadata = reader
            .get_metadata()
            .await
            .map_err(|e| format!("{location}: metadata: {e}"))?;
        let json: Value = if metadata.trim().is_empty() {
            Value::Object(serde_json::Map::default())
        } else {
            serde_json::from_str(&metadata)
                .map_err(|e| format!("{location}: metadata is not JSON: {e}"))?
        };
        let mut meta = meta_from_json(&json);
        meta.minzoom = header.min_zoom;
        meta.maxzoom = header.max_zoom;
        meta.bounds = Some([
            header.min_longitude,
            header.min_latitude,
            header.max_longitude,
            header.max_latitude,
        ]);
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(format!("{header:?}").as_bytes());
        hasher.update(metadata.as_bytes());
        Ok(Self {
            location: shown(location),
            meta,
            digest: hasher.digest(),
            store: Store::Pmtiles {
                reader,
                compression,
            },
        })
    }

    /// How its tiles are stored (an MBTiles file does not say: gzip, as `terril export` and
    /// most tools write them; each tile is checked when read).
    #[must_use]
    pub fn compression(&self) -> TileCompression {
        match &self.store {
            Store::Pmtiles { compression, .. } => *compression,
            Store::Mbtiles(_) => TileCompression::Gzip,
        }
    }

    /// The tile at `coord` as stored, `None` where the archive has none.
    pub async fn stored_tile(&self, coord: TileCoord) -> Result<Option<StoredTile>, SourceError> {
        if coord.z < self.meta.minzoom || coord.z > self.meta.maxzoom {
            return Ok(None);
        }
        let unavailable = |reason: String| {
            tracing::warn!(archive = %self.location, tile = %coord, error = %reason, "archive read failed");
            SourceError::Unavailable {
                layer: stem(&self.location),
                reason: "the archive could not be read".into(),
            }
        };
        match &self.store {
            Store::Pmtiles {
                reader,
                compression,
            } => {
                let id = pmtiles::TileCoord::new(coord.z, coord.x, coord.y)
                    .map_err(|e| SourceError::BadRequest(e.to_string()))?;
                let bytes = reader
                    .get_tile(id)
                    .await
                    .map_err(|e| unavailable(e.to_string()))?;
                Ok(bytes.map(|bytes| StoredTile {
                    bytes,
                    compression: *compression,
                }))
            }
            Store::Mbtiles(mb) => mb.tile(coord).await.map_err(unavailable),
        }
    }

    /// The MVT bytes of the tile at `coord` (empty where the archive has none).
    pub async fn tile(&self, coord: TileCoord) -> Result<Vec<u8>, SourceError> {
        match self.stored_tile(coord).await? {
            None => Ok(Vec::new()),
            Some(t) => t
                .compression
                .decompress(&t.bytes)
                .map_err(SourceError::Internal),
        }
    }
}

/// A location without the credentials a URL may carry.
fn shown(location: &str) -> String {
    match url::Url::parse(location) {
        Ok(mut u) if u.has_host() => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.set_query(None);
            u.to_string()
        }
        _ => location.to_owned(),
    }
}

fn local_path(location: &str, base: Option<&Path>) -> PathBuf {
    let path = Path::new(location);
    match base {
        Some(base) if path.is_relative() => base.join(path),
        _ => path.to_path_buf(),
    }
}

/// Name, description, attribution and `vector_layers` of TileJSON-like metadata.
fn meta_from_json(json: &Value) -> ArchiveMeta {
    let text = |k: &str| {
        json.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    ArchiveMeta {
        name: text("name"),
        description: text("description"),
        attribution: text("attribution"),
        vector_layers: json
            .get("vector_layers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        ..ArchiveMeta::default()
    }
}

/// A read-only MBTiles file: a few SQLite connections used one at a time on blocking threads.
struct Mbtiles {
    path: PathBuf,
    idle: Arc<Mutex<Vec<rusqlite::Connection>>>,
    meta: ArchiveMeta,
    digest: u64,
}

impl Mbtiles {
    fn connect(path: &Path) -> Result<rusqlite::Connection, String> {
        rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("{}: {e}", path.display()))
    }

    fn open(path: &Path) -> Result<Self, String> {
        if !path.is_file() {
            return Err(format!("{}: no such file", path.display()));
        }
        let conn = Self::connect(path)?;
        let rows: Vec<(String, String)> = conn
            .prepare("SELECT name, value FROM metadata")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()
            })
            .map_err(|e| format!("{}: not an MBTiles file: {e}", path.display()))?;
        let get = |k: &str| rows.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if let Some(format) = get("format").filter(|f| *f != "pbf" && *f != "mvt") {
            return Err(format!(
                "{}: holds {format} tiles; Terril serves vector tiles (pbf)",
                path.display()
            ));
        }
        let json: Value = get("json")
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default();
        let mut meta = meta_from_json(&json);
        meta.name = get("name").map(str::to_owned).or(meta.name);
        meta.description = get("description").map(str::to_owned).or(meta.description);
        meta.attribution = get("attribution").map(str::to_owned).or(meta.attribution);
        let zoom = |k: &str, sql: &str| -> Result<u8, String> {
            match get(k).and_then(|v| v.trim().parse::<u8>().ok()) {
                Some(z) => Ok(z),
                None => conn
                    .query_row(sql, [], |r| r.get::<_, Option<u8>>(0))
                    .map_err(|e| format!("{}: {e}", path.display()))
                    .map(Option::unwrap_or_default),
            }
        };
        meta.minzoom = zoom("minzoom", "SELECT min(zoom_level) FROM tiles")?;
        meta.maxzoom = zoom("maxzoom", "SELECT max(zoom_level) FROM tiles")?;
        meta.bounds = get("bounds").and_then(|b| {
            let v: Vec<f64> = b.split(',').filter_map(|n| n.trim().parse().ok()).collect();
            <[f64; 4]>::try_from(v).ok()
        });
        let stat = std::fs::metadata(path).map_err(|e| e.to_string())?;
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(format!("{rows:?}{}{:?}", stat.len(), stat.modified().ok()).as_bytes());
        Ok(Self {
            path: path.to_path_buf(),
            idle: Arc::new(Mutex::new(vec![conn])),
            meta,
            digest: hasher.digest(),
        })
    }

    async fn tile(&self, coord: TileCoord) -> Result<Option<StoredTile>, String> {
        let (idle, path) = (Arc::clone(&self.idle), self.path.clone());
        tokio::task::spawn_blocking(move || {
            let conn = idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match conn {
                Some(c) => c,
                None => Self::connect(&path)?,
            };
            // MBTiles rows count from the south (TMS).
            let row = (1u32 << coord.z) - 1 - coord.y;
            let found = conn
                .prepare_cached(
                    "SELECT tile_data FROM tiles \
                     WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
                )
                .and_then(|mut s| s.query_row((coord.z, coord.x, row), |r| r.get::<_, Vec<u8>>(0)));
            let result = match found {
                Ok(bytes) => Ok(Some(StoredTile {
                    compression: TileCompression::sniff(&bytes),
                    bytes: Bytes::from(bytes),
                })),
                Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
                Err(e) => Err(e.to_string()),
            };
            idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            result
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_kinds() {
        assert_eq!(stem("s3://bucket/tiles/artois.pmtiles"), "artois");
        assert_eq!(stem("https://cdn.example/fr.pmtiles?v=2"), "fr");
        assert_eq!(stem("data/artois.mbtiles"), "artois");
        assert!(is_archive("A.PMTILES"));
        assert!(is_archive("https://x/a.pmtiles?sig=1"));
        assert!(!is_archive("communes.geojson"));
        assert_eq!(
            shown("https://user:secret@cdn.example/a.pmtiles?X-Amz-Signature=1"),
            "https://cdn.example/a.pmtiles"
        );
    }

    #[test]
    fn gzip_sniffed_and_decompressed() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"\x1a\x02mvt").unwrap();
        let bytes = gz.finish().unwrap();
        let c = TileCompression::sniff(&bytes);
        assert_eq!(c, TileCompression::Gzip);
        assert_eq!(c.decompress(&bytes).unwrap(), b"\x1a\x02mvt");
        assert_eq!(TileCompression::sniff(b"\x1a\x02"), TileCompression::None);
        assert!(TileCompression::Gzip.decompress(b"\x1f\x8bnot").is_err());
    }
}
