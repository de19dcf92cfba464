//! The one error type of the HTTP API: a status and a JSON body `{"code", "description"}`.
//!
//! Client mistakes get a 4xx with a description that points at the problem; server faults are
//! logged with their cause and answered with a generic 500.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::source::SourceError;

/// Seconds a client refused with 503 is asked to wait before trying again.
pub const RETRY_AFTER_S: u64 = 1;

/// An error answered as JSON.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `invalid_tile`.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub description: String,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    description: &'a str,
}

impl ApiError {
    /// A 400 Bad Request.
    pub fn bad_request(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
        }
    }

    /// A 404 Not Found.
    pub fn not_found(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code,
            description: description.into(),
        }
    }

    /// A 503: the server (or a backend) cannot answer now; the client may retry (the
    /// response carries `Retry-After`).
    pub fn unavailable(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code,
            description: description.into(),
        }
    }

    /// A 500: the cause is logged, the client sees a generic description.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            description: "the server failed to answer this request; the cause is in its log".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(Body {
            code: self.code,
            description: &self.description,
        });
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
        }
        response
    }
}

impl From<SourceError> for ApiError {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Overloaded => Self::unavailable("overloaded", e.to_string()),
            SourceError::Cancelled => Self::unavailable("timeout", e.to_string()),
            SourceError::Unavailable { .. } => Self::unavailable("unavailable", e.to_string()),
            SourceError::NotQueryable(_) => Self::bad_request("not_queryable", e.to_string()),
            SourceError::BadRequest(m) => Self::bad_request("invalid_parameter", m),
            SourceError::Internal(cause) => Self::internal(cause),
        }
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        Self::bad_request("invalid_path", r.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        Self::bad_request("invalid_query", r.body_text())
    }
}

/// Fallback for unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route; see /catalog and /tiles.json")
}

/// Fallback for known routes asked with another method.
pub async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        description: "this route only answers GET and HEAD".into(),
    }
}
