//! DKIM signing (RFC 6376, RFC 8463) of an outgoing message with the domain's key, via mail-auth.

use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// Why a message could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("DKIM signing failed: {0}")]
pub struct DkimError(String);

const SIGNED_HEADERS: [&str; 9] = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
];

/// Returns the `DKIM-Signature: …\r\n` header for `message`, to be prepended to it.
pub fn sign_dkim(
    message: &[u8],
    domain: &str,
    selector: &str,
    algorithm: &str,
    pkcs8: &[u8],
) -> Result<String, DkimError> {
    let err = |e: mail_auth::Error| DkimError(e.to_string());
    let signature = match algorithm {
        "ed25519" => {
            let key = Ed25519Key::from_pkcs8_maybe_unchecked_der(pkcs8).map_err(err)?;
            DkimSigner::from_key(key)
                .domain(domain)
                .selector(selector)
                .headers(SIGNED_HEADERS)
                .sign(message)
                .map_err(err)?
        }
        _ => {
            let key = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(
                PrivatePkcs8KeyDer::from(pkcs8),
            ))
            .map_err(err)?;
            DkimSigner::from_key(key)
                .domain(domain)
                .selector(selector)
                .headers(SIGNED_HEADERS)
                .sign(message)
                .map_err(err)?
        }
    };
    Ok(signature.to_header())
}
