//! AES-256-GCM sealing of byte strings: `nonce(12) || ciphertext+tag`, bound to an associated context.

use crate::error::CryptoError;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

const NONCE_LEN: usize = 12;

/// Encrypts `plaintext` under `key`; `context` (e.g. "recipient.address") must match on open.
pub fn seal(key: &[u8; 32], context: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: context,
            },
        )
        .expect("AES-GCM encryption cannot fail for in-memory buffers");
    let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// Decrypts what [`seal`] produced with the same key and context.
pub fn open(key: &[u8; 32], context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(CryptoError::Malformed);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    Aes256Gcm::new(key.into())
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: context,
            },
        )
        .map_err(|_| CryptoError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_tamper_detection() {
        let key = [7u8; 32];
        let sealed = seal(&key, b"ctx", b"hello");
        assert_eq!(open(&key, b"ctx", &sealed).unwrap(), b"hello");
        assert!(open(&key, b"other", &sealed).is_err(), "context must bind");
        assert!(
            open(&[8u8; 32], b"ctx", &sealed).is_err(),
            "wrong key must fail"
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(open(&key, b"ctx", &tampered).is_err());
        assert!(
            !sealed.windows(5).any(|w| w == b"hello"),
            "plaintext visible"
        );
    }
}
