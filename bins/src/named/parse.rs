//! The named.conf grammar below the option level: tokens with file and line, comments in all
//! three styles (`#`, `//`, `/* */`), quoted strings, `include "file";`, and a tree of
//! statements.
//!
//! A statement is a sequence of items ended by `;`, where an item is a word (quoted or not) or
//! a `{ ... }` block of statements: `listen-on port 53 { 127.0.0.1; };` is the words
//! `listen-on`, `port`, `53` and a block holding one statement. This is the shape of every
//! statement BIND accepts, so the option layer ([`super::conf`]) never sees raw text.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Where a token came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    /// The file name as it was given (the main file or an `include`).
    pub file: Arc<str>,
    /// The 1-based line.
    pub line: u32,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A configuration error, printed as named-checkconf prints it: `FILE:LINE: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfError {
    /// Where; `None` when the main file itself cannot be opened.
    pub loc: Option<Loc>,
    /// What.
    pub message: String,
}

impl ConfError {
    /// An error at `loc`.
    pub fn at(loc: &Loc, message: impl Into<String>) -> Self {
        Self {
            loc: Some(loc.clone()),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.loc {
            Some(loc) => write!(f, "{loc}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfError {}

/// One item of a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A word or a quoted string.
    Word {
        /// The text (quotes removed).
        text: String,
        /// Whether it was quoted.
        quoted: bool,
        /// Where it was.
        loc: Loc,
    },
    /// A `{ ... }` block.
    Block {
        /// Its statements.
        stmts: Vec<Stmt>,
        /// Where its `{` was.
        loc: Loc,
    },
}

impl Item {
    /// Where the item starts.
    pub fn loc(&self) -> &Loc {
        match self {
            Self::Word { loc, .. } | Self::Block { loc, .. } => loc,
        }
    }

    /// How the item reads in an error message (`'{'` for a block).
    pub fn describe(&self) -> &str {
        match self {
            Self::Word { text, .. } => text,
            Self::Block { .. } => "{",
        }
    }
}

/// One statement: items up to a `;`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    /// The items; never empty.
    pub items: Vec<Item>,
    /// Where the terminating `;` was (BIND reports semantic errors there).
    pub end: Loc,
}

impl Stmt {
    /// The first item as a word (the statement's keyword), if it is one.
    pub fn keyword(&self) -> Option<&str> {
        match self.items.first() {
            Some(Item::Word { text, .. }) => Some(text),
            _ => None,
        }
    }

    /// Where the statement starts.
    pub fn loc(&self) -> &Loc {
        self.items.first().map_or(&self.end, Item::loc)
    }
}

/// Longest accepted configuration file (a bound, not a BIND limit).
pub const MAX_FILE: usize = 16 << 20;
/// How deep `include` may nest.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// How deep blocks may nest.
pub const MAX_BLOCK_DEPTH: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String, bool),
    Open,
    Close,
    Semi,
}

/// Splits one file into tokens.
fn lex(text: &str, file: &Arc<str>) -> Result<Vec<(Tok, Loc)>, ConfError> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    let mut line = 1u32;
    let loc = |line| Loc {
        file: Arc::clone(file),
        line,
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            _ if c.is_ascii_whitespace() => i += 1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = line;
                i += 2;
                loop {
                    match b.get(i) {
                        None => return Err(ConfError::at(&loc(start), "unterminated comment")),
                        Some(b'*') if b.get(i + 1) == Some(&b'/') => {
                            i += 2;
                            break;
                        }
                        Some(b'\n') => line += 1,
                        Some(_) => {}
                    }
                    i += 1;
                }
            }
            b'{' | b'}' | b';' => {
                let t = match c {
                    b'{' => Tok::Open,
                    b'}' => Tok::Close,
                    _ => Tok::Semi,
                };
                out.push((t, loc(line)));
                i += 1;
            }
            b'"' => {
                let start = line;
                let mut s = Vec::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(ConfError::at(&loc(start), "unterminated string")),
                        Some(b'"') => break,
                        Some(b'\\') if i + 1 < b.len() => {
                            i += 1;
                            if b[i] == b'\n' {
                                line += 1;
                            }
                            s.push(b[i]);
                        }
                        Some(&ch) => {
                            if ch == b'\n' {
                                line += 1;
                            }
                            s.push(ch);
                        }
                    }
                    i += 1;
                }
                i += 1;
                out.push((
                    Tok::Word(String::from_utf8_lossy(&s).into_owned(), true),
                    loc(start),
                ));
            }
            _ => {
                let start = i;
                while i < b.len() {
                    let ch = b[i];
                    let comment =
                        ch == b'#' || (ch == b'/' && matches!(b.get(i + 1), Some(b'/' | b'*')));
                    if ch.is_ascii_whitespace()
                        || matches!(ch, b'{' | b'}' | b';' | b'"')
                        || comment
                    {
                        break;
                    }
                    i += 1;
                }
                out.push((Tok::Word(text[start..i].to_owned(), false), loc(line)));
            }
        }
    }
    Ok(out)
}

/// Reads files; the seam that lets tests parse from memory.
pub trait Source {
    /// The text of `name`, or why it cannot be read (`"file not found"`).
    fn read(&mut self, name: &str) -> Result<String, String>;
}

/// Reads from the file system; relative names are relative to the current directory (as for
/// named-checkconf).
#[derive(Debug, Default, Clone, Copy)]
pub struct Files;

impl Source for Files {
    fn read(&mut self, name: &str) -> Result<String, String> {
        let path = Path::new(name);
        match std::fs::metadata(path) {
            Ok(m) if m.len() > MAX_FILE as u64 => return Err("file too large".into()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err("file not found".into());
            }
            Err(e) => return Err(e.to_string()),
        }
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }
}

/// Parses `name` (and its includes) into top-level statements.
pub fn parse_file(src: &mut dyn Source, name: &str) -> Result<Vec<Stmt>, ConfError> {
    let text = src.read(name).map_err(|e| ConfError {
        loc: None,
        message: format!("open: {name}: {e}"),
    })?;
    let mut p = Parser { src, depth: 0 };
    p.parse_text(&text, name)
}

struct Parser<'a> {
    src: &'a mut dyn Source,
    depth: usize,
}

impl Parser<'_> {
    fn parse_text(&mut self, text: &str, name: &str) -> Result<Vec<Stmt>, ConfError> {
        let file: Arc<str> = Arc::from(name);
        let toks = lex(text, &file)?;
        let eof = Loc {
            file,
            line: u32::try_from(text.lines().count().max(1)).unwrap_or(u32::MAX),
        };
        let mut pos = 0;
        let stmts = self.stmts(&toks, &mut pos, &eof, 0)?;
        match toks.get(pos) {
            None => Ok(stmts),
            Some((_, loc)) => Err(ConfError::at(loc, "unexpected '}'")),
        }
    }

    /// Statements until a `}` (left unconsumed) or the end.
    fn stmts(
        &mut self,
        toks: &[(Tok, Loc)],
        pos: &mut usize,
        eof: &Loc,
        depth: usize,
    ) -> Result<Vec<Stmt>, ConfError> {
        let mut out = Vec::new();
        loop {
            match toks.get(*pos) {
                None | Some((Tok::Close, _)) => return Ok(out),
                Some((Tok::Semi, _)) => *pos += 1,
                Some(_) => {
                    let stmt = self.stmt(toks, pos, eof, depth)?;
                    if stmt.keyword() == Some("include") {
                        out.extend(self.include(&stmt)?);
                    } else {
                        out.push(stmt);
                    }
                }
            }
        }
    }

    fn stmt(
        &mut self,
        toks: &[(Tok, Loc)],
        pos: &mut usize,
        eof: &Loc,
        depth: usize,
    ) -> Result<Stmt, ConfError> {
        let mut items = Vec::new();
        loop {
            let Some((tok, loc)) = toks.get(*pos) else {
                return Err(ConfError::at(eof, "missing ';' before end of file"));
            };
            match tok {
                Tok::Semi => {
                    *pos += 1;
                    return Ok(Stmt {
                        items,
                        end: loc.clone(),
                    });
                }
                Tok::Close => return Err(ConfError::at(loc, "missing ';' before '}'")),
                Tok::Word(text, quoted) => {
                    // A word right after a block starts a new statement unless the block's
                    // statement allows more (BIND's `allow { } keys { }`): accept both, but a
                    // block followed by a keyword of another statement is a missing ';'.
                    if matches!(items.last(), Some(Item::Block { .. }))
                        && !matches!(text.as_str(), "keys" | "read-only")
                    {
                        return Err(ConfError::at(loc, format!("missing ';' before '{text}'")));
                    }
                    items.push(Item::Word {
                        text: text.clone(),
                        quoted: *quoted,
                        loc: loc.clone(),
                    });
                    *pos += 1;
                }
                Tok::Open => {
                    if depth >= MAX_BLOCK_DEPTH {
                        return Err(ConfError::at(loc, "blocks nest too deep"));
                    }
                    *pos += 1;
                    let stmts = self.stmts(toks, pos, eof, depth + 1)?;
                    match toks.get(*pos) {
                        Some((Tok::Close, _)) => *pos += 1,
                        _ => return Err(ConfError::at(eof, "missing '}' before end of file")),
                    }
                    items.push(Item::Block {
                        stmts,
                        loc: loc.clone(),
                    });
                }
            }
        }
    }

    fn include(&mut self, stmt: &Stmt) -> Result<Vec<Stmt>, ConfError> {
        let name = match stmt.items.as_slice() {
            [_, Item::Word { text, .. }] => text.clone(),
            _ => return Err(ConfError::at(stmt.loc(), "expected quoted string")),
        };
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(ConfError::at(stmt.loc(), "include nests too deep"));
        }
        let text = self
            .src
            .read(&name)
            .map_err(|e| ConfError::at(stmt.loc(), format!("parsing failed: {e}")))?;
        self.depth += 1;
        let r = self.parse_text(&text, &name);
        self.depth -= 1;
        r
    }
}

/// Files in memory (tests).
#[cfg(test)]
pub(crate) struct Mem(pub(crate) std::collections::HashMap<String, String>);

#[cfg(test)]
impl Source for Mem {
    fn read(&mut self, name: &str) -> Result<String, String> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| "file not found".into())
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn parse(files: &[(&str, &str)]) -> Result<Vec<Stmt>, ConfError> {
        let mut m = Mem(files
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect());
        parse_file(&mut m, files[0].0)
    }

    fn words(s: &Stmt) -> Vec<&str> {
        s.items.iter().map(Item::describe).collect()
    }

    #[test]
    fn comments_strings_and_blocks() {
        let t = "# hash\n// slashes\n/* block\n comment */ options {\n  directory \"/var/x\";\n  listen-on port 53 { 127.0.0.1; };\n};\n";
        let s = parse(&[("n.conf", t)]).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(words(&s[0]), ["options", "{"]);
        assert_eq!(s[0].loc().line, 4);
        let Item::Block { stmts, .. } = &s[0].items[1] else {
            panic!("block");
        };
        assert_eq!(words(&stmts[0]), ["directory", "/var/x"]);
        assert_eq!(stmts[0].loc().line, 5);
        assert_eq!(words(&stmts[1]), ["listen-on", "port", "53", "{"]);
        assert_eq!(stmts[1].end.line, 6);
    }

    #[test]
    fn missing_semicolons_report_the_line_named_checkconf_reports() {
        let e = parse(&[(
            "b.conf",
            "options {\n  allow { any; }\n  forwarders { 1.2.3.4; };\n};\n",
        )])
        .unwrap_err();
        assert_eq!(e.to_string(), "b.conf:3: missing ';' before 'forwarders'");
        let e = parse(&[("f.conf", "options { directory \"/tmp\"; }")]).unwrap_err();
        assert_eq!(e.to_string(), "f.conf:1: missing ';' before end of file");
        let e = parse(&[("g.conf", "options { a; \n")]).unwrap_err();
        assert_eq!(e.loc.unwrap().line, 1);
        let e = parse(&[("h.conf", "};")]).unwrap_err();
        assert_eq!(e.to_string(), "h.conf:1: unexpected '}'");
    }

    #[test]
    fn includes_are_spliced_and_errors_name_the_included_file() {
        let s = parse(&[
            ("main.conf", "include \"inc.conf\";\noptions { };\n"),
            ("inc.conf", "\n\nacl a { any; };\n"),
        ])
        .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].keyword(), Some("acl"));
        assert_eq!(s[0].loc().to_string(), "inc.conf:3");
        let e = parse(&[("main.conf", "include \"nope.conf\";\n")]).unwrap_err();
        assert_eq!(e.to_string(), "main.conf:1: parsing failed: file not found");
        let e = parse(&[("a.conf", "include \"a.conf\";")]).unwrap_err();
        assert!(e.message.contains("too deep"), "{e}");
    }

    #[test]
    fn unterminated_things_are_errors_not_panics() {
        for t in ["\"abc", "/* abc", "options {", "options { a { b { ", "{{{{"] {
            assert!(parse(&[("x.conf", t)]).is_err(), "{t}");
        }
        let deep = "a {".repeat(100);
        assert!(parse(&[("x.conf", &deep)]).is_err());
    }

    #[test]
    fn controls_keeps_allow_and_keys_in_one_statement() {
        let s = parse(&[(
            "c.conf",
            "controls { inet 127.0.0.1 port 953 allow { 127.0.0.1; } keys { \"k\"; }; };",
        )])
        .unwrap();
        let Item::Block { stmts, .. } = &s[0].items[1] else {
            panic!("block");
        };
        assert_eq!(
            words(&stmts[0]),
            [
                "inet",
                "127.0.0.1",
                "port",
                "953",
                "allow",
                "{",
                "keys",
                "{"
            ]
        );
    }
}
