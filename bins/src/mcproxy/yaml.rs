//! A strict, line-based parser for the YAML subset nutcracker configurations use: top-level
//! pool names, each a block mapping of `key: scalar` entries, where a value may instead be a
//! block sequence of scalars (`servers:`). Scalars are plain, `'single'` or `"double"` quoted.
//! Comments (`#` at the start or after a blank) and `---` / `...` document markers are allowed.
//! Anything else (flow collections, anchors, nested mappings, tabs in indentation, multi-line
//! scalars) is refused with the line number, rather than half-understood.

use core::fmt;

/// A parse error with the 1-based line it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for YamlError {}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, YamlError> {
    Err(YamlError {
        line,
        message: message.into(),
    })
}

/// A value: one scalar, or a sequence of scalars with their lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    /// `key: value`.
    Scalar(String),
    /// `key:` followed by `- item` lines.
    List(Vec<(usize, String)>),
}

/// One `key: value` entry of a section, with the line of the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// The key.
    pub key: String,
    /// The line of the key.
    pub line: usize,
    /// The value.
    pub value: Value,
}

/// A top-level name and its mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Section {
    /// The name (nutcracker's pool name).
    pub name: String,
    /// The line of the name.
    pub line: usize,
    /// The entries, in file order; keys are unique.
    pub entries: Vec<Entry>,
}

/// The most bytes of configuration accepted.
pub(super) const MAX_INPUT: usize = 1 << 20;

/// Removes a comment that starts outside quotes (`#` at the start or after a blank).
fn strip_comment(s: &str) -> &str {
    let b = s.as_bytes();
    let mut quote = None;
    for (i, &c) in b.iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            // A quote only opens a quoted scalar at the start of a token.
            None if (c == b'\'' || c == b'"')
                && (i == 0 || matches!(b[i - 1], b' ' | b'-' | b':')) =>
            {
                quote = Some(c);
            }
            None if c == b'#' && (i == 0 || b[i - 1] == b' ') => return &s[..i],
            None => {}
        }
    }
    s
}

/// Parses one scalar (the text after `key: ` or `- `), already trimmed.
fn scalar(text: &str, line: usize) -> Result<String, YamlError> {
    let Some(first) = text.chars().next() else {
        return Ok(String::new());
    };
    match first {
        '\'' => {
            let mut out = String::new();
            let mut chars = text[1..].char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                if c == '\'' {
                    if chars.peek().is_some_and(|&(_, n)| n == '\'') {
                        chars.next();
                        out.push('\'');
                        continue;
                    }
                    let rest = text[1 + i + 1..].trim();
                    if !rest.is_empty() {
                        return err(
                            line,
                            format!("unexpected text after quoted value: {rest:?}"),
                        );
                    }
                    return Ok(out);
                }
                out.push(c);
            }
            err(line, "unterminated single-quoted value")
        }
        '"' => {
            let mut out = String::new();
            let mut chars = text[1..].char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        let rest = text[1 + i + 1..].trim();
                        if !rest.is_empty() {
                            return err(
                                line,
                                format!("unexpected text after quoted value: {rest:?}"),
                            );
                        }
                        return Ok(out);
                    }
                    '\\' => match chars.next().map(|(_, e)| e) {
                        Some('\\') => out.push('\\'),
                        Some('"') => out.push('"'),
                        Some('n') => out.push('\n'),
                        Some('t') => out.push('\t'),
                        Some('/') => out.push('/'),
                        Some(e) => return err(line, format!("unsupported escape \\{e}")),
                        None => break,
                    },
                    c => out.push(c),
                }
            }
            err(line, "unterminated double-quoted value")
        }
        '[' | '{' => err(
            line,
            "flow collections ([...] or {...}) are not supported; quote the value or use a block list",
        ),
        '&' | '*' | '!' | '|' | '>' | '%' | '@' | '`' => {
            err(line, format!("unsupported YAML syntax at {first:?}"))
        }
        _ => Ok(text.to_owned()),
    }
}

/// Splits `key: value` / `key:`; `None` when the line has no mapping colon.
fn split_key(s: &str) -> Option<(&str, &str)> {
    if let Some(k) = s.strip_suffix(':') {
        return (!k.contains(": ")).then_some((k, ""));
    }
    let at = s.find(": ")?;
    Some((&s[..at], s[at + 2..].trim_start()))
}

/// Parses the configuration text into sections.
pub(super) fn parse(text: &str) -> Result<Vec<Section>, YamlError> {
    if text.len() > MAX_INPUT {
        return err(0, format!("configuration larger than {MAX_INPUT} bytes"));
    }
    let mut sections: Vec<Section> = Vec::new();
    // The indentation of the current section's keys, once known.
    let mut key_indent: Option<usize> = None;
    // The indentation of the current list's dashes, once known.
    let mut list_indent: Option<usize> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let body = strip_comment(raw).trim_end();
        if body.trim().is_empty() {
            continue;
        }
        let indent = body.len() - body.trim_start_matches([' ', '\t']).len();
        if body[..indent].contains('\t') {
            return err(line, "tab in indentation (YAML allows only spaces)");
        }
        let s = &body[indent..];
        if indent == 0 && (s == "---" || s == "...") {
            continue;
        }
        if indent == 0 {
            let Some((name, rest)) = split_key(s) else {
                return err(line, format!("expected `<pool name>:`, found {s:?}"));
            };
            if !rest.is_empty() {
                return err(
                    line,
                    format!("expected `{name}:` to open a pool, with its keys below"),
                );
            }
            let name = scalar(name.trim(), line)?;
            if name.is_empty() {
                return err(line, "empty pool name");
            }
            if sections.iter().any(|p| p.name == name) {
                return err(line, format!("duplicate pool {name:?}"));
            }
            sections.push(Section {
                name,
                line,
                entries: Vec::new(),
            });
            key_indent = None;
            list_indent = None;
            continue;
        }
        let Some(section) = sections.last_mut() else {
            return err(line, "indented line before any pool name");
        };
        if s == "-" || s.starts_with("- ") {
            let Some(entry) = section.entries.last_mut() else {
                return err(line, "list item before any key");
            };
            let Value::List(items) = &mut entry.value else {
                return err(
                    line,
                    format!("list item under {:?}, which has a value", entry.key),
                );
            };
            let ki = key_indent.unwrap_or(0);
            if indent < ki {
                return err(line, "list item indented less than its key");
            }
            match list_indent {
                Some(li) if li != indent => {
                    return err(line, "list items must be indented alike");
                }
                _ => list_indent = Some(indent),
            }
            let item = s[1..].trim();
            if item.starts_with("- ") || item == "-" {
                return err(line, "nested lists are not supported");
            }
            if split_key(item).is_some() && !item.starts_with(['"', '\'']) {
                return err(line, "mappings inside lists are not supported");
            }
            items.push((line, scalar(item, line)?));
            continue;
        }
        match key_indent {
            Some(ki) if ki != indent => {
                return err(
                    line,
                    format!("inconsistent indentation: expected {ki} spaces, found {indent}"),
                );
            }
            _ => key_indent = Some(indent),
        }
        list_indent = None;
        let Some((key, rest)) = split_key(s) else {
            return err(line, format!("expected `key: value`, found {s:?}"));
        };
        let key = scalar(key.trim(), line)?;
        if section.entries.iter().any(|e| e.key == key) {
            return err(
                line,
                format!("duplicate key {key:?} in pool {:?}", section.name),
            );
        }
        let value = if rest.is_empty() {
            Value::List(Vec::new())
        } else {
            Value::Scalar(scalar(rest, line)?)
        };
        section.entries.push(Entry { key, line, value });
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# nutcracker.yml
alpha:
  listen: 127.0.0.1:22121
  hash: fnv1a_64   # the default
  hash_tag: \"{}\"
  distribution: ketama
  auto_eject_hosts: true
  servers:
   - 127.0.0.1:11211:1
   - 127.0.0.1:11212:1 cache-b

beta:
  listen: '127.0.0.1:22122'
  servers:
  - 127.0.0.1:11213:1
";

    #[test]
    fn nutcracker_sample_parses_into_pools() {
        let s = parse(SAMPLE).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "alpha");
        assert_eq!(s[0].line, 2);
        let keys: Vec<&str> = s[0].entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "listen",
                "hash",
                "hash_tag",
                "distribution",
                "auto_eject_hosts",
                "servers"
            ]
        );
        assert_eq!(s[0].entries[1].value, Value::Scalar("fnv1a_64".into()));
        assert_eq!(s[0].entries[2].value, Value::Scalar("{}".into()));
        assert_eq!(
            s[0].entries[5].value,
            Value::List(vec![
                (9, "127.0.0.1:11211:1".into()),
                (10, "127.0.0.1:11212:1 cache-b".into())
            ])
        );
        assert_eq!(
            s[1].entries[0].value,
            Value::Scalar("127.0.0.1:22122".into())
        );
        assert_eq!(
            s[1].entries[1].value,
            Value::List(vec![(15, "127.0.0.1:11213:1".into())])
        );
    }

    #[test]
    fn quoting_and_comments() {
        assert_eq!(scalar("'it''s'", 1).unwrap(), "it's");
        assert_eq!(scalar(r#""a\"b""#, 1).unwrap(), "a\"b");
        assert_eq!(strip_comment("a: 'x # y' # z"), "a: 'x # y' ");
        assert_eq!(strip_comment("a: x#y"), "a: x#y");
        assert!(scalar("'open", 3).is_err());
        assert!(scalar("\"a\" b", 3).is_err());
    }

    #[test]
    fn errors_carry_line_numbers() {
        let cases: &[(&str, usize, &str)] = &[
            ("a:\n  x: 1\n   y: 2\n", 3, "indentation"),
            ("a:\n  x: 1\n  x: 2\n", 3, "duplicate key"),
            ("a:\n  x: 1\na:\n  y: 1\n", 3, "duplicate pool"),
            ("  x: 1\n", 1, "before any pool"),
            ("a:\n\tx: 1\n", 2, "tab"),
            ("a: 1\n", 1, "open a pool"),
            ("a:\n  servers: [x, y]\n", 2, "flow"),
            ("a:\n  x: 1\n  - y\n", 3, "has a value"),
            ("a:\n  s:\n    - y\n   - z\n", 4, "alike"),
            ("a:\n  s:\n  - k: v\n", 3, "mappings"),
            ("a:\n  s: &anchor x\n", 2, "unsupported"),
            ("a:\n  justtext\n", 2, "key: value"),
        ];
        for &(text, line, what) in cases {
            let e = parse(text).expect_err(text);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(what), "{text:?}: {e}");
        }
    }

    #[test]
    fn document_markers_and_blank_lines_are_skipped() {
        let s = parse("---\n\n# c\na:\n\n  k: v\n...\n").unwrap();
        assert_eq!(s[0].entries[0].line, 6);
    }

    #[test]
    fn oversize_input_is_refused() {
        let big = "#".repeat(MAX_INPUT + 1);
        assert!(parse(&big).is_err());
    }
}
