//! `EmailAddress` (RFC 5321 mailbox, IDN domains) and `Mailbox` (optional display name + address).

use crate::domain::DomainName;
use std::fmt;

/// Why a string is not an email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("address has no `@`")]
    MissingAt,
    #[error("local part is empty, too long or has invalid characters")]
    InvalidLocalPart,
    #[error("domain is invalid")]
    InvalidDomain,
    #[error("address is too long")]
    TooLong,
    #[error("address contains control characters")]
    ControlCharacter,
    #[error("display name form is malformed")]
    MalformedMailbox,
}

/// A validated address: local part kept as written, domain in lower-case ASCII form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress {
    local: String,
    domain: DomainName,
}

impl EmailAddress {
    /// Validates `input` as an RFC 5321 mailbox (dot-string or quoted local part; UTF-8 allowed).
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        if input.chars().any(|c| c.is_control()) {
            return Err(AddressError::ControlCharacter);
        }
        let at = input.rfind('@').ok_or(AddressError::MissingAt)?;
        let (local, domain) = (&input[..at], &input[at + 1..]);
        if !valid_local_part(local) {
            return Err(AddressError::InvalidLocalPart);
        }
        let domain = DomainName::parse(domain).map_err(|_| AddressError::InvalidDomain)?;
        if local.len() + 1 + domain.as_str().len() > 254 {
            return Err(AddressError::TooLong);
        }
        Ok(EmailAddress {
            local: local.to_string(),
            domain,
        })
    }

    /// The local part as given.
    pub fn local_part(&self) -> &str {
        &self.local
    }

    /// The domain, ASCII form.
    pub fn domain(&self) -> &DomainName {
        &self.domain
    }

    /// A canonical form for lookups and pseudonyms: domain lower-cased, local part as given.
    pub fn canonical(&self) -> String {
        self.to_string()
    }

    /// True when the local part needs SMTPUTF8.
    pub fn needs_smtputf8(&self) -> bool {
        !self.local.is_ascii()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn valid_local_part(local: &str) -> bool {
    if local.is_empty() || local.len() > 64 {
        return false;
    }
    if let Some(inner) = local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        return valid_quoted(inner);
    }
    local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

fn valid_quoted(inner: &str) -> bool {
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) if (' '..='~').contains(&next) => {}
                _ => return false,
            },
            '"' => return false,
            c if (' '..='~').contains(&c) || !c.is_ascii() => {}
            _ => return false,
        }
    }
    true
}

/// An address with an optional display name, as in `"Ada Lovelace <ada@example.com>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: EmailAddress,
}

impl Mailbox {
    /// Parses `addr`, `<addr>` or `Name <addr>` (the name may be quoted).
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        if input.chars().any(|c| c.is_control()) {
            return Err(AddressError::ControlCharacter);
        }
        let input = input.trim();
        let Some(open) = input.rfind('<') else {
            return Ok(Mailbox {
                name: None,
                address: EmailAddress::parse(input)?,
            });
        };
        let inner = input[open + 1..]
            .strip_suffix('>')
            .ok_or(AddressError::MalformedMailbox)?;
        let name = input[..open].trim();
        let name = name
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .unwrap_or(name)
            .trim();
        Ok(Mailbox {
            name: (!name.is_empty()).then(|| name.to_string()),
            address: EmailAddress::parse(inner.trim())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_valid_addresses() {
        for ok in [
            "a@example.com",
            "first.last+tag@sub.example.org",
            "\"quoted local\"@example.com",
            "user@bücher.example",
            "jörg@example.de",
        ] {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok} rejected");
        }
        assert_eq!(
            EmailAddress::parse("User@EXAMPLE.com").unwrap().to_string(),
            "User@example.com"
        );
    }

    #[test]
    fn rejects_invalid_addresses() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a..b@example.com",
            ".a@example.com",
            "a b@example.com",
            "a@exa mple.com",
            "a@example.com\r\nBcc: x@y.z",
            "a@localhost",
            "a@[127.0.0.1]",
            "a\"b@example.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(EmailAddress::parse(&long_local).is_err());
    }

    #[test]
    fn parses_mailboxes() {
        let m = Mailbox::parse("\"Ada L.\" <ada@example.com>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Ada L."));
        assert_eq!(m.address.to_string(), "ada@example.com");
        let bare = Mailbox::parse("bob@example.com").unwrap();
        assert_eq!(bare.name, None);
        assert!(Mailbox::parse("Bob <bob@example.com").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = Mailbox::parse(&s);
        }

        #[test]
        fn valid_roundtrips(local in "[a-z0-9]{1,20}", dom in "[a-z]{1,10}\\.[a-z]{2,5}") {
            let text = format!("{local}@{dom}");
            let parsed = EmailAddress::parse(&text).unwrap();
            prop_assert_eq!(parsed.to_string(), text);
        }
    }
}
