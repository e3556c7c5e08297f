//! Field validation shared by every way in (HTTP API now, SMTP submission later).

use crate::error::ValidationError;
use taube_types::Mailbox;

/// Header names a caller may not set through `headers`: Taube writes them itself.
const RESERVED_HEADERS: [&str; 13] = [
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "reply-to",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "dkim-signature",
    "return-path",
];

/// Rejects CR, LF and NUL in text that ends up in a header (header injection).
pub fn check_header_text(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.contains(['\r', '\n', '\0']) {
        return Err(ValidationError::new(
            "header_injection",
            field.to_string(),
            format!("`{field}` must not contain CR, LF or NUL"),
        ));
    }
    Ok(())
}

/// Parses `Name <addr>` or `addr` for `field`.
pub fn parse_mailbox(field: &str, value: &str) -> Result<Mailbox, ValidationError> {
    check_header_text(field, value)?;
    Mailbox::parse(value).map_err(|e| {
        ValidationError::new(
            "invalid_address",
            field.to_string(),
            format!("`{field}`: {e}"),
        )
    })
}

/// Checks a custom header's name and value.
pub(crate) fn check_custom_header(name: &str, value: &str) -> Result<(), ValidationError> {
    let field = format!("headers.{name}");
    check_header_text(&field, name)?;
    check_header_text(&field, value)?;
    let valid_name = !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
    if !valid_name {
        return Err(ValidationError::new(
            "invalid_header",
            field,
            "header name must be printable ASCII without `:`",
        ));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(ValidationError::new(
            "invalid_header",
            field,
            format!("`{name}` is set by Taube and cannot be overridden"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_injection_is_caught_before_parsing() {
        let e = parse_mailbox("to[0]", "a@example.com\r\nBcc: victim@example.org").unwrap_err();
        assert_eq!(e.code, "header_injection");
        assert_eq!(e.field.as_deref(), Some("to[0]"));
        assert_eq!(
            parse_mailbox("from", "not an address").unwrap_err().code,
            "invalid_address"
        );
    }

    #[test]
    fn custom_headers_are_checked() {
        assert!(check_custom_header("X-Campaign", "spring").is_ok());
        assert_eq!(
            check_custom_header("Bcc", "x@y.z").unwrap_err().code,
            "invalid_header"
        );
        assert_eq!(
            check_custom_header("X-A", "v\nBcc: x").unwrap_err().code,
            "header_injection"
        );
        assert_eq!(
            check_custom_header("X A", "v").unwrap_err().code,
            "invalid_header"
        );
    }
}
