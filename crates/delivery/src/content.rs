//! The sealed payload of a message: envelope sender, delivery options, metadata, and the MIME
//! bytes. Encoded as one JSON header line followed by the raw MIME (no base64 inflation).

use serde::{Deserialize, Serialize};

/// What is needed to deliver a message, and what the API shows of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Content {
    pub envelope_from: String,
    #[serde(default)]
    pub require_tls: bool,
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    #[serde(skip)]
    pub mime: Vec<u8>,
}

impl Content {
    /// Serialises to `json\n` + MIME.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(self).expect("content header serialises");
        out.push(b'\n');
        out.extend_from_slice(&self.mime);
        out
    }

    /// Parses what [`Content::encode`] produced.
    pub fn decode(bytes: &[u8]) -> Option<Content> {
        let split = bytes.iter().position(|&b| b == b'\n')?;
        let mut content: Content = serde_json::from_slice(&bytes[..split]).ok()?;
        content.mime = bytes[split + 1..].to_vec();
        Some(content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrips_with_newlines_in_mime() {
        let c = Content {
            envelope_from: "a@example.com".into(),
            require_tls: true,
            metadata: serde_json::Map::new(),
            mime: b"Subject: x\r\n\r\nbody\n".to_vec(),
        };
        let back = Content::decode(&c.encode()).unwrap();
        assert_eq!(back.envelope_from, "a@example.com");
        assert!(back.require_tls);
        assert_eq!(back.mime, c.mime);
    }
}
