//! DKIM signing (RFC 6376, RFC 8463) of outgoing messages via mail-auth. A `DkimKey` is parsed
//! once and reused: parsing and blinding setup cost more than the signature itself.

use mail_auth::common::crypto::{Algorithm, Ed25519Key, HashOutput, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter, Writable};
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

/// Wraps a mail-auth key to hash the canonical body in one pass: mail-auth 0.12 feeds the
/// hasher one byte at a time (an FFI call per byte with aws-lc), which dominated signing cost
/// for large messages. The canonical bytes are collected first, then hashed once.
struct OnePassHash<K>(K);

impl<K: SigningKey<Hasher = Sha256>> SigningKey for OnePassHash<K> {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        self.0.sign(input)
    }

    fn hash(&self, data: impl Writable) -> HashOutput {
        let mut canonical = Vec::with_capacity(64 * 1024);
        data.write(&mut canonical);
        HashOutput::Digest(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            &canonical,
        ))
    }

    fn algorithm(&self) -> Algorithm {
        self.0.algorithm()
    }
}

enum Signer {
    Rsa(DkimSigner<OnePassHash<RsaKey<Sha256>>, Done>),
    Ed25519(DkimSigner<OnePassHash<Ed25519Key>, Done>),
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
                DkimSigner::from_key(OnePassHash(
                    Ed25519Key::from_pkcs8_maybe_unchecked_der(pkcs8).map_err(err)?,
                ))
                .domain(domain)
                .selector(selector)
                .headers(SIGNED_HEADERS),
            ),
            _ => {
                let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8));
                Signer::Rsa(
                    DkimSigner::from_key(OnePassHash(
                        RsaKey::<Sha256>::from_key_der(der).map_err(err)?,
                    ))
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
