//! CQL2 filters in SQL: the compiled filter tree ([`Pred`]) written as a `WHERE` condition
//! whose every literal is a bound parameter (`$n` with an explicit cast), never text pasted
//! into the statement. Column names are quoted identifiers taken from the table's own
//! catalogue, never from the request. Geometry literals (WGS84 lon/lat) are transformed to
//! the table's SRID, so that the column's spatial index serves the condition.
//!
//! SQL's three-valued logic is CQL2's: a comparison with NULL is unknown, `NOT unknown` is
//! unknown, and a row is selected only when the condition is true.

use tokio_postgres::types::ToSql;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::data::FieldType;
use crate::filter::tree::{
    Arith, ArrayArg, ArrayOp, Cmp, GeomArg, Pred, Scalar, TemporalOp, TimeArg, TimeBound, Value,
};

/// A bound parameter.
pub type Param = Box<dyn ToSql + Sync + Send>;

/// A quoted SQL identifier: `"name"`, with any `"` doubled.
///
/// ```
/// use terril::source::postgis::sql::quote_ident;
/// assert_eq!(quote_ident("commune"), "\"commune\"");
/// assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
/// ```
#[must_use]
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// What a filter needs to know of the table.
#[derive(Debug, Clone)]
pub struct TableSql {
    /// The table's alias in the statement (`t`).
    pub alias: String,
    /// The geometry expression in the table's SRID (`t."geom"`, or `t."geog"::geometry`).
    pub geometry: String,
    /// The table's SRID.
    pub srid: i32,
    /// The id column, if the table has one.
    pub id: Option<String>,
}

/// Builds SQL text and its parameters.
#[derive(Default)]
pub struct SqlWriter {
    /// The parameters, `$1` first.
    pub params: Vec<Param>,
}

/// Why a filter cannot be written for this table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl SqlWriter {
    /// A writer whose first parameter will be `$first`.
    #[must_use]
    pub fn starting_after(params: Vec<Param>) -> Self {
        Self { params }
    }

    /// Binds a parameter; returns its placeholder with `cast` (e.g. `$3::text`).
    pub fn bind(&mut self, value: Param, cast: &str) -> String {
        self.params.push(value);
        format!("${}::{cast}", self.params.len())
    }

    /// A geometry literal (WGS84 lon/lat) in the table's SRID.
    pub fn geometry_literal(&mut self, g: &geo::Geometry<f64>, srid: i32) -> String {
        let wkt = wkt::ToWkt::wkt_string(g);
        let p = self.bind(Box::new(wkt), "text");
        if srid == 4326 {
            format!("ST_GeomFromText({p}, 4326)")
        } else {
            format!("ST_Transform(ST_GeomFromText({p}, 4326), {srid})")
        }
    }

    /// The condition for `pred`.
    pub fn pred(&mut self, t: &TableSql, pred: &Pred) -> Result<String, Unsupported> {
        Ok(match pred {
            Pred::Const(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
            Pred::And(parts) | Pred::Or(parts) => {
                let joiner = if matches!(pred, Pred::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let parts = parts
                    .iter()
                    .map(|p| self.pred(t, p))
                    .collect::<Result<Vec<_>, _>>()?;
                if parts.is_empty() {
                    return Ok(if matches!(pred, Pred::And(_)) {
                        "TRUE"
                    } else {
                        "FALSE"
                    }
                    .into());
                }
                format!("({})", parts.join(joiner))
            }
            Pred::Not(p) => format!("(NOT {})", self.pred(t, p)?),
            Pred::Compare(op, a, b) => {
                let (a, b) = (self.scalar(t, a)?, self.scalar(t, b)?);
                format!("({a} {} {b})", op_symbol(*op))
            }
            Pred::Like(a, like) => {
                let a = self.scalar(t, a)?;
                let p = self.bind(Box::new(like.pattern.clone()), "text");
                format!("({a} LIKE {p})")
            }
            Pred::Between(a, lo, hi) => {
                let (a, lo, hi) = (self.scalar(t, a)?, self.scalar(t, lo)?, self.scalar(t, hi)?);
                format!("({a} BETWEEN {lo} AND {hi})")
            }
            Pred::In(a, items) => {
                let a = self.scalar(t, a)?;
                let items = items
                    .iter()
                    .map(|i| self.scalar(t, i))
                    .collect::<Result<Vec<_>, _>>()?;
                format!("({a} IN ({}))", items.join(", "))
            }
            Pred::IsNull(a) => format!("({} IS NULL)", self.scalar(t, a)?),
            Pred::GeometryIsNull => format!("({} IS NULL)", t.geometry),
            Pred::Spatial(op, a, b) => {
                let (a, b) = (self.geometry(t, a), self.geometry(t, b));
                format!("{}({a}, {b})", op.postgis())
            }
            Pred::Temporal(op, a, b) => {
                let (a0, a1) = self.interval(t, a)?;
                let (b0, b1) = self.interval(t, b)?;
                temporal(*op, &a0, &a1, &b0, &b1)
            }
            Pred::Array(op, a, b) => {
                let (a, b) = (self.array(t, a)?, self.array(t, b)?);
                match op {
                    ArrayOp::Equals => format!("({a} = {b})"),
                    ArrayOp::Contains => format!("({a} @> {b})"),
                    ArrayOp::ContainedBy => format!("({a} <@ {b})"),
                    ArrayOp::Overlaps => format!("({a} && {b})"),
                }
            }
            Pred::Truthy(a) => format!("({})", self.scalar(t, a)?),
        })
    }

    fn geometry(&mut self, t: &TableSql, g: &GeomArg) -> String {
        match g {
            GeomArg::Feature => t.geometry.clone(),
            GeomArg::Literal(l) => self.geometry_literal(&l.geometry, t.srid),
        }
    }

    fn literal(&mut self, v: &Value) -> String {
        match v {
            Value::Null => "NULL".into(),
            Value::Num(n) => self.bind(Box::new(*n), "float8"),
            Value::Str(s) => self.bind(Box::new(s.to_string()), "text"),
            Value::Bool(b) => self.bind(Box::new(*b), "boolean"),
            Value::Date(d) => self.bind(Box::new(d.to_string()), "date"),
            Value::Timestamp(ts) => self.bind(Box::new(ts.to_string()), "timestamptz"),
        }
    }

    fn scalar(&mut self, t: &TableSql, s: &Scalar) -> Result<String, Unsupported> {
        Ok(match s {
            Scalar::Literal(v) => self.literal(v),
            Scalar::Property(p) => {
                let column = format!("{}.{}", t.alias, quote_ident(&p.name));
                match p.field_type {
                    FieldType::Integer => format!("{column}::float8"),
                    _ => column,
                }
            }
            Scalar::Id => match &t.id {
                Some(id) => format!("{}.{}::text", t.alias, quote_ident(id)),
                None => return Err(Unsupported("this table has no id column".into())),
            },
            Scalar::Arith(op, a, b) => {
                let (a, b) = (self.scalar(t, a)?, self.scalar(t, b)?);
                match op {
                    Arith::Add => format!("({a} + {b})"),
                    Arith::Sub => format!("({a} - {b})"),
                    Arith::Mul => format!("({a} * {b})"),
                    Arith::Div => format!("({a} / NULLIF({b}, 0))"),
                    Arith::Rem => {
                        format!("(mod(({a})::numeric, NULLIF(({b})::numeric, 0)))::float8")
                    }
                    Arith::Pow => format!("power({a}, {b})"),
                    Arith::IntDiv => format!("trunc({a} / NULLIF({b}, 0))"),
                }
            }
            Scalar::CaseI(a) => format!("lower({})", self.scalar(t, a)?),
            Scalar::AccentI(a) => {
                let a = self.scalar(t, a)?;
                let (from, to) = accent_table();
                let from = self.bind(Box::new(from), "text");
                let to = self.bind(Box::new(to), "text");
                format!("translate({a}, {from}, {to})")
            }
        })
    }

    /// The first and last instant of a temporal argument, as `timestamptz` expressions.
    fn interval(&mut self, t: &TableSql, arg: &TimeArg) -> Result<(String, String), Unsupported> {
        match arg {
            TimeArg::Instant(s) => self.instant(t, s),
            TimeArg::Interval(a, b) => {
                let start = match a {
                    TimeBound::Open => "'-infinity'::timestamptz".into(),
                    TimeBound::At(s) => self.instant(t, s)?.0,
                };
                let end = match b {
                    TimeBound::Open => "'infinity'::timestamptz".into(),
                    TimeBound::At(s) => self.instant(t, s)?.1,
                };
                Ok((start, end))
            }
        }
    }

    /// A date spans its whole UTC day; a timestamp is one instant.
    fn instant(&mut self, t: &TableSql, s: &Scalar) -> Result<(String, String), Unsupported> {
        let is_date = match s {
            Scalar::Literal(Value::Date(_)) => true,
            Scalar::Property(p) => p.field_type == FieldType::Date,
            _ => false,
        };
        let e = self.scalar(t, s)?;
        Ok(if is_date {
            (
                format!("(({e})::date::timestamp AT TIME ZONE 'UTC')"),
                format!(
                    "((({e})::date + 1)::timestamp AT TIME ZONE 'UTC' - interval '1 microsecond')"
                ),
            )
        } else {
            let v = format!("({e})::timestamptz");
            (v.clone(), v)
        })
    }

    fn array(&mut self, t: &TableSql, arg: &ArrayArg) -> Result<String, Unsupported> {
        Ok(match arg {
            ArrayArg::Property(p) => format!("({}.{})::text[]", t.alias, quote_ident(&p.name)),
            ArrayArg::Literal(items) => {
                let items = items
                    .iter()
                    .map(|v| match v {
                        Value::Str(s) => Ok(self.bind(Box::new(s.to_string()), "text")),
                        Value::Num(n) => Ok(format!("({})::text", self.bind(Box::new(*n), "float8"))),
                        other => Err(Unsupported(format!(
                            "array literals of this type ({other:?}) are not supported on a database layer"
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                format!("ARRAY[{}]::text[]", items.join(", "))
            }
        })
    }
}

fn op_symbol(op: Cmp) -> &'static str {
    op.symbol()
}

/// Allen's relations between `[a0, a1]` and `[b0, b1]`, as the in-memory evaluator has them.
fn temporal(op: TemporalOp, a0: &str, a1: &str, b0: &str, b1: &str) -> String {
    match op {
        TemporalOp::Before => format!("({a1} < {b0})"),
        TemporalOp::After => format!("({a0} > {b1})"),
        TemporalOp::Meets => format!("({a1} = {b0})"),
        TemporalOp::MetBy => format!("({a0} = {b1})"),
        TemporalOp::Overlaps => format!("({a0} < {b0} AND {a1} > {b0} AND {a1} < {b1})"),
        TemporalOp::OverlappedBy => format!("({b0} < {a0} AND {b1} > {a0} AND {b1} < {a1})"),
        TemporalOp::Starts => format!("({a0} = {b0} AND {a1} < {b1})"),
        TemporalOp::StartedBy => format!("({a0} = {b0} AND {a1} > {b1})"),
        TemporalOp::During => format!("({a0} > {b0} AND {a1} < {b1})"),
        TemporalOp::Contains => format!("({a0} < {b0} AND {a1} > {b1})"),
        TemporalOp::Finishes => format!("({a0} > {b0} AND {a1} = {b1})"),
        TemporalOp::FinishedBy => format!("({a0} < {b0} AND {a1} = {b1})"),
        TemporalOp::Equals => format!("({a0} = {b0} AND {a1} = {b1})"),
        TemporalOp::Intersects => format!("({a0} <= {b1} AND {a1} >= {b0})"),
        TemporalOp::Disjoint => format!("(NOT ({a0} <= {b1} AND {a1} >= {b0}))"),
    }
}

/// The characters `ACCENTI` changes, and what it changes them to, for SQL `translate`: every
/// letter of Latin-1 and Latin Extended-A/B whose canonical decomposition is one base letter
/// plus combining marks — the same result as the in-memory evaluator's decomposition.
#[must_use]
pub fn accent_table() -> (String, String) {
    let mut from = String::new();
    let mut to = String::new();
    for c in ('\u{00C0}'..='\u{024F}').chain('\u{1E00}'..='\u{1EFF}') {
        let base: Vec<char> = c.nfd().filter(|m| !is_combining_mark(*m)).collect();
        if base.len() == 1 && base[0] != c {
            from.push(c);
            to.push(base[0]);
        }
    }
    (from, to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Layer, LayerConfig};
    use crate::filter::{Filter, FilterLang, Schema};

    fn sql(text: &str) -> (String, usize) {
        let layer = Layer::from_geojson(
            LayerConfig::named("t"),
            "t",
            br#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"a","properties":{"name":"x","n":1,"d":"2020-01-01"},"geometry":null}]}"#,
        )
        .unwrap();
        let f = Filter::new(text, FilterLang::Text, &Schema::of_layer(&layer)).unwrap();
        let t = TableSql {
            alias: "t".into(),
            geometry: "t.\"geom\"".into(),
            srid: 2154,
            id: Some("id".into()),
        };
        let mut w = SqlWriter::default();
        let s = w.pred(&t, &f.root).unwrap();
        (s, w.params.len())
    }

    /// Literals, however hostile, become parameters: the SQL text holds only placeholders,
    /// quoted column names and operators.
    #[test]
    fn literals_are_parameters() {
        let (s, n) = sql("name = 'x''; DROP TABLE t; --' AND n > 3");
        assert_eq!(
            s,
            "((t.\"name\" = $1::text) AND (t.\"n\"::float8 > $2::float8))"
        );
        assert_eq!(n, 2);
        let (s, _) = sql("name LIKE '%/* é */%' OR CASEI(name) IN ('a', 'b')");
        assert!(
            !s.contains("DROP") && !s.contains("/*") && !s.contains('é'),
            "{s}"
        );
        let (s, _) = sql("S_INTERSECTS(geometry, BBOX(2.7, 50.3, 2.9, 50.5))");
        assert_eq!(
            s,
            "ST_Intersects(t.\"geom\", ST_Transform(ST_GeomFromText($1::text, 4326), 2154))"
        );
        let (s, _) = sql("T_AFTER(d, DATE('2020-01-01'))");
        assert!(s.contains("::date"), "{s}");
    }

    #[test]
    fn accents_fold_as_in_memory() {
        let (from, to) = accent_table();
        assert_eq!(from.chars().count(), to.chars().count());
        for (f, t) in from.chars().zip(to.chars()) {
            assert_eq!(
                crate::filter::eval::accent_fold(&f.to_string()),
                t.to_string()
            );
        }
        assert!(from.contains('é') && from.contains('Ç') && from.contains('ș'));
    }
}
