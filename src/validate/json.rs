//! A strict scanner for the flat JSON objects game events are. It splits an object into its
//! members in one pass without building a tree: keys are borrowed unless they contain escapes,
//! values are kept as their exact raw text (so numbers are never rounded). It accepts exactly
//! RFC 8259 JSON: anything it cannot prove valid by itself (escapes, nested values) is checked
//! by `serde_json`, and nesting is bounded. It never panics and never reads out of bounds.

use std::borrow::Cow;

use serde::de::IgnoredAny;

/// Deepest nesting accepted inside a member value (kept verbatim under `_extra`).
pub(crate) const MAX_DEPTH: usize = 32;

/// The members of a JSON object in input order: key, and the value's raw JSON text.
pub(crate) type Members<'a> = Vec<(Cow<'a, str>, &'a str)>;

/// Why a text is not a JSON object we accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanError {
    /// Not valid JSON at byte `at`.
    Syntax { at: usize, what: &'static str },
    /// A member's value nests deeper than [`MAX_DEPTH`].
    TooDeep { key: String },
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

/// Splits a JSON object into members; `text` must start (after whitespace) with `{`.
pub(crate) fn scan_object(text: &str) -> Result<Members<'_>, ScanError> {
    let mut s = Scanner { text, bytes: text.as_bytes(), pos: 0 };
    let mut members: Members<'_> = Vec::with_capacity(16);
    s.ws();
    s.object(|key, value| members.push((key, value)))?;
    s.end()?;
    Ok(members)
}

/// The elements of a JSON array of objects, in one pass: each object's exact text, with every
/// member handed to `member(index, key, raw value)`. Any element that is not an object (or
/// any syntax error) fails the whole array.
pub(crate) fn scan_array_of_objects<'a>(
    text: &'a str,
    mut member: impl FnMut(usize, Cow<'a, str>, &'a str),
) -> Result<Vec<&'a str>, ScanError> {
    let mut s = Scanner { text, bytes: text.as_bytes(), pos: 0 };
    let mut objects = Vec::new();
    s.ws();
    s.expect(b'[', "expected '['")?;
    s.ws();
    if s.peek() == Some(b']') {
        s.pos += 1;
    } else {
        loop {
            s.ws();
            let start = s.pos;
            let index = objects.len();
            s.object(|key, value| member(index, key, value))?;
            objects.push(s.slice(start, s.pos)?);
            s.ws();
            match s.peek() {
                Some(b',') => s.pos += 1,
                Some(b']') => {
                    s.pos += 1;
                    break;
                }
                _ => return Err(s.err("expected ',' or ']'")),
            }
        }
    }
    s.end()?;
    Ok(objects)
}

impl<'a> Scanner<'a> {
    /// One object at the current position; each member goes to `member`.
    fn object(&mut self, mut member: impl FnMut(Cow<'a, str>, &'a str)) -> Result<(), ScanError> {
        self.expect(b'{', "expected '{'")?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let (key, _) = self.string()?;
            self.ws();
            self.expect(b':', "expected ':'")?;
            self.ws();
            let (value, depth) = self.value()?;
            if depth > MAX_DEPTH {
                return Err(ScanError::TooDeep { key: key.into_owned() });
            }
            member(key, value);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    /// Only whitespace may follow.
    fn end(&mut self) -> Result<(), ScanError> {
        self.ws();
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.err("trailing characters after the object"))
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn err(&self, what: &'static str) -> ScanError {
        ScanError::Syntax { at: self.pos, what }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), ScanError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn slice(&self, start: usize, end: usize) -> Result<&'a str, ScanError> {
        self.text.get(start..end).ok_or(ScanError::Syntax { at: start, what: "bad slice" })
    }

    /// A string: its value (borrowed without escapes) and its raw text with quotes.
    fn string(&mut self) -> Result<(Cow<'a, str>, &'a str), ScanError> {
        let start = self.pos;
        self.expect(b'"', "expected a string")?;
        let mut escaped = false;
        loop {
            self.pos += self.bytes.get(self.pos..).map_or(0, first_special);
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 2;
                }
                Some(0..=0x1f) => return Err(self.err("control character in string")),
                Some(_) => self.pos += 1,
            }
        }
        self.pos += 1;
        let raw = self.slice(start, self.pos)?;
        if escaped {
            let value: String = serde_json::from_str(raw)
                .map_err(|_| ScanError::Syntax { at: start, what: "invalid escape" })?;
            Ok((Cow::Owned(value), raw))
        } else {
            Ok((Cow::Borrowed(self.slice(start + 1, self.pos - 1)?), raw))
        }
    }

    /// Any value: its raw text and its nesting depth.
    fn value(&mut self) -> Result<(&'a str, usize), ScanError> {
        let start = self.pos;
        match self.peek() {
            Some(b'"') => self.string().map(|(_, raw)| (raw, 0)),
            Some(b'{' | b'[') => self.nested(),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                Ok((self.slice(start, self.pos)?, 0))
            }
            _ => Err(self.err("expected a value")),
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<(&'a str, usize), ScanError> {
        let start = self.pos;
        let end = start + word.len();
        if self.bytes.get(start..end) == Some(word.as_bytes()) {
            self.pos = end;
            Ok((word, 0))
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), ScanError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        Ok(())
    }

    /// An array or object: bracket-matched here, validated by serde_json if not too deep.
    fn nested(&mut self) -> Result<(&'a str, usize), ScanError> {
        let start = self.pos;
        let (mut depth, mut max) = (0usize, 0usize);
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated array or object")),
                Some(b'"') => {
                    self.string()?;
                    continue;
                }
                Some(b'{' | b'[') => {
                    depth += 1;
                    max = max.max(depth);
                }
                Some(b'}' | b']') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        self.pos += 1;
                        break;
                    }
                }
                Some(_) => {}
            }
            self.pos += 1;
        }
        let raw = self.slice(start, self.pos)?;
        if max <= MAX_DEPTH {
            serde_json::from_str::<IgnoredAny>(raw)
                .map_err(|_| ScanError::Syntax { at: start, what: "invalid array or object" })?;
        }
        Ok((raw, max))
    }
}

/// Index of the first byte in `bytes` that is `"`, `\\` or a control character (or its length):
/// eight bytes at a time, with the classic "has zero byte" bit tricks.
pub(crate) fn first_special(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let hits = has_zero(x ^ (ONES * u64::from(b'"')))
            | has_zero(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if hits != 0 {
            // Borrows can only flag bytes above a real hit, so the lowest flag is exact.
            return offset + (hits.trailing_zeros() / 8) as usize;
        }
        offset += 8;
    }
    offset
        + chunks
            .remainder()
            .iter()
            .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
            .unwrap_or(chunks.remainder().len())
}

/// The string inside raw JSON string text, borrowed when it has no escapes.
pub(crate) fn raw_string(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<(String, String)> {
        scan_object(text).unwrap().into_iter().map(|(k, v)| (k.into_owned(), v.to_string())).collect()
    }

    #[test]
    fn members_keep_exact_text() {
        let m = ok(" {\"a\" : 4.990 ,\"b\":\"x\\\"y\",\"c\":[1,{\"d\":null}],\"e\":true,\"\\u00e9\":-0e+5} ");
        let want =
            [("a", "4.990"), ("b", "\"x\\\"y\""), ("c", "[1,{\"d\":null}]"), ("e", "true"), ("é", "-0e+5")];
        assert_eq!(m, want.map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(ok("{}"), vec![]);
    }

    #[test]
    fn agrees_with_serde_json_on_validity() {
        let cases = [
            "{",
            "{}",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":1 \"b\":2}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":1e}",
            "{\"a\":-}",
            "{\"a\":+1}",
            "{\"a\":tru}",
            "{\"a\":nul}",
            "{\"a\":\"\t\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":[1,]}",
            "{\"a\":[}",
            "{\"a\":{]}",
            "{\"a\":[\"]\"]}",
            "{\"a\":1}x",
            "{\"a\":1}{}",
            "{\"a\":\"\\\\\"}",
            "{\"a\":NaN}",
            "{\"a\":[1 2]}",
            "{1:2}",
            "{\"a\":1e5,\"b\":-0.0E-7}",
        ];
        for text in cases {
            let ours = scan_object(text).is_ok();
            let theirs = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text).is_ok();
            assert_eq!(ours, theirs, "{text}");
        }
    }

    #[test]
    fn first_special_matches_a_plain_scan() {
        let plain = |b: &[u8]| b.iter().position(|&c| c < 0x20 || c == b'"' || c == b'\\').unwrap_or(b.len());
        let mut cases: Vec<Vec<u8>> = vec![vec![], b"abc".to_vec(), b"abcdefghijklmnop".to_vec()];
        for special in [b'"', b'\\', 0u8, 0x1f, b'\n'] {
            for pos in 0..20 {
                for len in pos + 1..24 {
                    let mut v: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    v[pos] = special;
                    cases.push(v);
                }
            }
        }
        cases.push("ÿé€🎮 \x7f\x21\x23\x5b\x5d".as_bytes().to_vec());
        cases.push(vec![0x80, 0xff, 0x7f, 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x22]);
        for c in cases {
            assert_eq!(first_special(&c), plain(&c), "{c:?}");
        }
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(scan_object(&deep), Err(ScanError::TooDeep { key: "a".into() }));
        let ok_depth = format!("{{\"a\":{}\"[[\\\"\"{}}}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(scan_object(&ok_depth).is_ok());
        let unbalanced = format!("{{\"a\":{}", "]".repeat(3));
        assert!(scan_object(&unbalanced).is_err());
    }
}
