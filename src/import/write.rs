//! A commented TOML document, written in order: tables, keys and the comments that say what was
//! guessed. Only the layout is ours: every key goes through [`key`] (table headers too, segment by
//! segment), every comment through [`comment_text`], every value through the `toml` crate's
//! serializer (a file's text through [`multi_line`]). A string of the Compose file therefore
//! never reaches the document unquoted, and can add no table, key or line of its own.

#[derive(Default)]
pub struct Document {
    text: String,
}

/// A TOML value as the spec writes it.
#[derive(Clone)]
pub enum Item {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<String>),
    /// `{ key = "value", ... }`.
    Inline(Vec<(String, String)>),
    /// A file's text, as a multi-line string.
    Text(String),
}

impl Document {
    /// `# text`, wrapped at 100 columns. Whatever `text` holds stays in comments: each character
    /// that would end a line is escaped first.
    pub fn comment(&mut self, text: &str) {
        let text = comment_text(text);
        let mut line = String::from("#");
        for word in text.split(' ') {
            if line.len() + 1 + word.len() > 100 && line.len() > 1 {
                self.text.push_str(&line);
                self.text.push('\n');
                line = String::from("#");
            }
            line.push(' ');
            line.push_str(word);
        }
        self.text.push_str(&line);
        self.text.push('\n');
    }

    /// `[a.b]`, from its path of keys (`&["params", name]`), each quoted as [`key`] says.
    pub fn table(&mut self, path: &[&str]) {
        self.text.push_str(&format!("\n[{}]\n", dotted(path)));
    }

    /// `[[a.b]]`, from its path of keys.
    pub fn array_table(&mut self, path: &[&str]) {
        self.text.push_str(&format!("\n[[{}]]\n", dotted(path)));
    }

    /// Text another document made.
    pub fn raw(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub fn blank(&mut self) {
        self.text.push('\n');
    }

    /// `key = value`, with a comment after it when `note` is given.
    pub fn pair(&mut self, name: &str, value: Item, note: Option<&str>) {
        let value = match value {
            Item::Str(s) => string(&s),
            Item::Int(i) => i.to_string(),
            Item::Bool(b) => b.to_string(),
            Item::List(items) => list(&items, name.len()),
            Item::Text(text) => multi_line(&text),
            Item::Inline(pairs) => {
                let fields: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{} = {}", key(k), string(v)))
                    .collect();
                format!("{{ {} }}", fields.join(", "))
            }
        };
        self.text.push_str(&format!("{} = {value}", key(name)));
        if let Some(note) = note {
            self.text.push_str(&format!("  # {}", comment_text(note)));
        }
        self.text.push('\n');
    }

    pub fn finish(self) -> String {
        self.text
    }
}

/// A key as TOML reads it back exactly: bare where TOML allows (letters, digits, `_`, `-`), else
/// a basic string on one line. Not the `toml` crate's value serializer: that writes a string with
/// a newline as a multi-line string, which is no key at all.
pub fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        return name.to_string();
    }
    let mut quoted = String::from("\"");
    for c in name.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            // TOML refuses control characters in a string; line separators are escaped too.
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                quoted.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A table's path, each key quoted as [`key`] says.
fn dotted(path: &[&str]) -> String {
    path.iter().map(|k| key(k)).collect::<Vec<_>>().join(".")
}

/// Text for a comment, one line whatever it holds: the same escaping as every generated file's.
pub use berth_backend::comment_text;

/// A TOML string value, as the `toml` crate writes one (escaped; multi-line when it holds a
/// newline, which a value may be).
fn string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A multi-line basic string: `"""`, a newline (which TOML drops), the text with `\` and `"`
/// escaped (so no run of quotes can end it early).
fn multi_line(text: &str) -> String {
    let mut out = String::from("\"\"\"\n");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push_str("\"\"\"");
    out
}

/// An array on one line, or one item a line when that would be long.
fn list(items: &[String], key_len: usize) -> String {
    let quoted: Vec<String> = items.iter().map(|i| string(i)).collect();
    let one_line = format!("[{}]", quoted.join(", "));
    if key_len + 3 + one_line.len() <= 100 {
        return one_line;
    }
    let lines: Vec<String> = quoted.iter().map(|q| format!("  {q},\n")).collect();
    format!("[\n{}]", lines.concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn writes_toml_that_reads_back() {
        let mut doc = Document::default();
        doc.comment("made by a test");
        doc.pair("name", Item::Str("a \"quoted\" name".into()), None);
        doc.table(&["container", "env"]);
        doc.pair(
            "elastic.password",
            Item::Inline(vec![
                ("secret".into(), "s".into()),
                ("key".into(), "k".into()),
            ]),
            Some("a secret"),
        );
        doc.pair(
            "args",
            Item::List((0..20).map(|i| format!("--flag-number-{i}")).collect()),
            None,
        );
        doc.pair("replicas", Item::Int(3), None);
        let tricky = "a \\ b\n\"\"\" c \u{7}\nends with \"";
        doc.pair("content", Item::Text(tricky.into()), None);
        let text = doc.finish();
        let value: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(value["name"].as_str(), Some("a \"quoted\" name"));
        assert_eq!(
            value["container"]["env"]["elastic.password"]["key"].as_str(),
            Some("k")
        );
        assert_eq!(
            value["container"]["env"]["args"].as_array().unwrap().len(),
            20
        );
        assert_eq!(value["container"]["env"]["content"].as_str(), Some(tricky));
    }

    /// The reproducer of issue 31: a key that closes its table and opens another.
    #[test]
    fn a_key_cannot_open_a_table() {
        let hostile = "x]\n[injected]\nhello = 1\n[params.y";
        let mut doc = Document::default();
        doc.table(&["params", hostile]);
        doc.pair("default", Item::Str(String::new()), Some(hostile));
        doc.table(&["container", "env"]);
        doc.pair(hostile, Item::Str(hostile.into()), None);
        doc.comment(hostile);
        let text = doc.finish();
        let value: toml::Table = toml::from_str(&text).unwrap();
        let tables: Vec<&String> = value.keys().collect();
        assert_eq!(tables, ["container", "params"], "{text}");
        assert!(value["params"].get(hostile).is_some(), "{text}");
        assert_eq!(value["container"]["env"][hostile].as_str(), Some(hostile));
    }

    /// Whether every line of `text`, split wherever a TOML or YAML reader may break one, is a
    /// comment.
    fn all_comments(text: &str) -> bool {
        text.trim_end_matches('\n')
            .split([
                '\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{2028}', '\u{2029}',
            ])
            .all(|line| line.starts_with('#'))
    }

    proptest! {
        /// Any string as a key, a table's key, a value and a comment reads back as exactly
        /// itself, and a comment stays in comments.
        #[test]
        fn any_string_stays_in_its_place(s in any::<String>(), t in "[\\PC\n\r\u{85}\u{2028}\u{2029}\u{b}\u{c}\"\\\\\\]\\[ ]{0,40}") {
            for s in [&s, &t] {
                let mut doc = Document::default();
                doc.table(&["params", s]);
                doc.pair(s, Item::Str(s.clone()), Some(s));
                doc.array_table(&["files", s]);
                doc.pair("content", Item::Text(s.clone()), None);
                let text = doc.finish();
                let value: toml::Table = toml::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
                prop_assert_eq!(value.len(), 2);
                prop_assert_eq!(value["params"][s.as_str()][s.as_str()].as_str(), Some(s.as_str()));
                prop_assert_eq!(value["files"][s.as_str()][0]["content"].as_str(), Some(s.as_str()));
                let mut comment = Document::default();
                comment.comment(s);
                let comment = comment.finish();
                prop_assert!(all_comments(&comment), "{:?}", comment);
                prop_assert!(toml::from_str::<toml::Table>(&comment).unwrap().is_empty());
            }
        }
    }
}
