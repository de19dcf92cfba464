//! CQL2 filters: parsed by the `cql2` crate, then compiled once per request and layer into a
//! typed predicate that is evaluated per feature with no name or operator lookups.
//!
//! Supported: comparisons (`=`, `<>`, `<`, `<=`, `>`, `>=`), `AND`/`OR`/`NOT`, `LIKE`, `IN`,
//! `BETWEEN`, `IS NULL`, arithmetic (`+ - * / % ^ div`), `CASEI` and `ACCENTI`, and the spatial
//! functions `S_INTERSECTS`, `S_WITHIN`, `S_CONTAINS`, `S_DISJOINT`, `S_EQUALS`, `S_TOUCHES`,
//! `S_OVERLAPS`, `S_CROSSES` on the `geometry` property, with WKT, GeoJSON or `BBOX` literals in
//! WGS84 lon/lat (CRS84).

use std::sync::Arc;

use cql2::Expr;
use geo::{Geometry, Relate};
use regex::Regex;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::layer::{Feature, FieldType, Layer};

/// Longest filter text accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 16 * 1024;

/// Deepest nesting of a filter accepted.
pub const MAX_FILTER_DEPTH: usize = 64;

/// Stack of the thread that parses and compiles a filter. The parser is recursive: a 16 KiB
/// chain of `NOT NOT …` or `1+1+…` nests thousands of levels, more than a server thread's stack
/// holds, so parsing runs on its own thread with room for the worst case the size limit allows.
const PARSER_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Deepest nesting of parentheses in a CQL2 text filter.
pub const MAX_TEXT_PARENS: usize = 8;

/// Names under which a filter may refer to a feature's geometry.
pub const GEOMETRY_NAMES: &[&str] = &["geometry", "geom"];

/// Why a filter cannot be used; the message points at the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(msg.into()))
}

/// The filter language of a request (`filter-lang`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterLang {
    /// CQL2 text, e.g. `theme = 'MEMOIRE' AND population > 1000`.
    Text,
    /// CQL2 JSON, e.g. `{"op": "=", "args": [{"property": "theme"}, "MEMOIRE"]}`.
    Json,
}

impl FilterLang {
    /// Reads `filter-lang`; `None` means the default, `cql2-text`.
    pub fn parse(value: Option<&str>) -> Result<Self, FilterError> {
        match value {
            None | Some("cql2-text") => Ok(Self::Text),
            Some("cql2-json") => Ok(Self::Json),
            Some(other) => err(format!(
                "filter-lang must be cql2-text or cql2-json, not {other:?}"
            )),
        }
    }
}

/// Parses filter text (not yet bound to a layer).
///
/// The parser recurses once per level of nesting: call this on a thread with a large stack,
/// as [`Filter::new`] does, for text from outside.
pub fn parse(text: &str, lang: FilterLang) -> Result<Expr, FilterError> {
    check_size(text, lang)?;
    match lang {
        FilterLang::Text => {
            cql2::parse_text(text).map_err(|e| FilterError(format!("CQL2 text syntax error: {e}")))
        }
        FilterLang::Json => {
            cql2::parse_json(text).map_err(|e| FilterError(format!("CQL2 JSON error: {e}")))
        }
    }
}

/// The limits checked before parsing: size, and bracket nesting outside string literals.
///
/// The CQL2 text grammar backtracks: on text that fails to parse, the time doubles with every
/// level of parentheses (16 levels take a second), so text filters may nest at most
/// [`MAX_TEXT_PARENS`] parentheses and must balance them.
fn check_size(text: &str, lang: FilterLang) -> Result<(), FilterError> {
    if text.len() > MAX_FILTER_BYTES {
        return err(format!(
            "filter is {} bytes long; the limit is {MAX_FILTER_BYTES}",
            text.len()
        ));
    }
    let (quote, max) = match lang {
        FilterLang::Text => (b'\'', MAX_TEXT_PARENS),
        FilterLang::Json => (b'"', MAX_FILTER_DEPTH),
    };
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for b in text.bytes() {
        if in_string {
            // Text doubles its quote ('it''s'): leaving and re-entering the string is the same.
            if lang == FilterLang::Json && b == b'\\' && !escaped {
                escaped = true;
                continue;
            }
            if b == quote && !escaped {
                in_string = false;
            }
            escaped = false;
            continue;
        }
        match b {
            _ if b == quote => in_string = true,
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return err(format!("filter nests deeper than {max} levels of brackets"));
                }
            }
            b')' | b']' | b'}' => {
                depth = depth.checked_sub(1).ok_or_else(|| {
                    FilterError("unbalanced brackets: one closes that never opened".into())
                })?;
            }
            _ => {}
        }
    }
    if depth > 0 {
        return err(format!(
            "unbalanced brackets: {depth} opened and never closed"
        ));
    }
    Ok(())
}

/// A compiled filter, bound to one layer's properties.
#[derive(Debug, Clone)]
pub struct Filter {
    root: Pred,
}

impl Filter {
    /// Type-checks `expr` against `layer`'s queryables and compiles it.
    pub fn compile(expr: &Expr, layer: &Layer) -> Result<Self, FilterError> {
        let root = Compiler { layer }.pred(expr, 0)?;
        Ok(Self { root })
    }

    /// Parses and compiles in one step, on a thread with a large stack (see
    /// `PARSER_STACK_BYTES`); the deep syntax tree is also dropped there.
    pub fn new(text: &str, lang: FilterLang, layer: &Layer) -> Result<Self, FilterError> {
        check_size(text, lang)?;
        std::thread::scope(|scope| {
            let worker = std::thread::Builder::new()
                .name("cql2-parser".into())
                .stack_size(PARSER_STACK_BYTES)
                .spawn_scoped(scope, || Self::compile(&parse(text, lang)?, layer))
                .map_err(|e| FilterError(format!("cannot start the filter parser: {e}")))?;
            worker
                .join()
                .map_err(|_| FilterError("the filter could not be parsed".into()))?
        })
    }

    /// Whether a feature passes.
    #[must_use]
    pub fn matches(&self, feature: &Feature) -> bool {
        self.root.eval(feature)
    }
}

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Null,
    Num(f64),
    Str(Arc<str>),
    Bool(bool),
}

impl Scalar {
    fn from_json(v: &Value) -> Self {
        match v {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => n.as_f64().map_or(Self::Null, Self::Num),
            Value::String(s) => Self::Str(s.as_str().into()),
            other => Self::Str(other.to_string().into()),
        }
    }

    fn cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Self::Num(a), Self::Num(b)) => a.partial_cmp(b),
            (Self::Str(a), Self::Str(b)) => Some(a.cmp(b)),
            (Self::Bool(a), Self::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// The static type of an operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Num,
    Str,
    Bool,
    /// A literal NULL or a property of mixed type: compares with anything, matches nothing.
    Any,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Self::Num => "a number",
            Self::Str => "a string",
            Self::Bool => "a boolean",
            Self::Any => "untyped",
        }
    }

    fn fits(self, other: Self) -> bool {
        self == other || self == Self::Any || other == Self::Any
    }
}

#[derive(Debug, Clone, Copy)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    IntDiv,
}

#[derive(Debug, Clone)]
enum Operand {
    Property(Arc<str>),
    Id,
    Literal(Scalar),
    Arith(Arith, Box<Operand>, Box<Operand>),
    CaseI(Box<Operand>),
    AccentI(Box<Operand>),
}

fn strip_accents(s: &str) -> String {
    s.nfd().filter(|c| !is_combining_mark(*c)).collect()
}

impl Operand {
    fn eval(&self, f: &Feature) -> Scalar {
        match self {
            Self::Property(key) => f
                .properties
                .get(key.as_ref())
                .map_or(Scalar::Null, Scalar::from_json),
            Self::Id => Scalar::Str(f.id.as_str().into()),
            Self::Literal(s) => s.clone(),
            Self::Arith(op, a, b) => match (a.eval(f), b.eval(f)) {
                (Scalar::Num(x), Scalar::Num(y)) => Scalar::Num(match op {
                    Arith::Add => x + y,
                    Arith::Sub => x - y,
                    Arith::Mul => x * y,
                    Arith::Div => x / y,
                    Arith::Rem => x % y,
                    Arith::Pow => x.powf(y),
                    Arith::IntDiv => (x / y).trunc(),
                }),
                _ => Scalar::Null,
            },
            Self::CaseI(a) => match a.eval(f) {
                Scalar::Str(s) => Scalar::Str(s.to_lowercase().into()),
                other => other,
            },
            Self::AccentI(a) => match a.eval(f) {
                Scalar::Str(s) => Scalar::Str(strip_accents(&s).into()),
                other => other,
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy)]
enum Spatial {
    Intersects,
    Disjoint,
    Within,
    Contains,
    Equals,
    Touches,
    Overlaps,
    Crosses,
}

#[derive(Debug, Clone)]
enum Pred {
    Const(bool),
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
    Compare(Cmp, Operand, Operand),
    Like(Operand, Regex),
    In(Operand, Vec<Scalar>),
    Between(Operand, Operand, Operand),
    IsNull(Operand),
    /// `op(feature geometry, literal)`, literal in lon/lat.
    Spatial(Spatial, Arc<Geometry<f64>>),
}

impl Pred {
    fn eval(&self, f: &Feature) -> bool {
        match self {
            Self::Const(b) => *b,
            Self::And(ps) => ps.iter().all(|p| p.eval(f)),
            Self::Or(ps) => ps.iter().any(|p| p.eval(f)),
            Self::Not(p) => !p.eval(f),
            Self::Compare(op, a, b) => {
                let Some(ord) = a.eval(f).cmp(&b.eval(f)) else {
                    return false;
                };
                match op {
                    Cmp::Eq => ord.is_eq(),
                    Cmp::Ne => ord.is_ne(),
                    Cmp::Lt => ord.is_lt(),
                    Cmp::Le => ord.is_le(),
                    Cmp::Gt => ord.is_gt(),
                    Cmp::Ge => ord.is_ge(),
                }
            }
            Self::Like(a, re) => matches!(a.eval(f), Scalar::Str(s) if re.is_match(&s)),
            Self::In(a, list) => {
                let v = a.eval(f);
                list.iter().any(|x| v.cmp(x).is_some_and(|o| o.is_eq()))
            }
            Self::Between(a, lo, hi) => {
                let v = a.eval(f);
                v.cmp(&lo.eval(f)).is_some_and(|o| o.is_ge())
                    && v.cmp(&hi.eval(f)).is_some_and(|o| o.is_le())
            }
            Self::IsNull(a) => a.eval(f) == Scalar::Null,
            Self::Spatial(op, g) => {
                let m = f.lonlat.relate(g.as_ref());
                match op {
                    Spatial::Intersects => m.is_intersects(),
                    Spatial::Disjoint => m.is_disjoint(),
                    Spatial::Within => m.is_within(),
                    Spatial::Contains => m.is_contains(),
                    Spatial::Equals => m.is_equal_topo(),
                    Spatial::Touches => m.is_touches(),
                    Spatial::Overlaps => m.is_overlaps(),
                    Spatial::Crosses => m.is_crosses(),
                }
            }
        }
    }
}

struct Compiler<'a> {
    layer: &'a Layer,
}

fn describe(e: &Expr) -> String {
    let text = e.to_text().unwrap_or_else(|_| format!("{e:?}"));
    text.chars().take(80).collect()
}

impl Compiler<'_> {
    fn pred(&self, e: &Expr, depth: usize) -> Result<Pred, FilterError> {
        if depth > MAX_FILTER_DEPTH {
            return err(format!(
                "filter nests deeper than {MAX_FILTER_DEPTH} levels"
            ));
        }
        let Expr::Operation { op, args } = e else {
            return match e {
                Expr::Bool(b) => Ok(Pred::Const(*b)),
                other => err(format!(
                    "{} is not a condition (true or false)",
                    describe(other)
                )),
            };
        };
        let arity = |n: usize| -> Result<(), FilterError> {
            if args.len() == n {
                Ok(())
            } else {
                err(format!("{op} takes {n} argument(s), got {}", args.len()))
            }
        };
        let d = depth + 1;
        Ok(match op.as_str() {
            "and" => Pred::And(
                args.iter()
                    .map(|a| self.pred(a, d))
                    .collect::<Result<_, _>>()?,
            ),
            "or" => Pred::Or(
                args.iter()
                    .map(|a| self.pred(a, d))
                    .collect::<Result<_, _>>()?,
            ),
            "not" => {
                arity(1)?;
                Pred::Not(Box::new(self.pred(&args[0], d)?))
            }
            "=" | "<>" | "<" | "<=" | ">" | ">=" => {
                arity(2)?;
                let (a, ta) = self.operand(&args[0], d)?;
                let (b, tb) = self.operand(&args[1], d)?;
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
                arity(2)?;
                let (a, ta) = self.operand(&args[0], d)?;
                if !ta.fits(Type::Str) {
                    return err(format!(
                        "LIKE needs a string, but {} is {}",
                        describe(&args[0]),
                        ta.name()
                    ));
                }
                let pattern = match args[1].as_ref() {
                    Expr::Literal(p) => p.clone(),
                    Expr::Operation { op, args }
                        if (op == "casei" || op == "accenti") && args.len() == 1 =>
                    {
                        match args[0].as_ref() {
                            Expr::Literal(p) if op == "casei" => p.to_lowercase(),
                            Expr::Literal(p) => strip_accents(p),
                            other => {
                                return err(format!(
                                    "LIKE needs a pattern string, got {}",
                                    describe(other)
                                ));
                            }
                        }
                    }
                    other => {
                        return err(format!(
                            "LIKE needs a pattern string, got {}",
                            describe(other)
                        ));
                    }
                };
                Pred::Like(a, like_regex(&pattern)?)
            }
            "in" => {
                arity(2)?;
                let (a, ta) = self.operand(&args[0], d)?;
                let Expr::Array(items) = args[1].as_ref() else {
                    return err(format!("IN needs a list, got {}", describe(&args[1])));
                };
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    let (Operand::Literal(s), t) = self.operand(item, d)? else {
                        return err(format!("IN lists hold literals, got {}", describe(item)));
                    };
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
                arity(3)?;
                let (a, ta) = self.operand(&args[0], d)?;
                let (lo, tl) = self.operand(&args[1], d)?;
                let (hi, th) = self.operand(&args[2], d)?;
                if !ta.fits(Type::Num) || !tl.fits(Type::Num) || !th.fits(Type::Num) {
                    return err(format!("BETWEEN compares numbers in {}", describe(e)));
                }
                Pred::Between(a, lo, hi)
            }
            "isNull" => {
                arity(1)?;
                Pred::IsNull(self.operand(&args[0], d)?.0)
            }
            spatial if spatial.starts_with("s_") => {
                arity(2)?;
                self.spatial(spatial, &args[0], &args[1])?
            }
            other if other.starts_with("t_") || other.starts_with("a_") => {
                return err(format!(
                    "{other} is not supported: the layers have no temporal or array properties"
                ));
            }
            other => return err(format!("{other} is not a condition in {}", describe(e))),
        })
    }

    fn operand(&self, e: &Expr, depth: usize) -> Result<(Operand, Type), FilterError> {
        if depth > MAX_FILTER_DEPTH {
            return err(format!(
                "filter nests deeper than {MAX_FILTER_DEPTH} levels"
            ));
        }
        Ok(match e {
            Expr::Property { property } => self.property(property)?,
            Expr::Float(x) => (Operand::Literal(Scalar::Num(*x)), Type::Num),
            Expr::Literal(s) => (Operand::Literal(Scalar::Str(s.as_str().into())), Type::Str),
            Expr::Bool(b) => (Operand::Literal(Scalar::Bool(*b)), Type::Bool),
            Expr::Null => (Operand::Literal(Scalar::Null), Type::Any),
            Expr::Operation { op, args } if op == "casei" || op == "accenti" => {
                if args.len() != 1 {
                    return err(format!("{op} takes 1 argument"));
                }
                let (a, t) = self.operand(&args[0], depth + 1)?;
                if !t.fits(Type::Str) {
                    return err(format!(
                        "{op} needs a string, but {} is {}",
                        describe(&args[0]),
                        t.name()
                    ));
                }
                let wrapped = if op == "casei" {
                    Operand::CaseI(Box::new(a))
                } else {
                    Operand::AccentI(Box::new(a))
                };
                (wrapped, Type::Str)
            }
            Expr::Operation { op, args } if cql2::ARITHOPS.contains(&op.as_str()) => {
                if args.len() != 2 {
                    return err(format!("{op} takes 2 arguments"));
                }
                let (a, ta) = self.operand(&args[0], depth + 1)?;
                let (b, tb) = self.operand(&args[1], depth + 1)?;
                for (arg, t) in [(&args[0], ta), (&args[1], tb)] {
                    if !t.fits(Type::Num) {
                        return err(format!(
                            "arithmetic needs numbers, but {} is {}",
                            describe(arg),
                            t.name()
                        ));
                    }
                }
                let op = match op.as_str() {
                    "+" => Arith::Add,
                    "-" => Arith::Sub,
                    "*" => Arith::Mul,
                    "/" => Arith::Div,
                    "%" => Arith::Rem,
                    "^" => Arith::Pow,
                    _ => Arith::IntDiv,
                };
                (Operand::Arith(op, Box::new(a), Box::new(b)), Type::Num)
            }
            other => return err(format!("{} is not a value here", describe(other))),
        })
    }

    fn property(&self, name: &str) -> Result<(Operand, Type), FilterError> {
        if name == "id" && !self.layer.fields.contains_key("id") {
            return Ok((Operand::Id, Type::Str));
        }
        let Some(t) = self.layer.fields.get(name) else {
            let mut known: Vec<&str> = self.layer.fields.keys().map(String::as_str).collect();
            known.push("id");
            return err(format!(
                "property {name:?} is not a queryable of layer {:?}; queryables: {}",
                self.layer.id(),
                known.join(", ")
            ));
        };
        let t = match t {
            FieldType::Integer | FieldType::Number => Type::Num,
            FieldType::String => Type::Str,
            FieldType::Boolean => Type::Bool,
            FieldType::Mixed => Type::Any,
        };
        Ok((Operand::Property(name.into()), t))
    }

    fn spatial(&self, op: &str, a: &Expr, b: &Expr) -> Result<Pred, FilterError> {
        let is_geometry_property = |e: &Expr| matches!(e, Expr::Property { property } if GEOMETRY_NAMES.contains(&property.as_str()));
        // op(geometry, literal), or op(literal, geometry) with the relation turned around.
        let (literal, flipped) = if is_geometry_property(a) {
            (b, false)
        } else if is_geometry_property(b) {
            (a, true)
        } else {
            return err(format!(
                "{op} needs the feature geometry (property \"geometry\") as one argument"
            ));
        };
        let spatial = match (op, flipped) {
            ("s_intersects", _) => Spatial::Intersects,
            ("s_disjoint", _) => Spatial::Disjoint,
            ("s_equals", _) => Spatial::Equals,
            ("s_touches", _) => Spatial::Touches,
            ("s_overlaps", _) => Spatial::Overlaps,
            ("s_crosses", _) => Spatial::Crosses,
            ("s_within", false) | ("s_contains", true) => Spatial::Within,
            ("s_contains", false) | ("s_within", true) => Spatial::Contains,
            (other, _) => return err(format!("unknown spatial function {other}")),
        };
        Ok(Pred::Spatial(spatial, Arc::new(literal_geometry(literal)?)))
    }
}

/// A geometry literal (WKT, GeoJSON or BBOX) in lon/lat.
fn literal_geometry(e: &Expr) -> Result<Geometry<f64>, FilterError> {
    use wkt::TryFromWkt;
    match e {
        Expr::Geometry(g) => {
            let text = g
                .to_wkt()
                .map_err(|e| FilterError(format!("invalid geometry literal: {e}")))?;
            let geometry = Geometry::try_from_wkt_str(&text)
                .map_err(|e| FilterError(format!("invalid geometry literal {text:?}: {e}")))?;
            check_lonlat(&geometry)?;
            Ok(geometry)
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
            if !(w <= e && s <= n) {
                return err("BBOX needs west ≤ east and south ≤ north");
            }
            let rect = geo::Rect::new((w, s), (e, n));
            let g = Geometry::Polygon(rect.to_polygon());
            check_lonlat(&g)?;
            Ok(g)
        }
        other => err(format!("{} is not a geometry literal", describe(other))),
    }
}

fn check_lonlat(g: &Geometry<f64>) -> Result<(), FilterError> {
    use geo::CoordsIter;
    if g.coords_iter().all(|c| {
        c.x.is_finite()
            && c.y.is_finite()
            && (-180.0..=180.0).contains(&c.x)
            && (-90.0..=90.0).contains(&c.y)
    }) {
        Ok(())
    } else {
        err("geometry literals are lon/lat (CRS84): longitude -180..180, latitude -90..90")
    }
}

/// Compiles a CQL2 LIKE pattern (`%` any run, `_` one character, `\` escapes) into a regex.
fn like_regex(pattern: &str) -> Result<Regex, FilterError> {
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
    regex::RegexBuilder::new(&re)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| FilterError(format!("LIKE pattern is too complex: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LayerConfig;
    use crate::layer::parse_features;

    fn layer() -> Layer {
        let text = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","id":"a","properties":{"name":"Liévin","population":30785,"density":2401.3,"big":true,"theme":"CULTURE"},"geometry":{"type":"Point","coordinates":[2.78,50.42]}},
          {"type":"Feature","id":"b","properties":{"name":"Lens","population":31415,"density":2687.1,"big":true,"theme":"MEMOIRE"},"geometry":{"type":"Point","coordinates":[2.83,50.43]}},
          {"type":"Feature","id":"c","properties":{"name":"Angres","population":4300,"big":false,"theme":null},"geometry":{"type":"Polygon","coordinates":[[[2.7,50.3],[2.8,50.3],[2.8,50.4],[2.7,50.3]]]}}
        ]}"#;
        let features = parse_features("t", text.as_bytes()).unwrap();
        let config = LayerConfig {
            maxzoom: 10,
            ..LayerConfig::named("t")
        };
        Layer::new(config, features)
    }

    fn ids(l: &Layer, text: &str) -> Vec<String> {
        let f = Filter::new(text, FilterLang::Text, l).unwrap_or_else(|e| panic!("{text}: {e}"));
        l.features
            .iter()
            .filter(|x| f.matches(x))
            .map(|x| x.id.clone())
            .collect()
    }

    fn error(l: &Layer, text: &str) -> String {
        Filter::new(text, FilterLang::Text, l).unwrap_err().0
    }

    #[test]
    fn comparisons_logic_and_functions() {
        let l = layer();
        assert_eq!(ids(&l, "theme = 'MEMOIRE'"), ["b"]);
        assert_eq!(
            ids(&l, "population > 10000 AND NOT big = false"),
            ["a", "b"]
        );
        assert_eq!(
            ids(&l, "population < 5000 OR theme = 'CULTURE'"),
            ["a", "c"]
        );
        assert_eq!(ids(&l, "name LIKE 'L%'"), ["a", "b"]);
        assert_eq!(ids(&l, "name LIKE 'L_ns'"), ["b"]);
        assert_eq!(ids(&l, "ACCENTI(name) = 'Lievin'"), ["a"]);
        assert_eq!(ids(&l, "CASEI(name) = CASEI('LENS')"), ["b"]);
        assert_eq!(ids(&l, "theme IN ('CULTURE', 'NATURE')"), ["a"]);
        assert_eq!(ids(&l, "population BETWEEN 4000 AND 31000"), ["a", "c"]);
        assert_eq!(ids(&l, "theme IS NULL"), ["c"]);
        assert_eq!(ids(&l, "density IS NULL"), ["c"]);
        assert_eq!(ids(&l, "population * 2 > 62000"), ["b"]);
        assert_eq!(ids(&l, "id = 'c'"), ["c"]);
        assert_eq!(ids(&l, "S_INTERSECTS(geometry, POINT(2.83 50.43))"), ["b"]);
        assert_eq!(
            ids(&l, "S_WITHIN(geometry, BBOX(2.75, 50.40, 2.9, 50.5))"),
            ["a", "b"]
        );
        assert_eq!(ids(&l, "S_CONTAINS(geometry, POINT(2.75 50.32))"), ["c"]);
        assert_eq!(
            ids(
                &l,
                "S_DISJOINT(geometry, POLYGON((2.7 50.3, 2.8 50.3, 2.8 50.4, 2.7 50.3)))"
            ),
            ["a", "b"]
        );
    }

    #[test]
    fn json_filters() {
        let l = layer();
        let f = Filter::new(
            r#"{"op":"=","args":[{"property":"theme"},"MEMOIRE"]}"#,
            FilterLang::Json,
            &l,
        )
        .unwrap();
        assert_eq!(l.features.iter().filter(|x| f.matches(x)).count(), 1);
        let f = Filter::new(
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[2.78,50.42]}]}"#,
            FilterLang::Json,
            &l,
        )
        .unwrap();
        assert!(f.matches(&l.features[0]) && !f.matches(&l.features[1]));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let l = layer();
        assert!(error(&l, "colour = 'red'").contains("\"colour\" is not a queryable"));
        assert!(error(&l, "population = 'many'").contains("type mismatch"));
        assert!(error(&l, "name > 3").contains("type mismatch"));
        assert!(error(&l, "population LIKE 'x%'").contains("LIKE needs a string"));
        assert!(error(&l, "theme = ").contains("syntax error"));
        assert!(error(&l, "S_INTERSECTS(geometry, POINT(200 50))").contains("lon/lat"));
        assert!(error(&l, "S_INTERSECTS(name, POINT(2 50))").contains("feature geometry"));
        assert!(error(&l, &"(".repeat(100)).contains("deeper"));
        assert!(error(&l, "((big = true)").contains("unbalanced"));
        assert!(error(&l, "big = true)").contains("unbalanced"));
        // Brackets inside strings do not count.
        assert_eq!(
            ids(&l, "name <> '((((((((((((' AND name LIKE '%)'"),
            Vec::<String>::new()
        );
        assert_eq!(ids(&l, "((((((((big = true))))))))"), ["a", "b"]);
        assert!(error(&l, &format!("name = '{}'", "x".repeat(MAX_FILTER_BYTES))).contains("limit"));
        assert!(FilterLang::parse(Some("sql")).is_err());
    }

    /// Inputs that made the parser backtrack for seconds (found by fuzzing): unclosed and
    /// deeply nested parentheses are refused before parsing, in well under a millisecond.
    #[test]
    fn backtracking_inputs_are_refused_early() {
        let l = layer();
        for text in [
            "(((((((((((((((((((popul+00+00 AND n na D name LIKE 'L%' ORbig = true",
            "(((((((((((((((((((popme LIKE 'L%' ORbig = true",
            &format!("{}a = {}", "(".repeat(20), ")".repeat(20)),
        ] {
            let started = std::time::Instant::now();
            let e = Filter::new(text, FilterLang::Text, &l).unwrap_err().0;
            assert!(e.contains("unbalanced") || e.contains("deeper"), "{e}");
            assert!(
                started.elapsed() < std::time::Duration::from_millis(100),
                "{:?}",
                started.elapsed()
            );
        }
    }

    /// The longest chains the size limit lets through nest thousands of levels deep: they
    /// compile (a chain of minus signs folds to a number) or are refused with a message, and
    /// never overflow the stack.
    #[test]
    fn deep_chains_fail_cleanly() {
        let l = layer();
        let budget = MAX_FILTER_BYTES - 16;
        for text in [
            format!("{}big = true", "NOT ".repeat(budget / 4)),
            format!("population = {}", vec!["1"; budget / 2].join("+")),
            format!("population = {}1", "-".repeat(budget)),
            vec!["big = true"; budget / 16].join(" AND "),
            vec!["big = true"; budget / 15].join(" OR "),
        ] {
            assert!(text.len() <= MAX_FILTER_BYTES);
            if let Err(FilterError(e)) = Filter::new(&text, FilterLang::Text, &l) {
                assert!(
                    e.contains("deeper") || e.contains("syntax"),
                    "{}: {e}",
                    &text[..40]
                );
            }
        }
    }
}
