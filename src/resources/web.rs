//! The map application (`web/src`) and MapLibre GL JS, built into the binary.
//!
//! MapLibre comes from the npm registry, pinned by `web/package-lock.json`; `build.rs` installs
//! it with npm at build time. Without npm the binary still builds, and the map page explains
//! what is missing instead of failing in the browser.

use include_dir::{Dir, include_dir};

static APP: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/web/src");

/// Why MapLibre GL JS is missing from this build, if it is.
pub const MAPLIBRE_MISSING: Option<&str> = option_env!("TERRIL_MAPLIBRE_MISSING");

const MAPLIBRE: &[(&str, &[u8])] = &[
    (
        "maplibre-gl.mjs",
        include_bytes!(concat!(env!("OUT_DIR"), "/maplibre/maplibre-gl.mjs")),
    ),
    (
        "maplibre-gl-worker.mjs",
        include_bytes!(concat!(env!("OUT_DIR"), "/maplibre/maplibre-gl-worker.mjs")),
    ),
    (
        "maplibre-gl.css",
        include_bytes!(concat!(env!("OUT_DIR"), "/maplibre/maplibre-gl.css")),
    ),
    (
        "maplibre-gl-LICENSE.txt",
        include_bytes!(concat!(env!("OUT_DIR"), "/maplibre/LICENSE.txt")),
    ),
];

macro_rules! precompressed {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!(env!("OUT_DIR"), "/maplibre/", $name, ".br")) as &[u8],
            include_bytes!(concat!(env!("OUT_DIR"), "/maplibre/", $name, ".gz")) as &[u8],
        )
    };
}

/// MapLibre's files compressed when the binary was built: name, brotli (quality 11), gzip.
const PRECOMPRESSED: &[(&str, &[u8], &[u8])] = &[
    precompressed!("maplibre-gl.mjs"),
    precompressed!("maplibre-gl-worker.mjs"),
    precompressed!("maplibre-gl.css"),
];

/// The brotli and gzip bodies of an asset compressed at build time, if it is one.
#[must_use]
pub fn precompressed(name: &str) -> Option<(&'static [u8], &'static [u8])> {
    PRECOMPRESSED
        .iter()
        .find(|(n, br, _)| *n == name && !br.is_empty())
        .map(|(_, br, gz)| (*br, *gz))
}

/// An asset served under `/assets/`: its bytes and media type.
#[must_use]
pub fn asset(name: &str) -> Option<(&'static [u8], &'static str)> {
    let bytes = MAPLIBRE
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
        .filter(|b| !b.is_empty())
        .or_else(|| {
            // Only plain file names: the app folder is flat.
            (!name.contains('/') && name != "index.html")
                .then(|| APP.get_file(name).map(|f| f.contents()))
                .flatten()
        })?;
    Some((bytes, media_type(name)))
}

/// The names of the map application's own files served under `/assets/` (the page aside).
pub fn app_files() -> impl Iterator<Item = &'static str> {
    APP.files()
        .filter_map(|f| f.path().to_str())
        .filter(|name| *name != "index.html")
}

/// The map page.
#[must_use]
pub fn index_html() -> &'static [u8] {
    APP.get_file("index.html")
        .map_or(b"" as &[u8], |f| f.contents())
}

/// The media type of an asset, from its extension.
#[must_use]
pub fn media_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The page shown instead of the map when MapLibre was not built in.
#[must_use]
pub fn missing_page(reason: &str) -> String {
    let escaped = reason
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Terril — carte indisponible</title></head>\
         <body><h1>La carte n'est pas disponible dans ce binaire</h1>\
         <p>MapLibre GL JS n'a pas pu être installé depuis le registre npm lors de la compilation ({escaped}).</p>\
         <p>Installez Node.js et npm, puis recompilez : <code>cargo build --release</code>.</p>\
         <p>Les tuiles (<a href=\"/tiles.json\">/tiles.json</a>), l'API OGC (<a href=\"/collections\">/collections</a>) \
         et les requêtes (<code>/query/…</code>) fonctionnent sans la carte.</p></body></html>"
    )
}
