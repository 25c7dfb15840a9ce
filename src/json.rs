//! The one JSON writer behind every `--json` output (`status`, `log`, `check`): strings escaped as RFC 8259 asks
//! (quote, backslash, every control character), so file names with newlines or quotes stay valid JSON.

use std::fmt::Write;

/// `s` as a JSON string, quotes included.
pub fn string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A JSON array of strings.
pub fn strings<I: IntoIterator<Item = S>, S: AsRef<str>>(items: I) -> String {
    let v: Vec<String> = items.into_iter().map(|s| string(s.as_ref())).collect();
    format!("[{}]", v.join(","))
}

/// A JSON object built field by field, in order.
#[derive(Default)]
pub struct Object {
    buf: String,
}

impl Object {
    pub fn new() -> Self {
        Self::default()
    }

    /// A field whose value is already JSON (a number, a boolean, a nested object or array).
    pub fn raw(mut self, key: &str, json: impl std::fmt::Display) -> Self {
        self.buf.push(if self.buf.is_empty() { '{' } else { ',' });
        let _ = write!(self.buf, "{}:{json}", string(key));
        self
    }

    /// A string field.
    pub fn str(self, key: &str, value: &str) -> Self {
        let v = string(value);
        self.raw(key, v)
    }

    pub fn finish(mut self) -> String {
        if self.buf.is_empty() {
            self.buf.push('{');
        }
        self.buf.push('}');
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(string("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(string("\u{1}\u{7f}é"), "\"\\u0001\\u007fé\"");
        assert_eq!(strings(["x", "y\"z"]), "[\"x\",\"y\\\"z\"]");
    }

    #[test]
    fn objects() {
        let o = Object::new()
            .str("file", "a\nb")
            .raw("trusted", false)
            .finish();
        assert_eq!(o, "{\"file\":\"a\\nb\",\"trusted\":false}");
        assert_eq!(Object::new().finish(), "{}");
    }
}
