//! A commented TOML document, written in order: tables, keys and the comments that say what was
//! guessed. Values are quoted and escaped by the `toml` crate; only the layout is ours.

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
    /// `# text`, wrapped at 100 columns.
    pub fn comment(&mut self, text: &str) {
        for paragraph in text.lines() {
            let mut line = String::from("#");
            for word in paragraph.split(' ') {
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
    }

    pub fn table(&mut self, name: &str) {
        self.text.push_str(&format!("\n[{name}]\n"));
    }

    pub fn array_table(&mut self, name: &str) {
        self.text.push_str(&format!("\n[[{name}]]\n"));
    }

    /// Text another document made.
    pub fn raw(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub fn blank(&mut self) {
        self.text.push('\n');
    }

    /// `key = value`, with a comment after it when `note` is given.
    pub fn pair(&mut self, key: &str, value: Item, note: Option<&str>) {
        let value = match value {
            Item::Str(s) => string(&s),
            Item::Int(i) => i.to_string(),
            Item::Bool(b) => b.to_string(),
            Item::List(items) => list(&items, key.len()),
            Item::Text(text) => multi_line(&text),
            Item::Inline(pairs) => {
                let fields: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{} = {}", bare_key(k), string(v)))
                    .collect();
                format!("{{ {} }}", fields.join(", "))
            }
        };
        self.text.push_str(&format!("{} = {value}", bare_key(key)));
        if let Some(note) = note {
            self.text.push_str(&format!("  # {note}"));
        }
        self.text.push('\n');
    }

    pub fn finish(self) -> String {
        self.text
    }
}

/// A TOML basic string, escaped.
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

/// A key as written: bare where TOML allows it, else quoted.
fn bare_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        string(key)
    }
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

    #[test]
    fn writes_toml_that_reads_back() {
        let mut doc = Document::default();
        doc.comment("made by a test");
        doc.pair("name", Item::Str("a \"quoted\" name".into()), None);
        doc.table("container.env");
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
    }
}
