//! Coordinate reference systems offered for output and input (OGC API – Features Part 2):
//! CRS84 (lon/lat, the default), EPSG:4326 (the same datum with latitude first), EPSG:3857
//! (Web Mercator, metres) and EPSG:2154 (RGF93 v1 / Lambert-93, metres: what French planners
//! work in).
//!
//! Lambert-93 comes from `proj4rs` (a pure-Rust port of PROJ's projections); RGF93 and WGS84
//! are taken as the same datum, as PROJ does without a grid (they differ by centimetres).

use std::sync::LazyLock;

use geo::{Coord, Geometry, MapCoords, MapCoordsInPlace, Rect};
use proj4rs::proj::Proj;

use crate::mercator::{lonlat_to_mercator, mercator_to_lonlat};

/// A supported coordinate reference system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Crs {
    /// OGC CRS84: WGS84 longitude, latitude (degrees).
    #[default]
    Crs84,
    /// EPSG:4326: WGS84 latitude, longitude (degrees), axis order as the EPSG registry says.
    Epsg4326,
    /// EPSG:3857: Web Mercator x, y (metres).
    Epsg3857,
    /// EPSG:2154: RGF93 v1 / Lambert-93 easting, northing (metres).
    Epsg2154,
}

/// The PROJ definition of Lambert-93.
pub const LAMBERT93: &str = "+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 \
     +y_0=6600000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs";

static LAMBERT: LazyLock<Proj> =
    LazyLock::new(|| Proj::from_proj_string(LAMBERT93).expect("a valid PROJ string"));
static WGS84: LazyLock<Proj> = LazyLock::new(|| {
    Proj::from_proj_string("+proj=longlat +ellps=WGS84 +datum=WGS84 +no_defs")
        .expect("a valid PROJ string")
});

impl Crs {
    /// Every supported CRS.
    pub const ALL: [Self; 4] = [Self::Crs84, Self::Epsg4326, Self::Epsg3857, Self::Epsg2154];

    /// The CRS's URI.
    #[must_use]
    pub fn uri(self) -> &'static str {
        match self {
            Self::Crs84 => "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            Self::Epsg4326 => "http://www.opengis.net/def/crs/EPSG/0/4326",
            Self::Epsg3857 => "http://www.opengis.net/def/crs/EPSG/0/3857",
            Self::Epsg2154 => "http://www.opengis.net/def/crs/EPSG/0/2154",
        }
    }

    /// The SRID PostGIS knows it by.
    #[must_use]
    pub fn srid(self) -> i32 {
        match self {
            Self::Crs84 | Self::Epsg4326 => 4326,
            Self::Epsg3857 => 3857,
            Self::Epsg2154 => 2154,
        }
    }

    /// Reads a CRS URI (also `EPSG:n` and the `[OGC:CRS84]` safe-CURIE forms).
    ///
    /// ```
    /// use terril::crs::Crs;
    /// assert_eq!(Crs::from_uri("http://www.opengis.net/def/crs/EPSG/0/2154"), Some(Crs::Epsg2154));
    /// assert_eq!(Crs::from_uri("EPSG:4326"), Some(Crs::Epsg4326));
    /// assert_eq!(Crs::from_uri("http://www.opengis.net/def/crs/EPSG/0/9999"), None);
    /// ```
    #[must_use]
    pub fn from_uri(text: &str) -> Option<Self> {
        let t = text.trim().trim_start_matches('[').trim_end_matches(']');
        let t = t
            .strip_prefix("https://")
            .or_else(|| t.strip_prefix("http://"))
            .map_or(t, |rest| rest);
        match t {
            "www.opengis.net/def/crs/OGC/1.3/CRS84" | "OGC:CRS84" | "CRS84" => Some(Self::Crs84),
            "www.opengis.net/def/crs/EPSG/0/4326" | "EPSG:4326" => Some(Self::Epsg4326),
            "www.opengis.net/def/crs/EPSG/0/3857" | "EPSG:3857" => Some(Self::Epsg3857),
            "www.opengis.net/def/crs/EPSG/0/2154" | "EPSG:2154" => Some(Self::Epsg2154),
            _ => None,
        }
    }

    /// A lon/lat position in this CRS, in its axis order.
    ///
    /// ```
    /// use geo::Coord;
    /// use terril::crs::Crs;
    /// // A point in Lens in Lambert-93: PROJ 9.1 (`cs2cs EPSG:4326 EPSG:2154`) gives
    /// // 686 096.5307, 7 037 137.1166.
    /// let c = Crs::Epsg2154.project(Coord { x: 2.8046, y: 50.4316 });
    /// assert!((c.x - 686_096.5307).abs() < 0.001 && (c.y - 7_037_137.1166).abs() < 0.001, "{c:?}");
    /// ```
    #[must_use]
    pub fn project(self, lonlat: Coord<f64>) -> Coord<f64> {
        match self {
            Self::Crs84 => lonlat,
            Self::Epsg4326 => Coord {
                x: lonlat.y,
                y: lonlat.x,
            },
            Self::Epsg3857 => {
                let (x, y) = lonlat_to_mercator(lonlat.x, lonlat.y);
                Coord { x, y }
            }
            Self::Epsg2154 => {
                let mut p = (lonlat.x.to_radians(), lonlat.y.to_radians(), 0.0);
                match proj4rs::transform::transform(&WGS84, &LAMBERT, &mut p) {
                    Ok(()) => Coord { x: p.0, y: p.1 },
                    Err(_) => Coord {
                        x: f64::NAN,
                        y: f64::NAN,
                    },
                }
            }
        }
    }

    /// A position in this CRS back to lon/lat.
    #[must_use]
    pub fn unproject(self, c: Coord<f64>) -> Coord<f64> {
        match self {
            Self::Crs84 => c,
            Self::Epsg4326 => Coord { x: c.y, y: c.x },
            Self::Epsg3857 => {
                let (x, y) = mercator_to_lonlat(c.x, c.y);
                Coord { x, y }
            }
            Self::Epsg2154 => {
                let mut p = (c.x, c.y, 0.0);
                match proj4rs::transform::transform(&LAMBERT, &WGS84, &mut p) {
                    Ok(()) => Coord {
                        x: p.0.to_degrees(),
                        y: p.1.to_degrees(),
                    },
                    Err(_) => Coord {
                        x: f64::NAN,
                        y: f64::NAN,
                    },
                }
            }
        }
    }

    /// A lon/lat geometry in this CRS.
    #[must_use]
    pub fn from_lonlat(self, g: &Geometry<f64>) -> Geometry<f64> {
        if self == Self::Crs84 {
            return g.clone();
        }
        g.map_coords(|c| self.project(c))
    }

    /// A geometry in this CRS in lon/lat.
    #[must_use]
    pub fn to_lonlat(self, g: &Geometry<f64>) -> Geometry<f64> {
        if self == Self::Crs84 {
            return g.clone();
        }
        g.map_coords(|c| self.unproject(c))
    }
}

/// A coordinate system named by its PROJ definition (PostGIS's `spatial_ref_sys.proj4text`),
/// converted to lon/lat (WGS84, degrees) in Rust.
#[derive(Debug)]
pub struct ToLonLat {
    from: Proj,
    /// Whether the source is itself lon/lat (PROJ takes and gives radians there).
    geographic: bool,
}

impl ToLonLat {
    /// The conversion from the system `definition` names; `None` when `proj4rs` cannot do it
    /// as PROJ would: an unknown projection, or a datum shift through grid files.
    ///
    /// ```
    /// use geo::Coord;
    /// use terril::crs::{LAMBERT93, ToLonLat};
    /// let from = ToLonLat::from_proj_string(LAMBERT93).unwrap();
    /// let c = from.coord(Coord { x: 686_096.5307, y: 7_037_137.1166 }).unwrap();
    /// assert!((c.x - 2.8046).abs() < 1e-8 && (c.y - 50.4316).abs() < 1e-8, "{c:?}");
    /// assert!(ToLonLat::from_proj_string("+proj=longlat +nadgrids=ntf_r93.gsb").is_none());
    /// ```
    #[must_use]
    pub fn from_proj_string(definition: &str) -> Option<Self> {
        if definition.contains("nadgrids") || definition.contains("geoidgrids") {
            return None;
        }
        let from = Proj::from_proj_string(definition.trim()).ok()?;
        Some(Self {
            geographic: from.is_latlong(),
            from,
        })
    }

    /// One position; `None` outside the projection's domain.
    #[must_use]
    pub fn coord(&self, c: Coord<f64>) -> Option<Coord<f64>> {
        let mut p = if self.geographic {
            (c.x.to_radians(), c.y.to_radians(), 0.0)
        } else {
            (c.x, c.y, 0.0)
        };
        proj4rs::transform::transform(&self.from, &WGS84, &mut p).ok()?;
        let out = Coord {
            x: p.0.to_degrees(),
            y: p.1.to_degrees(),
        };
        (out.x.is_finite() && out.y.is_finite()).then_some(out)
    }

    /// The conversion over `area` (in the source system), sped up for geometries with many
    /// positions there: exact at the nodes of a grid over the area and bilinear between them,
    /// the grid fine enough for the error at the middle of every cell to be under `tolerance`
    /// degrees. `None` when that would take more than `budget` exact conversions, or more than
    /// 128 × 128 cells (or a node falls outside the projection): convert exactly then.
    ///
    /// Bilinear error shrinks with the square of the cell: on Lambert-93, cells of 9 km are
    /// good to 2·10⁻⁵° (2 m), cells of 600 m to 10⁻⁷° (1 cm). Tiles need a twentieth of
    /// their unit, so a tile costs a few thousand exact conversions however many positions
    /// it holds.
    ///
    /// ```
    /// use geo::{Coord, Rect};
    /// use terril::crs::{LAMBERT93, ToLonLat};
    /// let exact = ToLonLat::from_proj_string(LAMBERT93).unwrap();
    /// let area = Rect::new((650_000.0, 7_000_000.0), (670_000.0, 7_020_000.0));
    /// let fast = exact.over(area, 1e-7, 100_000).unwrap();
    /// let c = Coord { x: 656_096.5307, y: 7_007_137.1166 };
    /// let (a, b) = (fast.coord(c).unwrap(), exact.coord(c).unwrap());
    /// assert!((a.x - b.x).abs() < 1e-7 && (a.y - b.y).abs() < 1e-7);
    /// ```
    #[must_use]
    pub fn over(&self, area: Rect<f64>, tolerance: f64, budget: usize) -> Option<Interpolated<'_>> {
        let mut cells = 8usize;
        let mut spent = 0usize;
        loop {
            // The nodes, and the middles of the cells to check.
            spent += (cells + 1) * (cells + 1) + cells * cells;
            if spent > budget {
                return None;
            }
            let grid = Interpolated::build(self, area, cells)?;
            let mut worst = 0.0f64;
            for j in 0..cells {
                for i in 0..cells {
                    let c = Coord {
                        x: area.min().x + (i as f64 + 0.5) * grid.step.x,
                        y: area.min().y + (j as f64 + 0.5) * grid.step.y,
                    };
                    let (a, b) = (grid.interpolate(c), self.coord(c)?);
                    worst = worst.max((a.x - b.x).abs()).max((a.y - b.y).abs());
                }
            }
            if worst <= tolerance {
                return Some(grid);
            }
            // The error goes as the square of the cell: aim straight for enough cells.
            let needed = (cells as f64 * (worst / tolerance).sqrt() * 1.2).ceil() as usize;
            if needed > 128 || spent + 2 * (needed + 1) * (needed + 1) > budget {
                return None;
            }
            cells = needed.max(cells + 1);
        }
    }

    /// A geometry, in place; `false` (and the geometry half converted) when a position falls
    /// outside the projection's domain.
    pub fn geometry(&self, g: &mut Geometry<f64>) -> bool {
        let ok = std::cell::Cell::new(true);
        g.map_coords_in_place(|c| {
            self.coord(c).unwrap_or_else(|| {
                ok.set(false);
                c
            })
        });
        ok.get()
    }
}

/// [`ToLonLat`] over an area, through a grid: see [`ToLonLat::over`].
#[derive(Debug)]
pub struct Interpolated<'a> {
    exact: &'a ToLonLat,
    area: Rect<f64>,
    cells: usize,
    step: Coord<f64>,
    /// Lon/lat of the nodes, row by row from the area's south-west corner.
    nodes: Vec<Coord<f64>>,
}

impl<'a> Interpolated<'a> {
    fn build(exact: &'a ToLonLat, area: Rect<f64>, cells: usize) -> Option<Self> {
        let step = Coord {
            x: area.width().max(f64::MIN_POSITIVE) / cells as f64,
            y: area.height().max(f64::MIN_POSITIVE) / cells as f64,
        };
        let mut nodes = Vec::with_capacity((cells + 1) * (cells + 1));
        for j in 0..=cells {
            for i in 0..=cells {
                nodes.push(exact.coord(Coord {
                    x: area.min().x + i as f64 * step.x,
                    y: area.min().y + j as f64 * step.y,
                })?);
            }
        }
        Some(Self {
            exact,
            area,
            cells,
            step,
            nodes,
        })
    }

    fn interpolate(&self, c: Coord<f64>) -> Coord<f64> {
        let fx = ((c.x - self.area.min().x) / self.step.x).clamp(0.0, self.cells as f64);
        let fy = ((c.y - self.area.min().y) / self.step.y).clamp(0.0, self.cells as f64);
        let (i, j) = (
            (fx as usize).min(self.cells - 1),
            (fy as usize).min(self.cells - 1),
        );
        let (u, v) = (fx - i as f64, fy - j as f64);
        let row = self.cells + 1;
        let at = |i: usize, j: usize| self.nodes[j * row + i];
        let (a, b, c, d) = (at(i, j), at(i + 1, j), at(i, j + 1), at(i + 1, j + 1));
        Coord {
            x: (a.x * (1.0 - u) + b.x * u) * (1.0 - v) + (c.x * (1.0 - u) + d.x * u) * v,
            y: (a.y * (1.0 - u) + b.y * u) * (1.0 - v) + (c.y * (1.0 - u) + d.y * u) * v,
        }
    }

    /// One position: interpolated inside the area, exact outside it.
    #[must_use]
    pub fn coord(&self, c: Coord<f64>) -> Option<Coord<f64>> {
        let inside = c.x >= self.area.min().x
            && c.x <= self.area.max().x
            && c.y >= self.area.min().y
            && c.y <= self.area.max().y;
        if inside {
            Some(self.interpolate(c))
        } else {
            self.exact.coord(c)
        }
    }

    /// A geometry, in place; `false` when a position falls outside the projection's domain.
    pub fn geometry(&self, g: &mut Geometry<f64>) -> bool {
        let ok = std::cell::Cell::new(true);
        g.map_coords_in_place(|c| {
            self.coord(c).unwrap_or_else(|| {
                ok.set(false);
                c
            })
        });
        ok.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let lens = Coord {
            x: 2.8319,
            y: 50.4322,
        };
        for crs in Crs::ALL {
            let back = crs.unproject(crs.project(lens));
            assert!(
                (back.x - lens.x).abs() < 1e-9 && (back.y - lens.y).abs() < 1e-9,
                "{crs:?}"
            );
            assert_eq!(Crs::from_uri(crs.uri()), Some(crs));
        }
        assert_eq!(
            Crs::Epsg4326.project(lens),
            Coord {
                x: 50.4322,
                y: 2.8319
            }
        );
    }
}
