//! Web Mercator maths: lon/lat (EPSG:4326, degrees) ↔ EPSG:3857 (metres) and z/x/y tile bounds.
//!
//! Tiles follow the XYZ scheme used by every web map: tile `0/0/0` covers the whole square
//! world, `x` grows eastwards and `y` grows southwards.

use std::f64::consts::PI;
use std::fmt;

use geo::Rect;

/// Radius of the sphere used by EPSG:3857 (the WGS84 semi-major axis), in metres.
pub const EARTH_RADIUS_M: f64 = 6_378_137.0;

/// Half the width of the EPSG:3857 square world, in metres.
pub const ORIGIN_SHIFT_M: f64 = PI * EARTH_RADIUS_M;

/// Latitude (degrees) at which the EPSG:3857 square world ends.
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// The highest zoom level Terril accepts.
pub const MAX_ZOOM: u8 = 24;

/// Projects a lon/lat position (degrees) to EPSG:3857 metres.
///
/// Latitudes beyond ±[`MAX_LATITUDE`] are clamped onto the edge of the square world.
///
/// ```
/// use terril::mercator::lonlat_to_mercator;
/// let (x, y) = lonlat_to_mercator(0.0, 0.0);
/// assert!(x.abs() < 1e-9 && y.abs() < 1e-9);
/// // Lens (Pas-de-Calais) lies about 316 km east of Greenwich and 6.52 Mm north of the equator.
/// let (x, y) = lonlat_to_mercator(2.8319, 50.4322);
/// assert!((x - 315_248.0).abs() < 100.0, "{x}");
/// assert!((y - 6_521_464.0).abs() < 100.0, "{y}");
/// ```
#[must_use]
pub fn lonlat_to_mercator(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE);
    let x = lon.to_radians() * EARTH_RADIUS_M;
    let y = (PI / 4.0 + lat.to_radians() / 2.0).tan().ln() * EARTH_RADIUS_M;
    (x, y)
}

/// Unprojects EPSG:3857 metres to lon/lat degrees.
///
/// ```
/// use terril::mercator::{lonlat_to_mercator, mercator_to_lonlat};
/// let (x, y) = lonlat_to_mercator(2.7786, 50.4236);
/// let (lon, lat) = mercator_to_lonlat(x, y);
/// assert!((lon - 2.7786).abs() < 1e-9 && (lat - 50.4236).abs() < 1e-9);
/// ```
#[must_use]
pub fn mercator_to_lonlat(x: f64, y: f64) -> (f64, f64) {
    let lon = (x / EARTH_RADIUS_M).to_degrees();
    let lat = (2.0 * (y / EARTH_RADIUS_M).exp().atan() - PI / 2.0).to_degrees();
    (lon, lat)
}

/// Width of one tile at zoom `z`, in EPSG:3857 metres.
///
/// ```
/// use terril::mercator::tile_size_m;
/// assert_eq!(tile_size_m(0), 2.0 * terril::mercator::ORIGIN_SHIFT_M);
/// assert_eq!(tile_size_m(1), terril::mercator::ORIGIN_SHIFT_M);
/// ```
#[must_use]
pub fn tile_size_m(z: u8) -> f64 {
    2.0 * ORIGIN_SHIFT_M / f64::from(1u32 << z)
}

/// Why a z/x/y triple is not a tile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileCoordError {
    /// A part is not a non-negative whole number.
    #[error("{part} must be a whole number ≥ 0, got {value:?}")]
    NotANumber { part: &'static str, value: String },
    /// The zoom is above [`MAX_ZOOM`].
    #[error("zoom {z} is above the maximum zoom {MAX_ZOOM}")]
    ZoomTooHigh { z: u32 },
    /// `x` or `y` is outside `0..2^z`.
    #[error("{part} = {value} is outside 0..{limit} at zoom {z}")]
    OutOfRange {
        part: &'static str,
        value: u64,
        limit: u64,
        z: u8,
    },
    /// The last segment does not end with the expected extension.
    #[error("tile path must end with .{expected}, got {value:?}")]
    Extension {
        expected: &'static str,
        value: String,
    },
}

/// A tile address in the XYZ scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileCoord {
    /// Zoom level, `0..=MAX_ZOOM`.
    pub z: u8,
    /// Column, `0..2^z`, west to east.
    pub x: u32,
    /// Row, `0..2^z`, north to south.
    pub y: u32,
}

impl TileCoord {
    /// Checks and builds a tile address.
    ///
    /// ```
    /// use terril::mercator::TileCoord;
    /// assert!(TileCoord::new(10, 519, 347).is_ok());
    /// assert!(TileCoord::new(1, 2, 0).is_err());
    /// assert!(TileCoord::new(25, 0, 0).is_err());
    /// ```
    pub fn new(z: u32, x: u64, y: u64) -> Result<Self, TileCoordError> {
        if z > u32::from(MAX_ZOOM) {
            return Err(TileCoordError::ZoomTooHigh { z });
        }
        let z = z as u8;
        let limit = 1u64 << z;
        for (part, value) in [("x", x), ("y", y)] {
            if value >= limit {
                return Err(TileCoordError::OutOfRange {
                    part,
                    value,
                    limit,
                    z,
                });
            }
        }
        Ok(Self {
            z,
            x: x as u32,
            y: y as u32,
        })
    }

    /// Parses the three path segments of `{z}/{x}/{y}.{extension}`.
    ///
    /// ```
    /// use terril::mercator::TileCoord;
    /// let t = TileCoord::parse("10", "520", "345.mvt", "mvt").unwrap();
    /// assert_eq!((t.z, t.x, t.y), (10, 520, 345));
    /// assert!(TileCoord::parse("10", "-1", "345.mvt", "mvt").is_err());
    /// assert!(TileCoord::parse("10", "520", "345.png", "mvt").is_err());
    /// ```
    pub fn parse(
        z: &str,
        x: &str,
        y_ext: &str,
        extension: &'static str,
    ) -> Result<Self, TileCoordError> {
        let y = y_ext
            .strip_suffix(extension)
            .and_then(|rest| rest.strip_suffix('.'))
            .ok_or_else(|| TileCoordError::Extension {
                expected: extension,
                value: y_ext.to_owned(),
            })?;
        let z = parse_part("z", z)?;
        let x = parse_part("x", x)?;
        let y = parse_part("y", y)?;
        let z = u32::try_from(z).map_err(|_| TileCoordError::ZoomTooHigh { z: u32::MAX })?;
        Self::new(z, x, y)
    }

    /// The tile's square in EPSG:3857 metres.
    ///
    /// ```
    /// use terril::mercator::{TileCoord, ORIGIN_SHIFT_M};
    /// let world = TileCoord::new(0, 0, 0).unwrap().bounds();
    /// assert_eq!(world.min().x, -ORIGIN_SHIFT_M);
    /// assert_eq!(world.max().y, ORIGIN_SHIFT_M);
    /// ```
    #[must_use]
    pub fn bounds(&self) -> Rect<f64> {
        let size = tile_size_m(self.z);
        // Each edge from its own index, so that neighbouring tiles share edges bit for bit.
        let edge_x = |i: u32| -ORIGIN_SHIFT_M + f64::from(i) * size;
        let edge_y = |i: u32| ORIGIN_SHIFT_M - f64::from(i) * size;
        Rect::new(
            (edge_x(self.x), edge_y(self.y + 1)),
            (edge_x(self.x + 1), edge_y(self.y)),
        )
    }

    /// The tile at zoom `z` that holds a lon/lat position.
    ///
    /// ```
    /// use terril::mercator::TileCoord;
    /// // Lens at z10.
    /// let t = TileCoord::containing(2.8319, 50.4322, 10);
    /// assert_eq!((t.x, t.y), (520, 345));
    /// ```
    #[must_use]
    pub fn containing(lon: f64, lat: f64, z: u8) -> Self {
        let (mx, my) = lonlat_to_mercator(lon, lat);
        let size = tile_size_m(z);
        let n = f64::from(1u32 << z);
        let x = ((mx + ORIGIN_SHIFT_M) / size).floor().clamp(0.0, n - 1.0);
        let y = ((ORIGIN_SHIFT_M - my) / size).floor().clamp(0.0, n - 1.0);
        Self {
            z,
            x: x as u32,
            y: y as u32,
        }
    }
}

impl fmt::Display for TileCoord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

fn parse_part(part: &'static str, value: &str) -> Result<u64, TileCoordError> {
    let not_a_number = || TileCoordError::NotANumber {
        part,
        value: value.chars().take(32).collect(),
    };
    // Only ASCII digits: no sign, no spaces, no "0x"; bounded length so no overflow games.
    if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_a_number());
    }
    value.parse().map_err(|_| not_a_number())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_across_the_world() {
        for &(lon, lat) in &[(-180.0, -85.0), (2.83, 50.43), (179.9, 84.9), (0.0, 0.0)] {
            let (x, y) = lonlat_to_mercator(lon, lat);
            let (lon2, lat2) = mercator_to_lonlat(x, y);
            assert!((lon - lon2).abs() < 1e-9 && (lat - lat2).abs() < 1e-9);
        }
    }

    #[test]
    fn tile_bounds_tile_the_plane() {
        let a = TileCoord::new(3, 2, 5).unwrap().bounds();
        let b = TileCoord::new(3, 3, 5).unwrap().bounds();
        assert_eq!(a.max().x, b.min().x);
        let c = TileCoord::new(3, 2, 6).unwrap().bounds();
        assert_eq!(a.min().y, c.max().y);
    }

    #[test]
    fn rejects_bad_parts() {
        assert!(TileCoord::parse("a", "0", "0.mvt", "mvt").is_err());
        assert!(TileCoord::parse("99999999999", "0", "0.mvt", "mvt").is_err());
        assert!(TileCoord::parse("2", "4", "0.mvt", "mvt").is_err());
        assert!(TileCoord::parse("2", "0", "4.mvt", "mvt").is_err());
        assert!(TileCoord::parse("2", "+1", "0.mvt", "mvt").is_err());
        assert!(TileCoord::parse("2", "1", ".mvt", "mvt").is_err());
        assert!(TileCoord::parse("24", "16777215", "16777215.mvt", "mvt").is_ok());
    }
}
