//! API errors: `{"error": "<stable_code>", "message": "…", "field": "…"}` with the right status.
//! A 500 never carries internals; those go to the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use taube_delivery::{AcceptFailure, ValidationError};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    /// A new error answer.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Names the request field at fault.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required",
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// A 500 that logs `detail` and shows nothing of it.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error; nothing was changed, please retry",
        )
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        let status = match e.code {
            "message_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError {
            status,
            code: e.code,
            message: e.message,
            field: e.field,
        }
    }
}

impl From<AcceptFailure> for ApiError {
    fn from(e: AcceptFailure) -> Self {
        match e {
            AcceptFailure::Invalid(v) => v.into(),
            AcceptFailure::IdempotencyConflict => ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_conflict",
                "this Idempotency-Key was used with a different request",
            ),
            AcceptFailure::Storage(detail) => {
                tracing::error!(error = %detail, "accept failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the message was not stored; please retry",
                )
            }
        }
    }
}

impl From<taube_store::StoreError> for ApiError {
    fn from(e: taube_store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.code, "message": self.message});
        if let Some(field) = self.field {
            body["field"] = field.into();
        }
        (self.status, Json(body)).into_response()
    }
}
