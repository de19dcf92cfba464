//! From a `cql2` expression to the typed tree ([`Pred`]): names resolved against the layer's
//! [`Schema`], types checked, literals parsed (geometries, dates, timestamps), constant
//! sub-expressions folded, `LIKE` patterns turned into regular expressions.

use std::sync::Arc;

use cql2::Expr;
use geo::{BoundingRect, CoordsIter, Geometry, MultiPolygon, Rect};

use super::eval::{accent_fold, case_fold, eval_scalar_constant};
use super::text::{STACK_GROWTH, STACK_RED_ZONE};
use super::tree::{
    Arith, ArrayArg, ArrayOp, Cmp, GeomArg, GeomLiteral, Like, Pred, Prop, Scalar, SpatialOp,
    TemporalOp, TimeArg, TimeBound, Value,
};
use super::{FilterError, Schema};
use crate::data::FieldType;

fn err<T>(msg: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(msg.into()))
}

/// The static type of a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Num,
    Str,
    Bool,
    Date,
    Timestamp,
    /// A `NULL` literal: fits anything.
    Null,
    /// A property of mixed type: fits anything, decided per feature.
    Any,
}

impl Type {
    fn of_field(t: FieldType) -> Self {
        match t {
            FieldType::Integer | FieldType::Number => Self::Num,
            FieldType::String => Self::Str,
            FieldType::Date => Self::Date,
            FieldType::Timestamp => Self::Timestamp,
            FieldType::Boolean => Self::Bool,
            FieldType::Mixed => Self::Any,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Num => "a number",
            Self::Str => "a string",
            Self::Bool => "a boolean",
            Self::Date => "a date",
            Self::Timestamp => "a timestamp",
            Self::Null => "null",
            Self::Any => "untyped",
        }
    }

    fn temporal(self) -> bool {
        matches!(self, Self::Date | Self::Timestamp)
    }

    fn fits(self, other: Self) -> bool {
        self == other
            || matches!(self, Self::Null | Self::Any)
            || matches!(other, Self::Null | Self::Any)
            || (self.temporal() && other.temporal())
    }
}

fn describe(e: &Expr) -> String {
    let text = e.to_text().unwrap_or_else(|_| format!("{e:?}"));
    text.chars().take(80).collect()
}

/// Compiles an expression against a schema.
pub fn compile(expr: &Expr, schema: &Schema) -> Result<Pred, FilterError> {
    Compiler { schema }.pred(expr)
}

struct Compiler<'a> {
    schema: &'a Schema,
}

fn arity(op: &str, args: &[Box<Expr>], n: usize) -> Result<(), FilterError> {
    if args.len() == n {
        Ok(())
    } else {
        err(format!("{op} takes {n} argument(s), got {}", args.len()))
    }
}

impl Compiler<'_> {
    fn pred(&self, e: &Expr) -> Result<Pred, FilterError> {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || self.pred_on_stack(e))
    }

    fn pred_on_stack(&self, e: &Expr) -> Result<Pred, FilterError> {
        let (op, args) = match e {
            Expr::Bool(b) => return Ok(Pred::Const(*b)),
            Expr::Operation { op, args } => (op.to_ascii_lowercase(), args),
            Expr::Property { .. } => {
                let (s, t) = self.scalar(e)?;
                if !t.fits(Type::Bool) {
                    return err(format!(
                        "{} is {}, not a condition (true or false)",
                        describe(e),
                        t.name()
                    ));
                }
                return Ok(Pred::Truthy(s));
            }
            other => {
                return err(format!(
                    "{} is not a condition (true or false)",
                    describe(other)
                ));
            }
        };
        Ok(match op.as_str() {
            "and" | "or" => {
                let parts = args
                    .iter()
                    .map(|a| self.pred(a))
                    .collect::<Result<Vec<_>, _>>()?;
                if op == "and" {
                    Pred::And(parts)
                } else {
                    Pred::Or(parts)
                }
            }
            "not" => {
                arity("NOT", args, 1)?;
                Pred::Not(Box::new(self.pred(&args[0])?))
            }
            "=" | "<>" | "<" | "<=" | ">" | ">=" => {
                arity(&op, args, 2)?;
                let (a, ta, b, tb) = self.pair(&args[0], &args[1])?;
                if !ta.fits(tb) {
                    return err(format!(
                        "type mismatch in {}: {} is {}, {} is {}",
                        describe(e),
                        describe(&args[0]),
                        ta.name(),
                        describe(&args[1]),
                        tb.name()
                    ));
                }
                if matches!(op.as_str(), "<" | "<=" | ">" | ">=")
                    && (ta == Type::Bool || tb == Type::Bool)
                {
                    return err(format!("{op} does not order booleans in {}", describe(e)));
                }
                let cmp = match op.as_str() {
                    "=" => Cmp::Eq,
                    "<>" => Cmp::Ne,
                    "<" => Cmp::Lt,
                    "<=" => Cmp::Le,
                    ">" => Cmp::Gt,
                    _ => Cmp::Ge,
                };
                Pred::Compare(cmp, a, b)
            }
            "like" => {
                arity("LIKE", args, 2)?;
                let (a, ta) = self.scalar(&args[0])?;
                if !ta.fits(Type::Str) {
                    return err(format!(
                        "LIKE needs a string, but {} is {}",
                        describe(&args[0]),
                        ta.name()
                    ));
                }
                let (p, tp) = self.scalar(&args[1])?;
                let pattern = match (&p, tp) {
                    (Scalar::Literal(Value::Str(s)), _) => s.to_string(),
                    // A NULL pattern matches nothing and its negation nothing either.
                    (Scalar::Literal(Value::Null), _) => {
                        return Ok(Pred::Compare(Cmp::Eq, a, Scalar::Literal(Value::Null)));
                    }
                    _ => {
                        return err(format!(
                            "LIKE needs a pattern string, got {}",
                            describe(&args[1])
                        ));
                    }
                };
                Pred::Like(a, like(&Arc::<str>::from(pattern))?)
            }
            "in" => {
                arity("IN", args, 2)?;
                let (a, ta) = self.scalar(&args[0])?;
                let items: Vec<&Expr> = match args[1].as_ref() {
                    Expr::Array(items) => items.iter().map(AsRef::as_ref).collect(),
                    other => vec![other],
                };
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    let (s, t) = self.coerced(item, ta)?;
                    if !ta.fits(t) {
                        return err(format!(
                            "type mismatch in IN: {} is {}, {} is {}",
                            describe(&args[0]),
                            ta.name(),
                            describe(item),
                            t.name()
                        ));
                    }
                    list.push(s);
                }
                Pred::In(a, list)
            }
            "between" => {
                arity("BETWEEN", args, 3)?;
                let (a, ta) = self.scalar(&args[0])?;
                let (lo, tl) = self.coerced(&args[1], ta)?;
                let (hi, th) = self.coerced(&args[2], ta)?;
                if !(ta.fits(tl) && ta.fits(th)) || ta == Type::Bool || ta == Type::Str {
                    return err(format!(
                        "BETWEEN compares numbers (or instants) in {}",
                        describe(e)
                    ));
                }
                Pred::Between(a, lo, hi)
            }
            "isnull" => {
                arity("IS NULL", args, 1)?;
                if let Expr::Property { property } = args[0].as_ref()
                    && self.schema.is_geometry(property)
                {
                    return Ok(Pred::GeometryIsNull);
                }
                Pred::IsNull(self.scalar(&args[0])?.0)
            }
            s if s.starts_with("s_") => {
                arity(&op, args, 2)?;
                self.spatial(s, &args[0], &args[1])?
            }
            t if t.starts_with("t_") => {
                arity(&op, args, 2)?;
                self.temporal(t, &args[0], &args[1])?
            }
            a if a.starts_with("a_") => {
                arity(&op, args, 2)?;
                self.array(a, &args[0], &args[1])?
            }
            "casei" | "accenti" | "+" | "-" | "*" | "/" | "%" | "^" | "div" => {
                let (s, t) = self.scalar(e)?;
                if !t.fits(Type::Bool) {
                    return err(format!(
                        "{} is not a condition (true or false)",
                        describe(e)
                    ));
                }
                Pred::Truthy(s)
            }
            other => {
                return err(format!(
                    "unknown function {other:?}; this server knows the CQL2 operators and CASEI, ACCENTI"
                ));
            }
        })
    }

    /// Two scalars, where a string literal facing a date or timestamp is read as one.
    fn pair(&self, a: &Expr, b: &Expr) -> Result<(Scalar, Type, Scalar, Type), FilterError> {
        let (sa, ta) = self.scalar(a)?;
        let (sb, tb) = self.coerced(b, ta)?;
        if tb.temporal() && ta == Type::Str {
            let (sa, ta) = self.coerced(a, tb)?;
            return Ok((sa, ta, sb, tb));
        }
        Ok((sa, ta, sb, tb))
    }

    /// A scalar; a string literal is read as a date or timestamp when `want` is one.
    fn coerced(&self, e: &Expr, want: Type) -> Result<(Scalar, Type), FilterError> {
        if let (Expr::Literal(s), true) = (e, want.temporal())
            && let Some(v) = temporal_literal(s)
        {
            let t = if matches!(v, Value::Date(_)) {
                Type::Date
            } else {
                Type::Timestamp
            };
            return Ok((Scalar::Literal(v), t));
        }
        self.scalar(e)
    }

    fn scalar(&self, e: &Expr) -> Result<(Scalar, Type), FilterError> {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || self.scalar_on_stack(e))
    }

    fn scalar_on_stack(&self, e: &Expr) -> Result<(Scalar, Type), FilterError> {
        let (s, t) = match e {
            Expr::Property { property } => self.property(property)?,
            Expr::Float(x) => (Scalar::Literal(Value::Num(*x)), Type::Num),
            Expr::Literal(s) => (Scalar::Literal(Value::Str(s.as_str().into())), Type::Str),
            Expr::Bool(b) => (Scalar::Literal(Value::Bool(*b)), Type::Bool),
            Expr::Null => (Scalar::Literal(Value::Null), Type::Null),
            Expr::Date { date } => {
                let text = string_of(date, "DATE")?;
                let d: jiff::civil::Date = text
                    .parse()
                    .map_err(|_| FilterError(format!("DATE({text:?}) is not a date YYYY-MM-DD")))?;
                (Scalar::Literal(Value::Date(d)), Type::Date)
            }
            Expr::Timestamp { timestamp } => {
                let text = string_of(timestamp, "TIMESTAMP")?;
                let t: jiff::Timestamp = text.parse().map_err(|_| {
                    FilterError(format!(
                        "TIMESTAMP({text:?}) is not an RFC 3339 instant like 2022-04-16T10:13:19Z"
                    ))
                })?;
                (Scalar::Literal(Value::Timestamp(t)), Type::Timestamp)
            }
            Expr::Operation { op, args } => {
                let op = op.to_ascii_lowercase();
                match op.as_str() {
                    "casei" | "accenti" => {
                        arity(&op, args, 1)?;
                        let (a, t) = self.scalar(&args[0])?;
                        if !t.fits(Type::Str) {
                            return err(format!(
                                "{op} needs a string, but {} is {}",
                                describe(&args[0]),
                                t.name()
                            ));
                        }
                        let wrapped = if op == "casei" {
                            Scalar::CaseI(Box::new(a))
                        } else {
                            Scalar::AccentI(Box::new(a))
                        };
                        (wrapped, Type::Str)
                    }
                    "+" | "-" | "*" | "/" | "%" | "^" | "div" => {
                        if args.len() < 2 {
                            return err(format!("{op} takes 2 arguments"));
                        }
                        // n-ary operations chain to the left.
                        let mut acc: Option<Scalar> = None;
                        for arg in args {
                            let (s, t) = self.scalar(arg)?;
                            if !t.fits(Type::Num) {
                                return err(format!(
                                    "arithmetic needs numbers, but {} is {}",
                                    describe(arg),
                                    t.name()
                                ));
                            }
                            acc = Some(match acc {
                                None => s,
                                Some(left) => {
                                    Scalar::Arith(arith(&op), Box::new(left), Box::new(s))
                                }
                            });
                        }
                        (acc.expect("at least two arguments"), Type::Num)
                    }
                    other
                        if other.starts_with("s_")
                            || other.starts_with("t_")
                            || other.starts_with("a_")
                            || matches!(
                                other,
                                "and" | "or" | "not" | "like" | "in" | "between" | "isnull"
                            )
                            || matches!(other, "=" | "<>" | "<" | "<=" | ">" | ">=") =>
                    {
                        return err(format!(
                            "{} is a condition, not a value: combine conditions with AND, OR and NOT",
                            describe(e)
                        ));
                    }
                    other => {
                        return err(format!(
                            "unknown function {other:?}; this server knows the CQL2 operators and CASEI, ACCENTI"
                        ));
                    }
                }
            }
            Expr::Geometry(_) | Expr::BBox { .. } => {
                return err(format!(
                    "{} is a geometry: compare geometries with S_INTERSECTS and the other spatial functions",
                    describe(e)
                ));
            }
            Expr::Interval { .. } => {
                return err("an INTERVAL goes into a temporal function such as T_INTERSECTS");
            }
            Expr::Array(_) => {
                return err(format!(
                    "{} is an array: use IN or an array function",
                    describe(e)
                ));
            }
        };
        Ok((fold(s), t))
    }

    fn property(&self, name: &str) -> Result<(Scalar, Type), FilterError> {
        if let Some(f) = self.schema.field(name) {
            let t = Type::of_field(f.field_type);
            return Ok((
                Scalar::Property(Prop {
                    name: Arc::clone(&f.name),
                    key: f.key,
                    field_type: f.field_type,
                }),
                t,
            ));
        }
        if name == "id" {
            return Ok((Scalar::Id, Type::Str));
        }
        if self.schema.is_geometry(name) {
            return err(format!(
                "{name:?} is the feature geometry: use it in a spatial function such as S_INTERSECTS"
            ));
        }
        let mut known: Vec<&str> = self.schema.fields.iter().map(|f| &*f.name).collect();
        known.push("id");
        known.push("geometry");
        let shown: String = name.chars().take(64).collect();
        err(format!(
            "property {shown:?} is not a queryable; queryables: {}",
            known.join(", ")
        ))
    }

    fn spatial(&self, op: &str, a: &Expr, b: &Expr) -> Result<Pred, FilterError> {
        let spatial = match op {
            "s_intersects" => SpatialOp::Intersects,
            "s_disjoint" => SpatialOp::Disjoint,
            "s_equals" => SpatialOp::Equals,
            "s_touches" => SpatialOp::Touches,
            "s_overlaps" => SpatialOp::Overlaps,
            "s_crosses" => SpatialOp::Crosses,
            "s_within" => SpatialOp::Within,
            "s_contains" => SpatialOp::Contains,
            other => return err(format!("unknown spatial function {other}")),
        };
        Ok(Pred::Spatial(
            spatial,
            self.geom_arg(op, a)?,
            self.geom_arg(op, b)?,
        ))
    }

    fn geom_arg(&self, op: &str, e: &Expr) -> Result<GeomArg, FilterError> {
        match e {
            Expr::Property { property } if self.schema.is_geometry(property) => {
                Ok(GeomArg::Feature)
            }
            Expr::Property { property } => err(format!(
                "{op}: {property:?} is not the feature geometry; use \"geometry\" (or \"geom\") or a geometry literal"
            )),
            other => Ok(GeomArg::Literal(Arc::new(literal_geometry(other)?))),
        }
    }

    fn temporal(&self, op: &str, a: &Expr, b: &Expr) -> Result<Pred, FilterError> {
        let t = match op {
            "t_after" => TemporalOp::After,
            "t_before" => TemporalOp::Before,
            "t_contains" => TemporalOp::Contains,
            "t_disjoint" => TemporalOp::Disjoint,
            "t_during" => TemporalOp::During,
            "t_equals" => TemporalOp::Equals,
            "t_finishedby" => TemporalOp::FinishedBy,
            "t_finishes" => TemporalOp::Finishes,
            "t_intersects" => TemporalOp::Intersects,
            "t_meets" => TemporalOp::Meets,
            "t_metby" => TemporalOp::MetBy,
            "t_overlappedby" => TemporalOp::OverlappedBy,
            "t_overlaps" => TemporalOp::Overlaps,
            "t_startedby" => TemporalOp::StartedBy,
            "t_starts" => TemporalOp::Starts,
            other => return err(format!("unknown temporal function {other}")),
        };
        Ok(Pred::Temporal(
            t,
            self.time_arg(op, a)?,
            self.time_arg(op, b)?,
        ))
    }

    fn time_arg(&self, op: &str, e: &Expr) -> Result<TimeArg, FilterError> {
        if let Expr::Interval { interval } = e {
            if interval.len() != 2 {
                return err(format!("{op}: INTERVAL takes a start and an end"));
            }
            return Ok(TimeArg::Interval(
                self.time_bound(op, &interval[0])?,
                self.time_bound(op, &interval[1])?,
            ));
        }
        match self.time_bound(op, e)? {
            TimeBound::At(s) => Ok(TimeArg::Instant(s)),
            TimeBound::Open => err(format!("{op}: '..' only stands for an end of an INTERVAL")),
        }
    }

    fn time_bound(&self, op: &str, e: &Expr) -> Result<TimeBound, FilterError> {
        if let Expr::Literal(s) = e {
            if s == ".." {
                return Ok(TimeBound::Open);
            }
            return temporal_literal(s)
                .map(|v| TimeBound::At(Scalar::Literal(v)))
                .ok_or_else(|| {
                    FilterError(format!(
                        "{op}: {s:?} is neither a date (YYYY-MM-DD), an instant (RFC 3339) nor '..'"
                    ))
                });
        }
        let (s, t) = self.scalar(e)?;
        if !(t.temporal() || t == Type::Any || t == Type::Null || t == Type::Str) {
            return err(format!(
                "{op}: {} is {}, not a date or a timestamp",
                describe(e),
                t.name()
            ));
        }
        Ok(TimeBound::At(s))
    }

    fn array(&self, op: &str, a: &Expr, b: &Expr) -> Result<Pred, FilterError> {
        let o = match op {
            "a_equals" => ArrayOp::Equals,
            "a_contains" => ArrayOp::Contains,
            "a_containedby" => ArrayOp::ContainedBy,
            "a_overlaps" => ArrayOp::Overlaps,
            other => return err(format!("unknown array function {other}")),
        };
        Ok(Pred::Array(
            o,
            self.array_arg(op, a)?,
            self.array_arg(op, b)?,
        ))
    }

    fn array_arg(&self, op: &str, e: &Expr) -> Result<ArrayArg, FilterError> {
        match e {
            Expr::Property { property } => match self.property(property)? {
                (Scalar::Property(p), _) => Ok(ArrayArg::Property(p)),
                _ => err(format!("{op}: {property:?} is not an array property")),
            },
            Expr::Array(items) => items
                .iter()
                .map(|item| match self.scalar(item)? {
                    (Scalar::Literal(v), _) => Ok(v),
                    _ => err(format!("{op}: array literals hold constants")),
                })
                .collect::<Result<_, _>>()
                .map(ArrayArg::Literal),
            // A one-item list in text reads as a parenthesised value.
            other => match self.scalar(other)? {
                (Scalar::Literal(v), _) => Ok(ArrayArg::Literal(vec![v])),
                _ => err(format!("{op} compares arrays, got {}", describe(other))),
            },
        }
    }
}

fn arith(op: &str) -> Arith {
    match op {
        "+" => Arith::Add,
        "-" => Arith::Sub,
        "*" => Arith::Mul,
        "/" => Arith::Div,
        "%" => Arith::Rem,
        "^" => Arith::Pow,
        _ => Arith::IntDiv,
    }
}

/// Folds a scalar with no property into a literal.
fn fold(s: Scalar) -> Scalar {
    fn constant(s: &Scalar) -> bool {
        match s {
            Scalar::Literal(_) => true,
            Scalar::Property(_) | Scalar::Id => false,
            Scalar::Arith(_, a, b) => constant(a) && constant(b),
            Scalar::CaseI(a) | Scalar::AccentI(a) => constant(a),
        }
    }
    if matches!(s, Scalar::Literal(_)) || !constant(&s) {
        return s;
    }
    Scalar::Literal(eval_scalar_constant(&s))
}

fn string_of<'e>(e: &'e Expr, what: &str) -> Result<&'e str, FilterError> {
    match e {
        Expr::Literal(s) => Ok(s),
        other => err(format!(
            "{what}() takes a quoted string, got {}",
            describe(other)
        )),
    }
}

/// A date (`YYYY-MM-DD`) or an RFC 3339 instant.
fn temporal_literal(s: &str) -> Option<Value> {
    if s.len() == 10
        && let Ok(d) = s.parse::<jiff::civil::Date>()
    {
        return Some(Value::Date(d));
    }
    s.parse::<jiff::Timestamp>().ok().map(Value::Timestamp)
}

/// Compiles a `LIKE` pattern (`%` any run, `_` one character, `\` escapes the next).
pub fn like(pattern: &Arc<str>) -> Result<Like, FilterError> {
    let mut re = String::with_capacity(pattern.len() + 8);
    re.push_str("(?s)^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            '\\' => match chars.next() {
                Some(next) => re.push_str(&regex::escape(&next.to_string())),
                None => re.push_str(&regex::escape("\\")),
            },
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    let regex = regex::RegexBuilder::new(&re)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| FilterError(format!("LIKE pattern is too complex: {e}")))?;
    Ok(Like {
        pattern: pattern.to_string(),
        regex,
    })
}

/// A geometry literal (WKT, GeoJSON or BBOX) in lon/lat.
fn literal_geometry(e: &Expr) -> Result<GeomLiteral, FilterError> {
    use wkt::TryFromWkt;
    let (geometry, is_box) = match e {
        Expr::Geometry(cql2::Geometry::Wkt(text)) => (
            Geometry::try_from_wkt_str(text)
                .map_err(|e| FilterError(format!("invalid geometry literal {text:?}: {e}")))?,
            false,
        ),
        Expr::Geometry(g @ cql2::Geometry::GeoJSON(_)) => {
            let json = serde_json::to_string(g)
                .map_err(|e| FilterError(format!("invalid geometry literal: {e}")))?;
            let gj: geojson::Geometry = json
                .parse()
                .map_err(|e| FilterError(format!("invalid GeoJSON geometry: {e}")))?;
            (
                Geometry::try_from(gj)
                    .map_err(|e| FilterError(format!("invalid GeoJSON geometry: {e}")))?,
                false,
            )
        }
        Expr::BBox { bbox } => {
            let nums: Vec<f64> = bbox
                .iter()
                .map(|v| match v.as_ref() {
                    Expr::Float(x) => Ok(*x),
                    other => err(format!("BBOX takes numbers, got {}", describe(other))),
                })
                .collect::<Result<_, _>>()?;
            let (w, s, e, n) = match nums.as_slice() {
                [w, s, e, n] | [w, s, _, e, n, _] => (*w, *s, *e, *n),
                _ => return err("BBOX takes 4 (or 6) numbers"),
            };
            if s > n {
                return err("BBOX needs south ≤ north");
            }
            let g = if w <= e {
                Geometry::Polygon(Rect::new((w, s), (e, n)).to_polygon())
            } else {
                // Across the antimeridian: two boxes.
                Geometry::MultiPolygon(MultiPolygon(vec![
                    Rect::new((w, s), (180.0, n)).to_polygon(),
                    Rect::new((-180.0, s), (e, n)).to_polygon(),
                ]))
            };
            (g, true)
        }
        other => return err(format!("{} is not a geometry literal", describe(other))),
    };
    if !geometry.coords_iter().all(|c| {
        c.x.is_finite()
            && c.y.is_finite()
            && (-180.0..=180.0).contains(&c.x)
            && (-90.0..=90.0).contains(&c.y)
    }) {
        return err("geometry literals are lon/lat (CRS84): longitude -180..180, latitude -90..90");
    }
    let bbox = geometry
        .bounding_rect()
        .ok_or_else(|| FilterError("empty geometry literal".into()))?;
    Ok(GeomLiteral {
        geometry,
        bbox,
        is_box,
    })
}

/// The folded case and accent forms used by `CASEI` and `ACCENTI`, for backends that compare
/// outside this module.
#[must_use]
pub fn normalise(text: &str, casei: bool, accenti: bool) -> String {
    let mut s = text.to_owned();
    if accenti {
        s = accent_fold(&s);
    }
    if casei {
        s = case_fold(&s);
    }
    s
}
