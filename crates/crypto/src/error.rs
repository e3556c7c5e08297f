//! Errors of the crypto crate.

/// What can go wrong with keys and ciphertexts.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("ciphertext could not be decrypted (wrong key or tampered)")]
    Decrypt,
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("master key file: {0}")]
    MasterKeyFile(String),
    #[error("key generation failed")]
    KeyGeneration,
}
