//! Rectangle clipping in tile space (x right, y down, units of the 4096 extent).
//!
//! Polygons are clipped ring by ring with Sutherland–Hodgman against the four edges of the
//! buffered tile: a hole stays a hole, and nothing outside the box survives. Where a concave
//! ring leaves and re-enters the box, the clipped ring runs along the box edge, which lies in
//! the buffer outside the visible tile. Lines are cut with Liang–Barsky into the pieces
//! that lie inside.

use geo::Coord;

/// An axis-aligned box in tile units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipBox {
    /// Smallest x and y.
    pub min: f64,
    /// Largest x and y.
    pub max: f64,
}

impl ClipBox {
    /// The tile `0..extent` grown by `buffer` units on every side.
    #[must_use]
    pub fn buffered(extent: u32, buffer: u32) -> Self {
        Self {
            min: -f64::from(buffer),
            max: f64::from(extent + buffer),
        }
    }

    /// Whether a point lies inside or on the box.
    #[must_use]
    pub fn contains(&self, c: Coord<f64>) -> bool {
        (self.min..=self.max).contains(&c.x) && (self.min..=self.max).contains(&c.y)
    }
}

/// One edge of the clip box: an axis, a bound, and which side is inside.
#[derive(Clone, Copy)]
struct Edge {
    x_axis: bool,
    bound: f64,
    keep_above: bool,
}

impl Edge {
    fn inside(&self, c: Coord<f64>) -> bool {
        let v = if self.x_axis { c.x } else { c.y };
        if self.keep_above {
            v >= self.bound
        } else {
            v <= self.bound
        }
    }

    fn cross(&self, a: Coord<f64>, b: Coord<f64>) -> Coord<f64> {
        if self.x_axis {
            let t = (self.bound - a.x) / (b.x - a.x);
            Coord {
                x: self.bound,
                y: a.y + t * (b.y - a.y),
            }
        } else {
            let t = (self.bound - a.y) / (b.y - a.y);
            Coord {
                x: a.x + t * (b.x - a.x),
                y: self.bound,
            }
        }
    }
}

/// Clips a closed ring (first = last, or open: both accepted) to the box.
///
/// Returns the clipped ring, open (no closing repeat); empty when nothing is inside.
///
/// ```
/// use geo::Coord;
/// use terril::tile::clip::{clip_ring, ClipBox};
/// let b = ClipBox { min: 0.0, max: 10.0 };
/// let square = [(-5.0, -5.0), (5.0, -5.0), (5.0, 5.0), (-5.0, 5.0)].map(|(x, y)| Coord { x, y });
/// let clipped = clip_ring(&square, b);
/// assert_eq!(clipped.len(), 4);
/// assert!(clipped.iter().all(|c| b.contains(*c)));
/// ```
#[must_use]
pub fn clip_ring(ring: &[Coord<f64>], b: ClipBox) -> Vec<Coord<f64>> {
    let mut current: Vec<Coord<f64>> = ring.to_vec();
    if current.len() > 1 && current.first() == current.last() {
        current.pop();
    }
    if current.iter().all(|c| b.contains(*c)) {
        return current;
    }
    let edges = [
        Edge {
            x_axis: true,
            bound: b.min,
            keep_above: true,
        },
        Edge {
            x_axis: true,
            bound: b.max,
            keep_above: false,
        },
        Edge {
            x_axis: false,
            bound: b.min,
            keep_above: true,
        },
        Edge {
            x_axis: false,
            bound: b.max,
            keep_above: false,
        },
    ];
    let mut next = Vec::with_capacity(current.len() + 4);
    for edge in edges {
        if current.is_empty() {
            break;
        }
        next.clear();
        let mut prev = *current.last().expect("not empty");
        let mut prev_in = edge.inside(prev);
        for &c in &current {
            let c_in = edge.inside(c);
            if c_in != prev_in {
                next.push(edge.cross(prev, c));
            }
            if c_in {
                next.push(c);
            }
            prev = c;
            prev_in = c_in;
        }
        std::mem::swap(&mut current, &mut next);
    }
    current
}

/// Clips a line to the box; returns the pieces inside (each with at least 2 points).
///
/// ```
/// use geo::Coord;
/// use terril::tile::clip::{clip_line, ClipBox};
/// let b = ClipBox { min: 0.0, max: 10.0 };
/// // In, out, and back in: two pieces.
/// let line = [(1.0, 1.0), (20.0, 1.0), (20.0, 5.0), (1.0, 5.0)].map(|(x, y)| Coord { x, y });
/// let pieces = clip_line(&line, b);
/// assert_eq!(pieces.len(), 2);
/// assert_eq!(pieces[0], vec![Coord { x: 1.0, y: 1.0 }, Coord { x: 10.0, y: 1.0 }]);
/// ```
#[must_use]
pub fn clip_line(line: &[Coord<f64>], b: ClipBox) -> Vec<Vec<Coord<f64>>> {
    let mut pieces = Vec::new();
    let mut piece: Vec<Coord<f64>> = Vec::new();
    for pair in line.windows(2) {
        let (a, c) = (pair[0], pair[1]);
        match clip_segment(a, c, b) {
            Some((p, q)) => {
                if piece.last() != Some(&p) {
                    if piece.len() >= 2 {
                        pieces.push(std::mem::take(&mut piece));
                    }
                    piece.clear();
                    piece.push(p);
                }
                piece.push(q);
                if q != c {
                    // The segment leaves the box: this piece ends here.
                    pieces.push(std::mem::take(&mut piece));
                }
            }
            None => {
                if piece.len() >= 2 {
                    pieces.push(std::mem::take(&mut piece));
                }
                piece.clear();
            }
        }
    }
    if piece.len() >= 2 {
        pieces.push(piece);
    }
    pieces
}

/// Liang–Barsky: the part of segment `a`–`c` inside the box.
fn clip_segment(a: Coord<f64>, c: Coord<f64>, b: ClipBox) -> Option<(Coord<f64>, Coord<f64>)> {
    let (dx, dy) = (c.x - a.x, c.y - a.y);
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (p, q) in [
        (-dx, a.x - b.min),
        (dx, b.max - a.x),
        (-dy, a.y - b.min),
        (dy, b.max - a.y),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| {
        if t == 0.0 {
            a
        } else if t == 1.0 {
            c
        } else {
            Coord {
                x: a.x + t * dx,
                y: a.y + t * dy,
            }
        }
    };
    Some((at(t0), at(t1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(x: f64, y: f64) -> Coord<f64> {
        Coord { x, y }
    }

    fn area(ring: &[Coord<f64>]) -> f64 {
        let n = ring.len();
        (0..n)
            .map(|i| ring[i].x * ring[(i + 1) % n].y - ring[(i + 1) % n].x * ring[i].y)
            .sum::<f64>()
            / 2.0
    }

    #[test]
    fn ring_inside_is_untouched_and_outside_vanishes() {
        let b = ClipBox {
            min: 0.0,
            max: 100.0,
        };
        let inside = [c(10.0, 10.0), c(20.0, 10.0), c(20.0, 20.0), c(10.0, 10.0)];
        assert_eq!(clip_ring(&inside, b), inside[..3].to_vec());
        let outside = [
            c(110.0, 10.0),
            c(120.0, 10.0),
            c(120.0, 20.0),
            c(110.0, 10.0),
        ];
        assert!(clip_ring(&outside, b).is_empty());
    }

    #[test]
    fn ring_covering_the_box_becomes_the_box() {
        let b = ClipBox {
            min: 0.0,
            max: 100.0,
        };
        let big = [
            c(-50.0, -50.0),
            c(150.0, -50.0),
            c(150.0, 150.0),
            c(-50.0, 150.0),
        ];
        let clipped = clip_ring(&big, b);
        assert!((area(&clipped).abs() - 10_000.0).abs() < 1e-9);
    }

    #[test]
    fn orientation_is_kept() {
        let b = ClipBox {
            min: 0.0,
            max: 100.0,
        };
        let ring = [
            c(-50.0, 50.0),
            c(50.0, -50.0),
            c(150.0, 50.0),
            c(50.0, 150.0),
        ];
        let rev: Vec<_> = ring.iter().rev().copied().collect();
        assert!(area(&clip_ring(&ring, b)) > 0.0);
        assert!(area(&clip_ring(&rev, b)) < 0.0);
    }

    #[test]
    fn line_on_the_edge_and_through_a_corner() {
        let b = ClipBox {
            min: 0.0,
            max: 10.0,
        };
        let pieces = clip_line(&[c(-5.0, 0.0), c(15.0, 0.0)], b);
        assert_eq!(pieces, vec![vec![c(0.0, 0.0), c(10.0, 0.0)]]);
        assert!(clip_line(&[c(-5.0, -5.0), c(-1.0, 20.0)], b).is_empty());
    }
}
