//! The same pools written in TOML: one table per pool, the nutcracker keys as its keys
//! (`servers` and `failover` arrays of strings), turned into the [`Section`]s the YAML
//! reader makes so both formats are checked by the same code, with lines for every mistake.
//!
//! ```toml
//! [alpha]
//! listen = "127.0.0.1:22121"
//! hash = "fnv1a_64"
//! auto_eject_hosts = true
//! timeout = 400
//! servers = ["127.0.0.1:11211:1 cache-a", "127.0.0.1:11212:1 cache-b"]
//! ```

use std::collections::BTreeMap;

use toml::Spanned;

use super::yaml::{Entry, MAX_INPUT, Section, Value};

type Pool = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// The 1-based line of byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses `text` into pool sections in file order; errors carry a 1-based line.
pub(super) fn parse(text: &str) -> Result<Vec<Section>, (usize, String)> {
    if text.len() > MAX_INPUT {
        return Err((0, format!("more than {MAX_INPUT} bytes")));
    }
    let pools: BTreeMap<Spanned<String>, Spanned<Pool>> = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(text, s.start));
        (line, e.message().to_owned())
    })?;
    let mut sections = Vec::with_capacity(pools.len());
    for (name, table) in pools {
        let mut entries = Vec::with_capacity(table.get_ref().len());
        for (key, value) in table.into_inner() {
            let line = line_of(text, key.span().start);
            let value = match value.into_inner() {
                toml::Value::String(s) => Value::Scalar(s),
                toml::Value::Integer(n) => Value::Scalar(n.to_string()),
                toml::Value::Boolean(b) => Value::Scalar(b.to_string()),
                toml::Value::Array(items) => Value::List(
                    items
                        .into_iter()
                        .map(|v| match v {
                            toml::Value::String(s) => Ok((line, s)),
                            _ => Err((line, format!("{}: expected strings", key.get_ref()))),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                _ => {
                    return Err((
                        line,
                        format!(
                            "{}: expected a string, an integer, true or false, or a list of strings",
                            key.get_ref()
                        ),
                    ));
                }
            };
            entries.push(Entry {
                key: key.into_inner(),
                line,
                value,
            });
        }
        entries.sort_by_key(|e| e.line);
        sections.push(Section {
            line: line_of(text, name.span().start),
            name: name.into_inner(),
            entries,
        });
    }
    sections.sort_by_key(|s| s.line);
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_keep_file_order_and_lines() {
        let text = "[zeta]\nlisten = \"127.0.0.1:1\"\nservers = [\"127.0.0.1:2:1\"]\n\n\
                    [alpha]\ntimeout = -1\nauto_eject_hosts = true\nlisten = \"127.0.0.1:3\"\n";
        let s = parse(text).unwrap();
        assert_eq!(s[0].name, "zeta");
        assert_eq!(s[0].line, 1);
        assert_eq!(s[0].entries[1].key, "servers");
        assert_eq!(
            s[0].entries[1].value,
            Value::List(vec![(3, "127.0.0.1:2:1".into())])
        );
        assert_eq!(s[1].name, "alpha");
        assert_eq!(s[1].line, 5);
        let keys: Vec<_> = s[1]
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.line))
            .collect();
        assert_eq!(
            keys,
            [("timeout", 6), ("auto_eject_hosts", 7), ("listen", 8)]
        );
        assert_eq!(s[1].entries[0].value, Value::Scalar("-1".into()));
        assert_eq!(s[1].entries[1].value, Value::Scalar("true".into()));
    }

    #[test]
    fn what_toml_cannot_mean_here_is_refused_with_its_line() {
        for (text, line, what) in [
            ("[p]\nlisten = 1.5\n", 2, "expected a string"),
            ("[p]\nservers = [1, 2]\n", 2, "expected strings"),
            ("[p]\nlisten = \"a\"\nlisten = \"b\"\n", 3, "duplicate"),
            ("listen = \"a\"\n", 1, ""),
            ("[p]\nlisten = \n", 2, ""),
        ] {
            let (l, m) = parse(text).expect_err(text);
            assert_eq!(l, line, "{text}: {m}");
            assert!(m.contains(what), "{text}: {m}");
        }
    }
}
