//! The Mapbox Vector Tile 2.1 protobuf, written directly.
//!
//! A tile is a list of layers (field 3 of `Tile`), so the bytes of several layers — rendered
//! here, or read from PostGIS `ST_AsMVT` or an archive — concatenate into one valid tile.
//! Property keys and values are interned once per layer when it is loaded ([`PropTable`]),
//! with each value already encoded as its protobuf `Value` message; writing a feature maps its
//! tags to the tile's own key and value tables with integer lookups only.

use rustc_hash::FxHashMap;

use super::encode::{GridPoint, TileGeometry};
use crate::data::PropValue;

/// Interned property keys and encoded values of a tile layer.
#[derive(Debug, Default, Clone)]
pub struct PropTable {
    /// Key names.
    pub keys: Vec<Box<str>>,
    /// Each distinct value as an encoded `Value` message.
    pub values: Vec<Box<[u8]>>,
}

/// A value as MVT types it.
#[derive(Debug, Clone, PartialEq)]
pub enum MvtValue {
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

impl MvtValue {
    /// The MVT value of a property; `null` has none, arrays and objects become JSON text.
    #[must_use]
    pub fn of(value: &PropValue) -> Option<Self> {
        Some(match value {
            PropValue::Null => return None,
            PropValue::Bool(b) => Self::Bool(*b),
            PropValue::Int(i) => Self::Int(*i),
            PropValue::UInt(u) => Self::Uint(*u),
            PropValue::Float(f) => Self::Double(*f),
            PropValue::Str(s) => Self::String(s.to_string()),
            PropValue::Json(v) => Self::String(v.to_string()),
        })
    }

    /// The encoded `Value` message.
    #[must_use]
    pub fn encode(&self) -> Box<[u8]> {
        let mut out = Vec::with_capacity(16);
        match self {
            Self::String(s) => {
                out.push(0x0A);
                varint(&mut out, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
            Self::Double(d) => {
                out.push(0x19);
                out.extend_from_slice(&d.to_le_bytes());
            }
            Self::Int(i) => {
                out.push(0x20);
                varint(&mut out, *i as u64);
            }
            Self::Uint(u) => {
                out.push(0x28);
                varint(&mut out, *u);
            }
            Self::Bool(b) => {
                out.push(0x38);
                out.push(u8::from(*b));
            }
        }
        out.into_boxed_slice()
    }
}

/// Hashable identity of an MVT value, for interning.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ValueKey {
    String(String),
    Int(i64),
    Uint(u64),
    Double(u64),
    Bool(bool),
}

/// Builds a [`PropTable`], interning keys and values.
#[derive(Debug, Default)]
pub struct PropTableBuilder {
    table: PropTable,
    keys: FxHashMap<Box<str>, u32>,
    values: FxHashMap<ValueKey, u32>,
}

impl PropTableBuilder {
    /// The index of a key, added if new.
    pub fn key(&mut self, name: &str) -> u32 {
        if let Some(&k) = self.keys.get(name) {
            return k;
        }
        let k = self.table.keys.len() as u32;
        self.table.keys.push(name.into());
        self.keys.insert(name.into(), k);
        k
    }

    /// The index of a value, added if new.
    pub fn value(&mut self, value: &MvtValue) -> u32 {
        let key = match value {
            MvtValue::String(s) => ValueKey::String(s.clone()),
            MvtValue::Int(i) => ValueKey::Int(*i),
            MvtValue::Uint(u) => ValueKey::Uint(*u),
            MvtValue::Double(d) => ValueKey::Double(if *d == 0.0 { 0 } else { d.to_bits() }),
            MvtValue::Bool(b) => ValueKey::Bool(*b),
        };
        if let Some(&v) = self.values.get(&key) {
            return v;
        }
        let v = self.table.values.len() as u32;
        self.table.values.push(value.encode());
        self.values.insert(key, v);
        v
    }

    /// The finished table.
    #[must_use]
    pub fn finish(self) -> PropTable {
        self.table
    }
}

/// Writes one layer of a tile.
pub struct LayerWriter<'a> {
    table: &'a PropTable,
    features: Vec<u8>,
    count: usize,
    /// Global key → local index + 1 (0: not used yet).
    key_local: Vec<u32>,
    local_keys: Vec<u32>,
    value_local: FxHashMap<u32, u32>,
    local_values: Vec<u32>,
    geometry: Vec<u32>,
    tags: Vec<u32>,
}

impl<'a> LayerWriter<'a> {
    /// A writer for a layer whose features use `table`.
    #[must_use]
    pub fn new(table: &'a PropTable) -> Self {
        Self {
            table,
            features: Vec::new(),
            count: 0,
            key_local: vec![0; table.keys.len()],
            local_keys: Vec::new(),
            value_local: FxHashMap::default(),
            local_values: Vec::new(),
            geometry: Vec::new(),
            tags: Vec::new(),
        }
    }

    /// Adds a feature: its id (if it has one), geometry, and tags as `(key, value)` pairs of
    /// global indices.
    pub fn add(&mut self, id: Option<u64>, geometry: &TileGeometry, tags: &[[u32; 2]]) {
        self.geometry.clear();
        let kind = encode_geometry(geometry, &mut self.geometry);
        self.tags.clear();
        for &[k, v] in tags {
            let slot = &mut self.key_local[k as usize];
            if *slot == 0 {
                self.local_keys.push(k);
                *slot = self.local_keys.len() as u32;
            }
            let lk = *slot - 1;
            let next = self.local_values.len() as u32;
            let lv = *self.value_local.entry(v).or_insert(next);
            if lv == next {
                self.local_values.push(v);
            }
            self.tags.push(lk);
            self.tags.push(lv);
        }
        let tags_len: usize = self.tags.iter().map(|&t| varint_len(u64::from(t))).sum();
        let geom_len: usize = self
            .geometry
            .iter()
            .map(|&g| varint_len(u64::from(g)))
            .sum();
        let mut len = id.map_or(0, |id| 1 + varint_len(id)) + 2;
        if !self.tags.is_empty() {
            len += 1 + varint_len(tags_len as u64) + tags_len;
        }
        len += 1 + varint_len(geom_len as u64) + geom_len;
        let out = &mut self.features;
        out.push(0x12); // Layer.features
        varint(out, len as u64);
        if let Some(id) = id {
            out.push(0x08); // Feature.id
            varint(out, id);
        }
        if !self.tags.is_empty() {
            out.push(0x12); // Feature.tags, packed
            varint(out, tags_len as u64);
            for &t in &self.tags {
                varint(out, u64::from(t));
            }
        }
        out.push(0x18); // Feature.type
        out.push(kind);
        out.push(0x22); // Feature.geometry, packed
        varint(out, geom_len as u64);
        for &g in &self.geometry {
            varint(out, u64::from(g));
        }
        self.count += 1;
    }

    /// Features written so far.
    #[must_use]
    pub fn feature_count(&self) -> usize {
        self.count
    }

    /// Bytes written so far (features only; the tables add a little).
    #[must_use]
    pub fn byte_len(&self) -> usize {
        self.features.len()
    }

    /// Appends the layer, as field 3 of a `Tile`, to `out`; nothing when it has no feature.
    pub fn finish(self, name: &str, extent: u32, out: &mut Vec<u8>) {
        if self.count == 0 {
            return;
        }
        let mut layer = Vec::with_capacity(self.features.len() + 64);
        layer.push(0x0A); // name
        varint(&mut layer, name.len() as u64);
        layer.extend_from_slice(name.as_bytes());
        layer.extend_from_slice(&self.features);
        for &k in &self.local_keys {
            let key = &self.table.keys[k as usize];
            layer.push(0x1A); // keys
            varint(&mut layer, key.len() as u64);
            layer.extend_from_slice(key.as_bytes());
        }
        for &v in &self.local_values {
            let value = &self.table.values[v as usize];
            layer.push(0x22); // values
            varint(&mut layer, value.len() as u64);
            layer.extend_from_slice(value);
        }
        layer.push(0x28); // extent
        varint(&mut layer, u64::from(extent));
        layer.push(0x78); // version (field 15)
        layer.push(2);
        out.push(0x1A); // Tile.layers
        varint(out, layer.len() as u64);
        out.extend_from_slice(&layer);
    }
}

/// Appends the command stream of a geometry; returns its `GeomType` (1 point, 2 line, 3 polygon).
fn encode_geometry(geometry: &TileGeometry, out: &mut Vec<u32>) -> u8 {
    let mut cursor: GridPoint = [0, 0];
    let mut delta = |p: GridPoint, out: &mut Vec<u32>| {
        out.push(zigzag(p[0] - cursor[0]));
        out.push(zigzag(p[1] - cursor[1]));
        cursor = p;
    };
    match geometry {
        TileGeometry::Points(points) => {
            out.push(command(1, points.len()));
            for &p in points {
                delta(p, out);
            }
            1
        }
        TileGeometry::Lines(lines) => {
            for line in lines {
                out.push(command(1, 1));
                delta(line[0], out);
                out.push(command(2, line.len() - 1));
                for &p in &line[1..] {
                    delta(p, out);
                }
            }
            2
        }
        TileGeometry::Polygons(polygons) => {
            for ring in polygons.iter().flatten() {
                out.push(command(1, 1));
                delta(ring[0], out);
                out.push(command(2, ring.len() - 1));
                for &p in &ring[1..] {
                    delta(p, out);
                }
                out.push(command(7, 1));
            }
            3
        }
    }
}

fn command(id: u32, count: usize) -> u32 {
    (id & 7) | ((count as u32) << 3)
}

fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

/// Appends a protobuf varint.
pub fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag() {
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
        }
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xAC, 0x02]);
        assert_eq!([zigzag(0), zigzag(-1), zigzag(1), zigzag(-2)], [0, 1, 2, 3]);
    }

    /// Two squares sharing an edge, as one multipolygon: each ring gets its MoveTo, LineTo and
    /// ClosePath, with deltas from the previous ring's end (the specification's example form).
    #[test]
    fn polygon_commands() {
        let a = vec![[0, 0], [10, 0], [10, 10], [0, 10]];
        let b = vec![[0, 10], [10, 10], [10, 20], [0, 20]];
        let mut out = Vec::new();
        let kind = encode_geometry(&TileGeometry::Polygons(vec![vec![a], vec![b]]), &mut out);
        assert_eq!(kind, 3);
        assert_eq!(
            out,
            [
                9, 0, 0, 26, 20, 0, 0, 20, 19, 0, 15, // ring 1
                9, 0, 0, 26, 20, 0, 0, 20, 19, 0,
                15, // ring 2 starts at (0, 10), where ring 1 ended
            ]
        );
    }

    /// A layer written here is the layer the `mvt` crate writes for the same feature.
    #[test]
    fn same_bytes_as_the_mvt_crate() {
        let mut props = PropTableBuilder::default();
        let name = props.key("name");
        let pop = props.key("population");
        let lens = props.value(&MvtValue::String("Lens".into()));
        let n = props.value(&MvtValue::Int(31_415));
        let table = props.finish();
        let mut writer = LayerWriter::new(&table);
        writer.add(
            Some(62498),
            &TileGeometry::Points(vec![[100, 200]]),
            &[[name, lens], [pop, n]],
        );
        let mut ours = Vec::new();
        writer.finish("communes", 4096, &mut ours);

        let mut tile = mvt::Tile::new(4096);
        let layer = tile.create_layer("communes");
        let geom = mvt::GeomEncoder::new(mvt::GeomType::Point)
            .point(100, 200)
            .unwrap()
            .encode()
            .unwrap();
        let mut feature = layer.into_feature(geom);
        feature.set_id(62498);
        feature.add_tag_string("name", "Lens");
        feature.add_tag_int("population", 31_415);
        tile.add_layer(feature.into_layer()).unwrap();
        assert_eq!(ours, tile.to_bytes().unwrap());
    }
}
