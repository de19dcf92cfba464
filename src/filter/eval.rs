//! Evaluation of a compiled filter on in-memory features, with the three-valued logic of
//! CQL2: a comparison involving a missing or null value is *unknown*, `NOT unknown` is
//! unknown, `false AND unknown` is false, `true OR unknown` is true; a feature is selected
//! only when its filter is true.
//!
//! Spatial relations reject on bounding boxes first; exact relations use geo's DE-9IM
//! `relate` against the literal prepared once per [`Evaluator`] (its index is not shared
//! between threads).

use std::cell::RefCell;
use std::cmp::Ordering;
use std::sync::Arc;

use geo::{BoundingRect, Geometry, Intersects, PreparedGeometry, Relate};
use rustc_hash::FxHashMap;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::Filter;
use super::tree::{
    Arith, ArrayArg, ArrayOp, Cmp, GeomArg, GeomLiteral, Pred, Scalar, SpatialOp, TemporalOp,
    TimeArg, TimeBound, Value,
};
use crate::data::{Feature, PropValue};

/// `CASEI`: Unicode lower case.
#[must_use]
pub fn case_fold(s: &str) -> String {
    s.to_lowercase()
}

/// `ACCENTI`: without combining marks after canonical decomposition.
#[must_use]
pub fn accent_fold(s: &str) -> String {
    s.nfd().filter(|c| !is_combining_mark(*c)).collect()
}

/// Evaluates a filter on features, one thread at a time.
pub struct Evaluator<'f> {
    filter: &'f Filter,
    prepared: RefCell<FxHashMap<usize, PreparedGeometry<'f, &'f Geometry<f64>>>>,
}

/// The truth value of a condition: `None` is unknown.
pub type Truth = Option<bool>;

impl<'f> Evaluator<'f> {
    /// An evaluator of `filter`.
    #[must_use]
    pub fn new(filter: &'f Filter) -> Self {
        Self {
            filter,
            prepared: RefCell::default(),
        }
    }

    /// Whether the feature is selected (its filter is true).
    #[must_use]
    pub fn matches(&self, f: &Feature) -> bool {
        self.pred(&self.filter.root, f) == Some(true)
    }

    /// The truth value of the filter for a feature.
    #[must_use]
    pub fn truth(&self, f: &Feature) -> Truth {
        self.pred(&self.filter.root, f)
    }

    fn pred(&self, p: &'f Pred, f: &Feature) -> Truth {
        match p {
            Pred::Const(b) => Some(*b),
            Pred::And(parts) => {
                let mut unknown = false;
                for part in parts {
                    match self.pred(part, f) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                if unknown { None } else { Some(true) }
            }
            Pred::Or(parts) => {
                let mut unknown = false;
                for part in parts {
                    match self.pred(part, f) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                if unknown { None } else { Some(false) }
            }
            Pred::Not(inner) => self.pred(inner, f).map(|b| !b),
            Pred::Compare(op, a, b) => {
                let ord = compare(&scalar(a, f), &scalar(b, f))?;
                Some(match op {
                    Cmp::Eq => ord.is_eq(),
                    Cmp::Ne => ord.is_ne(),
                    Cmp::Lt => ord.is_lt(),
                    Cmp::Le => ord.is_le(),
                    Cmp::Gt => ord.is_gt(),
                    Cmp::Ge => ord.is_ge(),
                })
            }
            Pred::Like(a, like) => match scalar(a, f) {
                Value::Str(s) => Some(like.regex.is_match(&s)),
                _ => None,
            },
            Pred::Between(a, lo, hi) => {
                let v = scalar(a, f);
                let above = compare(&v, &scalar(lo, f)).map(Ordering::is_ge);
                let below = compare(&v, &scalar(hi, f)).map(Ordering::is_le);
                and(above, below)
            }
            Pred::In(a, list) => {
                let v = scalar(a, f);
                if v == Value::Null {
                    return None;
                }
                let mut unknown = false;
                for item in list {
                    match compare(&v, &scalar(item, f)) {
                        Some(Ordering::Equal) => return Some(true),
                        None => unknown = true,
                        Some(_) => {}
                    }
                }
                if unknown { None } else { Some(false) }
            }
            Pred::IsNull(a) => Some(scalar(a, f) == Value::Null),
            Pred::GeometryIsNull => Some(f.geometry.is_none()),
            Pred::Spatial(op, a, b) => self.spatial(*op, a, b, f),
            Pred::Temporal(op, a, b) => {
                let a = interval(a, f)?;
                let b = interval(b, f)?;
                Some(temporal(*op, a, b))
            }
            Pred::Array(op, a, b) => {
                let a = array(a, f)?;
                let b = array(b, f)?;
                Some(array_relation(*op, &a, &b))
            }
            Pred::Truthy(a) => match scalar(a, f) {
                Value::Bool(b) => Some(b),
                _ => None,
            },
        }
    }

    fn spatial(&self, op: SpatialOp, a: &'f GeomArg, b: &'f GeomArg, f: &Feature) -> Truth {
        let geometry = |arg: &'f GeomArg| -> Option<&Geometry<f64>> {
            match arg {
                GeomArg::Feature => f.geometry.as_ref(),
                GeomArg::Literal(l) => Some(&l.geometry),
            }
        };
        let (ga, gb) = (geometry(a)?, geometry(b)?);
        let (ra, rb) = (ga.bounding_rect()?, gb.bounding_rect()?);
        let boxes_meet = ra.intersects(&rb);
        // Answers the boxes settle.
        match op {
            SpatialOp::Disjoint if !boxes_meet => return Some(true),
            SpatialOp::Within if !contains_rect(rb, ra) => return Some(false),
            SpatialOp::Contains if !contains_rect(ra, rb) => return Some(false),
            SpatialOp::Equals if ra != rb => return Some(false),
            _ if !boxes_meet && op != SpatialOp::Disjoint => return Some(false),
            _ => {}
        }
        // A box literal and a plain intersection test need no relate.
        if matches!(op, SpatialOp::Intersects | SpatialOp::Disjoint) {
            let literal_box = |arg: &GeomArg| matches!(arg, GeomArg::Literal(l) if l.is_box);
            if literal_box(a)
                || literal_box(b)
                || matches!(ga, Geometry::Point(_))
                || matches!(gb, Geometry::Point(_))
            {
                let hit = ga.intersects(gb);
                return Some(if op == SpatialOp::Intersects {
                    hit
                } else {
                    !hit
                });
            }
        }
        let matrix = match (a, b) {
            (GeomArg::Literal(l), _) => self.with_prepared(l, |p| p.relate(gb)),
            (_, GeomArg::Literal(l)) => {
                // relate(literal, feature) is relate(feature, literal) transposed: only
                // within and contains change places.
                let m = self.with_prepared(l, |p| p.relate(ga));
                return Some(match op {
                    SpatialOp::Within => m.is_contains(),
                    SpatialOp::Contains => m.is_within(),
                    _ => relation(op, &m),
                });
            }
            _ => ga.relate(gb),
        };
        Some(relation(op, &matrix))
    }

    fn with_prepared<T>(
        &self,
        literal: &'f Arc<GeomLiteral>,
        f: impl FnOnce(&PreparedGeometry<'f, &'f Geometry<f64>>) -> T,
    ) -> T {
        let id = Arc::as_ptr(literal) as usize;
        let mut cache = self.prepared.borrow_mut();
        let prepared = cache
            .entry(id)
            .or_insert_with(|| PreparedGeometry::from(&literal.geometry));
        f(prepared)
    }
}

fn relation(op: SpatialOp, m: &geo::relate::IntersectionMatrix) -> bool {
    match op {
        SpatialOp::Intersects => m.is_intersects(),
        SpatialOp::Disjoint => m.is_disjoint(),
        SpatialOp::Within => m.is_within(),
        SpatialOp::Contains => m.is_contains(),
        SpatialOp::Equals => m.is_equal_topo(),
        SpatialOp::Touches => m.is_touches(),
        SpatialOp::Overlaps => m.is_overlaps(),
        SpatialOp::Crosses => m.is_crosses(),
    }
}

fn contains_rect(outer: geo::Rect<f64>, inner: geo::Rect<f64>) -> bool {
    outer.min().x <= inner.min().x
        && outer.min().y <= inner.min().y
        && outer.max().x >= inner.max().x
        && outer.max().y >= inner.max().y
}

fn and(a: Truth, b: Truth) -> Truth {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// Orders two values of comparable types; `None` when either is null or the types differ.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => x.partial_cmp(y),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        (Value::Date(_), Value::Timestamp(_)) | (Value::Timestamp(_), Value::Date(_)) => {
            Some(instant_nanos(a)?.0.cmp(&instant_nanos(b)?.0))
        }
        _ => None,
    }
}

/// Evaluates a scalar with no property (for constant folding).
#[must_use]
pub fn eval_scalar_constant(s: &Scalar) -> Value {
    let dummy = Feature {
        id: "".into(),
        properties: Box::new([]),
        geometry: None,
    };
    scalar(s, &dummy)
}

fn property_value(v: &PropValue, as_time: crate::data::FieldType) -> Value {
    use crate::data::FieldType;
    match v {
        PropValue::Null => Value::Null,
        PropValue::Bool(b) => Value::Bool(*b),
        PropValue::Str(s) => match as_time {
            FieldType::Date => s.parse().map_or(Value::Null, Value::Date),
            FieldType::Timestamp => s.parse().map_or(Value::Null, Value::Timestamp),
            _ => Value::Str(Arc::clone(s)),
        },
        PropValue::Json(j) => Value::Str(j.to_string().into()),
        other => other.as_f64().map_or(Value::Null, Value::Num),
    }
}

fn scalar(s: &Scalar, f: &Feature) -> Value {
    match s {
        Scalar::Literal(v) => v.clone(),
        Scalar::Property(p) => p
            .key
            .and_then(|k| f.get(k))
            .map_or(Value::Null, |v| property_value(v, p.field_type)),
        Scalar::Id => Value::Str(f.id.as_ref().into()),
        Scalar::Arith(op, a, b) => match (scalar(a, f), scalar(b, f)) {
            (Value::Num(x), Value::Num(y)) => {
                let v = match op {
                    Arith::Add => x + y,
                    Arith::Sub => x - y,
                    Arith::Mul => x * y,
                    Arith::Div => x / y,
                    Arith::Rem => x % y,
                    Arith::Pow => x.powf(y),
                    Arith::IntDiv => (x / y).trunc(),
                };
                if v.is_finite() {
                    Value::Num(v)
                } else {
                    Value::Null
                }
            }
            _ => Value::Null,
        },
        Scalar::CaseI(a) => match scalar(a, f) {
            Value::Str(s) => Value::Str(case_fold(&s).into()),
            other => other,
        },
        Scalar::AccentI(a) => match scalar(a, f) {
            Value::Str(s) => Value::Str(accent_fold(&s).into()),
            other => other,
        },
    }
}

/// An instant's first and last nanosecond (a date spans its whole UTC day).
fn instant_nanos(v: &Value) -> Option<(i128, i128)> {
    const DAY: i128 = 86_400_000_000_000;
    match v {
        Value::Timestamp(t) => {
            let n = t.as_nanosecond();
            Some((n, n))
        }
        Value::Date(d) => {
            let start = d
                .to_zoned(jiff::tz::TimeZone::UTC)
                .ok()?
                .timestamp()
                .as_nanosecond();
            Some((start, start + DAY - 1))
        }
        Value::Str(s) => {
            let parsed = if s.len() == 10 {
                s.parse().ok().map(Value::Date)
            } else {
                s.parse().ok().map(Value::Timestamp)
            };
            instant_nanos(&parsed?)
        }
        _ => None,
    }
}

fn interval(arg: &TimeArg, f: &Feature) -> Option<(i128, i128)> {
    match arg {
        TimeArg::Instant(s) => instant_nanos(&scalar(s, f)),
        TimeArg::Interval(a, b) => {
            let start = match a {
                TimeBound::Open => i128::MIN,
                TimeBound::At(s) => instant_nanos(&scalar(s, f))?.0,
            };
            let end = match b {
                TimeBound::Open => i128::MAX,
                TimeBound::At(s) => instant_nanos(&scalar(s, f))?.1,
            };
            Some((start, end))
        }
    }
}

/// Allen's interval relations, instants being intervals of no length.
fn temporal(op: TemporalOp, (a0, a1): (i128, i128), (b0, b1): (i128, i128)) -> bool {
    match op {
        TemporalOp::Before => a1 < b0,
        TemporalOp::After => a0 > b1,
        TemporalOp::Meets => a1 == b0,
        TemporalOp::MetBy => a0 == b1,
        TemporalOp::Overlaps => a0 < b0 && a1 > b0 && a1 < b1,
        TemporalOp::OverlappedBy => b0 < a0 && b1 > a0 && b1 < a1,
        TemporalOp::Starts => a0 == b0 && a1 < b1,
        TemporalOp::StartedBy => a0 == b0 && a1 > b1,
        TemporalOp::During => a0 > b0 && a1 < b1,
        TemporalOp::Contains => a0 < b0 && a1 > b1,
        TemporalOp::Finishes => a0 > b0 && a1 == b1,
        TemporalOp::FinishedBy => a0 < b0 && a1 == b1,
        TemporalOp::Equals => a0 == b0 && a1 == b1,
        TemporalOp::Intersects => a0 <= b1 && a1 >= b0,
        TemporalOp::Disjoint => !(a0 <= b1 && a1 >= b0),
    }
}

fn array(arg: &ArrayArg, f: &Feature) -> Option<Vec<Value>> {
    match arg {
        ArrayArg::Literal(items) => Some(items.clone()),
        ArrayArg::Property(p) => match p.key.and_then(|k| f.get(k))? {
            PropValue::Json(j) => j.as_array().map(|items| {
                items
                    .iter()
                    .map(|v| property_value(&PropValue::from_json(v.clone()), p.field_type))
                    .collect()
            }),
            PropValue::Null => None,
            // A single value is a one-item array.
            other => Some(vec![property_value(other, p.field_type)]),
        },
    }
}

fn array_relation(op: ArrayOp, a: &[Value], b: &[Value]) -> bool {
    let has =
        |list: &[Value], v: &Value| list.iter().any(|x| compare(x, v) == Some(Ordering::Equal));
    match op {
        ArrayOp::Equals => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| compare(x, y) == Some(Ordering::Equal))
        }
        ArrayOp::Contains => b.iter().all(|v| has(a, v)),
        ArrayOp::ContainedBy => a.iter().all(|v| has(b, v)),
        ArrayOp::Overlaps => a.iter().any(|v| has(b, v)),
    }
}
