//! Static resources compressed once: the map's scripts and styles, MapLibre, icons, sprite
//! sheets, glyph ranges, TileJSON and styles per public URL. Each body is stored in identity,
//! gzip and brotli (quality 11 for the large, unchanging ones) with a strong ETag per
//! encoding, so a download costs no compression.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::if_none_match;
use super::tile_cache::Encoding;
use crate::cancel::Cancel;
use crate::pool::CpuPool;

/// Most distinct bodies kept (styles and TileJSON are kept per public URL).
const MAX_ENTRIES: usize = 4096;

/// Bodies under this size are not compressed (the headers would outweigh the gain).
const MIN_COMPRESSED_BYTES: usize = 256;

/// One body in every encoding.
#[derive(Debug)]
pub struct Stored {
    identity: Bytes,
    gzip: Option<Bytes>,
    br: Option<Bytes>,
    etag: String,
    media: HeaderValue,
}

impl Stored {
    /// Compresses `bytes` (brotli at `quality`) and tags it.
    #[must_use]
    pub fn new(bytes: Bytes, media: &str, quality: u32) -> Self {
        let compressible = bytes.len() >= MIN_COMPRESSED_BYTES && !media.starts_with("image/png");
        let (gzip, br) = if compressible {
            (
                Some(Encoding::Gzip.compress(&bytes, quality)),
                Some(Encoding::Brotli.compress(&bytes, quality)),
            )
        } else {
            (None, None)
        };
        Self {
            etag: format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes)),
            identity: bytes,
            gzip,
            br,
            media: HeaderValue::from_str(media)
                .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
        }
    }

    /// A body whose compressed forms were made beforehand (at build time).
    #[must_use]
    pub fn precompressed(identity: Bytes, gzip: Bytes, br: Bytes, media: &str) -> Self {
        Self {
            etag: format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&identity)),
            identity,
            gzip: Some(gzip),
            br: Some(br),
            media: HeaderValue::from_str(media)
                .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
        }
    }

    /// The answer to a request with these headers: the best encoding it accepts, 304 when its
    /// `If-None-Match` names it.
    #[must_use]
    pub fn respond(&self, headers: &HeaderMap, cache_control: &HeaderValue) -> Response {
        let encoding = Encoding::negotiate(
            headers
                .get_all(header::ACCEPT_ENCODING)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let (body, token) = match encoding {
            Encoding::Brotli if self.br.is_some() => (self.br.clone(), Some("br")),
            Encoding::Gzip | Encoding::Brotli if self.gzip.is_some() => {
                (self.gzip.clone(), Some("gzip"))
            }
            _ => (Some(self.identity.clone()), None),
        };
        let etag = match token {
            Some(t) => format!("\"{}-{t}\"", self.etag),
            None => format!("\"{}\"", self.etag),
        };
        let mut response = if if_none_match(headers, &etag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut r = Response::new(Body::from(body.unwrap_or_default()));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, self.media.clone());
            if let Some(t) = token {
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static(t));
            }
            r
        };
        let h = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(header::CACHE_CONTROL, cache_control.clone());
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        response
    }
}

/// The stored bodies, by key.
#[derive(Debug, Default)]
pub struct Assets {
    map: RwLock<HashMap<String, Arc<Stored>>>,
}

impl Assets {
    /// The stored body of `key`, if present.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<Arc<Stored>> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Stores a body (beyond [`MAX_ENTRIES`] it is returned but not kept).
    pub fn insert(&self, key: String, stored: Stored) -> Arc<Stored> {
        let stored = Arc::new(stored);
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() < MAX_ENTRIES {
            map.insert(key, Arc::clone(&stored));
        }
        stored
    }

    /// The stored body of `key`, compressing `make()` on the pool the first time.
    pub async fn get_or_store(
        &self,
        pool: &CpuPool,
        cancel: Cancel,
        key: &str,
        media: &'static str,
        quality: u32,
        make: impl FnOnce() -> Bytes + Send + 'static,
    ) -> Result<Arc<Stored>, crate::pool::PoolError> {
        if let Some(hit) = self.get(key) {
            return Ok(hit);
        }
        let stored = pool
            .run(cancel, move |_| Ok(Stored::new(make(), media, quality)))
            .await?;
        Ok(self.insert(key.to_owned(), stored))
    }

    /// Empties the bodies that depend on the data (TileJSON), after a reload.
    pub fn forget_data(&self) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| !k.starts_with("tilejson:"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_with_its_etag() {
        let text = Bytes::from("let x = 1;\n".repeat(100));
        let stored = Stored::new(text.clone(), "text/javascript", 11);
        let cc = HeaderValue::from_static("no-cache");
        let mut h = HeaderMap::new();
        let plain = stored.respond(&h, &cc);
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, br"),
        );
        let br = stored.respond(&h, &cc);
        assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
        let etag = br.headers()[header::ETAG].clone();
        assert_ne!(etag, plain.headers()[header::ETAG]);
        h.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(stored.respond(&h, &cc).status(), StatusCode::NOT_MODIFIED);
        // PNG is stored as it is.
        let png = Stored::new(Bytes::from(vec![0u8; 1000]), "image/png", 11);
        assert!(png.br.is_none() && png.gzip.is_none());
    }
}
