//! DATA encoding: every line ending becomes CRLF (no bare CR or LF ever leaves Taube), lines
//! starting with `.` get a second dot, and the body ends with `CRLF.CRLF`.

/// Encodes `message` for the DATA phase, terminator included.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 8);
    let mut rest = message;
    while !rest.is_empty() {
        // One line: its content up to the first CR or LF.
        let end = rest
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(rest.len());
        let (line, tail) = rest.split_at(end);
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        // CRLF is one line ending; a lone CR or LF is one too.
        rest = match tail {
            [b'\r', b'\n', after @ ..] => after,
            [_, after @ ..] => after,
            [] => tail,
        };
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stuffs_and_terminates() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n"), b"a\r\n..b\r\n.\r\n");
        assert_eq!(dot_stuff(b"no newline"), b"no newline\r\n.\r\n");
        assert_eq!(dot_stuff(b".\r\n"), b"..\r\n.\r\n");
    }

    /// RUSTSEC-2021-0069: a body must not be able to end DATA and inject commands.
    #[test]
    fn rustsec_2021_0069_smuggling_body_is_neutralised() {
        let out = dot_stuff(b"a\r\n\r\n.\r\nMAIL FROM:<x>\r\n");
        assert_eq!(out, b"a\r\n\r\n..\r\nMAIL FROM:<x>\r\n.\r\n");
        assert_eq!(count_terminators(&out), 1);
    }

    #[test]
    fn bare_cr_and_lf_become_crlf() {
        assert_eq!(dot_stuff(b"a\nb\rc"), b"a\r\nb\r\nc\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\n.\nb"), b"a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\r.\rb"), b"a\r\n..\r\nb\r\n.\r\n");
    }

    fn count_terminators(data: &[u8]) -> usize {
        data.windows(5).filter(|w| w == b"\r\n.\r\n").count()
    }

    proptest! {
        #[test]
        fn output_has_one_terminator_and_no_bare_newlines(body in proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a')], 0..200)) {
            let out = dot_stuff(&body);
            prop_assert!(out.ends_with(b"\r\n.\r\n") || out == b".\r\n");
            let terminators = count_terminators(&out) + usize::from(out.starts_with(b".\r\n"));
            prop_assert_eq!(terminators, 1);
            for (i, &b) in out.iter().enumerate() {
                if b == b'\n' { prop_assert!(i > 0 && out[i - 1] == b'\r'); }
                if b == b'\r' { prop_assert_eq!(out.get(i + 1), Some(&b'\n')); }
            }
        }
    }
}
