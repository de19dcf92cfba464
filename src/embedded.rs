//! The default data compiled into the binary: `geodata/` as it was at build time.
//!
//! Used when no data folder is given and `./geodata` does not exist, so the binary serves the
//! territory from anywhere.

use include_dir::{Dir, include_dir};

use crate::config::CatalogConfig;
use crate::layer::{Catalog, LoadError};

static GEODATA: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/geodata");

/// Loads the embedded catalog and its layers.
pub fn catalog() -> Result<Catalog, LoadError> {
    let whole = |problem: String| LoadError {
        file: "(embedded) catalog.toml".into(),
        feature: None,
        problem,
    };
    let text = GEODATA
        .get_file("catalog.toml")
        .and_then(|f| f.contents_utf8())
        .ok_or_else(|| whole("missing from the binary".into()))?;
    let config =
        CatalogConfig::parse(text, "(embedded) catalog.toml").map_err(|e| whole(e.to_string()))?;
    Catalog::from_config(config, |name| {
        GEODATA
            .get_file(name)
            .map(|f| f.contents().to_vec())
            .ok_or_else(|| format!("(embedded) {name} is missing from the binary"))
    })
}
