//! DKIM signing (RFC 6376, RFC 8463) of outgoing messages via mail-auth. A `DkimKey` is parsed
//! once and reused: parsing and blinding setup cost more than the signature itself.

use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{DkimSigner, Done};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// Why a key could not be loaded or a message not signed.
#[derive(Debug, thiserror::Error)]
#[error("DKIM: {0}")]
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

enum Signer {
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
}

/// A ready-to-use signer for one domain and selector.
pub struct DkimKey(Signer);

impl DkimKey {
    /// Loads a PKCS#8 key; `algorithm` is `rsa` or `ed25519`.
    pub fn new(
        domain: &str,
        selector: &str,
        algorithm: &str,
        pkcs8: &[u8],
    ) -> Result<Self, DkimError> {
        let err = |e: mail_auth::Error| DkimError(e.to_string());
        let signer = match algorithm {
            "ed25519" => Signer::Ed25519(
                DkimSigner::from_key(
                    Ed25519Key::from_pkcs8_maybe_unchecked_der(pkcs8).map_err(err)?,
                )
                .domain(domain)
                .selector(selector)
                .headers(SIGNED_HEADERS),
            ),
            _ => {
                let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8));
                Signer::Rsa(
                    DkimSigner::from_key(RsaKey::<Sha256>::from_key_der(der).map_err(err)?)
                        .domain(domain)
                        .selector(selector)
                        .headers(SIGNED_HEADERS),
                )
            }
        };
        Ok(DkimKey(signer))
    }

    /// Returns the `DKIM-Signature: …\r\n` header for `message`, to be prepended to it.
    pub fn sign(&self, message: &[u8]) -> Result<String, DkimError> {
        let signature = match &self.0 {
            Signer::Rsa(s) => s.sign(message),
            Signer::Ed25519(s) => s.sign(message),
        }
        .map_err(|e| DkimError(e.to_string()))?;
        Ok(signature.to_header())
    }
}
