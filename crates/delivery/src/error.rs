//! Errors of the accept path, each with a stable code for API and SMTP answers.

/// A request that cannot be accepted as given; nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ValidationError {
    /// Stable snake_case code, e.g. `invalid_address`.
    pub code: &'static str,
    /// The request field it concerns, e.g. `to[0]`.
    pub field: Option<String>,
    pub message: String,
}

impl ValidationError {
    /// A new validation error.
    pub fn new(
        code: &'static str,
        field: impl Into<Option<String>>,
        message: impl Into<String>,
    ) -> Self {
        ValidationError {
            code,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why an accept failed.
#[derive(Debug, thiserror::Error)]
pub enum AcceptFailure {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The same idempotency key was used with a different body.
    #[error("idempotency key reused with a different request")]
    IdempotencyConflict,
    /// The message was not stored; the client should retry.
    #[error("storage unavailable")]
    Storage(String),
}

impl From<taube_store::StoreError> for AcceptFailure {
    fn from(e: taube_store::StoreError) -> Self {
        AcceptFailure::Storage(e.to_string())
    }
}

impl From<taube_crypto::CryptoError> for AcceptFailure {
    fn from(e: taube_crypto::CryptoError) -> Self {
        AcceptFailure::Storage(e.to_string())
    }
}
