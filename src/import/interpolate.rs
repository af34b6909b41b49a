//! Compose's interpolation, kept as references: `${VAR}`, `$VAR`, `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `${VAR:+other}`, `${VAR+other}` and `$$`.
//! A reference becomes a spec parameter (`{{params.var}}`); its value for the import's own
//! analysis is the `.env` file's beside the Compose file, else the default. The shell's
//! environment is not read: the same file imports to the same spec anywhere.

use std::collections::BTreeMap;

/// A string with its references to variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interpolated {
    pub parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Var(Reference),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub name: String,
    /// The value when the variable is not set (`:-`, `-`), if the file gives one.
    pub default: Option<String>,
    /// `:?` or `?`: compose refuses to run without it.
    pub required: bool,
}

/// The `.env` values beside a Compose file: `NAME=value` lines, `#` comments, optional quotes.
pub fn dotenv(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let unquoted = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), unquoted.to_string())
        })
        .collect()
}

/// Splits a Compose string into text and references; `Err` names a malformed reference.
pub fn parse(text: &str) -> Result<Interpolated, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        literal.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            literal.push('$');
            rest = after;
        } else if let Some(inner) = rest.strip_prefix('{') {
            let end = closing_brace(inner)?
                .ok_or_else(|| format!("`${{` without its `}}` in `{text}`"))?;
            push_text(&mut parts, &mut literal);
            parts.push(Part::Var(braced(&inner[..end])?));
            rest = &inner[end + 1..];
        } else {
            let name_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if name_len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
                literal.push('$');
                continue;
            }
            push_text(&mut parts, &mut literal);
            parts.push(Part::Var(Reference {
                name: rest[..name_len].to_string(),
                default: None,
                required: false,
            }));
            rest = &rest[name_len..];
        }
    }
    literal.push_str(rest);
    push_text(&mut parts, &mut literal);
    Ok(Interpolated { parts })
}

fn push_text(parts: &mut Vec<Part>, literal: &mut String) {
    if !literal.is_empty() {
        parts.push(Part::Text(std::mem::take(literal)));
    }
}

/// How deep defaults may nest (`${A:-${B:-x}}` is 2): each level is parsed again when its
/// default is resolved, so a deep nest costs the square of its length.
const NESTING_LIMIT: usize = 16;

/// The index of the `}` that closes a `${`, counting nested `${...}` in defaults; `Err` when
/// they nest deeper than [`NESTING_LIMIT`].
fn closing_brace(inner: &str) -> Result<Option<usize>, String> {
    let mut depth = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' if depth == NESTING_LIMIT => {
                return Err(format!(
                    "`${{...}}` nested more than {NESTING_LIMIT} deep in a default"
                ));
            }
            '{' => depth += 1,
            '}' if depth == 0 => return Ok(Some(i)),
            '}' => depth -= 1,
            _ => {}
        }
    }
    Ok(None)
}

/// `NAME`, `NAME:-default`, `NAME-default`, `NAME:?message`, `NAME?message`, `NAME:+x`, `NAME+x`.
fn braced(inside: &str) -> Result<Reference, String> {
    let name_len = inside
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inside.len());
    let name = &inside[..name_len];
    if name.is_empty() {
        return Err(format!("`${{{inside}}}` names no variable"));
    }
    let modifier = &inside[name_len..];
    let reference = |default: Option<&str>, required| Reference {
        name: name.to_string(),
        default: default.map(str::to_string),
        required,
    };
    Ok(match modifier {
        "" => reference(None, false),
        _ if modifier.starts_with(":-") => reference(Some(&modifier[2..]), false),
        _ if modifier.starts_with('-') => reference(Some(&modifier[1..]), false),
        _ if modifier.starts_with(":?") || modifier.starts_with('?') => reference(None, true),
        // `:+`/`+` give a value only when the variable is set; unset, as berth imports it, is "".
        _ if modifier.starts_with(":+") || modifier.starts_with('+') => reference(Some(""), false),
        _ => return Err(format!("`${{{inside}}}` is not a form compose knows")),
    })
}

impl Interpolated {
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(r) => Some(r),
            Part::Text(_) => None,
        })
    }

    /// The value compose would use, given the `.env` values (a default's own references are
    /// resolved the same way).
    pub fn resolve(&self, env: &BTreeMap<String, String>) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(t) => t.clone(),
                Part::Var(r) => env.get(&r.name).cloned().unwrap_or_else(|| {
                    let default = r.default.as_deref().unwrap_or("");
                    parse(default).map_or(default.to_string(), |d| d.resolve(env))
                }),
            })
            .collect()
    }

    /// Whether the string is exactly one reference (`${DB_PASSWORD}`).
    pub fn single_reference(&self) -> Option<&Reference> {
        match self.parts.as_slice() {
            [Part::Var(r)] => Some(r),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, default: Option<&str>, required: bool) -> Part {
        Part::Var(Reference {
            name: name.into(),
            default: default.map(Into::into),
            required,
        })
    }

    #[test]
    fn every_form_compose_knows() {
        let parsed = parse("a${X}b$Y-${Z:-z}${W-w}${R:?no}$$1${E:+e}").unwrap();
        assert_eq!(
            parsed.parts,
            vec![
                Part::Text("a".into()),
                var("X", None, false),
                Part::Text("b".into()),
                var("Y", None, false),
                Part::Text("-".into()),
                var("Z", Some("z"), false),
                var("W", Some("w"), false),
                var("R", None, true),
                Part::Text("$1".into()),
                var("E", Some(""), false),
            ]
        );
        let env = BTreeMap::from([("X".to_string(), "x".to_string())]);
        assert_eq!(parsed.resolve(&env), "axb-zw$1");
    }

    #[test]
    fn defaults_nested_too_deep_are_refused() {
        let deep = format!("{}x{}", "${A:-".repeat(20_000), "}".repeat(20_000));
        assert!(parse(&deep).unwrap_err().contains("nested more than"));
        let fine = format!(
            "{}x{}",
            "${A:-".repeat(NESTING_LIMIT),
            "}".repeat(NESTING_LIMIT)
        );
        assert!(parse(&fine).is_ok());
    }

    #[test]
    fn nested_defaults_and_errors() {
        let parsed = parse("${A:-${B:-b}}").unwrap();
        assert_eq!(parsed.resolve(&BTreeMap::new()), "b");
        assert!(parse("${A").is_err());
        assert!(parse("${:-x}").is_err());
    }

    #[test]
    fn dotenv_lines() {
        let env = dotenv("# c\nA=1\nexport B=\"two words\"\nC='3'\n\n");
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "two words");
        assert_eq!(env["C"], "3");
    }
}
