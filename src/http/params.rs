//! Strict query-string parsing: valid percent-encoding and UTF-8, no repeated or unknown
//! parameters, numbers that are finite and in range — each problem a 400 naming the parameter.

use axum::extract::RawQuery;

use super::ApiError;

/// Longest query string accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 32 * 1024;

/// A parsed query string.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

fn bad(description: String) -> ApiError {
    ApiError::bad_request("invalid_parameter", description)
}

fn decode(part: &str) -> Result<String, ApiError> {
    let plus = part.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| bad("the query string is not valid UTF-8 once percent-decoded".into()))
}

impl Params {
    /// Parses a raw query string and refuses names outside `known`.
    pub fn parse(raw: &RawQuery, known: &[&str]) -> Result<Self, ApiError> {
        match raw.0.as_deref() {
            None => Ok(Self::default()),
            Some(query) => Self::parse_str(query, known),
        }
    }

    /// Parses a query string (without `?`) and refuses names outside `known`.
    pub fn parse_str(query: &str, known: &[&str]) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if query.len() > MAX_QUERY_BYTES {
            return Err(bad(format!(
                "the query string is longer than {MAX_QUERY_BYTES} bytes"
            )));
        }
        for item in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            let (k, v) = (decode(k)?, decode(v)?);
            if !known.contains(&k.as_str()) {
                let shown: String = k.chars().take(40).collect();
                return Err(bad(format!(
                    "unknown parameter {shown:?}; this route takes: {}",
                    known.join(", ")
                )));
            }
            if pairs.iter().any(|(name, _)| *name == k) {
                return Err(bad(format!("parameter {k:?} is given more than once")));
            }
            pairs.push((k, v));
        }
        Ok(Self { pairs })
    }

    /// The value of a parameter, if given.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A required parameter.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| bad(format!("parameter {name:?} is required")))
    }

    /// A value of type `T` within `range`, if given; `kind` names the type in messages and
    /// `accept` refuses values `T` parses but the API does not take (e.g. infinities).
    fn ranged<T>(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<T>,
        kind: &str,
        accept: fn(&T) -> bool,
    ) -> Result<Option<T>, ApiError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        let value: T = text.trim().parse().ok().filter(accept).ok_or_else(|| {
            let shown: String = text.chars().take(40).collect();
            bad(format!("{name} must be {kind}, got {shown:?}"))
        })?;
        if !range.contains(&value) {
            return Err(bad(format!(
                "{name} = {value} is outside {}..{}",
                range.start(),
                range.end()
            )));
        }
        Ok(Some(value))
    }

    /// A finite number within `range`, if given.
    pub fn number(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<f64>,
    ) -> Result<Option<f64>, ApiError> {
        self.ranged(name, range, "a number", |v| v.is_finite())
    }

    /// A required finite number within `range`.
    pub fn required_number(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<f64>,
    ) -> Result<f64, ApiError> {
        self.number(name, range)?
            .ok_or_else(|| bad(format!("parameter {name:?} is required")))
    }

    /// A whole number within `range`, if given.
    pub fn integer(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<usize>,
    ) -> Result<Option<usize>, ApiError> {
        self.ranged(name, range, "a whole number ≥ 0", |_| true)
    }

    /// The query string again, with some parameters replaced (for paging links).
    #[must_use]
    pub fn with(&self, replace: &[(&str, String)]) -> String {
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let mut out: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| !replace.iter().any(|(r, _)| r == k))
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        out.extend(
            replace
                .iter()
                .map(|(k, v)| format!("{}={}", enc(k), enc(v))),
        );
        out.join("&")
    }
}

/// Parses `lon` and `lat` (WGS84 degrees).
pub fn lon_lat(p: &Params) -> Result<(f64, f64), ApiError> {
    Ok((
        p.required_number("lon", -180.0..=180.0)?,
        p.required_number("lat", -90.0..=90.0)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<Params, ApiError> {
        Params::parse(&RawQuery(Some(q.into())), &["a", "b", "filter"])
    }

    #[test]
    fn strictness() {
        assert_eq!(parse("a=1&b=x%20y").unwrap().get("b"), Some("x y"));
        assert_eq!(
            parse("filter=name%3D%27L%C3%A9ns%27")
                .unwrap()
                .get("filter"),
            Some("name='Léns'")
        );
        assert!(
            parse("c=1")
                .unwrap_err()
                .description
                .contains("unknown parameter")
        );
        assert!(
            parse("a=1&a=2")
                .unwrap_err()
                .description
                .contains("more than once")
        );
        assert!(parse("a=%FF").unwrap_err().description.contains("UTF-8"));
        let p = parse("a=NaN&b=1e999").unwrap();
        assert!(p.number("a", 0.0..=1.0).is_err());
        assert!(p.number("b", 0.0..=1e300).is_err());
        let p = parse("a=-1").unwrap();
        assert!(p.integer("a", 0..=10).is_err());
        assert!(
            p.number("a", 0.0..=10.0)
                .unwrap_err()
                .description
                .contains("outside")
        );
    }
}
