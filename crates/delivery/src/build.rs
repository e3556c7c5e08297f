//! Composing the MIME message (headers, text/html alternatives, attachments) with mail-builder.

use crate::error::ValidationError;
use crate::validate::{check_custom_header, check_header_text};
use mail_builder::headers::address::Address;
use mail_builder::headers::text::Text;
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
    if let Some(text) = &c.text {
        builder = builder.text_body(text.clone());
    }
    if let Some(html) = &c.html {
        builder = builder.html_body(html.clone());
    }
    if c.text.is_none() && c.html.is_none() {
        builder = builder.text_body(String::new());
    }
    for a in &c.attachments {
        builder = builder.attachment(
            a.content_type.clone(),
            a.filename.clone(),
            a.content.clone(),
        );
    }
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
