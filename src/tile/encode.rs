//! From clipped tile-space geometry to clean integer geometry: quantize, drop repeated points
//! and degenerate rings, and orient rings as MVT 2.1 requires (exterior clockwise in tile
//! space, i.e. positive surveyor's area with y pointing down; holes the other way).

use geo::Coord;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_points_go() {
        let line = [(0.2, 0.2), (0.4, 0.1), (5.0, 5.0)].map(|(x, y)| Coord { x, y });
        assert_eq!(quantize_line(&line), Some(vec![[0, 0], [5, 5]]));
        let dot = [(0.2, 0.2), (0.4, 0.1)].map(|(x, y)| Coord { x, y });
        assert_eq!(quantize_line(&dot), None);
    }
}
