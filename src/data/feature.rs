//! Features and their properties, held compactly: property names are interned once per layer
//! and each feature keeps `(key, value)` pairs; geometry is WGS84 lon/lat (EPSG:4326, degrees).

use std::sync::Arc;

use geo::Geometry;
use serde::Serialize;
use serde_json::Value;

/// A property value as read from GeoJSON, with its JSON type kept.
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    /// JSON `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A whole number that fits in `i64`.
    Int(i64),
    /// A whole number above `i64::MAX`.
    UInt(u64),
    /// Any other number.
    Float(f64),
    /// Text (shared between features that repeat it).
    Str(Arc<str>),
    /// An array or an object, kept as JSON.
    Json(Arc<Value>),
}

impl PropValue {
    /// The value from JSON.
    #[must_use]
    pub fn from_json(value: Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Self::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Self::UInt(u)
                } else {
                    Self::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => Self::Str(s.into()),
            other => Self::Json(Arc::new(other)),
        }
    }

    /// The value as JSON.
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Int(i) => Value::from(*i),
            Self::UInt(u) => Value::from(*u),
            Self::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Self::Str(s) => Value::String(s.to_string()),
            Self::Json(v) => v.as_ref().clone(),
        }
    }

    /// The number, for numeric values.
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(i) => Some(*i as f64),
            Self::UInt(u) => Some(*u as f64),
            Self::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The text, for strings.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl Serialize for PropValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => s.serialize_unit(),
            Self::Bool(b) => s.serialize_bool(*b),
            Self::Int(i) => s.serialize_i64(*i),
            Self::UInt(u) => s.serialize_u64(*u),
            Self::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Self::Float(_) => s.serialize_unit(),
            Self::Str(text) => s.serialize_str(text),
            Self::Json(v) => v.serialize(s),
        }
    }
}

/// Index of a property name in its layer's key table ([`crate::data::Layer::keys`]).
pub type KeyId = u32;

/// One feature: its id, its properties (keys resolved by the layer) and its geometry.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Stable string id (from GeoJSON `id`, or the position in the file when absent).
    pub id: Box<str>,
    /// Properties in file order; keys index the layer's key table.
    pub properties: Box<[(KeyId, PropValue)]>,
    /// Geometry in WGS84 lon/lat degrees; `None` for an unlocated feature (GeoJSON `"geometry":
    /// null`), which is listed in items but left out of tiles and spatial queries.
    pub geometry: Option<Geometry<f64>>,
}

impl Feature {
    /// The value of property `key`, if the feature has it.
    #[must_use]
    pub fn get(&self, key: KeyId) -> Option<&PropValue> {
        self.properties
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

/// The type of a property across a layer, as published in TileJSON, queryables and the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum FieldType {
    /// Whole numbers only.
    Integer,
    /// Numbers, some with a fraction.
    Number,
    /// Text.
    String,
    /// Text that is an ISO 8601 calendar date (`2021-04-16`) in every feature that has it.
    Date,
    /// Text that is an RFC 3339 instant (`2021-04-16T10:15:00Z`) in every feature that has it.
    Timestamp,
    /// true/false.
    Boolean,
    /// Arrays, objects or values of several types (written to tiles as JSON text).
    Mixed,
}

impl FieldType {
    /// The type of one value; `None` for null.
    #[must_use]
    pub fn of(value: &PropValue) -> Option<Self> {
        match value {
            PropValue::Null => None,
            PropValue::Bool(_) => Some(Self::Boolean),
            PropValue::Int(_) | PropValue::UInt(_) => Some(Self::Integer),
            PropValue::Float(_) => Some(Self::Number),
            PropValue::Str(s) => Some(if is_date(s) {
                Self::Date
            } else if is_timestamp(s) {
                Self::Timestamp
            } else {
                Self::String
            }),
            PropValue::Json(_) => Some(Self::Mixed),
        }
    }

    /// The type of a field holding values of both types.
    #[must_use]
    pub fn merge(self, other: Self) -> Self {
        match (self, other) {
            (a, b) if a == b => a,
            (Self::Integer, Self::Number) | (Self::Number, Self::Integer) => Self::Number,
            (
                Self::String | Self::Date | Self::Timestamp,
                Self::String | Self::Date | Self::Timestamp,
            ) => Self::String,
            _ => Self::Mixed,
        }
    }

    /// The TileJSON name: `Number`, `String` or `Boolean`.
    #[must_use]
    pub fn tilejson_name(self) -> &'static str {
        match self {
            Self::Integer | Self::Number => "Number",
            Self::Boolean => "Boolean",
            Self::String | Self::Date | Self::Timestamp | Self::Mixed => "String",
        }
    }

    /// The lower-case name used in summaries: `integer`, `number`, `string`, `date`,
    /// `timestamp`, `boolean`, `mixed`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Number => "number",
            Self::String => "string",
            Self::Date => "date",
            Self::Timestamp => "timestamp",
            Self::Boolean => "boolean",
            Self::Mixed => "mixed",
        }
    }
}

/// Whether text is a calendar date `YYYY-MM-DD`.
fn is_date(s: &str) -> bool {
    s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok()
}

/// Whether text is an RFC 3339 instant with a time zone offset.
fn is_timestamp(s: &str) -> bool {
    (20..=40).contains(&s.len())
        && s.as_bytes().get(10) == Some(&b'T')
        && s.parse::<jiff::Timestamp>().is_ok()
}

/// The GeoJSON name of a geometry's type.
#[must_use]
pub fn geometry_type_name(geometry: &Geometry<f64>) -> &'static str {
    match geometry {
        Geometry::Point(_) => "Point",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::LineString(_) | Geometry::Line(_) => "LineString",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "Polygon",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_keep_their_json_types() {
        for v in [
            json!(null),
            json!(true),
            json!(-3),
            json!(u64::MAX),
            json!(2.5),
            json!("x"),
            json!([1, {"a": 2}]),
        ] {
            assert_eq!(PropValue::from_json(v.clone()).to_json(), v);
            assert_eq!(
                serde_json::to_value(PropValue::from_json(v.clone())).unwrap(),
                v
            );
        }
    }

    #[test]
    fn field_types_merge_and_detect_dates() {
        assert_eq!(
            FieldType::of(&PropValue::Str("2021-04-16".into())),
            Some(FieldType::Date)
        );
        assert_eq!(
            FieldType::of(&PropValue::Str("2021-04-16T10:15:00Z".into())),
            Some(FieldType::Timestamp)
        );
        assert_eq!(
            FieldType::of(&PropValue::Str("Lens".into())),
            Some(FieldType::String)
        );
        assert_eq!(
            FieldType::Integer.merge(FieldType::Number),
            FieldType::Number
        );
        assert_eq!(FieldType::Date.merge(FieldType::String), FieldType::String);
        assert_eq!(
            FieldType::Boolean.merge(FieldType::String),
            FieldType::Mixed
        );
    }
}
