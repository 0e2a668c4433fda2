//! Tokenizer for the expression language.
//!
//! Owns the lexical rules DynamoDB applies to every expression kind: plain
//! names are `[A-Za-z][A-Za-z0-9_]*`, `#name` and `:value` references are a
//! sigil followed by `[A-Za-z0-9_]+`, integers are `[0-9]+` (only meaningful
//! as list indexes), and the punctuation of the grammar. Any other character
//! becomes a one-character `Bad` token so that the parser reports it as
//! DynamoDB does (`Syntax error; token: "_", near: "SET _123"`).
//!
//! Invariant: tokens are returned with byte spans into the source, in order,
//! and the last token is always `Eof`; the span of every token lies on char
//! boundaries, so slicing the source with it never panics.

/// What a token is. Keywords (AND, SET, ...) are plain `Name`s: the parser
/// decides case-insensitively whether a name is a keyword where one may occur.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A plain attribute name or keyword.
    Name,
    /// `#ref`, text includes the `#`.
    NameRef,
    /// `:ref`, text includes the `:`.
    ValueRef,
    /// An unsigned decimal integer.
    Int,
    /// One of `= <> < <= > >= ( ) [ ] , . + -`.
    Sym(&'static str),
    /// A character no token can start with.
    Bad,
    /// End of input.
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

fn is_ref_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Splits `src` into tokens. Never fails: malformed input turns into `Bad`
/// tokens, which the parser rejects with a positioned syntax error.
pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' {
            i += 1;
            continue;
        }
        let start = i;
        let kind = if c.is_ascii_alphabetic() {
            while i < bytes.len() && is_ref_char(bytes[i]) {
                i += 1;
            }
            Tok::Name
        } else if c.is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            Tok::Int
        } else if (c == b'#' || c == b':') && i + 1 < bytes.len() && is_ref_char(bytes[i + 1]) {
            i += 1;
            while i < bytes.len() && is_ref_char(bytes[i]) {
                i += 1;
            }
            if c == b'#' {
                Tok::NameRef
            } else {
                Tok::ValueRef
            }
        } else {
            let two = if i + 1 < bytes.len() {
                &bytes[i..i + 2]
            } else {
                &bytes[i..i + 1]
            };
            let sym: Option<&'static str> = match two {
                b"<>" => Some("<>"),
                b"<=" => Some("<="),
                b">=" => Some(">="),
                _ => None,
            };
            if let Some(s) = sym {
                i += 2;
                Tok::Sym(s)
            } else {
                let one: Option<&'static str> = match c {
                    b'=' => Some("="),
                    b'<' => Some("<"),
                    b'>' => Some(">"),
                    b'(' => Some("("),
                    b')' => Some(")"),
                    b'[' => Some("["),
                    b']' => Some("]"),
                    b',' => Some(","),
                    b'.' => Some("."),
                    b'+' => Some("+"),
                    b'-' => Some("-"),
                    _ => None,
                };
                match one {
                    Some(s) => {
                        i += 1;
                        Tok::Sym(s)
                    }
                    None => {
                        // One whole character, however many bytes it takes.
                        let len = src[i..].chars().next().map_or(1, char::len_utf8);
                        i += len;
                        Tok::Bad
                    }
                }
            }
        };
        out.push(Token {
            kind,
            start,
            end: i,
        });
    }
    out.push(Token {
        kind: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(Tok, String)> {
        tokenize(s)
            .into_iter()
            .map(|t| (t.kind.clone(), s[t.start..t.end].to_string()))
            .collect()
    }

    #[test]
    fn names_refs_and_symbols() {
        let k = kinds("a.b[12] <> #x, :v_1<=c");
        let texts: Vec<&str> = k.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(
            texts,
            ["a", ".", "b", "[", "12", "]", "<>", "#x", ",", ":v_1", "<=", "c", ""]
        );
        assert_eq!(k[7].0, Tok::NameRef);
        assert_eq!(k[9].0, Tok::ValueRef);
        assert_eq!(k[12].0, Tok::Eof);
    }

    #[test]
    fn underscore_and_lone_sigils_are_bad_tokens() {
        let k = kinds("_123 # : é");
        assert_eq!(k[0], (Tok::Bad, "_".to_string()));
        assert_eq!(k[1], (Tok::Int, "123".to_string()));
        assert_eq!(k[2], (Tok::Bad, "#".to_string()));
        assert_eq!(k[3], (Tok::Bad, ":".to_string()));
        assert_eq!(k[4], (Tok::Bad, "é".to_string()));
    }

    #[test]
    fn digits_then_letters_split() {
        let k = kinds("123a");
        assert_eq!(k[0], (Tok::Int, "123".to_string()));
        assert_eq!(k[1], (Tok::Name, "a".to_string()));
    }
}
