//! A byte-bounded in-memory cache of encoded tiles, one entry per tile and content encoding.
//!
//! Keys carry the data version, so a reload never serves stale tiles: old entries simply
//! stop being asked for and age out.

use std::sync::Arc;

use bytes::Bytes;

use crate::mercator::TileCoord;

/// How a body is compressed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// No compression.
    Identity,
    /// `Content-Encoding: gzip`.
    Gzip,
    /// `Content-Encoding: br`.
    Brotli,
}

impl Encoding {
    /// The `Content-Encoding` token, if any.
    #[must_use]
    pub fn header(self) -> Option<&'static str> {
        match self {
            Self::Identity => None,
            Self::Gzip => Some("gzip"),
            Self::Brotli => Some("br"),
        }
    }

    /// Compresses `raw` into this encoding.
    #[must_use]
    pub fn compress(self, raw: &[u8]) -> Bytes {
        use std::io::Write;
        match self {
            Self::Identity => Bytes::copy_from_slice(raw),
            Self::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(raw.len() / 2),
                    flate2::Compression::new(6),
                );
                enc.write_all(raw).expect("writing to a Vec cannot fail");
                Bytes::from(enc.finish().expect("writing to a Vec cannot fail"))
            }
            Self::Brotli => {
                let mut out = Vec::with_capacity(raw.len() / 2);
                {
                    let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                    enc.write_all(raw).expect("writing to a Vec cannot fail");
                }
                Bytes::from(out)
            }
        }
    }
}

/// What identifies one cached body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    /// The catalog's data version.
    pub version: u64,
    /// Comma list of layer ids, as requested (normalised).
    pub layers: Arc<str>,
    /// Filter text, if any.
    pub filter: Option<Arc<str>>,
    /// The tile.
    pub coord: TileCoord,
    /// Content encoding of the body.
    pub encoding: Encoding,
}

/// A rendered tile: its body in one encoding and the strong ETag of that body.
#[derive(Debug, Clone)]
pub struct CachedTile {
    /// The body; empty for a tile with no features.
    pub body: Bytes,
    /// Strong entity tag, quoted.
    pub etag: Arc<str>,
}

/// The tile cache; with a size of 0 it stores nothing.
#[derive(Clone)]
pub struct TileCache {
    inner: Option<moka::sync::Cache<TileKey, CachedTile>>,
}

/// Bytes counted for a key and bookkeeping on top of the body.
const ENTRY_OVERHEAD: usize = 160;

impl TileCache {
    /// A cache holding at most `max_bytes` of tiles (0 disables it).
    #[must_use]
    pub fn new(max_bytes: u64) -> Self {
        let inner = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|k: &TileKey, v: &CachedTile| {
                    let weight = v.body.len()
                        + v.etag.len()
                        + k.layers.len()
                        + k.filter.as_ref().map_or(0, |f| f.len())
                        + ENTRY_OVERHEAD;
                    u32::try_from(weight).unwrap_or(u32::MAX)
                })
                .build()
        });
        Self { inner }
    }

    /// The cached tile for `key`, if present.
    #[must_use]
    pub fn get(&self, key: &TileKey) -> Option<CachedTile> {
        self.inner.as_ref()?.get(key)
    }

    /// Stores a tile.
    pub fn insert(&self, key: TileKey, tile: CachedTile) {
        if let Some(cache) = &self.inner {
            cache.insert(key, tile);
        }
    }

    /// Bytes currently held (an estimate, as moka counts it) and number of entries.
    #[must_use]
    pub fn usage(&self) -> (u64, u64) {
        self.inner.as_ref().map_or((0, 0), |c| {
            c.run_pending_tasks();
            (c.weighted_size(), c.entry_count())
        })
    }

    /// Whether the cache stores anything.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_round_trips() {
        use std::io::Read;
        let raw: Vec<u8> = (0..10_000u32).map(|i| (i % 7) as u8).collect();
        let gz = Encoding::Gzip.compress(&raw);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, raw);
        let br = Encoding::Brotli.compress(&raw);
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, raw);
        assert!(br.len() < raw.len() / 10 && gz.len() < raw.len() / 10);
    }

    #[test]
    fn byte_bound_holds() {
        let cache = TileCache::new(100_000);
        for i in 0..1000u32 {
            let key = TileKey {
                version: 1,
                layers: "a".into(),
                filter: None,
                coord: TileCoord::new(10, u64::from(i), 0).unwrap(),
                encoding: Encoding::Identity,
            };
            cache.insert(
                key,
                CachedTile {
                    body: Bytes::from(vec![0u8; 1000]),
                    etag: "\"x\"".into(),
                },
            );
        }
        let (bytes, entries) = cache.usage();
        assert!(bytes <= 100_000, "{bytes}");
        assert!(entries > 0 && entries < 1000);
        assert!(!TileCache::new(0).is_enabled());
    }
}
