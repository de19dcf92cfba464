//! The default data compiled into the binary: `geodata/` as it was at build time.
//!
//! Used when no data folder is given and `./geodata` does not exist, so the binary serves the
//! territory from anywhere.

use include_dir::{Dir, include_dir};

static GEODATA: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/geodata");

/// The bytes of a file of the built-in data folder (`catalog.toml`, `communes.geojson`, …).
#[must_use]
pub fn file(name: &str) -> Option<&'static [u8]> {
    GEODATA.get_file(name).map(|f| f.contents())
}
