//! Strict JSON bodies: malformed JSON, unknown fields, missing fields and wrong types each get
//! their own stable error code naming the field.

use crate::error::ApiError;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// Parses `bytes` as `T`, mapping serde's errors onto API error codes.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        let quoted = text.split('`').nth(1).map(str::to_string);
        let bad = |code: &'static str, msg: String| {
            let err = ApiError::new(StatusCode::BAD_REQUEST, code, msg);
            match &quoted {
                Some(f) => err.field(f.clone()),
                None => err,
            }
        };
        match e.classify() {
            serde_json::error::Category::Data if text.starts_with("unknown field") => bad(
                "unknown_field",
                text.split(", expected").next().unwrap_or(&text).to_string(),
            ),
            serde_json::error::Category::Data if text.starts_with("missing field") => {
                bad("missing_field", text)
            }
            serde_json::error::Category::Data => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", text)
            }
            _ => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("request body is not valid JSON: {text}"),
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        from: String,
        #[serde(default)]
        n: u32,
    }

    #[test]
    fn maps_serde_errors_to_codes() {
        assert_eq!(parse_json::<Body>(b"{").unwrap_err().code, "invalid_json");
        let unknown = parse_json::<Body>(br#"{"from":"a","bcc2":1}"#).unwrap_err();
        assert_eq!(unknown.code, "unknown_field");
        assert_eq!(unknown.field.as_deref(), Some("bcc2"));
        let missing = parse_json::<Body>(br#"{}"#).unwrap_err();
        assert_eq!(
            (missing.code, missing.field.as_deref()),
            ("missing_field", Some("from"))
        );
        assert_eq!(
            parse_json::<Body>(br#"{"from":"a","n":"x"}"#)
                .unwrap_err()
                .code,
            "invalid_field"
        );
    }
}
