//! Composing the MIME message (headers, text/html alternatives, attachments) with mail-builder.

use crate::error::ValidationError;
use crate::validate::{check_custom_header, check_header_text};
use mail_builder::headers::address::Address;
use mail_builder::headers::text::Text;
use mail_builder::mime::MimePart;
use mail_builder::MessageBuilder;
use taube_types::Mailbox;

/// A file attached to a message.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// The parts of a message as an API caller gives them (Bcc never becomes a header).
#[derive(Debug, Clone)]
pub struct Composed {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub reply_to: Option<Mailbox>,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    pub headers: Vec<(String, String)>,
    pub attachments: Vec<Attachment>,
}

/// Longest line (in bytes) a 7bit text part may have (RFC 5322 §2.1.1).
const MAX_7BIT_LINE: usize = 998;

/// A text part. ASCII text with lines of at most 998 bytes is sent as 7bit with CRLF line ends
/// (a bare CR counts as a line end, as it would on the wire), skipping mail-builder's per-byte
/// encoding detection and quoted-printable, the largest cost of composing big messages. Other
/// text is left to mail-builder, which encodes it (quoted-printable or base64).
fn text_part(content_type: &'static str, text: &str) -> MimePart<'static> {
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    let seven_bit = unified.is_ascii()
        && !unified.contains('\0')
        && unified.split('\n').all(|line| line.len() <= MAX_7BIT_LINE);
    if !seven_bit {
        return MimePart::new(content_type, text.to_string());
    }
    MimePart::new(content_type, unified.replace('\n', "\r\n")).transfer_encoding("7bit")
}

fn address(m: &Mailbox) -> Address<'static> {
    Address::new_address(m.name.clone(), m.address.to_string())
}

fn address_list(list: &[Mailbox]) -> Address<'static> {
    Address::new_list(list.iter().map(address).collect())
}

/// Builds the RFC 5322 message; `message_id` is the `Message-ID` without angle brackets.
pub fn build_mime(
    c: &Composed,
    message_id: &str,
    date_unix: i64,
) -> Result<Vec<u8>, ValidationError> {
    check_header_text("subject", &c.subject)?;
    for (name, value) in &c.headers {
        check_custom_header(name, value)?;
    }
    for (i, a) in c.attachments.iter().enumerate() {
        check_header_text(&format!("attachments[{i}].filename"), &a.filename)?;
        check_header_text(&format!("attachments[{i}].content_type"), &a.content_type)?;
        let valid_type = a
            .content_type
            .split_once('/')
            .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty());
        if !valid_type {
            return Err(ValidationError::new(
                "invalid_attachment",
                format!("attachments[{i}].content_type"),
                "content_type must look like `type/subtype`",
            ));
        }
    }
    let mut builder = MessageBuilder::new()
        .from(address(&c.from))
        .subject(c.subject.clone())
        .message_id(message_id.to_string())
        .date(date_unix);
    if !c.to.is_empty() {
        builder = builder.to(address_list(&c.to));
    }
    if !c.cc.is_empty() {
        builder = builder.cc(address_list(&c.cc));
    }
    if let Some(r) = &c.reply_to {
        builder = builder.reply_to(address(r));
    }
    for (name, value) in &c.headers {
        builder = builder.header(name.clone(), Text::new(value.clone()));
    }
    let text = c.text.as_deref().map(|t| text_part("text/plain", t));
    let html = c.html.as_deref().map(|h| text_part("text/html", h));
    let body = match (text, html) {
        (Some(t), Some(h)) => MimePart::new("multipart/alternative", vec![t, h]),
        (Some(part), None) | (None, Some(part)) => part,
        (None, None) => text_part("text/plain", ""),
    };
    let body = if c.attachments.is_empty() {
        body
    } else {
        let mut parts = Vec::with_capacity(c.attachments.len() + 1);
        parts.push(body);
        parts.extend(c.attachments.iter().map(|a| {
            MimePart::new(a.content_type.clone(), a.content.clone()).attachment(a.filename.clone())
        }));
        MimePart::new("multipart/mixed", parts)
    };
    builder = builder.body(body);
    builder
        .write_to_vec()
        .map_err(|e| ValidationError::new("invalid_message", None, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(s: &str) -> Mailbox {
        Mailbox::parse(s).unwrap()
    }

    fn body_of(part: MimePart<'static>) -> String {
        let mime = MessageBuilder::new()
            .from("a@example.com")
            .body(part)
            .write_to_vec()
            .unwrap();
        String::from_utf8(mime).unwrap()
    }

    #[test]
    fn ascii_text_with_long_lines_is_7bit_with_crlf() {
        let line = "x".repeat(120);
        let out = body_of(text_part("text/plain", &format!("{line}\n{line}\r\nend")));
        assert!(out.contains("Content-Transfer-Encoding: 7bit"), "{out}");
        assert!(out.ends_with(&format!("{line}\r\n{line}\r\nend")), "{out}");
    }

    #[test]
    fn other_text_is_left_to_mail_builder() {
        for text in ["Grüße", &"y".repeat(1200)] {
            let out = body_of(text_part("text/plain", text));
            assert!(
                !out.contains("Content-Transfer-Encoding: 7bit"),
                "{text:?}: {out}"
            );
        }
        let out = body_of(text_part("text/plain", "bare\rcarriage return"));
        let bytes = out.as_bytes();
        let bare_cr = bytes
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
        assert!(!bare_cr, "no bare CR may reach the wire: {out:?}");
    }

    #[test]
    fn builds_headers_without_bcc_and_with_attachment() {
        let c = Composed {
            from: mb("Shop <shop@example.com>"),
            to: vec![mb("ada@example.org")],
            cc: vec![mb("bob@example.org")],
            reply_to: None,
            subject: "Grüße".into(),
            text: Some("hello".into()),
            html: Some("<p>hello</p>".into()),
            headers: vec![("X-Campaign".into(), "spring".into())],
            attachments: vec![Attachment {
                filename: "a.txt".into(),
                content_type: "text/plain".into(),
                content: b"attached".to_vec(),
            }],
        };
        let mime = String::from_utf8(build_mime(&c, "id1@example.com", 0).unwrap()).unwrap();
        assert!(mime.contains("From: \"Shop\" <shop@example.com>"), "{mime}");
        assert!(mime.contains("Cc: <bob@example.org>"), "{mime}");
        assert!(mime.contains("X-Campaign: spring"));
        assert!(mime.contains("Message-ID: <id1@example.com>"));
        assert!(mime.contains("a.txt"));
        assert!(!mime.to_ascii_lowercase().contains("bcc"));
        assert!(!mime.contains("Grüße"), "non-ASCII subject must be encoded");
    }
}
