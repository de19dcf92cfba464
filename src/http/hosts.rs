//! Which host a request was made to, and whether this server answers as that host: `Host`
//! (or, behind a trusted reverse proxy, `X-Forwarded-Host` and `-Proto`) is checked against
//! the allowed hosts before anything is built from it, so that a forged `Host` never appears
//! in a link, and answers that depend on it say so with `Vary`.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

const FORWARDED_HOST: &str = "x-forwarded-host";
const FORWARDED_PROTO: &str = "x-forwarded-proto";

/// The scheme and host (with its port) a request names: `X-Forwarded-Proto` and
/// `X-Forwarded-Host` when `trust_forwarded` and present, else `http` and `Host`.
#[must_use]
pub fn requested(headers: &HeaderMap, trust_forwarded: bool) -> (&'static str, Option<&str>) {
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim())
            .filter(|v| !v.is_empty())
    };
    let forwarded_host = trust_forwarded.then(|| first(FORWARDED_HOST)).flatten();
    let host = forwarded_host.or_else(|| first(header::HOST.as_str()));
    let scheme = match trust_forwarded.then(|| first(FORWARDED_PROTO)).flatten() {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    (scheme, host)
}

/// The host name of a `Host` value, lower case, without its port; `None` when it is not a
/// host name, an IPv4 address or a bracketed IPv6 address (with an optional port).
///
/// ```
/// use terril::http::hosts::host_name;
/// assert_eq!(host_name("Tiles.Example.org:8080").as_deref(), Some("tiles.example.org"));
/// assert_eq!(host_name("[::1]:8080").as_deref(), Some("::1"));
/// assert_eq!(host_name("127.0.0.1").as_deref(), Some("127.0.0.1"));
/// assert_eq!(host_name("evil.example/x"), None);
/// assert_eq!(host_name("a:b:c"), None);
/// ```
#[must_use]
pub fn host_name(value: &str) -> Option<String> {
    let (name, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !inside
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return None;
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (inside, port)
    } else {
        match value.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (value, None),
        }
    };
    if port.is_some_and(|p| p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let ok = !name.is_empty()
        && name.len() <= 253
        && (value.starts_with('[')
            || name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
    ok.then(|| name.to_ascii_lowercase())
}

/// Middleware: refuses (400) a request that names no host, several, or one this server does
/// not answer as; marks answers built from the host with `Vary`.
pub async fn check(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let options = state.options();
    let headers = request.headers();
    if headers.get_all(header::HOST).iter().count() > 1 {
        return ApiError::bad_request("invalid_host", "the request carries several Host headers")
            .into_response();
    }
    let trust = options.trust_forwarded;
    if options.public_url.is_none() {
        let (_, host) = requested(headers, trust);
        // An HTTP/1.0 request may name no host: its links then name `localhost`.
        if let Some(host) = host {
            let allowed = host_name(host).is_some_and(|name| {
                options
                    .allowed_hosts
                    .iter()
                    .any(|a| a == "*" || a.eq_ignore_ascii_case(&name))
            });
            if !allowed {
                return ApiError::bad_request(
                    "host_not_allowed",
                    "this server does not answer as the host the request names; its operator can \
                     allow it with --allowed-hosts, or set --public-url",
                )
                .into_response();
            }
        }
    }
    let mut response = next.run(request).await;
    if options.public_url.is_none() {
        let built_from_host = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("json") || t.contains("html"));
        if built_from_host {
            let vary = if trust {
                "host, x-forwarded-host, x-forwarded-proto"
            } else {
                "host"
            };
            response
                .headers_mut()
                .append(header::VARY, HeaderValue::from_static(vary));
        }
    }
    response
}
