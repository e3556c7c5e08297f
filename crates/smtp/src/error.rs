//! Errors of an SMTP session: I/O, timeouts, protocol violations by the server.

/// A session-level failure (as opposed to a per-recipient reply).
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    #[error("malformed reply from server")]
    MalformedReply,
    #[error("server does not offer STARTTLS but TLS is required")]
    TlsRequired,
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    #[error("server refused the session: {0}")]
    Refused(crate::reply::Reply),
}

impl SmtpError {
    /// True when retrying later may help (everything but a 5xx refusal).
    pub fn is_transient(&self) -> bool {
        match self {
            SmtpError::Refused(reply) => reply.severity() != crate::reply::Severity::Permanent,
            _ => true,
        }
    }
}
