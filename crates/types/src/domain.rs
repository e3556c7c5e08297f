//! `DomainName`: an internationalised domain name, stored in its ASCII (punycode) form.

use std::fmt;

/// Why a string is not a domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("domain name is empty")]
    Empty,
    #[error("domain name is not valid")]
    Invalid,
    #[error("domain name is too long")]
    TooLong,
}

/// A lower-case ASCII domain name with at least two labels (IDN converted by UTS #46).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

impl DomainName {
    /// Validates and normalises `input` (Unicode or ASCII) into its ASCII form.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let trimmed = input.strip_suffix('.').unwrap_or(input);
        if trimmed.is_empty() {
            return Err(DomainError::Empty);
        }
        let ascii = idna::domain_to_ascii_strict(trimmed).map_err(|_| DomainError::Invalid)?;
        if ascii.len() > 253 {
            return Err(DomainError::TooLong);
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return Err(DomainError::Invalid);
        }
        for label in &labels {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !ok {
                return Err(DomainError::Invalid);
            }
        }
        Ok(DomainName(ascii.to_ascii_lowercase()))
    }

    /// The ASCII form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_idn() {
        assert_eq!(
            DomainName::parse("Example.COM").unwrap().as_str(),
            "example.com"
        );
        assert_eq!(
            DomainName::parse("bücher.example").unwrap().as_str(),
            "xn--bcher-kva.example"
        );
    }

    #[test]
    fn rejects_bad_domains() {
        for bad in [
            "",
            "localhost",
            "a..b",
            "-a.com",
            "a-.com",
            "a b.com",
            "a_b.com",
        ] {
            assert!(DomainName::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
