//! SMTP replies: parsing multi-line replies, enhanced status codes, severity.

use std::fmt;

/// How a reply code should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Positive,
    Intermediate,
    Transient,
    Permanent,
}

/// A complete (possibly multi-line) server reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// Lines of text after the code, joined with a space.
    pub text: String,
}

impl Reply {
    /// Builds a reply (used for synthesised outcomes such as connection failures).
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Reply {
            code,
            text: text.into(),
        }
    }

    /// The class of the code.
    pub fn severity(&self) -> Severity {
        match self.code / 100 {
            2 => Severity::Positive,
            3 => Severity::Intermediate,
            4 => Severity::Transient,
            _ => Severity::Permanent,
        }
    }

    /// The enhanced status code (`5.1.1`) at the start of the text, if any.
    pub fn enhanced(&self) -> Option<&str> {
        let first = self.text.split_whitespace().next()?;
        let parts: Vec<&str> = first.split('.').collect();
        (parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
        .then_some(first)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

/// Parses one reply line: `(code, is_last, text)`.
pub(crate) fn parse_line(line: &str) -> Option<(u16, bool, &str)> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.len() < 3 || !line.is_char_boundary(3) {
        return None;
    }
    let code: u16 = line[..3].parse().ok()?;
    if !(200..600).contains(&code) {
        return None;
    }
    match line.as_bytes().get(3) {
        None => Some((code, true, "")),
        Some(b' ') => Some((code, true, &line[4..])),
        Some(b'-') => Some((code, false, &line[4..])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_enhanced_codes() {
        assert_eq!(
            parse_line("250-PIPELINING\r\n"),
            Some((250, false, "PIPELINING"))
        );
        assert_eq!(
            parse_line("550 5.1.1 no such user"),
            Some((550, true, "5.1.1 no such user"))
        );
        assert_eq!(parse_line("220"), Some((220, true, "")));
        assert_eq!(parse_line("abc"), None);
        assert_eq!(parse_line("999 x"), None);
        let r = Reply::new(451, "4.3.0 try later");
        assert_eq!(r.enhanced(), Some("4.3.0"));
        assert_eq!(r.severity(), Severity::Transient);
        assert_eq!(Reply::new(250, "ok").enhanced(), None);
    }
}
