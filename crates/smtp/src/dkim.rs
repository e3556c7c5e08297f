//! DKIM signing (RFC 6376, RFC 8463) of outgoing messages via mail-auth. A `DkimKey` is parsed
//! once and reused: parsing and blinding setup cost more than the signature itself.

use crate::body_hash::{body_of, relaxed_body_hash};
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

thread_local! {
    /// The body hash of the message being signed on this thread (see `DkimKey::sign`).
    static BODY_HASH: std::cell::Cell<Option<aws_lc_rs::digest::Digest>> = const { std::cell::Cell::new(None) };
}

/// Wraps a mail-auth key so that the body hash comes from our line-by-line relaxed
/// canonicalization (`body_hash.rs`) instead of mail-auth's byte-by-byte one.
struct OnePassHash<K>(K);

impl<K: SigningKey<Hasher = Sha256>> SigningKey for OnePassHash<K> {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        self.0.sign(input)
    }

    fn hash(&self, data: impl Writable) -> HashOutput {
        // `sign` computes the body hash itself just before; fall back to mail-auth's bytes.
        if let Some(digest) = BODY_HASH.with(|cell| cell.take()) {
            return HashOutput::Digest(digest);
        }
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
        // The signers use relaxed body canonicalization (mail-auth's default).
        let digest = relaxed_body_hash(body_of(message));
        BODY_HASH.with(|cell| cell.set(Some(digest)));
        let signature = match &self.0 {
            Signer::Rsa(s) => s.sign(message),
            Signer::Ed25519(s) => s.sign(message),
        }
        .map_err(|e| DkimError(e.to_string()));
        BODY_HASH.with(|cell| cell.set(None));
        Ok(signature?.to_header())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::Ed25519KeyPair;

    fn bh(header: &str) -> String {
        let flat: String = header.split_whitespace().collect();
        flat.split(';')
            .find_map(|t| t.strip_prefix("bh="))
            .unwrap()
            .to_string()
    }

    /// Our line-by-line body hash equals mail-auth's own for ordinary messages.
    #[test]
    fn body_hash_matches_mail_auth() {
        let doc = Ed25519KeyPair::generate_pkcs8v1(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
        let key = DkimKey::new("example.com", "s", "ed25519", doc.as_ref()).unwrap();
        let Signer::Ed25519(inner) = &key.0 else {
            unreachable!()
        };
        for body in [
            "hello\r\n",
            "line  with   spaces \t\r\n\ttabbed\r\n\r\n\r\n",
            ".dot\r\n\r\nlast line without newline",
            "",
        ] {
            let message = format!("From: a@example.com\r\nSubject: x\r\n\r\n{body}");
            let ours = key.sign(message.as_bytes()).unwrap();
            let theirs = inner.sign(message.as_bytes()).unwrap().to_header();
            assert_eq!(bh(&ours), bh(&theirs), "body {body:?}");
        }
    }
}
