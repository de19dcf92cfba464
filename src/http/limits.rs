//! Request limits: URI length (414), bodies where none belong (413), and a cap on the size of
//! a response. (Work is bounded by the CPU pool's queue, time by each request's deadline.)

use axum::body::HttpBody;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

/// Longest request target (path and query) accepted, in bytes. (Beyond about 64 KiB the HTTP
/// layer itself answers 414, without a body.)
pub const MAX_URI_BYTES: usize = 32 * 1024;

/// Refuses over-long URIs (414), and reads that carry a body (413): no route takes one.
pub async fn guard(request: Request, next: Next) -> Response {
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError {
            status: StatusCode::URI_TOO_LONG,
            code: "uri_too_long",
            description: format!(
                "the request target is {uri_len} bytes; the limit is {MAX_URI_BYTES}"
            ),
        }
        .into_response();
    }
    // Other methods are refused by routing with a 405; a body on a read is refused here.
    let reads = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let headers = request.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    let has_body = reads && has_body;
    if has_body {
        return ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "body_not_allowed",
            description: "this server takes no request bodies".into(),
        }
        .into_response();
    }
    next.run(request).await
}

/// Refuses to send a response larger than the configured cap (`max_response_bytes`): the
/// client is told to narrow the request (a smaller `limit`, a `bbox`, a `filter`).
pub async fn cap_response(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let cap = state.options().max_response_bytes;
    let size = response.body().size_hint().upper().unwrap_or(u64::MAX);
    if size > cap as u64 {
        return ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "response_too_large",
            description: format!(
                "the answer would be {size} bytes, above this server's cap of {cap}; ask for less (limit, bbox, filter)"
            ),
        }
        .into_response();
    }
    response
}
