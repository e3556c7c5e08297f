//! `POST /v1/messages`: validate a JSON message, compose MIME, and accept it durably (202).

use crate::auth::Auth;
use crate::body::parse_json;
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use taube_delivery::{
    build_mime, parse_mailbox, Accepted, Attachment, Composed, Recipient, RecipientType, Submission,
};
use taube_types::{new_id, now_millis, Mailbox, Scope};

/// A string or a list of strings (both are accepted for address fields).
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
    #[default]
    None,
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
            OneOrMany::None => vec![],
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttachmentBody {
    filename: String,
    #[serde(default = "octet_stream")]
    content_type: String,
    content_base64: String,
}

fn octet_stream() -> String {
    "application/octet-stream".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    from: String,
    #[serde(default)]
    to: OneOrMany,
    #[serde(default)]
    cc: OneOrMany,
    #[serde(default)]
    bcc: OneOrMany,
    reply_to: Option<String>,
    #[serde(default)]
    subject: String,
    text: Option<String>,
    html: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    attachments: Vec<AttachmentBody>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    metadata: serde_json::Map<String, serde_json::Value>,
    kind: Option<String>,
    #[serde(default)]
    test_mode: bool,
    #[serde(default)]
    require_tls: bool,
}

fn mailboxes(field: &str, values: Vec<String>) -> Result<Vec<Mailbox>, ApiError> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| parse_mailbox(&format!("{field}[{i}]"), v).map_err(ApiError::from))
        .collect()
}

fn bad(code: &'static str, field: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message).field(field)
}

pub async fn send_message(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    auth.require(Scope::SendEmail)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "message_too_large",
                "request body is too large",
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text())
        }
    })?;
    let idempotency = match headers.get("idempotency-key") {
        Some(v) => {
            let key = v
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .ok_or_else(|| {
                    bad(
                        "invalid_idempotency_key",
                        "Idempotency-Key",
                        "must be 1-255 visible ASCII characters",
                    )
                })?;
            let hash = hex::encode(Sha256::digest(&body));
            if let Some(previous) = state.acceptor.replay(&auth.tenant_id, key, &hash).await? {
                return Ok((StatusCode::ACCEPTED, Json(previous)));
            }
            Some((key.to_string(), hash))
        }
        None => None,
    };
    let req: SendBody = parse_json(&body)?;
    let submission = to_submission(req, &auth.tenant_id, idempotency)?;
    // Its own task: a client that disconnects must not cut short the bookkeeping that follows
    // the commit (metrics, waking the dispatcher).
    let acceptor = state.acceptor.clone();
    let accepted = tokio::spawn(async move { acceptor.submit(submission).await })
        .await
        .map_err(ApiError::internal)??;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

fn to_submission(
    req: SendBody,
    tenant_id: &str,
    idempotency: Option<(String, String)>,
) -> Result<Submission, ApiError> {
    let from = parse_mailbox("from", &req.from)?;
    let to = mailboxes("to", req.to.into_vec())?;
    let cc = mailboxes("cc", req.cc.into_vec())?;
    let bcc = mailboxes("bcc", req.bcc.into_vec())?;
    let reply_to = req
        .reply_to
        .as_deref()
        .map(|r| parse_mailbox("reply_to", r))
        .transpose()?;
    let kind = match req.kind.as_deref() {
        None | Some("transactional") => "transactional",
        Some("marketing") => "marketing",
        Some(_) => {
            return Err(bad(
                "invalid_field",
                "kind",
                "kind is `transactional` or `marketing`",
            ))
        }
    };
    if req.tags.len() > 10 || req.tags.iter().any(|t| t.is_empty() || t.len() > 128) {
        return Err(bad(
            "invalid_field",
            "tags",
            "at most 10 tags of 1-128 characters",
        ));
    }
    let mut attachments = Vec::with_capacity(req.attachments.len());
    for (i, a) in req.attachments.into_iter().enumerate() {
        let content = base64::engine::general_purpose::STANDARD
            .decode(a.content_base64.as_bytes())
            .map_err(|_| {
                bad(
                    "invalid_attachment",
                    &format!("attachments[{i}].content_base64"),
                    "not valid base64",
                )
            })?;
        attachments.push(Attachment {
            filename: a.filename,
            content_type: a.content_type,
            content,
        });
    }
    let mut recipients = Vec::with_capacity(to.len() + cc.len() + bcc.len());
    for (list, rcpt_type) in [
        (&to, RecipientType::To),
        (&cc, RecipientType::Cc),
        (&bcc, RecipientType::Bcc),
    ] {
        recipients.extend(list.iter().map(|m| Recipient {
            address: m.address.clone(),
            rcpt_type,
        }));
    }
    let id = new_id("msg");
    let composed = Composed {
        from: from.clone(),
        to,
        cc,
        reply_to,
        subject: req.subject,
        text: req.text,
        html: req.html,
        headers: req.headers.into_iter().collect(),
        attachments,
    };
    let now = now_millis();
    let mime = build_mime(
        &composed,
        &format!("{id}@{}", from.address.domain()),
        now / 1000,
    )?;
    Ok(Submission {
        tenant_id: tenant_id.to_string(),
        envelope_from: from.address.clone(),
        from_domain: from.address.domain().clone(),
        recipients,
        mime,
        message_id: id,
        kind: kind.to_string(),
        test_mode: req.test_mode,
        require_tls: req.require_tls,
        tags: req.tags,
        metadata: req.metadata,
        idempotency,
    })
}
