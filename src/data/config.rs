//! The layer catalog file (`catalog.toml`): which layers to serve, where their features come
//! from, and how they are published.
//!
//! A layer reads a GeoJSON file (the default), a PostGIS table or view (`table = …`), or a tile
//! archive (`archive = …`):
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
//!
//! [[layer]]
//! id = "parcelles"
//! table = "parcelles"          # a PostGIS table or view (needs --pg-url)
//! schema = "cadastre"          # default "public"
//! geometry_column = "geom"     # default: the table's only geometry column
//! id_column = "idu"            # default: the primary key, if it is one column
//!
//! [layer.generalize]           # at low zooms, keep the largest features of dense layers
//! full_from = 9                # every feature from this zoom up
//! max_features = 3000          # per tile below it, largest first
//! max_tile_kb = 500            # and no more than this many KiB per tile
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::mercator::MAX_ZOOM;

/// Suffix of the tile layers that carry label points (`communes_labels`).
pub const LABEL_SUFFIX: &str = "_labels";

/// Ids that would shadow a route of the server.
const RESERVED_IDS: &[&str] = &[
    "catalog",
    "health",
    "tiles",
    "styles",
    "fonts",
    "sprites",
    "api",
    "metrics",
    "WebMercatorQuad",
];

/// The parsed `catalog.toml`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CatalogConfig {
    /// Layers in drawing order (first is drawn first, i.e. at the bottom).
    #[serde(rename = "layer", default)]
    pub layers: Vec<LayerConfig>,
    /// How a database given with `--pg-url` is read.
    #[serde(default)]
    pub postgis: PostgisConfig,
}

/// The `[postgis]` table of `catalog.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgisConfig {
    /// Whether the database's other geometry tables (those no `[[layer]]` names) are served
    /// too, each as a layer (default `true`).
    #[serde(default = "yes")]
    pub discover: bool,
}

impl Default for PostgisConfig {
    fn default() -> Self {
        Self { discover: true }
    }
}

fn yes() -> bool {
    true
}

/// One `[[layer]]` entry of `catalog.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LayerConfig {
    /// Layer id, used in URLs and as the MVT layer name.
    pub id: String,
    /// GeoJSON file, relative to the catalog; defaults to `<id>.geojson`.
    pub file: Option<String>,
    /// A PostGIS table or view: the layer reads its rows instead of a file.
    pub table: Option<String>,
    /// Schema of `table` (default `public`).
    pub schema: Option<String>,
    /// Geometry column of `table` (default: its only geometry column).
    pub geometry_column: Option<String>,
    /// Column holding each row's stable id (default: a one-column primary key).
    pub id_column: Option<String>,
    /// A PMTiles or MBTiles archive (a path relative to the catalog, an `http(s)://` URL or an
    /// `s3://bucket/key`): the layer serves its tiles as they are.
    pub archive: Option<String>,
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
    /// Low-zoom generalization for dense layers.
    pub generalize: Option<Generalize>,
}

/// Where a layer's features come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// A GeoJSON file, held in memory.
    File,
    /// A PostGIS table or view.
    Postgis,
    /// A PMTiles or MBTiles archive (tiles only).
    Archive,
}

/// Low-zoom generalization, in the spirit of tippecanoe's `--drop-smallest-as-needed`: below
/// `full_from`, a tile keeps at most `max_features` features of the layer, the largest first
/// (area for polygons, length for lines; points in file order), and stops adding features once
/// it reaches `max_tile_kb`. From `full_from` up every feature is kept.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Generalize {
    /// The lowest zoom at which every feature is kept.
    pub full_from: u8,
    /// Most features of the layer in one tile below `full_from`.
    #[serde(default = "default_max_features")]
    pub max_features: usize,
    /// Most KiB of one tile below `full_from`.
    #[serde(default = "default_max_tile_kb")]
    pub max_tile_kb: usize,
}

fn default_maxzoom() -> u8 {
    16
}

fn default_max_features() -> usize {
    3000
}

fn default_max_tile_kb() -> usize {
    500
}

impl Generalize {
    /// Whether zoom `z` is generalized.
    #[must_use]
    pub fn applies_at(&self, z: u8) -> bool {
        z < self.full_from
    }

    /// The byte budget of a tile below `full_from`.
    #[must_use]
    pub fn max_tile_bytes(&self) -> usize {
        self.max_tile_kb.saturating_mul(1024)
    }
}

/// Why a catalog cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The catalog's path as shown.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys.
    #[error("{path}: {message}")]
    Parse {
        /// The catalog's path as shown.
        path: String,
        /// What is wrong, without the offending text.
        message: String,
    },
    /// A layer entry breaks a rule.
    #[error("{path}: layer {id:?}: {problem}")]
    Layer {
        /// The catalog's path as shown.
        path: String,
        /// The layer's id.
        id: String,
        /// What is wrong.
        problem: String,
    },
}

impl LayerConfig {
    /// A layer entry with only an id and the defaults of `catalog.toml`: a GeoJSON file named
    /// after it, zooms 0–16, every property kept, no label.
    ///
    /// ```
    /// let config = terril::data::config::LayerConfig::named("parks");
    /// assert_eq!(config.file_name(), "parks.geojson");
    /// assert_eq!((config.minzoom, config.maxzoom), (0, 16));
    /// ```
    #[must_use]
    pub fn named(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            file: None,
            table: None,
            schema: None,
            geometry_column: None,
            id_column: None,
            archive: None,
            title: String::new(),
            description: String::new(),
            attribution: String::new(),
            licence: String::new(),
            minzoom: 0,
            maxzoom: default_maxzoom(),
            properties: None,
            label: None,
            generalize: None,
        }
    }

    /// Where the layer's features come from.
    #[must_use]
    pub fn kind(&self) -> LayerKind {
        if self.table.is_some() {
            LayerKind::Postgis
        } else if self.archive.is_some() {
            LayerKind::Archive
        } else {
            LayerKind::File
        }
    }

    /// The GeoJSON file name, relative to the catalog.
    #[must_use]
    pub fn file_name(&self) -> String {
        self.file
            .clone()
            .unwrap_or_else(|| format!("{}.geojson", self.id))
    }

    /// Whether the layer is encoded in tiles at zoom `z`: from `minzoom` on. Above `maxzoom`
    /// its tiles are overzoomed (drawn with the detail of `maxzoom`), for clients that ask for
    /// deeper tiles than TileJSON announces.
    #[must_use]
    pub fn shows_at(&self, z: u8) -> bool {
        z >= self.minzoom
    }

    /// Whether property `key` is written into tiles.
    #[must_use]
    pub fn keeps_in_tiles(&self, key: &str) -> bool {
        self.properties
            .as_ref()
            .is_none_or(|kept| kept.iter().any(|k| k == key))
    }

    /// The name of the tile layer that holds this layer's label points.
    #[must_use]
    pub fn label_layer_name(&self) -> String {
        format!("{}{LABEL_SUFFIX}", self.id)
    }

    /// Checks one entry on its own; `problem` describes the first rule it breaks.
    pub fn check(&self) -> Result<(), String> {
        check_id(&self.id)?;
        if self.minzoom > self.maxzoom || self.maxzoom > MAX_ZOOM {
            return Err(format!(
                "zoom range {}..={} must lie within 0..={MAX_ZOOM} with min ≤ max",
                self.minzoom, self.maxzoom
            ));
        }
        let sources = [
            self.file.is_some(),
            self.table.is_some(),
            self.archive.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() > 1 {
            return Err("give one of file, table or archive".into());
        }
        if self.kind() != LayerKind::Postgis
            && (self.schema.is_some() || self.geometry_column.is_some() || self.id_column.is_some())
        {
            return Err("schema, geometry_column and id_column go with table".into());
        }
        if self.kind() == LayerKind::File {
            let file = self.file_name();
            if file.contains("..")
                || file.starts_with('/')
                || file.contains('\\')
                || file.contains('\0')
            {
                return Err(format!("file {file:?} must stay inside the data folder"));
            }
        }
        if let Some(g) = &self.generalize {
            if g.full_from > MAX_ZOOM + 1 {
                return Err(format!(
                    "generalize.full_from must be at most {}",
                    MAX_ZOOM + 1
                ));
            }
            if g.max_features == 0 || g.max_tile_kb == 0 {
                return Err("generalize.max_features and max_tile_kb must be above 0".into());
            }
        }
        Ok(())
    }
}

/// Checks a layer id: 1–64 characters of a-z, 0-9, `_` or `-`, not reserved, not ending in
/// [`LABEL_SUFFIX`].
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err("id must be 1-64 characters of a-z, 0-9, '_' or '-'".into());
    }
    if id.ends_with(LABEL_SUFFIX) {
        return Err("ids ending in \"_labels\" are kept for label points".into());
    }
    if RESERVED_IDS.contains(&id) {
        return Err("id is reserved for a server route".into());
    }
    Ok(())
}

impl CatalogConfig {
    /// Parses and checks catalog text; `path` is only used in messages.
    ///
    /// A TOML error names the line and column but never repeats the text of the line: a
    /// catalog may hold a secret (a database URL) that must not reach an error page.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: toml_message(&e, text),
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
        let mut seen = std::collections::HashSet::new();
        for layer in &self.layers {
            let fail = |problem: String| ConfigError::Layer {
                path: path.to_owned(),
                id: layer.id.chars().take(64).collect(),
                problem,
            };
            layer.check().map_err(fail)?;
            if !seen.insert(layer.id.as_str()) {
                return Err(fail("id is declared twice".into()));
            }
        }
        Ok(())
    }
}

/// A TOML error as "line L, column C: what", without the quoted source line.
fn toml_message(e: &toml::de::Error, text: &str) -> String {
    let what = e.message().to_owned();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("TOML error at line {line}, column {column}: {what}")
        }
        None => format!("TOML error: {what}"),
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
        assert_eq!(c.layers[0].kind(), LayerKind::File);
    }

    #[test]
    fn reads_tables_archives_and_generalization() {
        let c = CatalogConfig::parse(
            "[[layer]]\nid = \"p\"\ntable = \"parcelles\"\nschema = \"cadastre\"\n\
             [layer.generalize]\nfull_from = 9\n\
             [[layer]]\nid = \"a\"\narchive = \"a.pmtiles\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.layers[0].kind(), LayerKind::Postgis);
        let g = c.layers[0].generalize.unwrap();
        assert_eq!((g.full_from, g.max_features, g.max_tile_kb), (9, 3000, 500));
        assert!(g.applies_at(8) && !g.applies_at(9));
        assert_eq!(c.layers[1].kind(), LayerKind::Archive);
    }

    #[test]
    fn rejects_bad_entries() {
        for bad in [
            "[[layer]]\nid = \"Bad Id\"\n",
            "[[layer]]\nid = \"health\"\n",
            "[[layer]]\nid = \"a_labels\"\n",
            "[[layer]]\nid = \"a\"\n[[layer]]\nid = \"a\"\n",
            "[[layer]]\nid = \"a\"\nminzoom = 5\nmaxzoom = 4\n",
            "[[layer]]\nid = \"a\"\nfile = \"../etc/passwd\"\n",
            "[[layer]]\nid = \"a\"\ncolour = \"red\"\n",
            "[[layer]]\nid = \"a\"\nfile = \"a.geojson\"\ntable = \"a\"\n",
            "[[layer]]\nid = \"a\"\nschema = \"s\"\n",
            "[[layer]]\nid = \"a\"\n[layer.generalize]\nfull_from = 5\nmax_features = 0\n",
        ] {
            assert!(CatalogConfig::parse(bad, "t").is_err(), "{bad}");
        }
    }

    /// A TOML error says where, never what the line held (it might be a password).
    #[test]
    fn errors_do_not_echo_the_text() {
        let e = CatalogConfig::parse("[[layer]]\nid = \"a\"\npassword = \"hunter2\" oops\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        // A UTF-8 BOM (Windows editors) is not an error.
        assert!(CatalogConfig::parse("\u{feff}[[layer]]\nid = \"a\"\n", "t").is_ok());
    }
}
