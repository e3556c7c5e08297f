//! AES-256-GCM (aws-lc) sealing of byte strings: `nonce(12) || ciphertext+tag`, bound to an associated context.

use crate::error::CryptoError;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use rand::RngCore;

const TAG_LEN: usize = 16;

fn key(bytes: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("32-byte key fits AES-256"))
}

/// Encrypts `plaintext` under `key`; `context` (e.g. "recipient.address") must match on open.
pub fn seal(key_bytes: &[u8; 32], context: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = key(key_bytes)
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context),
            &mut out[NONCE_LEN..],
        )
        .expect("AES-GCM sealing cannot fail for in-memory buffers");
    out.extend_from_slice(tag.as_ref());
    out
}

/// Decrypts what [`seal`] produced with the same key and context.
pub fn open(key_bytes: &[u8; 32], context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Malformed);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Malformed)?;
    let mut buffer = ciphertext.to_vec();
    let plain_len = key(key_bytes)
        .open_in_place(nonce, Aad::from(context), &mut buffer)
        .map_err(|_| CryptoError::Decrypt)?
        .len();
    buffer.truncate(plain_len);
    Ok(buffer)
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
