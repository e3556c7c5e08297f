//! DKIM key pairs: RSA-2048 (default) or Ed25519, as PKCS#8 DER plus the DNS `p=` value.

use crate::error::CryptoError;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;

/// The DKIM signing algorithm of a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimAlgorithm {
    Rsa,
    Ed25519,
}

impl DkimAlgorithm {
    /// Stable name: `rsa` or `ed25519`.
    pub fn as_str(self) -> &'static str {
        match self {
            DkimAlgorithm::Rsa => "rsa",
            DkimAlgorithm::Ed25519 => "ed25519",
        }
    }

    /// Parses `rsa` / `ed25519`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rsa" => Some(DkimAlgorithm::Rsa),
            "ed25519" => Some(DkimAlgorithm::Ed25519),
            _ => None,
        }
    }
}

/// A generated DKIM key: private PKCS#8 DER (to be stored encrypted) and the DNS record value.
pub struct DkimKeyPair {
    pub algorithm: DkimAlgorithm,
    pub private_pkcs8: Vec<u8>,
    /// The TXT record value, e.g. `v=DKIM1; k=rsa; p=MIIB...`.
    pub dns_value: String,
}

/// Generates a new key pair for `algorithm`.
pub fn generate_dkim_key(algorithm: DkimAlgorithm) -> Result<DkimKeyPair, CryptoError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    match algorithm {
        DkimAlgorithm::Rsa => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| CryptoError::KeyGeneration)?;
            let private: Pkcs8V1Der = pair.as_der().map_err(|_| CryptoError::KeyGeneration)?;
            let public: PublicKeyX509Der = pair
                .public_key()
                .as_der()
                .map_err(|_| CryptoError::KeyGeneration)?;
            Ok(DkimKeyPair {
                algorithm,
                private_pkcs8: private.as_ref().to_vec(),
                dns_value: format!("v=DKIM1; k=rsa; p={}", b64.encode(public.as_ref())),
            })
        }
        DkimAlgorithm::Ed25519 => {
            let doc = Ed25519KeyPair::generate_pkcs8v1(&aws_lc_rs::rand::SystemRandom::new())
                .map_err(|_| CryptoError::KeyGeneration)?;
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(doc.as_ref())
                .map_err(|_| CryptoError::KeyGeneration)?;
            Ok(DkimKeyPair {
                algorithm,
                private_pkcs8: doc.as_ref().to_vec(),
                dns_value: format!(
                    "v=DKIM1; k=ed25519; p={}",
                    b64.encode(pair.public_key().as_ref())
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_both_algorithms() {
        let rsa = generate_dkim_key(DkimAlgorithm::Rsa).unwrap();
        assert!(rsa.dns_value.starts_with("v=DKIM1; k=rsa; p=MII"));
        let ed = generate_dkim_key(DkimAlgorithm::Ed25519).unwrap();
        assert!(ed.dns_value.starts_with("v=DKIM1; k=ed25519; p="));
        // 32-byte raw key -> 44 base64 chars.
        assert_eq!(ed.dns_value.split("p=").nth(1).unwrap().len(), 44);
    }
}
