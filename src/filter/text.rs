//! A CQL2 text parser (OGC 21-065r2, Annex B grammar), written as a precedence-climbing
//! parser over a small tokenizer: one pass, no backtracking, time linear in the text.
//!
//! It produces the `cql2` crate's [`Expr`], the same tree its JSON reader gives, so both
//! encodings share one compiler. The `cql2` crate's own text grammar backtracks: on text that
//! fails to parse, its time doubles with each level of parentheses. Nesting is limited here
//! by [`MAX_DEPTH`], so that no filter can exhaust a thread's stack.
//!
//! Geometry literals (WKT) are read here and handed on as canonical two-dimensional WKT
//! (third and fourth ordinates dropped: CQL2 compares geometries in two dimensions).

use cql2::{Expr, Geometry as CqlGeometry};

/// Deepest nesting of a filter, counted in operators and brackets.
pub const MAX_DEPTH: usize = 256;

/// When less than this much stack is left, recursion continues on a new segment of
/// [`STACK_GROWTH`] bytes (deep filters only).
pub const STACK_RED_ZONE: usize = 128 * 1024;
/// Size of each extra stack segment.
pub const STACK_GROWTH: usize = 2 * 1024 * 1024;

/// A syntax error, with the character position where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Character offset (0-based) in the text.
    pub at: usize,
    /// What was expected or found.
    pub message: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at character {}: {}", self.at + 1, self.message)
    }
}

/// Parses CQL2 text into an expression.
///
/// ```
/// let e = terril::filter::text::parse("theme = 'MEMOIRE' AND NOT population < 1000").unwrap();
/// assert_eq!(
///     e.to_value().unwrap(),
///     serde_json::json!({"op": "and", "args": [
///         {"op": "=", "args": [{"property": "theme"}, "MEMOIRE"]},
///         {"op": "not", "args": [{"op": "<", "args": [{"property": "population"}, 1000.0]}]},
///     ]})
/// );
/// ```
pub fn parse(text: &str) -> Result<Expr, SyntaxError> {
    let tokens = tokenize(text)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        end: text.chars().count(),
    };
    let (expr, _) = p.expr(0, 0)?;
    if let Some(t) = p.peek() {
        return Err(p.error_at(t.at, format!("unexpected {}", t.kind.describe())));
    }
    Ok(expr)
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Ident(String),
    Quoted(String),
    Str(String),
    Num(f64),
    LParen,
    RParen,
    Comma,
    Op(&'static str),
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Self::Ident(s) => format!("'{s}'"),
            Self::Quoted(s) => format!("\"{s}\""),
            Self::Str(_) => "a string".into(),
            Self::Num(n) => format!("the number {n}"),
            Self::LParen => "'('".into(),
            Self::RParen => "')'".into(),
            Self::Comma => "','".into(),
            Self::Op(o) => format!("'{o}'"),
        }
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self, Self::Ident(s) if s.eq_ignore_ascii_case(word))
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    at: usize,
}

fn tokenize(text: &str) -> Result<Vec<Token>, SyntaxError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |at: usize, message: &str| SyntaxError {
        at,
        message: message.to_owned(),
    };
    while i < chars.len() {
        let c = chars[i];
        let at = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let kind = match c {
            '(' => {
                i += 1;
                Kind::LParen
            }
            ')' => {
                i += 1;
                Kind::RParen
            }
            ',' => {
                i += 1;
                Kind::Comma
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err(at, "a quote is never closed")),
                        Some(&q) if q == quote => {
                            if chars.get(i + 1) == Some(&quote) {
                                s.push(quote);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(&other) => {
                            s.push(other);
                            i += 1;
                        }
                    }
                }
                if quote == '\'' {
                    Kind::Str(s)
                } else {
                    Kind::Quoted(s)
                }
            }
            '0'..='9' | '.' if c != '.' || chars.get(i + 1).is_some_and(char::is_ascii_digit) => {
                let start = i;
                while chars.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
                if chars.get(i) == Some(&'.') {
                    i += 1;
                    while chars.get(i).is_some_and(char::is_ascii_digit) {
                        i += 1;
                    }
                }
                if matches!(chars.get(i), Some('e' | 'E'))
                    && (chars.get(i + 1).is_some_and(char::is_ascii_digit)
                        || (matches!(chars.get(i + 1), Some('+' | '-'))
                            && chars.get(i + 2).is_some_and(char::is_ascii_digit)))
                {
                    i += 2;
                    while chars.get(i).is_some_and(char::is_ascii_digit) {
                        i += 1;
                    }
                }
                let s: String = chars[start..i].iter().collect();
                let n: f64 = s.parse().map_err(|_| err(at, "not a number"))?;
                if !n.is_finite() {
                    return Err(err(at, "number out of range"));
                }
                Kind::Num(n)
            }
            c if c.is_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|&c| c.is_alphanumeric() || matches!(c, '_' | ':' | '.'))
                {
                    i += 1;
                }
                Kind::Ident(chars[start..i].iter().collect())
            }
            '<' => {
                i += 1;
                match chars.get(i) {
                    Some('=') => {
                        i += 1;
                        Kind::Op("<=")
                    }
                    Some('>') => {
                        i += 1;
                        Kind::Op("<>")
                    }
                    _ => Kind::Op("<"),
                }
            }
            '>' => {
                i += 1;
                if chars.get(i) == Some(&'=') {
                    i += 1;
                    Kind::Op(">=")
                } else {
                    Kind::Op(">")
                }
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                i += 2;
                Kind::Op("<>")
            }
            '=' | '+' | '-' | '*' | '/' | '%' | '^' => {
                i += 1;
                Kind::Op(match c {
                    '=' => "=",
                    '+' => "+",
                    '-' => "-",
                    '*' => "*",
                    '/' => "/",
                    '%' => "%",
                    _ => "^",
                })
            }
            other => {
                return Err(err(at, &format!("unexpected character {other:?}")));
            }
        };
        out.push(Token { kind, at });
    }
    Ok(out)
}

/// Binding powers, loosest first.
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const CMP: u8 = 4;
const ADD: u8 = 5;
const MUL: u8 = 6;
const POW: u8 = 7;
const NEG: u8 = 8;

const GEOMETRY_KEYWORDS: &[&str] = &[
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
    "GEOMETRYCOLLECTION",
];

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    end: usize,
}

fn op(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Operation {
        op: name.to_owned(),
        args: args.into_iter().map(Box::new).collect(),
    }
}

type Parsed = Result<(Expr, usize), SyntaxError>;

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_kind(&self) -> Option<&Kind> {
        self.peek().map(|t| &t.kind)
    }

    fn peek_keyword(&self, word: &str) -> bool {
        self.peek_kind().is_some_and(|k| k.keyword(word))
    }

    fn nth_keyword(&self, n: usize, word: &str) -> bool {
        self.tokens
            .get(self.pos + n)
            .is_some_and(|t| t.kind.keyword(word))
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn here(&self) -> usize {
        self.peek().map_or(self.end, |t| t.at)
    }

    fn error_at(&self, at: usize, message: String) -> SyntaxError {
        SyntaxError { at, message }
    }

    fn error(&self, expected: &str) -> SyntaxError {
        let found = self
            .peek()
            .map_or("the end of the filter".to_owned(), |t| t.kind.describe());
        self.error_at(self.here(), format!("expected {expected}, found {found}"))
    }

    fn expect(&mut self, kind: &Kind, what: &str) -> Result<(), SyntaxError> {
        if self.peek_kind() == Some(kind) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), SyntaxError> {
        if self.peek_keyword(word) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(word))
        }
    }

    fn deeper(&self, depth: usize) -> Result<usize, SyntaxError> {
        if depth >= MAX_DEPTH {
            Err(self.error_at(
                self.here(),
                format!("the filter nests deeper than {MAX_DEPTH} levels"),
            ))
        } else {
            Ok(depth + 1)
        }
    }

    /// An expression whose operators bind at least as tightly as `min`; returns it with the
    /// depth of its tree. The stack grows on demand for deep nesting.
    fn expr(&mut self, min: u8, depth: usize) -> Parsed {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || {
            self.expr_on_stack(min, depth)
        })
    }

    fn expr_on_stack(&mut self, min: u8, depth: usize) -> Parsed {
        let depth = self.deeper(depth)?;
        let (mut lhs, mut lhs_depth) = self.prefix(depth)?;
        while let Some(kind) = self.peek_kind().cloned() {
            // Boolean connectives: flattened into one n-ary operation per run.
            if kind.keyword("or") || kind.keyword("and") {
                let (name, power) = if kind.keyword("or") {
                    ("or", OR)
                } else {
                    ("and", AND)
                };
                if power < min {
                    break;
                }
                let mut args = vec![lhs];
                let mut d = lhs_depth;
                while self.peek_keyword(name) {
                    self.pos += 1;
                    let (rhs, rd) = self.expr(power + 1, depth)?;
                    d = d.max(rd);
                    args.push(rhs);
                }
                lhs = op(name, args);
                lhs_depth = self.deeper(d)?;
                continue;
            }
            // Comparison predicates.
            let negated = kind.keyword("not")
                && (self.nth_keyword(1, "like")
                    || self.nth_keyword(1, "between")
                    || self.nth_keyword(1, "in"));
            let comparison = match &kind {
                Kind::Op(o @ ("=" | "<>" | "<" | "<=" | ">" | ">=")) => Some(*o),
                k if k.keyword("like")
                    || k.keyword("between")
                    || k.keyword("in")
                    || k.keyword("is") =>
                {
                    Some("")
                }
                _ if negated => Some(""),
                _ => None,
            };
            if comparison.is_some() {
                if CMP < min {
                    break;
                }
                if negated {
                    self.pos += 1;
                }
                let (e, d) = self.comparison(lhs, lhs_depth, depth)?;
                lhs = if negated { op("not", vec![e]) } else { e };
                lhs_depth = self.deeper(d)?;
                continue;
            }
            // Arithmetic.
            let (name, power) = match &kind {
                Kind::Op("+") => ("+", ADD),
                Kind::Op("-") => ("-", ADD),
                Kind::Op("*") => ("*", MUL),
                Kind::Op("/") => ("/", MUL),
                Kind::Op("%") => ("%", MUL),
                k if k.keyword("div") => ("div", MUL),
                Kind::Op("^") => ("^", POW),
                _ => break,
            };
            if power < min {
                break;
            }
            self.pos += 1;
            let (rhs, rd) = self.expr(power + 1, depth)?;
            lhs = op(name, vec![lhs, rhs]);
            lhs_depth = self.deeper(lhs_depth.max(rd))?;
        }
        Ok((lhs, lhs_depth))
    }

    /// The rest of a comparison whose left operand is `lhs`.
    fn comparison(&mut self, lhs: Expr, lhs_depth: usize, depth: usize) -> Parsed {
        let t = self.next().ok_or_else(|| self.error("a comparison"))?;
        match &t.kind {
            Kind::Op(o) => {
                let (rhs, rd) = self.expr(CMP + 1, depth)?;
                Ok((op(o, vec![lhs, rhs]), lhs_depth.max(rd)))
            }
            k if k.keyword("like") => {
                let (rhs, rd) = self.expr(CMP + 1, depth)?;
                Ok((op("like", vec![lhs, rhs]), lhs_depth.max(rd)))
            }
            k if k.keyword("between") => {
                let (low, ld) = self.expr(ADD, depth)?;
                self.expect_keyword("and")?;
                let (high, hd) = self.expr(ADD, depth)?;
                Ok((
                    op("between", vec![lhs, low, high]),
                    lhs_depth.max(ld).max(hd),
                ))
            }
            k if k.keyword("in") => {
                self.expect(&Kind::LParen, "'(' to open the IN list")?;
                let mut items = Vec::new();
                let mut d = lhs_depth;
                loop {
                    let (item, id) = self.expr(0, depth)?;
                    d = d.max(id);
                    items.push(Box::new(item));
                    if self.peek_kind() == Some(&Kind::Comma) {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                self.expect(&Kind::RParen, "',' or ')' in the IN list")?;
                Ok((
                    Expr::Operation {
                        op: "in".into(),
                        args: vec![Box::new(lhs), Box::new(Expr::Array(items))],
                    },
                    d,
                ))
            }
            k if k.keyword("is") => {
                let negated = self.peek_keyword("not");
                if negated {
                    self.pos += 1;
                }
                self.expect_keyword("null")?;
                let e = op("isNull", vec![lhs]);
                Ok((if negated { op("not", vec![e]) } else { e }, lhs_depth + 1))
            }
            _ => Err(self.error_at(t.at, "expected a comparison".into())),
        }
    }

    fn prefix(&mut self, depth: usize) -> Parsed {
        let Some(t) = self.next() else {
            return Err(self.error_at(self.end, "the filter ends too soon".into()));
        };
        match t.kind {
            Kind::Ident(ref word) if word.eq_ignore_ascii_case("not") => {
                let (e, d) = self.expr(NOT, depth)?;
                Ok((op("not", vec![e]), d + 1))
            }
            Kind::Op("-") => {
                let (e, d) = self.expr(NEG, depth)?;
                Ok(match e {
                    Expr::Float(v) => (Expr::Float(-v), d),
                    other => (op("*", vec![Expr::Float(-1.0), other]), d + 1),
                })
            }
            Kind::Op("+") => self.expr(NEG, depth),
            Kind::Num(n) => Ok((Expr::Float(n), 0)),
            Kind::Str(s) => Ok((Expr::Literal(s), 0)),
            Kind::Quoted(name) => Ok((Expr::Property { property: name }, 0)),
            Kind::LParen => {
                let (first, d) = self.expr(0, depth)?;
                if self.peek_kind() == Some(&Kind::Comma) {
                    let mut items = vec![Box::new(first)];
                    let mut d = d;
                    while self.peek_kind() == Some(&Kind::Comma) {
                        self.pos += 1;
                        let (item, id) = self.expr(0, depth)?;
                        d = d.max(id);
                        items.push(Box::new(item));
                    }
                    self.expect(&Kind::RParen, "',' or ')'")?;
                    Ok((Expr::Array(items), d + 1))
                } else {
                    self.expect(&Kind::RParen, "')'")?;
                    Ok((first, d + 1))
                }
            }
            Kind::Ident(word) => self.word(word, t.at, depth),
            other => Err(self.error_at(
                t.at,
                format!(
                    "expected a value or a condition, found {}",
                    other.describe()
                ),
            )),
        }
    }

    /// A word: a literal keyword, a geometry, a function call or a property name.
    fn word(&mut self, word: String, at: usize, depth: usize) -> Parsed {
        let upper = word.to_ascii_uppercase();
        match upper.as_str() {
            "TRUE" => return Ok((Expr::Bool(true), 0)),
            "FALSE" => return Ok((Expr::Bool(false), 0)),
            "NULL" => return Ok((Expr::Null, 0)),
            _ => {}
        }
        if GEOMETRY_KEYWORDS.contains(&upper.as_str()) {
            let wkt = self.geometry(&upper, depth)?;
            return Ok((Expr::Geometry(CqlGeometry::Wkt(wkt)), 0));
        }
        if self.peek_kind() != Some(&Kind::LParen) {
            return Ok((Expr::Property { property: word }, 0));
        }
        self.pos += 1;
        let mut args: Vec<Expr> = Vec::new();
        let mut d = 0;
        if self.peek_kind() != Some(&Kind::RParen) {
            loop {
                let (arg, ad) = self.expr(0, depth)?;
                d = d.max(ad);
                args.push(arg);
                if self.peek_kind() == Some(&Kind::Comma) {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        self.expect(&Kind::RParen, "',' or ')' in the function's arguments")?;
        let lower = word.to_ascii_lowercase();
        let one = |args: Vec<Expr>, what: &str| -> Result<Box<Expr>, SyntaxError> {
            let mut args = args.into_iter();
            match (args.next(), args.next()) {
                (Some(a), None) => Ok(Box::new(a)),
                _ => Err(SyntaxError {
                    at,
                    message: format!("{what}() takes one argument"),
                }),
            }
        };
        let e = match lower.as_str() {
            "date" => Expr::Date {
                date: one(args, "DATE")?,
            },
            "timestamp" => Expr::Timestamp {
                timestamp: one(args, "TIMESTAMP")?,
            },
            "interval" => Expr::Interval {
                interval: args.into_iter().map(Box::new).collect(),
            },
            "bbox" => Expr::BBox {
                bbox: args.into_iter().map(Box::new).collect(),
            },
            _ => Expr::Operation {
                op: lower,
                args: args.into_iter().map(Box::new).collect(),
            },
        };
        Ok((e, d + 1))
    }

    /// A WKT geometry after its keyword, returned as canonical 2D WKT.
    fn geometry(&mut self, keyword: &str, depth: usize) -> Result<String, SyntaxError> {
        let depth = self.deeper(depth)?;
        // Optional dimension marker: Z, M or ZM.
        if let Some(Kind::Ident(w)) = self.peek_kind()
            && matches!(w.to_ascii_uppercase().as_str(), "Z" | "M" | "ZM")
        {
            self.pos += 1;
        }
        if self.peek_keyword("empty") {
            self.pos += 1;
            return Ok(format!("{keyword} EMPTY"));
        }
        let body = match keyword {
            "POINT" => {
                self.expect(&Kind::LParen, "'(' after POINT")?;
                let p = self.position()?;
                self.expect(&Kind::RParen, "')' after the point")?;
                format!("({p})")
            }
            "LINESTRING" => self.positions()?,
            "POLYGON" | "MULTILINESTRING" => self.list(|p| p.positions())?,
            "MULTIPOLYGON" => self.list(|p| p.list(|p| p.positions()))?,
            "MULTIPOINT" => {
                // Points with or without their own parentheses.
                self.expect(&Kind::LParen, "'(' after MULTIPOINT")?;
                let mut points = Vec::new();
                loop {
                    if self.peek_kind() == Some(&Kind::LParen) {
                        self.pos += 1;
                        points.push(format!("({})", self.position()?));
                        self.expect(&Kind::RParen, "')' after the point")?;
                    } else {
                        points.push(format!("({})", self.position()?));
                    }
                    if self.peek_kind() == Some(&Kind::Comma) {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                self.expect(&Kind::RParen, "',' or ')' in MULTIPOINT")?;
                format!("({})", points.join(","))
            }
            _ => {
                // GEOMETRYCOLLECTION
                self.expect(&Kind::LParen, "'(' after GEOMETRYCOLLECTION")?;
                let mut members = Vec::new();
                loop {
                    let Some(Token {
                        kind: Kind::Ident(w),
                        at,
                    }) = self.next()
                    else {
                        return Err(self.error("a geometry in the collection"));
                    };
                    let member = w.to_ascii_uppercase();
                    if !GEOMETRY_KEYWORDS.contains(&member.as_str()) {
                        return Err(self.error_at(at, format!("{w} is not a geometry type")));
                    }
                    members.push(self.geometry(&member, depth)?);
                    if self.peek_kind() == Some(&Kind::Comma) {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                self.expect(&Kind::RParen, "',' or ')' in GEOMETRYCOLLECTION")?;
                format!("({})", members.join(","))
            }
        };
        Ok(format!("{keyword}{body}"))
    }

    fn number(&mut self) -> Result<f64, SyntaxError> {
        let negative = if self.peek_kind() == Some(&Kind::Op("-")) {
            self.pos += 1;
            true
        } else {
            if self.peek_kind() == Some(&Kind::Op("+")) {
                self.pos += 1;
            }
            false
        };
        match self.peek_kind() {
            Some(Kind::Num(n)) => {
                let n = *n;
                self.pos += 1;
                Ok(if negative { -n } else { n })
            }
            _ => Err(self.error("a coordinate")),
        }
    }

    /// A position `x y [z [m]]`, as "x y".
    fn position(&mut self) -> Result<String, SyntaxError> {
        let x = self.number()?;
        let y = self.number()?;
        for _ in 0..2 {
            if matches!(self.peek_kind(), Some(Kind::Num(_) | Kind::Op("-" | "+"))) {
                self.number()?;
            }
        }
        Ok(format!("{x} {y}"))
    }

    /// `(x y, x y, …)`.
    fn positions(&mut self) -> Result<String, SyntaxError> {
        self.expect(&Kind::LParen, "'(' to open a list of positions")?;
        let mut out = vec![self.position()?];
        while self.peek_kind() == Some(&Kind::Comma) {
            self.pos += 1;
            out.push(self.position()?);
        }
        self.expect(&Kind::RParen, "',' or ')' in a list of positions")?;
        Ok(format!("({})", out.join(",")))
    }

    /// `(item, item, …)`.
    fn list(
        &mut self,
        item: impl Fn(&mut Self) -> Result<String, SyntaxError>,
    ) -> Result<String, SyntaxError> {
        self.expect(&Kind::LParen, "'('")?;
        let mut out = vec![item(self)?];
        while self.peek_kind() == Some(&Kind::Comma) {
            self.pos += 1;
            out.push(item(self)?);
        }
        self.expect(&Kind::RParen, "',' or ')'")?;
        Ok(format!("({})", out.join(",")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses with this parser and with the `cql2` crate's grammar: the trees must agree.
    fn same(s: &str) {
        let ours = parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        let theirs = cql2::parse_text(s).unwrap_or_else(|e| panic!("cql2 crate, {s}: {e}"));
        assert_eq!(ours.to_value().unwrap(), theirs.to_value().unwrap(), "{s}");
    }

    #[test]
    fn agrees_with_the_cql2_crate() {
        for s in [
            "a = 1 OR b = 2 AND c = 3",
            "NOT a = 1",
            "a + 2 * 3 > 4",
            "x BETWEEN 1 AND 2 AND y = 3",
            "x NOT BETWEEN 1 AND 2",
            "name NOT LIKE 'L%'",
            "name IN ('a', 'b')",
            "name NOT IN ('a', 'b')",
            "name IS NOT NULL",
            "\"my prop\" = 'it''s'",
            "casei(name) = casei('Lens') AND accenti(name) LIKE 'Li%'",
            "pop_max - pop_min >= 10 * 2",
            "T_AFTER(start, TIMESTAMP('2022-04-16T10:13:19Z'))",
            "t_equals(\"date\", interval('2022-04-16','..'))",
            "S_INTERSECTS(geom, BBOX(-180, -90, 180, 90))",
            "S_INTERSECTS(geom, POINT(1 2))",
            "S_WITHIN(geom, POLYGON((0 0, 1 0, 1 1, 0 0)))",
            "boolean = true AND \"date\" > DATE('2022-01-01')",
        ] {
            same(s);
        }
    }

    #[test]
    fn precedence_and_forms() {
        assert!(matches!(
            parse("S_INTERSECTS(geom, POINT Z (1 2 3))").unwrap(),
            Expr::Operation { ref op, .. } if op == "s_intersects"
        ));
        assert!(parse("S_WITHIN(geom, MULTIPOINT(1 2, (3 4)))").is_ok());
        assert!(
            parse("S_CROSSES(geom, GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1 1)))").is_ok()
        );
        assert!(parse("pop_max div 1000 = 5 AND pop_max % 3 = 1 AND pop_max ^ 2 > 0").is_ok());
        assert!(parse("-x < -2").is_ok());
    }

    #[test]
    fn errors_say_where() {
        let e = parse("theme = ").unwrap_err();
        assert_eq!(e.at, 8);
        let e = parse("theme = 'x' extra").unwrap_err();
        assert!(e.message.contains("unexpected 'extra'"), "{e}");
        assert!(
            parse("a = 'open")
                .unwrap_err()
                .message
                .contains("never closed")
        );
        assert!(parse("((a = 1)").is_err());
        assert!(parse("a = 1)").is_err());
        assert!(parse("a @ 1").is_err());
    }

    /// Nesting that would overflow a stack is refused with a message; nesting within the limit
    /// parses, however it fails afterwards, in one linear pass.
    #[test]
    fn deep_and_malformed_nesting() {
        let deep = format!("{}a = 1{}", "(".repeat(200), ")".repeat(200));
        assert!(parse(&deep).is_ok());
        let too_deep = format!("{}a = 1{}", "(".repeat(400), ")".repeat(400));
        assert!(parse(&too_deep).unwrap_err().message.contains("deeper"));
        // Inputs that made a backtracking grammar take seconds fail at once here.
        let unclosed = format!(
            "{}popul+00+00 AND n na D name LIKE 'L%' ORbig = true",
            "(".repeat(60)
        );
        assert!(parse(&unclosed).is_err());
        let chain = vec!["1"; 8000].join("+");
        assert!(
            parse(&format!("x = {chain}"))
                .unwrap_err()
                .message
                .contains("deeper")
        );
        let nots = format!("{}a = 1", "NOT ".repeat(4000));
        assert!(parse(&nots).unwrap_err().message.contains("deeper"));
        let ands = vec!["a = 1"; 2000].join(" AND ");
        assert!(parse(&ands).is_ok(), "long flat chains are fine");
    }
}
