//! The tile cache: encoded tiles by a 128-bit digest of (data version, layers, filter, tile,
//! content encoding), bounded in bytes, with single flight — concurrent misses of one tile
//! render it once, whether or not the cache keeps it.
//!
//! A hit costs one hash and one lookup: the body and its ETag are stored ready to send.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use axum::http::HeaderValue;
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
    pub fn token(self) -> Option<&'static str> {
        match self {
            Self::Identity => None,
            Self::Gzip => Some("gzip"),
            Self::Brotli => Some("br"),
        }
    }

    /// Compresses `raw` into this encoding: gzip level 6, brotli quality `brotli_quality`.
    #[must_use]
    pub fn compress(self, raw: &[u8], brotli_quality: u32) -> Bytes {
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
                // A window just large enough for the body: the same output for a fraction of
                // the 4 MiB window's memory and set-up time on small bodies (most tiles).
                let lgwin = (usize::BITS - (raw.len() + 16).leading_zeros()).clamp(10, 22);
                {
                    let mut enc =
                        brotli::CompressorWriter::new(&mut out, 4096, brotli_quality, lgwin);
                    enc.write_all(raw).expect("writing to a Vec cannot fail");
                }
                Bytes::from(out)
            }
        }
    }

    /// Picks the encoding from `Accept-Encoding`: the highest q-value among br, gzip and
    /// identity, preferring br then gzip on ties; `q=0` refuses a coding; a malformed q-value
    /// makes its item ignored.
    ///
    /// ```
    /// use terril::http::tile_cache::Encoding;
    /// assert_eq!(Encoding::negotiate(["gzip, deflate, br"]), Encoding::Brotli);
    /// assert_eq!(Encoding::negotiate(["br;q=0.5, gzip;q=1"]), Encoding::Gzip);
    /// assert_eq!(Encoding::negotiate(["br;q=abc, gzip"]), Encoding::Gzip);
    /// assert_eq!(Encoding::negotiate(["gzip;q=0"]), Encoding::Identity);
    /// assert_eq!(Encoding::negotiate(["*"]), Encoding::Brotli);
    /// ```
    pub fn negotiate<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let [_, gzip, br] = Self::weights(values);
        if br > 0.0 && br >= gzip {
            Self::Brotli
        } else if gzip > 0.0 {
            Self::Gzip
        } else {
            Self::Identity
        }
    }

    /// Picks `stored` (the coding a tile is already in) whenever the client accepts it, else
    /// negotiates as [`Encoding::negotiate`]: a stored gzip tile passes through untouched.
    ///
    /// ```
    /// use terril::http::tile_cache::Encoding;
    /// assert_eq!(Encoding::negotiate_stored(["gzip, deflate, br"], Encoding::Gzip), Encoding::Gzip);
    /// assert_eq!(Encoding::negotiate_stored(["br"], Encoding::Gzip), Encoding::Brotli);
    /// assert_eq!(Encoding::negotiate_stored(["gzip;q=0"], Encoding::Gzip), Encoding::Identity);
    /// ```
    pub fn negotiate_stored<'a>(
        values: impl IntoIterator<Item = &'a str> + Clone,
        stored: Self,
    ) -> Self {
        let weights = Self::weights(values.clone());
        if stored != Self::Identity && weights[stored as usize] > 0.0 {
            stored
        } else {
            Self::negotiate(values)
        }
    }

    /// The q-values of identity, gzip and br.
    fn weights<'a>(values: impl IntoIterator<Item = &'a str>) -> [f32; 3] {
        let mut q = [None::<f32>; 3]; // identity, gzip, br
        let mut star: Option<f32> = None;
        for value in values {
            for item in value.split(',') {
                let mut parts = item.split(';');
                let token = parts.next().unwrap_or("").trim();
                let mut weight = Some(1.0f32);
                for p in parts {
                    let p = p.trim();
                    if let Some(v) = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")) {
                        weight = v
                            .trim()
                            .parse::<f32>()
                            .ok()
                            .filter(|w| (0.0..=1.0).contains(w));
                    }
                }
                let Some(weight) = weight else { continue };
                let slot = if token.eq_ignore_ascii_case("br") {
                    &mut q[2]
                } else if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip")
                {
                    &mut q[1]
                } else if token.eq_ignore_ascii_case("identity") {
                    &mut q[0]
                } else if token == "*" {
                    &mut star
                } else {
                    continue;
                };
                *slot = Some(slot.map_or(weight, |w: f32| w.max(weight)));
            }
        }
        let weight = |i: usize| q[i].or(star).unwrap_or(0.0);
        [weight(0), weight(1), weight(2)]
    }
}

/// A rendered tile, in one encoding, ready to send.
#[derive(Debug, Clone)]
pub struct CachedTile {
    /// The body; empty for a tile with no features.
    pub body: Bytes,
    /// Strong entity tag, quoted, as a header value.
    pub etag: HeaderValue,
}

/// What identifies one cached body: a 128-bit digest of the request's parts.
pub type TileKey = u128;

/// The digest of a tile request.
#[must_use]
pub fn tile_key(
    version: u64,
    layers: &str,
    filter: Option<(&str, &str)>,
    coord: TileCoord,
    encoding: Encoding,
) -> TileKey {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&version.to_le_bytes());
    h.update(&(layers.len() as u64).to_le_bytes());
    h.update(layers.as_bytes());
    match filter {
        Some((lang, text)) => {
            h.update(&[1]);
            h.update(lang.as_bytes());
            h.update(&(text.len() as u64).to_le_bytes());
            h.update(text.as_bytes());
        }
        None => h.update(&[0]),
    }
    h.update(&[coord.z]);
    h.update(&coord.x.to_le_bytes());
    h.update(&coord.y.to_le_bytes());
    h.update(&[encoding as u8]);
    h.digest128()
}

/// Bytes counted for a key and bookkeeping on top of the body.
const ENTRY_OVERHEAD: usize = 96;

type Flight<V> = Arc<tokio::sync::OnceCell<V>>;

/// The tile cache; with a size of 0 it stores nothing but still coalesces concurrent misses.
pub struct TileCache {
    /// The cache (none when disabled); replaced whole on [`TileCache::clear`].
    inner: arc_swap::ArcSwapOption<moka::sync::Cache<TileKey, CachedTile>>,
    max_bytes: u64,
    flights: Mutex<HashMap<TileKey, Flight<CachedTile>>>,
}

fn build_cache(max_bytes: u64) -> moka::sync::Cache<TileKey, CachedTile> {
    moka::sync::Cache::builder()
        .max_capacity(max_bytes)
        .weigher(|_: &TileKey, v: &CachedTile| {
            u32::try_from(v.body.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
        })
        .build()
}

impl TileCache {
    /// A cache holding at most `max_bytes` of tiles (0 disables it).
    #[must_use]
    pub fn new(max_bytes: u64) -> Self {
        let inner = (max_bytes > 0).then(|| Arc::new(build_cache(max_bytes)));
        Self {
            inner: arc_swap::ArcSwapOption::new(inner),
            max_bytes,
            flights: Mutex::default(),
        }
    }

    /// The cached tile for `key`, if present.
    #[must_use]
    pub fn get(&self, key: TileKey) -> Option<CachedTile> {
        self.inner.load().as_ref()?.get(&key)
    }

    /// Stores a tile.
    pub fn insert(&self, key: TileKey, tile: CachedTile) {
        if let Some(cache) = self.inner.load().as_ref() {
            cache.insert(key, tile);
        }
    }

    /// The tile for `key`: from the cache, from a render already under way for the same key,
    /// or rendered by `make` (and stored). Concurrent callers with one key run `make` once;
    /// if that caller goes away, a waiting one takes over.
    pub async fn get_or_make<F, Fut, E>(
        &self,
        key: TileKey,
        make: F,
    ) -> Result<(CachedTile, bool), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<CachedTile, E>>,
    {
        if let Some(hit) = self.get(key) {
            return Ok((hit, true));
        }
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(flights.entry(key).or_default())
        };
        let made = std::sync::atomic::AtomicBool::new(false);
        let result = flight
            .get_or_try_init(|| {
                made.store(true, std::sync::atomic::Ordering::Relaxed);
                async move {
                    let tile = make().await?;
                    self.insert(key, tile.clone());
                    Ok(tile)
                }
            })
            .await
            .cloned();
        {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            if flights.get(&key).is_some_and(|f| {
                Arc::ptr_eq(f, &flight) && (f.initialized() || Arc::strong_count(f) <= 2)
            }) {
                flights.remove(&key);
            }
        }
        result.map(|t| (t, !made.load(std::sync::atomic::Ordering::Relaxed)))
    }

    /// Empties the cache (after a reload: old tiles will never be asked for again) by putting
    /// a new one in its place: moka's `invalidate_all` frees its entries only lazily.
    pub fn clear(&self) {
        if self.max_bytes > 0 {
            self.inner
                .store(Some(Arc::new(build_cache(self.max_bytes))));
        }
    }

    /// Bytes currently held (an estimate, as moka counts it) and number of entries.
    #[must_use]
    pub fn usage(&self) -> (u64, u64) {
        self.inner.load().as_ref().map_or((0, 0), |c| {
            c.run_pending_tasks();
            (c.weighted_size(), c.entry_count())
        })
    }

    /// Whether the cache stores anything.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.max_bytes > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn tile(body: &'static [u8]) -> CachedTile {
        CachedTile {
            body: Bytes::from_static(body),
            etag: HeaderValue::from_static("\"x\""),
        }
    }

    #[test]
    fn compression_round_trips() {
        use std::io::Read;
        let raw: Vec<u8> = (0..10_000u32).map(|i| (i % 7) as u8).collect();
        let gz = Encoding::Gzip.compress(&raw, 4);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, raw);
        let br = Encoding::Brotli.compress(&raw, 4);
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
            let key = tile_key(
                1,
                "a",
                None,
                TileCoord::new(10, u64::from(i), 0).unwrap(),
                Encoding::Identity,
            );
            cache.insert(
                key,
                CachedTile {
                    body: Bytes::from(vec![0u8; 1000]),
                    etag: HeaderValue::from_static("\"x\""),
                },
            );
        }
        let (bytes, entries) = cache.usage();
        assert!(bytes <= 100_000, "{bytes}");
        assert!(entries > 0 && entries < 1000);
        assert!(!TileCache::new(0).is_enabled());
    }

    #[test]
    fn keys_tell_requests_apart() {
        let c = TileCoord::new(3, 1, 2).unwrap();
        let k = tile_key(1, "a,b", None, c, Encoding::Gzip);
        assert_ne!(k, tile_key(2, "a,b", None, c, Encoding::Gzip));
        assert_ne!(k, tile_key(1, "a", None, c, Encoding::Gzip));
        assert_ne!(
            k,
            tile_key(1, "a,b", Some(("cql2-text", "x=1")), c, Encoding::Gzip)
        );
        assert_ne!(k, tile_key(1, "a,b", None, c, Encoding::Brotli));
        assert_eq!(k, tile_key(1, "a,b", None, c, Encoding::Gzip));
    }

    /// Sixteen concurrent misses of one tile render it once, with the cache on or off.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_render_once() {
        for bytes in [0, 1 << 20] {
            let cache = Arc::new(TileCache::new(bytes));
            let renders = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..16)
                .map(|_| {
                    let (cache, renders) = (Arc::clone(&cache), Arc::clone(&renders));
                    tokio::spawn(async move {
                        cache
                            .get_or_make(7, || async {
                                renders.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                                Ok::<_, ()>(tile(b"t"))
                            })
                            .await
                    })
                })
                .collect();
            for t in tasks {
                assert_eq!(&t.await.unwrap().unwrap().0.body[..], b"t");
            }
            assert_eq!(renders.load(Ordering::SeqCst), 1, "cache of {bytes} bytes");
            assert!(
                cache.flights.lock().unwrap().is_empty(),
                "no flight is left behind"
            );
        }
    }
}
