//! From clipped tile-space geometry to MVT 2.1 bytes: quantize, clean rings, orient, encode.
//!
//! Geometry commands and the protobuf are written by the `mvt` crate; this module hands it
//! integer coordinates that are already clipped, free of repeated points, with degenerate
//! rings dropped and rings oriented as MVT 2.1 requires (exterior clockwise in tile space,
//! i.e. positive surveyor's area with y pointing down; holes the other way).

use geo::Coord;
use mvt::{GeomEncoder, GeomType};
use serde_json::Value;

/// A point on the tile grid.
pub type GridPoint = [i32; 2];

/// Geometry ready for encoding, in integer tile units.
#[derive(Debug, Clone, PartialEq)]
pub enum TileGeometry {
    /// One or more points.
    Points(Vec<GridPoint>),
    /// One or more lines, each with at least 2 distinct points.
    Lines(Vec<Vec<GridPoint>>),
    /// Polygons, each a list of open rings (exterior first), oriented for MVT.
    Polygons(Vec<Vec<Vec<GridPoint>>>),
}

fn round(c: Coord<f64>) -> GridPoint {
    // Clipped coordinates lie within a few thousand units: the cast cannot overflow.
    [c.x.round() as i32, c.y.round() as i32]
}

/// Rounds a line onto the grid and drops repeated points; `None` if fewer than 2 remain.
#[must_use]
pub fn quantize_line(line: &[Coord<f64>]) -> Option<Vec<GridPoint>> {
    let mut out: Vec<GridPoint> = Vec::with_capacity(line.len());
    for &c in line {
        let p = round(c);
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    (out.len() >= 2).then_some(out)
}

/// Twice the signed area of an open ring, positive when clockwise in tile space (y down).
#[must_use]
pub fn signed_area2(ring: &[GridPoint]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            i64::from(a[0]) * i64::from(b[1]) - i64::from(b[0]) * i64::from(a[1])
        })
        .sum()
}

/// Rounds an open ring onto the grid, drops repeated points, and orients it: clockwise in
/// tile space for an exterior, anticlockwise for a hole. `None` if it has no area left.
///
/// ```
/// use geo::Coord;
/// use terril::tile::encode::{quantize_ring, signed_area2};
/// let ring = [(0.0, 0.0), (0.0, 10.0), (10.0, 10.0), (10.0, 0.0)].map(|(x, y)| Coord { x, y });
/// let exterior = quantize_ring(&ring, true).unwrap();
/// assert!(signed_area2(&exterior) > 0);
/// let hole = quantize_ring(&ring, false).unwrap();
/// assert!(signed_area2(&hole) < 0);
/// // A sliver thinner than a unit has no area on the grid.
/// let sliver = [(0.0, 0.0), (100.0, 0.2), (200.0, 0.0)].map(|(x, y)| Coord { x, y });
/// assert!(quantize_ring(&sliver, true).is_none());
/// ```
#[must_use]
pub fn quantize_ring(ring: &[Coord<f64>], exterior: bool) -> Option<Vec<GridPoint>> {
    let mut out = quantize_line(ring)?;
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    if out.len() < 3 {
        return None;
    }
    let area = signed_area2(&out);
    if area == 0 {
        return None;
    }
    if (area > 0) != exterior {
        out.reverse();
    }
    Some(out)
}

/// A property value as MVT types it.
#[derive(Debug, Clone, PartialEq)]
pub enum TileValue {
    /// `string_value`.
    String(String),
    /// `int_value` (signed 64-bit).
    Int(i64),
    /// `uint_value`, for integers above `i64::MAX`.
    Uint(u64),
    /// `double_value`.
    Double(f64),
    /// `bool_value`.
    Bool(bool),
}

impl TileValue {
    /// Converts a JSON property; `null` has no MVT value, arrays and objects become JSON text.
    #[must_use]
    pub fn from_json(value: &Value) -> Option<Self> {
        Some(match value {
            Value::Null => return None,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Self::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Self::Uint(u)
                } else {
                    Self::Double(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => Self::String(s.clone()),
            other => Self::String(other.to_string()),
        })
    }
}

/// One feature ready for a tile.
#[derive(Debug, Clone)]
pub struct TileFeature {
    /// Numeric MVT id.
    pub id: u64,
    /// Clean, oriented, integer geometry.
    pub geometry: TileGeometry,
    /// Properties in a fixed order.
    pub properties: Vec<(String, TileValue)>,
}

/// Encodes features into an MVT layer of `tile`.
pub fn encode_layer(
    tile: &mut mvt::Tile,
    name: &str,
    features: &[TileFeature],
) -> Result<(), mvt::Error> {
    let mut layer = tile.create_layer(name);
    for feature in features {
        let geom = encode_geometry(&feature.geometry)?;
        let mut f = layer.into_feature(geom);
        f.set_id(feature.id);
        for (key, value) in &feature.properties {
            match value {
                TileValue::String(s) => f.add_tag_string(key, s),
                TileValue::Int(i) => f.add_tag_int(key, *i),
                TileValue::Uint(u) => f.add_tag_uint(key, *u),
                TileValue::Double(d) => f.add_tag_double(key, *d),
                TileValue::Bool(b) => f.add_tag_bool(key, *b),
            }
        }
        layer = f.into_layer();
    }
    tile.add_layer(layer)
}

fn encode_geometry(geometry: &TileGeometry) -> Result<mvt::GeomData, mvt::Error> {
    match geometry {
        TileGeometry::Points(points) => {
            let mut enc = GeomEncoder::<i32>::new(GeomType::Point);
            for p in points {
                enc.add_point(p[0], p[1])?;
            }
            enc.encode()
        }
        TileGeometry::Lines(lines) => {
            let mut enc = GeomEncoder::<i32>::new(GeomType::Linestring);
            for line in lines {
                for p in line {
                    enc.add_point(p[0], p[1])?;
                }
                enc.complete_geom()?;
            }
            enc.encode()
        }
        TileGeometry::Polygons(polygons) => {
            let mut enc = GeomEncoder::<i32>::new(GeomType::Polygon);
            let mut cursor: Option<GridPoint> = None;
            for ring in polygons.iter().flatten() {
                // The encoder merges a ring's first point into the previous ring's last one
                // when they coincide, which would leave the ring without its MoveTo: start
                // such a ring one vertex later instead.
                let start = usize::from(cursor == ring.first().copied());
                for k in 0..ring.len() {
                    let p = ring[(start + k) % ring.len()];
                    enc.add_point(p[0], p[1])?;
                }
                cursor = Some(ring[(start + ring.len() - 1) % ring.len()]);
                enc.complete_geom()?;
            }
            enc.encode()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_types() {
        assert_eq!(
            TileValue::from_json(&serde_json::json!(3)),
            Some(TileValue::Int(3))
        );
        assert_eq!(
            TileValue::from_json(&serde_json::json!(u64::MAX)),
            Some(TileValue::Uint(u64::MAX))
        );
        assert_eq!(
            TileValue::from_json(&serde_json::json!(2.5)),
            Some(TileValue::Double(2.5))
        );
        assert_eq!(
            TileValue::from_json(&serde_json::json!(true)),
            Some(TileValue::Bool(true))
        );
        assert_eq!(TileValue::from_json(&serde_json::json!(null)), None);
        assert_eq!(
            TileValue::from_json(&serde_json::json!([1, 2])),
            Some(TileValue::String("[1,2]".into()))
        );
    }

    #[test]
    fn repeated_points_go() {
        let line = [(0.2, 0.2), (0.4, 0.1), (5.0, 5.0)].map(|(x, y)| Coord { x, y });
        assert_eq!(quantize_line(&line), Some(vec![[0, 0], [5, 5]]));
        let dot = [(0.2, 0.2), (0.4, 0.1)].map(|(x, y)| Coord { x, y });
        assert_eq!(quantize_line(&dot), None);
    }

    #[test]
    fn touching_rings_each_get_a_move_to() {
        // Two squares sharing an edge: the second starts at (0, 10), where the first ended.
        let a = vec![[0, 0], [10, 0], [10, 10], [0, 10]];
        let b = vec![[0, 10], [10, 10], [10, 20], [0, 20]];
        let mut tile = mvt::Tile::new(4096);
        let features = vec![TileFeature {
            id: 1,
            geometry: TileGeometry::Polygons(vec![vec![a], vec![b]]),
            properties: vec![],
        }];
        encode_layer(&mut tile, "t", &features).unwrap();
        let bytes = tile.to_bytes().unwrap();
        // MoveTo(1) is command 9: one per ring.
        let geometry = decode_first_geometry(&bytes);
        assert_eq!(
            geometry.iter().filter(|&&c| c == 9).count(),
            2,
            "{geometry:?}"
        );
    }

    /// Pulls the first feature's geometry words out of a one-layer tile (enough for the test).
    fn decode_first_geometry(bytes: &[u8]) -> Vec<u32> {
        fn varint(b: &[u8], i: &mut usize) -> u64 {
            let (mut v, mut s) = (0u64, 0);
            loop {
                let byte = b[*i];
                *i += 1;
                v |= u64::from(byte & 0x7f) << s;
                if byte < 0x80 {
                    return v;
                }
                s += 7;
            }
        }
        fn fields(b: &[u8]) -> Vec<(u64, &[u8])> {
            let mut i = 0;
            let mut out = vec![];
            while i < b.len() {
                let tag = varint(b, &mut i);
                match tag & 7 {
                    0 => {
                        varint(b, &mut i);
                    }
                    2 => {
                        let len = varint(b, &mut i) as usize;
                        out.push((tag >> 3, &b[i..i + len]));
                        i += len;
                    }
                    5 => i += 4,
                    1 => i += 8,
                    _ => unreachable!(),
                }
            }
            out
        }
        let layer = fields(bytes).into_iter().find(|f| f.0 == 3).unwrap().1;
        let feature = fields(layer).into_iter().find(|f| f.0 == 2).unwrap().1;
        let geometry = fields(feature).into_iter().find(|f| f.0 == 4).unwrap().1;
        let mut i = 0;
        let mut words = vec![];
        while i < geometry.len() {
            words.push(varint(geometry, &mut i) as u32);
        }
        words
    }
}
