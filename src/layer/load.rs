//! GeoJSON reading and validation: a FeatureCollection in WGS84 lon/lat becomes checked [`Feature`]s.
//!
//! Accepted geometries: Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon.
//! A GeometryCollection is rejected (not split): its parts could not share one MVT feature type,
//! and splitting would give one id to several features. Any problem rejects the whole file, so a
//! layer is never loaded half.

use std::collections::HashSet;
use std::fmt;

use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};
use geojson::{GeometryValue, Position};
use serde_json::{Map, Value};

use super::Feature;

/// Where in a file a problem sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureRef {
    /// Position of the feature in the collection, from 0.
    pub index: usize,
    /// Its id, when it has one.
    pub id: Option<String>,
}

impl fmt::Display for FeatureRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "feature #{} (id {id:?})", self.index),
            None => write!(f, "feature #{} (no id)", self.index),
        }
    }
}

/// A file that cannot be loaded, with the feature and the problem.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: {}{problem}", feature.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
pub struct LoadError {
    /// The file, as named in the catalog.
    pub file: String,
    /// The feature at fault, if the problem is in one.
    pub feature: Option<FeatureRef>,
    /// What is wrong.
    pub problem: String,
}

/// Parses GeoJSON bytes into features, or fails naming the first problem found.
pub fn parse_features(file: &str, bytes: &[u8]) -> Result<Vec<Feature>, LoadError> {
    let whole = |problem: String| LoadError {
        file: file.to_owned(),
        feature: None,
        problem,
    };
    let root: Value =
        serde_json::from_slice(bytes).map_err(|e| whole(format!("invalid JSON: {e}")))?;
    let Value::Object(mut root) = root else {
        return Err(whole("expected a GeoJSON FeatureCollection object".into()));
    };
    if root.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(whole("expected \"type\": \"FeatureCollection\"".into()));
    }
    let Some(Value::Array(items)) = root.remove("features") else {
        return Err(whole(
            "a FeatureCollection needs a \"features\" array".into(),
        ));
    };

    let mut seen = HashSet::with_capacity(items.len());
    let mut features = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let feature = parse_feature(index, item).map_err(|(id, problem)| LoadError {
            file: file.to_owned(),
            feature: Some(FeatureRef { index, id }),
            problem,
        })?;
        if !seen.insert(feature.id.clone()) {
            return Err(LoadError {
                file: file.to_owned(),
                feature: Some(FeatureRef {
                    index,
                    id: Some(feature.id),
                }),
                problem: "duplicate id".into(),
            });
        }
        features.push(feature);
    }
    Ok(features)
}

type FeatureProblem = (Option<String>, String);

fn parse_feature(index: usize, item: Value) -> Result<Feature, FeatureProblem> {
    let Value::Object(mut obj) = item else {
        return Err((None, "a feature must be a JSON object".into()));
    };
    let id = match obj.remove("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            return Err((
                None,
                format!("id must be a non-empty string or a number, got {other}"),
            ));
        }
    };
    let fail = |problem: String| (id.clone(), problem);
    if obj.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err(fail("expected \"type\": \"Feature\"".into()));
    }
    let properties = match obj.remove("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(fail("properties must be an object or null".into())),
    };
    let geometry = match obj.remove("geometry") {
        None => return Err(fail("missing geometry".into())),
        Some(Value::Null) => return Err(fail("null geometry".into())),
        Some(value) => value,
    };
    let geometry: geojson::Geometry =
        serde_json::from_value(geometry).map_err(|e| fail(format!("invalid geometry: {e}")))?;
    let lonlat = convert_geometry(&geometry.value).map_err(fail)?;
    let id = id.unwrap_or_else(|| index.to_string());
    Ok(Feature::new(id, properties, lonlat))
}

fn convert_geometry(value: &GeometryValue) -> Result<Geometry<f64>, String> {
    Ok(match value {
        GeometryValue::Point { coordinates } => {
            Geometry::Point(Point(coord(coordinates, "point")?))
        }
        GeometryValue::MultiPoint { coordinates } => {
            if coordinates.is_empty() {
                return Err("empty MultiPoint".into());
            }
            let points = coordinates
                .iter()
                .map(|p| coord(p, "point").map(Point))
                .collect::<Result<_, _>>()?;
            Geometry::MultiPoint(MultiPoint(points))
        }
        GeometryValue::LineString { coordinates } => {
            Geometry::LineString(line(coordinates, "line")?)
        }
        GeometryValue::MultiLineString { coordinates } => {
            if coordinates.is_empty() {
                return Err("empty MultiLineString".into());
            }
            let lines = coordinates
                .iter()
                .enumerate()
                .map(|(i, l)| line(l, &format!("line {i}")))
                .collect::<Result<_, _>>()?;
            Geometry::MultiLineString(MultiLineString(lines))
        }
        GeometryValue::Polygon { coordinates } => {
            Geometry::Polygon(polygon(coordinates, "polygon")?)
        }
        GeometryValue::MultiPolygon { coordinates } => {
            if coordinates.is_empty() {
                return Err("empty MultiPolygon".into());
            }
            let polygons = coordinates
                .iter()
                .enumerate()
                .map(|(i, p)| polygon(p, &format!("polygon {i}")))
                .collect::<Result<_, _>>()?;
            Geometry::MultiPolygon(MultiPolygon(polygons))
        }
        GeometryValue::GeometryCollection { .. } => {
            return Err(
                "GeometryCollection is not supported: split it into one feature per part".into(),
            );
        }
    })
}

fn coord(position: &Position, what: &str) -> Result<Coord<f64>, String> {
    let values = position.as_slice();
    if values.len() < 2 {
        return Err(format!(
            "{what}: a position needs at least 2 numbers, got {}",
            values.len()
        ));
    }
    let (lon, lat) = (values[0], values[1]);
    if !lon.is_finite() || !lat.is_finite() {
        return Err(format!("{what}: coordinates must be finite numbers"));
    }
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(format!(
            "{what}: position [{lon}, {lat}] is out of range (longitude -180..180, latitude -90..90)"
        ));
    }
    Ok(Coord { x: lon, y: lat })
}

fn line(positions: &[Position], what: &str) -> Result<LineString<f64>, String> {
    if positions.len() < 2 {
        return Err(format!(
            "{what}: a line needs at least 2 positions, got {}",
            positions.len()
        ));
    }
    positions
        .iter()
        .map(|p| coord(p, what))
        .collect::<Result<Vec<_>, _>>()
        .map(LineString)
}

fn polygon(rings: &[Vec<Position>], what: &str) -> Result<Polygon<f64>, String> {
    if rings.is_empty() {
        return Err(format!("{what}: a polygon needs an exterior ring"));
    }
    let mut checked = Vec::with_capacity(rings.len());
    for (i, ring) in rings.iter().enumerate() {
        let label = format!("{what} ring {i}");
        if ring.len() < 4 {
            return Err(format!(
                "{label}: a ring needs at least 4 positions, got {}",
                ring.len()
            ));
        }
        let ring = line(ring, &label)?;
        if ring.0.first() != ring.0.last() {
            return Err(format!(
                "{label}: ring is not closed (first and last positions differ)"
            ));
        }
        checked.push(ring);
    }
    let exterior = checked.remove(0);
    Ok(Polygon::new(exterior, checked))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_features("t.geojson", text.as_bytes())
            .unwrap_err()
            .to_string()
    }

    const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}"#;

    #[test]
    fn loads_every_supported_type() {
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[
            {{"type":"Feature","id":"a","properties":{{"n":1}},"geometry":{SQUARE}}},
            {{"type":"Feature","id":7,"properties":null,"geometry":{{"type":"Point","coordinates":[2.8,50.4]}}}},
            {{"type":"Feature","geometry":{{"type":"MultiLineString","coordinates":[[[0,0],[1,1]]]}},"properties":{{}}}},
            {{"type":"Feature","geometry":{{"type":"MultiPoint","coordinates":[[0,0],[1,1]]}},"properties":{{}}}},
            {{"type":"Feature","geometry":{{"type":"LineString","coordinates":[[0,0],[1,1]]}},"properties":{{}}}},
            {{"type":"Feature","geometry":{{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]}},"properties":{{}}}}
            ]}}"#
        );
        let features = parse_features("t", text.as_bytes()).unwrap();
        assert_eq!(features.len(), 6);
        assert_eq!(features[1].id, "7");
        assert_eq!(
            features[2].id, "2",
            "a missing id falls back to the position"
        );
    }

    #[test]
    fn names_file_feature_and_problem() {
        let e = err(
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"x","properties":{},"geometry":null}]}"#,
        );
        assert_eq!(e, "t.geojson: feature #0 (id \"x\"): null geometry");
        let e = err(
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"x","properties":{}}]}"#,
        );
        assert!(e.contains("missing geometry"), "{e}");
        let e = err(
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"r","properties":{},
            "geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}}]}"#,
        );
        assert!(
            e.contains("feature #0 (id \"r\")") && e.contains("not closed"),
            "{e}"
        );
        let e = err(
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},
            "geometry":{"type":"Point","coordinates":[200,0]}}]}"#,
        );
        assert!(e.contains("out of range"), "{e}");
        let e = err(r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","id":"d","properties":{},"geometry":{"type":"Point","coordinates":[0,0]}},
            {"type":"Feature","id":"d","properties":{},"geometry":{"type":"Point","coordinates":[0,0]}}]}"#);
        assert!(e.contains("feature #1 (id \"d\"): duplicate id"), "{e}");
        let e = err(
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},
            "geometry":{"type":"GeometryCollection","geometries":[]}}]}"#,
        );
        assert!(e.contains("GeometryCollection"), "{e}");
        assert!(err("{not json").contains("invalid JSON"));
        assert!(err(r#"{"type":"Feature"}"#).contains("FeatureCollection"));
        // JSON has no NaN: a bare NaN is invalid JSON, and huge numbers overflow to out of range.
        assert!(
            err(
                r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},
            "geometry":{"type":"Point","coordinates":[NaN,0]}}]}"#
            )
            .contains("invalid JSON")
        );
    }
}
