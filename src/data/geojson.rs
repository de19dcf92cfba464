//! GeoJSON reading and validation: a FeatureCollection in WGS84 lon/lat becomes checked
//! [`Feature`]s, read in one streaming pass that never builds a JSON tree of the file.
//!
//! Accepted geometries: Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon,
//! and `null` (an unlocated feature). A GeometryCollection is rejected (not split): its parts
//! could not share one MVT feature type, and splitting would give one id to several features.
//! A UTF-8 byte order mark is skipped; a coordinate less than 1e-9° past the valid range (a
//! rounding artefact of exporters) is clamped onto it and counted. Any other problem rejects
//! the whole file, so a layer is never loaded half.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::feature::{Feature, KeyId, PropValue};

/// How far past ±180° / ±90° a coordinate may lie and still be clamped onto the range.
pub const CLAMP_TOLERANCE_DEG: f64 = 1e-9;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file, as named in the catalog.
    pub file: String,
    /// The feature at fault, when the problem is in one.
    pub feature: Option<FeatureRef>,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.feature {
            Some(r) => write!(f, "{}: {r}: {}", self.file, self.problem),
            None => write!(f, "{}: {}", self.file, self.problem),
        }
    }
}

impl std::error::Error for LoadError {}

/// The features of one file, with the property names they use.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Features in file order.
    pub features: Vec<Feature>,
    /// Property names; a feature's keys index this table.
    pub keys: Vec<Arc<str>>,
    /// Positions of the features sorted by id, for lookups by id.
    pub by_id: Vec<u32>,
    /// Coordinates clamped onto the valid range.
    pub clamped: usize,
}

/// Parses and checks a GeoJSON FeatureCollection; `file` is only used in messages.
///
/// ```
/// let text = br#"{"type":"FeatureCollection","features":[
///   {"type":"Feature","id":"lens","properties":{"name":"Lens"},
///    "geometry":{"type":"Point","coordinates":[2.8319,50.4322]}}]}"#;
/// let parsed = terril::data::geojson::parse_features("t.geojson", text).unwrap();
/// assert_eq!(parsed.features.len(), 1);
/// assert_eq!(&*parsed.keys[0], "name");
/// ```
pub fn parse_features(file: &str, bytes: &[u8]) -> Result<Parsed, LoadError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let whole = |problem: String| LoadError {
        file: file.to_owned(),
        feature: None,
        problem,
    };
    let mut state = State::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let read = CollectionSeed { state: &mut state }
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Err(e) = read {
        return Err(match state.error.take() {
            Some((feature, problem)) => LoadError {
                file: file.to_owned(),
                feature: Some(feature),
                problem,
            },
            None if e.is_syntax() || e.is_eof() => whole(format!("invalid JSON: {e}")),
            None => whole(e.to_string()),
        });
    }
    let mut by_id: Vec<u32> = (0..state.features.len() as u32).collect();
    by_id.sort_unstable_by(|&a, &b| {
        state.features[a as usize]
            .id
            .cmp(&state.features[b as usize].id)
            .then(a.cmp(&b))
    });
    if let Some(pair) = by_id
        .windows(2)
        .find(|w| state.features[w[0] as usize].id == state.features[w[1] as usize].id)
    {
        let index = pair[1] as usize;
        return Err(LoadError {
            file: file.to_owned(),
            feature: Some(FeatureRef {
                index,
                id: Some(state.features[index].id.to_string()),
            }),
            problem: "duplicate id".into(),
        });
    }
    Ok(Parsed {
        features: state.features,
        keys: state.keys,
        by_id,
        clamped: state.clamped,
    })
}

/// Strings repeated across features are stored once, up to this many distinct ones.
const MAX_INTERNED: usize = 1 << 16;
/// Only strings up to this long are interned.
const MAX_INTERNED_LEN: usize = 64;

#[derive(Default)]
struct State {
    features: Vec<Feature>,
    keys: Vec<Arc<str>>,
    key_ids: HashMap<Arc<str>, KeyId>,
    strings: HashSet<Arc<str>>,
    clamped: usize,
    /// The structured problem behind a deserialization error, when it is ours.
    error: Option<(FeatureRef, String)>,
}

impl State {
    fn key(&mut self, name: &str) -> KeyId {
        if let Some(&id) = self.key_ids.get(name) {
            return id;
        }
        let name: Arc<str> = name.into();
        let id = self.keys.len() as KeyId;
        self.keys.push(Arc::clone(&name));
        self.key_ids.insert(name, id);
        id
    }

    fn string(&mut self, s: String) -> Arc<str> {
        if s.len() > MAX_INTERNED_LEN {
            return s.into();
        }
        if let Some(shared) = self.strings.get(s.as_str()) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = s.into();
        if self.strings.len() < MAX_INTERNED {
            self.strings.insert(Arc::clone(&shared));
        }
        shared
    }

    fn value(&mut self, v: Value) -> PropValue {
        match v {
            Value::String(s) => PropValue::Str(self.string(s)),
            other => PropValue::from_json(other),
        }
    }
}

struct CollectionSeed<'a> {
    state: &'a mut State,
}

impl<'de> DeserializeSeed<'de> for CollectionSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CollectionSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a GeoJSON FeatureCollection object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut kind: Option<String> = None;
        let mut features = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => kind = Some(map.next_value()?),
                "features" => {
                    map.next_value_seed(FeaturesSeed {
                        state: &mut *self.state,
                    })?;
                    features = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if kind.as_deref() != Some("FeatureCollection") {
            return Err(de::Error::custom(
                "expected \"type\": \"FeatureCollection\"",
            ));
        }
        if !features {
            return Err(de::Error::custom(
                "a FeatureCollection needs a \"features\" array",
            ));
        }
        Ok(())
    }
}

struct FeaturesSeed<'a> {
    state: &'a mut State,
}

impl<'de> DeserializeSeed<'de> for FeaturesSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FeaturesSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a \"features\" array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if let Some(n) = seq.size_hint() {
            self.state.features.reserve(n);
        }
        while seq
            .next_element_seed(FeatureSeed {
                state: &mut *self.state,
            })?
            .is_some()
        {}
        Ok(())
    }
}

struct FeatureSeed<'a> {
    state: &'a mut State,
}

impl<'de> DeserializeSeed<'de> for FeatureSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FeatureSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a GeoJSON Feature object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.state;
        let index = state.features.len();
        let mut kind: Option<String> = None;
        let mut id: Option<Value> = None;
        let mut properties: Option<Vec<(KeyId, PropValue)>> = None;
        let mut geometry: Option<Option<RawGeometry>> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => kind = Some(map.next_value()?),
                "id" => id = Some(map.next_value()?),
                "properties" => {
                    properties = Some(map.next_value_seed(PropertiesSeed { state: &mut *state })?);
                }
                "geometry" => geometry = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let id = match id {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => {
                let shown: String = other.to_string().chars().take(40).collect();
                return Err(fail(
                    state,
                    index,
                    None,
                    format!("id must be a non-empty string or a number, got {shown}"),
                ));
            }
        };
        if kind.as_deref() != Some("Feature") {
            return Err(fail(
                state,
                index,
                id,
                "expected \"type\": \"Feature\"".into(),
            ));
        }
        let geometry = match geometry {
            None => return Err(fail(state, index, id, "missing geometry".into())),
            Some(None) => None,
            Some(Some(raw)) => match raw.into_geometry(&mut state.clamped) {
                Ok(g) => Some(g),
                Err(problem) => return Err(fail(state, index, id, problem)),
            },
        };
        let id = id.unwrap_or_else(|| index.to_string());
        state.features.push(Feature {
            id: id.into_boxed_str(),
            properties: properties.unwrap_or_default().into_boxed_slice(),
            geometry,
        });
        Ok(())
    }
}

/// Records a problem with a feature and returns the error that stops the parse.
fn fail<E: de::Error>(state: &mut State, index: usize, id: Option<String>, problem: String) -> E {
    state.error = Some((FeatureRef { index, id }, problem.clone()));
    E::custom(problem)
}

struct PropertiesSeed<'a> {
    state: &'a mut State,
}

impl<'de> DeserializeSeed<'de> for PropertiesSeed<'_> {
    type Value = Vec<(KeyId, PropValue)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PropertiesSeed<'_> {
    type Value = Vec<(KeyId, PropValue)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("properties as an object or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: Vec<(KeyId, PropValue)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: Value = map.next_value()?;
            let key = self.state.key(&key);
            let value = self.state.value(value);
            // A repeated key keeps its last value, as JSON parsers do.
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => out.push((key, value)),
            }
        }
        Ok(out)
    }
}

/// A geometry object as read, before its coordinates are checked.
struct RawGeometry {
    kind: String,
    coordinates: Option<Coords>,
    collection: bool,
}

impl<'de> serde::Deserialize<'de> for RawGeometry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawGeometry;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a GeoJSON geometry object or null")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawGeometry, A::Error> {
                let mut kind = None;
                let mut coordinates = None;
                let mut collection = false;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "type" => kind = Some(map.next_value::<String>()?),
                        "coordinates" => coordinates = Some(map.next_value::<Coords>()?),
                        "geometries" => {
                            collection = true;
                            map.next_value::<IgnoredAny>()?;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(RawGeometry {
                    kind: kind.ok_or_else(|| de::Error::custom("invalid geometry: no \"type\""))?,
                    coordinates,
                    collection,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// Nested coordinate arrays, with positions and lists of positions held flat.
enum Coords {
    Num(f64),
    Pos(Coord<f64>),
    Ring(Vec<Coord<f64>>),
    List(Vec<Coords>),
}

impl<'de> serde::Deserialize<'de> for Coords {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Coords;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("coordinates: numbers in nested arrays")
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Coords, E> {
                Ok(Coords::Num(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Coords, E> {
                Ok(Coords::Num(v as f64))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Coords, E> {
                Ok(Coords::Num(v as f64))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Coords, A::Error> {
                let Some(first) = seq.next_element::<Coords>()? else {
                    return Ok(Coords::List(Vec::new()));
                };
                match first {
                    Coords::Num(x) => {
                        let mut y = None;
                        while let Some(v) = seq.next_element::<f64>()? {
                            y.get_or_insert(v);
                        }
                        let y = y.ok_or_else(|| {
                            de::Error::custom("a position needs at least 2 numbers, got 1")
                        })?;
                        Ok(Coords::Pos(Coord { x, y }))
                    }
                    Coords::Pos(p) => {
                        let mut ring = vec![p];
                        while let Some(next) = seq.next_element::<Coords>()? {
                            match next {
                                Coords::Pos(p) => ring.push(p),
                                _ => {
                                    return Err(de::Error::custom(
                                        "positions and arrays mixed at one level",
                                    ));
                                }
                            }
                        }
                        Ok(Coords::Ring(ring))
                    }
                    other => {
                        let mut list = vec![other];
                        while let Some(next) = seq.next_element::<Coords>()? {
                            list.push(next);
                        }
                        Ok(Coords::List(list))
                    }
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl RawGeometry {
    fn into_geometry(self, clamped: &mut usize) -> Result<Geometry<f64>, String> {
        let Self {
            kind,
            coordinates,
            collection,
        } = self;
        if kind == "GeometryCollection" || collection {
            return Err(
                "GeometryCollection is not supported: split it into one feature per part".into(),
            );
        }
        let coordinates = coordinates
            .ok_or_else(|| format!("invalid geometry: {kind} without \"coordinates\""))?;
        let mut check = Checker { clamped };
        Ok(match kind.as_str() {
            "Point" => Geometry::Point(Point(check.position(coordinates, "point")?)),
            "MultiPoint" => {
                let points = check.positions(coordinates, "point")?;
                if points.is_empty() {
                    return Err("empty MultiPoint".into());
                }
                Geometry::MultiPoint(MultiPoint(points.into_iter().map(Point).collect()))
            }
            "LineString" => Geometry::LineString(check.line(coordinates, "line")?),
            "MultiLineString" => {
                let parts = lists(coordinates, "MultiLineString")?;
                if parts.is_empty() {
                    return Err("empty MultiLineString".into());
                }
                let lines = parts
                    .into_iter()
                    .enumerate()
                    .map(|(i, l)| check.line(l, &format!("line {i}")))
                    .collect::<Result<_, _>>()?;
                Geometry::MultiLineString(MultiLineString(lines))
            }
            "Polygon" => Geometry::Polygon(check.polygon(coordinates, "polygon")?),
            "MultiPolygon" => {
                let parts = lists(coordinates, "MultiPolygon")?;
                if parts.is_empty() {
                    return Err("empty MultiPolygon".into());
                }
                let polygons = parts
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| check.polygon(p, &format!("polygon {i}")))
                    .collect::<Result<_, _>>()?;
                Geometry::MultiPolygon(MultiPolygon(polygons))
            }
            other => {
                let shown: String = other.chars().take(40).collect();
                return Err(format!("invalid geometry: unknown type {shown:?}"));
            }
        })
    }
}

/// The members of a list of lists (a polygon's rings, a multi-geometry's parts).
fn lists(c: Coords, what: &str) -> Result<Vec<Coords>, String> {
    match c {
        Coords::List(items) => Ok(items),
        // One part holding a list of positions.
        Coords::Ring(ring) => Ok(vec![Coords::Ring(ring)]),
        _ => Err(format!("{what}: coordinates are nested too shallowly")),
    }
}

struct Checker<'a> {
    clamped: &'a mut usize,
}

impl Checker<'_> {
    fn coord(&mut self, c: Coord<f64>, what: &str) -> Result<Coord<f64>, String> {
        let (lon, lat) = (c.x, c.y);
        if !lon.is_finite() || !lat.is_finite() {
            return Err(format!("{what}: coordinates must be finite numbers"));
        }
        let clamp = |v: f64, limit: f64| -> Option<f64> {
            if v.abs() <= limit {
                Some(v)
            } else if v.abs() <= limit + CLAMP_TOLERANCE_DEG {
                Some(limit.copysign(v))
            } else {
                None
            }
        };
        match (clamp(lon, 180.0), clamp(lat, 90.0)) {
            (Some(x), Some(y)) => {
                if x != lon || y != lat {
                    *self.clamped += 1;
                }
                Ok(Coord { x, y })
            }
            _ => Err(format!(
                "{what}: position [{lon}, {lat}] is out of range (longitude -180..180, latitude -90..90)"
            )),
        }
    }

    fn position(&mut self, c: Coords, what: &str) -> Result<Coord<f64>, String> {
        match c {
            Coords::Pos(p) => self.coord(p, what),
            _ => Err(format!("{what}: expected one position [lon, lat]")),
        }
    }

    fn positions(&mut self, c: Coords, what: &str) -> Result<Vec<Coord<f64>>, String> {
        match c {
            Coords::Ring(ring) => ring.into_iter().map(|p| self.coord(p, what)).collect(),
            Coords::List(items) if items.is_empty() => Ok(Vec::new()),
            _ => Err(format!("{what}: expected an array of positions")),
        }
    }

    fn line(&mut self, c: Coords, what: &str) -> Result<LineString<f64>, String> {
        let coords = self.positions(c, what)?;
        if coords.len() < 2 {
            return Err(format!(
                "{what}: a line needs at least 2 positions, got {}",
                coords.len()
            ));
        }
        Ok(LineString(coords))
    }

    fn polygon(&mut self, c: Coords, what: &str) -> Result<Polygon<f64>, String> {
        let rings = lists(c, what)?;
        if rings.is_empty() {
            return Err(format!("{what}: a polygon needs an exterior ring"));
        }
        let mut checked = Vec::with_capacity(rings.len());
        for (i, ring) in rings.into_iter().enumerate() {
            let label = format!("{what} ring {i}");
            let ring = self.positions(ring, &label)?;
            if ring.len() < 4 {
                return Err(format!(
                    "{label}: a ring needs at least 4 positions, got {}",
                    ring.len()
                ));
            }
            if ring.first() != ring.last() {
                return Err(format!(
                    "{label}: ring is not closed (first and last positions differ)"
                ));
            }
            checked.push(LineString(ring));
        }
        let exterior = checked.remove(0);
        Ok(Polygon::new(exterior, checked))
    }
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
            {{"geometry":{{"coordinates":[[0,0],[1,1]],"type":"LineString"}},"properties":{{}},"type":"Feature"}},
            {{"type":"Feature","geometry":{{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]}},"properties":{{}}}},
            {{"type":"Feature","id":"u","properties":{{"n":2}},"geometry":null}}
            ]}}"#
        );
        let parsed = parse_features("t", text.as_bytes()).unwrap();
        let f = &parsed.features;
        assert_eq!(f.len(), 7);
        assert_eq!(&*f[1].id, "7");
        assert_eq!(&*f[2].id, "2", "a missing id falls back to the position");
        assert!(matches!(f[4].geometry, Some(Geometry::LineString(_))));
        assert!(
            f[6].geometry.is_none(),
            "a null geometry is an unlocated feature"
        );
        assert_eq!(parsed.keys.len(), 1, "keys are interned");
        assert_eq!(f[6].get(0), Some(&PropValue::Int(2)));
    }

    #[test]
    fn tolerates_a_bom_and_clamps_rounding_hairs() {
        let text = "\u{feff}{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{},\
            \"geometry\":{\"type\":\"Point\",\"coordinates\":[180.00000000000006,-90.0000000000001]}}]}";
        let parsed = parse_features("t", text.as_bytes()).unwrap();
        assert_eq!(parsed.clamped, 1);
        let Some(Geometry::Point(p)) = &parsed.features[0].geometry else {
            panic!()
        };
        assert_eq!((p.x(), p.y()), (180.0, -90.0));
    }

    #[test]
    fn names_file_feature_and_problem() {
        let e = err(
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"x","properties":{}}]}"#,
        );
        assert_eq!(e, "t.geojson: feature #0 (id \"x\"): missing geometry");
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
            "geometry":{"type":"Point","coordinates":[180.001,0]}}]}"#,
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
        let e = err(
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},
            "geometry":{"type":"Point","coordinates":[1]}}]}"#,
        );
        assert!(e.contains("at least 2 numbers"), "{e}");
        let e = err(
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":true,"properties":{},
            "geometry":null}]}"#,
        );
        assert!(e.contains("id must be"), "{e}");
        assert!(err("{not json").contains("invalid JSON"));
        assert!(err(r#"{"type":"Feature"}"#).contains("FeatureCollection"));
        assert!(err(r#"{"type":"FeatureCollection"}"#).contains("\"features\" array"));
        assert!(err(r#"[1, 2]"#).contains("FeatureCollection"));
        assert!(
            err(r#"{"type":"FeatureCollection","features":[]} trailing"#).contains("invalid JSON")
        );
        // JSON has no NaN: a bare NaN is invalid JSON.
        assert!(
            err(
                r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},
            "geometry":{"type":"Point","coordinates":[NaN,0]}}]}"#
            )
            .contains("invalid JSON")
        );
    }
}
