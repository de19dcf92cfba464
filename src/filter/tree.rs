//! The compiled, typed filter tree: what every backend evaluates or translates.

use std::sync::Arc;

use geo::{Geometry, Rect};
use regex::Regex;

use crate::data::{FieldType, KeyId};

/// A boolean condition.
#[derive(Debug, Clone)]
pub enum Pred {
    /// `TRUE` or `FALSE`.
    Const(bool),
    /// All of them.
    And(Vec<Pred>),
    /// Any of them.
    Or(Vec<Pred>),
    /// Not it.
    Not(Box<Pred>),
    /// A comparison of two scalars of compatible types.
    Compare(Cmp, Scalar, Scalar),
    /// `value LIKE pattern`.
    Like(Scalar, Like),
    /// `value BETWEEN low AND high`.
    Between(Scalar, Scalar, Scalar),
    /// `value IN (items)`.
    In(Scalar, Vec<Scalar>),
    /// `value IS NULL`.
    IsNull(Scalar),
    /// The feature has no geometry.
    GeometryIsNull,
    /// A spatial relation.
    Spatial(SpatialOp, GeomArg, GeomArg),
    /// A temporal relation.
    Temporal(TemporalOp, TimeArg, TimeArg),
    /// An array relation.
    Array(ArrayOp, ArrayArg, ArrayArg),
    /// A boolean scalar used as a condition.
    Truthy(Scalar),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    /// The SQL (and CQL2) spelling.
    #[must_use]
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "<>",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

/// A compiled `LIKE` pattern.
#[derive(Debug, Clone)]
pub struct Like {
    /// The pattern, with `CASEI`/`ACCENTI` applied: `%` any run, `_` one character, `\`
    /// escapes the next.
    pub pattern: String,
    /// The pattern as an anchored regular expression.
    pub regex: Regex,
}

/// A scalar expression.
#[derive(Debug, Clone)]
pub enum Scalar {
    /// A feature property.
    Property(Prop),
    /// The feature's id.
    Id,
    /// A constant.
    Literal(Value),
    /// Arithmetic on two numbers.
    Arith(Arith, Box<Scalar>, Box<Scalar>),
    /// `CASEI(text)`: lower case.
    CaseI(Box<Scalar>),
    /// `ACCENTI(text)`: without diacritics.
    AccentI(Box<Scalar>),
}

/// A property reference.
#[derive(Debug, Clone)]
pub struct Prop {
    /// Its name.
    pub name: Arc<str>,
    /// Its key in an in-memory layer.
    pub key: Option<KeyId>,
    /// Its type.
    pub field_type: FieldType,
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `^`
    Pow,
    /// `div`: integer division.
    IntDiv,
}

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Missing or null.
    Null,
    /// A number.
    Num(f64),
    /// Text.
    Str(Arc<str>),
    /// A boolean.
    Bool(bool),
    /// A calendar date.
    Date(jiff::civil::Date),
    /// An instant.
    Timestamp(jiff::Timestamp),
}

/// A spatial relation (DE-9IM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpatialOp {
    /// `S_INTERSECTS`
    Intersects,
    /// `S_DISJOINT`
    Disjoint,
    /// `S_WITHIN`: the first lies within the second.
    Within,
    /// `S_CONTAINS`: the first contains the second.
    Contains,
    /// `S_EQUALS`
    Equals,
    /// `S_TOUCHES`
    Touches,
    /// `S_OVERLAPS`
    Overlaps,
    /// `S_CROSSES`
    Crosses,
}

impl SpatialOp {
    /// The PostGIS function.
    #[must_use]
    pub fn postgis(self) -> &'static str {
        match self {
            Self::Intersects => "ST_Intersects",
            Self::Disjoint => "ST_Disjoint",
            Self::Within => "ST_Within",
            Self::Contains => "ST_Contains",
            Self::Equals => "ST_Equals",
            Self::Touches => "ST_Touches",
            Self::Overlaps => "ST_Overlaps",
            Self::Crosses => "ST_Crosses",
        }
    }
}

/// One side of a spatial relation.
#[derive(Debug, Clone)]
pub enum GeomArg {
    /// The feature's geometry.
    Feature,
    /// A literal in lon/lat.
    Literal(Arc<GeomLiteral>),
}

/// A geometry literal (WGS84 lon/lat).
#[derive(Debug, Clone)]
pub struct GeomLiteral {
    /// The geometry.
    pub geometry: Geometry<f64>,
    /// Its bounding box.
    pub bbox: Rect<f64>,
    /// Whether it came from a `BBOX` (an axis-aligned box, or two across the antimeridian).
    pub is_box: bool,
}

/// A temporal relation between two intervals (instants are intervals of no length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalOp {
    /// `T_AFTER`
    After,
    /// `T_BEFORE`
    Before,
    /// `T_CONTAINS`
    Contains,
    /// `T_DISJOINT`
    Disjoint,
    /// `T_DURING`
    During,
    /// `T_EQUALS`
    Equals,
    /// `T_FINISHEDBY`
    FinishedBy,
    /// `T_FINISHES`
    Finishes,
    /// `T_INTERSECTS`
    Intersects,
    /// `T_MEETS`
    Meets,
    /// `T_METBY`
    MetBy,
    /// `T_OVERLAPPEDBY`
    OverlappedBy,
    /// `T_OVERLAPS`
    Overlaps,
    /// `T_STARTEDBY`
    StartedBy,
    /// `T_STARTS`
    Starts,
}

/// One side of a temporal relation.
#[derive(Debug, Clone)]
pub enum TimeArg {
    /// An instant: a date or timestamp scalar (a date stands for its whole day).
    Instant(Scalar),
    /// An interval between two bounds.
    Interval(TimeBound, TimeBound),
}

/// An end of an interval.
#[derive(Debug, Clone)]
pub enum TimeBound {
    /// `'..'`: unbounded.
    Open,
    /// A date or timestamp.
    At(Scalar),
}

/// An array relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayOp {
    /// `A_EQUALS`: the same items in the same order.
    Equals,
    /// `A_CONTAINS`: the first holds every item of the second.
    Contains,
    /// `A_CONTAINEDBY`: every item of the first is in the second.
    ContainedBy,
    /// `A_OVERLAPS`: they share an item.
    Overlaps,
}

/// One side of an array relation.
#[derive(Debug, Clone)]
pub enum ArrayArg {
    /// A property holding an array.
    Property(Prop),
    /// A literal array.
    Literal(Vec<Value>),
}
