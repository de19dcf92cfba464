//! Request limits: URI length (414), bodies where none belong (413), a cap on the size of a
//! response, and a budget for the memory of computed responses held for clients that read
//! them slowly. (Work is bounded by the CPU pool's queue, time by each request's deadline,
//! connections and slow clients by [`super::conn`].)

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::OwnedSemaphorePermit;

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

/// Bodies below this are not counted against the budget.
const SMALL_BODY: u64 = 64 * 1024;

/// Counts a computed response's body against the server's budget
/// ([`super::ServerOptions::max_body_memory`]) until it has been sent or its connection has
/// gone (a client that does not read is cut off by the write timeout); a body that does not
/// fit now gets 503 with `Retry-After`. Memory held for slow clients stays under the budget.
pub async fn hold(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let Some(size) = response.body().size_hint().exact() else {
        return response;
    };
    if size < SMALL_BODY {
        return response;
    }
    let kib = u32::try_from(size.div_ceil(1024)).unwrap_or(u32::MAX);
    let Ok(permit) = std::sync::Arc::clone(state.bodies()).try_acquire_many_owned(kib) else {
        return super::ApiError::unavailable(
            "busy",
            "the server holds as many large answers as it may for clients still reading them; try again",
        )
        .into_response();
    };
    let (parts, body) = response.into_parts();
    // Already in memory: collecting it only takes the bytes out.
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => Response::from_parts(
            parts,
            Body::new(Held {
                rest: bytes,
                _permit: permit,
            }),
        ),
        Err(e) => super::ApiError::internal(e).into_response(),
    }
}

/// Pieces of a held body handed to the connection: it asks for the next only once it has
/// written the last, so the body (and its count against the budget) lives until the client
/// has nearly all of it, or its connection is gone.
const PIECE: usize = 64 * 1024;

/// A body counted against the budget while it lives.
struct Held {
    rest: Bytes,
    _permit: OwnedSemaphorePermit,
}

impl HttpBody for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if self.rest.is_empty() {
            return Poll::Ready(None);
        }
        let n = self.rest.len().min(PIECE);
        let piece = self.rest.split_to(n);
        Poll::Ready(Some(Ok(http_body::Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.rest.len() as u64)
    }
}
