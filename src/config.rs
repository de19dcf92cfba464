//! The layer catalog file (`catalog.toml`): which GeoJSON files to serve and how.
//!
//! ```toml
//! [[layer]]
//! id = "communes"              # URL-safe: a-z, 0-9, '_' and '-'
//! file = "communes.geojson"    # optional, defaults to "<id>.geojson", relative to the catalog
//! title = "Communes"
//! description = "The 115 communes of the Pôle Métropolitain de l'Artois"
//! attribution = "IGN ADMIN EXPRESS, INSEE"
//! licence = "Licence Ouverte / Etalab 2.0"
//! minzoom = 0                  # default 0
//! maxzoom = 16                 # default 16
//! properties = ["name", "population"]  # kept in tiles; default: all
//! label = "name"               # optional property used as the feature's label
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::mercator::MAX_ZOOM;

/// Ids that would shadow a route of the server.
const RESERVED_IDS: &[&str] = &[
    "catalog", "health", "tiles", "styles", "fonts", "sprites", "api", "metrics",
];

/// The parsed `catalog.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogConfig {
    /// Layers in drawing order (first is drawn first, i.e. at the bottom).
    #[serde(rename = "layer", default)]
    pub layers: Vec<LayerConfig>,
}

/// One `[[layer]]` entry of `catalog.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LayerConfig {
    /// Layer id, used in URLs and as the MVT layer name.
    pub id: String,
    /// GeoJSON file, relative to the catalog; defaults to `<id>.geojson`.
    pub file: Option<String>,
    /// Human title.
    #[serde(default)]
    pub title: String,
    /// Human description.
    #[serde(default)]
    pub description: String,
    /// Credit line shown on maps.
    #[serde(default)]
    pub attribution: String,
    /// Licence of the data.
    #[serde(default)]
    pub licence: String,
    /// Lowest zoom at which the layer appears in tiles.
    #[serde(default)]
    pub minzoom: u8,
    /// Highest zoom at which the layer is encoded in tiles (clients overzoom above it).
    #[serde(default = "default_maxzoom")]
    pub maxzoom: u8,
    /// Properties written into tiles; `None` keeps them all.
    pub properties: Option<Vec<String>>,
    /// Property that names a feature on the map.
    pub label: Option<String>,
}

fn default_maxzoom() -> u8 {
    16
}

/// Why a catalog cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys.
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    /// A layer entry breaks a rule.
    #[error("{path}: layer {id:?}: {problem}")]
    Layer {
        path: String,
        id: String,
        problem: String,
    },
}

impl LayerConfig {
    /// A layer entry with only an id and the defaults of `catalog.toml`: zooms 0–16, every
    /// property kept, no label.
    ///
    /// ```
    /// let config = terril::config::LayerConfig::named("parks");
    /// assert_eq!(config.file_name(), "parks.geojson");
    /// assert!(config.shows_at(16) && !config.shows_at(17));
    /// ```
    #[must_use]
    pub fn named(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            file: None,
            title: String::new(),
            description: String::new(),
            attribution: String::new(),
            licence: String::new(),
            minzoom: 0,
            maxzoom: default_maxzoom(),
            properties: None,
            label: None,
        }
    }

    /// The GeoJSON file name, relative to the catalog.
    #[must_use]
    pub fn file_name(&self) -> String {
        self.file
            .clone()
            .unwrap_or_else(|| format!("{}.geojson", self.id))
    }

    /// Whether the layer is encoded in tiles at zoom `z`.
    #[must_use]
    pub fn shows_at(&self, z: u8) -> bool {
        (self.minzoom..=self.maxzoom).contains(&z)
    }
}

impl CatalogConfig {
    /// Parses and checks catalog text; `path` is only used in messages.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.check(path)?;
        Ok(config)
    }

    /// Reads and checks `catalog.toml` from disk.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    fn check(&self, path: &str) -> Result<(), ConfigError> {
        let fail = |id: &str, problem: String| ConfigError::Layer {
            path: path.to_owned(),
            id: id.to_owned(),
            problem,
        };
        let mut seen = std::collections::HashSet::new();
        for layer in &self.layers {
            let id = layer.id.as_str();
            if id.is_empty()
                || id.len() > 64
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            {
                return Err(fail(
                    id,
                    "id must be 1-64 characters of a-z, 0-9, '_' or '-'".into(),
                ));
            }
            if id.ends_with(crate::layer::LABEL_SUFFIX) {
                return Err(fail(
                    id,
                    "ids ending in \"_labels\" are kept for label points".into(),
                ));
            }
            if RESERVED_IDS.contains(&id) {
                return Err(fail(id, "id is reserved for a server route".into()));
            }
            if !seen.insert(id) {
                return Err(fail(id, "id is declared twice".into()));
            }
            if layer.minzoom > layer.maxzoom || layer.maxzoom > MAX_ZOOM {
                return Err(fail(
                    id,
                    format!(
                        "zoom range {}..={} must lie within 0..={MAX_ZOOM} with min ≤ max",
                        layer.minzoom, layer.maxzoom
                    ),
                ));
            }
            let file = layer.file_name();
            if file.contains("..") || file.starts_with('/') || file.contains('\\') {
                return Err(fail(
                    id,
                    format!("file {file:?} must stay inside the data folder"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_defaults() {
        let c = CatalogConfig::parse("[[layer]]\nid = \"communes\"\n", "t").unwrap();
        assert_eq!(c.layers[0].file_name(), "communes.geojson");
        assert_eq!((c.layers[0].minzoom, c.layers[0].maxzoom), (0, 16));
        assert!(c.layers[0].properties.is_none());
    }

    #[test]
    fn rejects_bad_entries() {
        for bad in [
            "[[layer]]\nid = \"Bad Id\"\n",
            "[[layer]]\nid = \"health\"\n",
            "[[layer]]\nid = \"a\"\n[[layer]]\nid = \"a\"\n",
            "[[layer]]\nid = \"a\"\nminzoom = 5\nmaxzoom = 4\n",
            "[[layer]]\nid = \"a\"\nfile = \"../etc/passwd\"\n",
            "[[layer]]\nid = \"a\"\ncolour = \"red\"\n",
        ] {
            assert!(CatalogConfig::parse(bad, "t").is_err(), "{bad}");
        }
    }
}
