//! The data, ground floor above the maths: the catalog file, features and their properties,
//! GeoJSON loading, and where files are read from. Nothing here knows how features are drawn,
//! indexed or queried.

pub mod config;
pub mod embedded;
pub mod feature;
pub mod folder;
pub mod geojson;
pub mod layer;

pub use config::{CatalogConfig, LayerConfig, LayerKind};
pub use feature::{Feature, FieldType, KeyId, PropValue};
pub use folder::DataFolder;
pub use geojson::{FeatureRef, LoadError};
pub use layer::{Layer, union_bounds};
