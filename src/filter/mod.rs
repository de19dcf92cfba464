//! CQL2 filters (OGC 21-065r2): text parsed by [`text`], JSON by the `cql2` crate, both
//! compiled against a layer's [`Schema`] into a typed tree ([`tree`]) that every backend reads:
//! the in-memory layers evaluate it per feature ([`eval`], three-valued logic as the standard's
//! truth tables say), PostGIS turns it into SQL with bound parameters.
//!
//! Conformance classes: Basic CQL2, Advanced Comparison Operators, Case- and
//! Accent-insensitive Comparison, Basic Spatial Functions (and "plus"), Spatial Functions,
//! Temporal Functions, Array Functions, Property-Property Comparisons, Arithmetic. Geometry
//! literals are WGS84 lon/lat (CRS84); a `BBOX` whose west edge lies east of its east edge
//! crosses the antimeridian.

pub mod compile;
pub mod eval;
pub mod text;
pub mod tree;

use std::sync::Arc;

use cql2::Expr;

use crate::data::{FieldType, KeyId, Layer};
pub use eval::Evaluator;
pub use tree::Pred;

/// Longest filter text accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 16 * 1024;

/// Names under which a filter may refer to a feature's geometry (the standard's test data
/// calls it `geom`).
pub const GEOMETRY_NAMES: &[&str] = &["geometry", "geom"];

/// Why a filter cannot be used; the message points at the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

/// The filter language of a request (`filter-lang`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterLang {
    /// CQL2 text, e.g. `theme = 'MEMOIRE' AND population > 1000`.
    Text,
    /// CQL2 JSON, e.g. `{"op": "=", "args": [{"property": "theme"}, "MEMOIRE"]}`.
    Json,
}

impl FilterLang {
    /// Reads `filter-lang`; `None` means the default, `cql2-text`.
    pub fn parse(value: Option<&str>) -> Result<Self, FilterError> {
        match value {
            None | Some("cql2-text") => Ok(Self::Text),
            Some("cql2-json") => Ok(Self::Json),
            Some(other) => Err(FilterError(format!(
                "filter-lang must be cql2-text or cql2-json, not {:?}",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    /// The `filter-lang` name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "cql2-text",
            Self::Json => "cql2-json",
        }
    }
}

/// Parses filter text (not yet bound to a layer).
pub fn parse(text: &str, lang: FilterLang) -> Result<Expr, FilterError> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(FilterError(format!(
            "filter is {} bytes long; the limit is {MAX_FILTER_BYTES}",
            text.len()
        )));
    }
    match lang {
        FilterLang::Text => {
            text::parse(text).map_err(|e| FilterError(format!("CQL2 text syntax error {e}")))
        }
        FilterLang::Json => {
            cql2::parse_json(text).map_err(|e| FilterError(format!("CQL2 JSON error: {e}")))
        }
    }
}

/// A queryable property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Its name.
    pub name: Arc<str>,
    /// Its type.
    pub field_type: FieldType,
    /// Its key in an in-memory layer (`None` for other backends).
    pub key: Option<KeyId>,
}

/// What a filter may refer to: the queryables of one layer.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// The queryable properties.
    pub fields: Vec<Field>,
    /// The name of the geometry column, when the backend has one (besides `geometry`/`geom`).
    pub geometry_column: Option<String>,
}

impl Schema {
    /// The queryables of an in-memory layer: every property any feature has.
    #[must_use]
    pub fn of_layer(layer: &Layer) -> Self {
        Self {
            fields: layer
                .fields
                .iter()
                .map(|(name, t)| Field {
                    name: name.as_str().into(),
                    field_type: *t,
                    key: layer.key(name),
                })
                .collect(),
            geometry_column: None,
        }
    }

    /// The field called `name`.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| &*f.name == name)
    }

    /// Whether `name` refers to the feature's geometry.
    #[must_use]
    pub fn is_geometry(&self, name: &str) -> bool {
        self.field(name).is_none()
            && (GEOMETRY_NAMES.contains(&name) || self.geometry_column.as_deref() == Some(name))
    }
}

/// A compiled filter, bound to one layer's queryables. Cheap to share between threads; each
/// thread evaluates it through an [`Evaluator`].
#[derive(Debug, Clone)]
pub struct Filter {
    /// The typed predicate.
    pub root: Pred,
}

impl Filter {
    /// Type-checks `expr` against `schema` and compiles it.
    pub fn compile(expr: &Expr, schema: &Schema) -> Result<Self, FilterError> {
        Ok(Self {
            root: compile::compile(expr, schema)?,
        })
    }

    /// Parses and compiles in one step.
    ///
    /// ```
    /// use terril::filter::{Filter, FilterLang, Schema, Field};
    /// use terril::data::FieldType;
    /// let schema = Schema {
    ///     fields: vec![Field { name: "theme".into(), field_type: FieldType::String, key: Some(0) }],
    ///     geometry_column: None,
    /// };
    /// assert!(Filter::new("theme = 'MEMOIRE'", FilterLang::Text, &schema).is_ok());
    /// let e = Filter::new("colour = 'red'", FilterLang::Text, &schema).unwrap_err();
    /// assert!(e.0.contains("not a queryable"));
    /// ```
    pub fn new(text: &str, lang: FilterLang, schema: &Schema) -> Result<Self, FilterError> {
        Self::compile(&parse(text, lang)?, schema)
    }

    /// An evaluator for this thread.
    #[must_use]
    pub fn evaluator(&self) -> Evaluator<'_> {
        Evaluator::new(self)
    }
}

#[cfg(test)]
mod tests;
