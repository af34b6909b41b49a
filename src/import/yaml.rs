//! A Compose file read as a tree of YAML nodes, each with its byte range in the file, so that
//! what `berth import` says about a service points at the line that made it. serde-saphyr parses
//! (anchors, aliases and `<<` merge keys expanded); scalars are kept as the text they hold.

use berth_diagnostic::source::{FileId, Span};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// One YAML node and where it stands.
#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum Value {
    Null,
    /// A string, number or boolean, as text (`8080`, `0.5`, `true`).
    Scalar(String),
    Seq(Vec<Node>),
    /// Keys in file order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn synthetic(value: Value, span: Span) -> Node {
        Node { value, span }
    }

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }
}

/// Parses a Compose file; a syntax error says where.
pub fn parse(text: &str, file: FileId) -> Result<Node, (String, Option<Span>)> {
    let tree: Spanned<Tree> = serde_saphyr::from_str(text).map_err(|e| {
        let span = e.location().and_then(|l| byte_range(text, &l, file));
        let message = plain(&e).unwrap_or_else(|| first_line(&e.to_string()));
        (message, span)
    })?;
    Ok(to_node(tree, text, file))
}

fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message);
    // The span shows where; the parser's own `error: line L column C: ` says it again.
    let after = line
        .strip_prefix("error: ")
        .and_then(|rest| {
            rest.split_once(": ")
                .filter(|(at, _)| at.starts_with("line "))
        })
        .map_or(line, |(_, said)| said);
    after.to_string()
}

/// What the parser's errors that name its own options or structures mean, in the user's terms:
/// a key given twice, a file past berth's reading limits.
fn plain(error: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::Error;
    use serde_saphyr::budget::BudgetBreach;
    let mut inner = error;
    while let Error::WithSnippet { error, .. } | Error::AliasError { error, .. } = inner {
        inner = error;
    }
    match inner {
        Error::DuplicateMappingKey { key, .. } => Some(match key {
            Some(key) => format!(
                "`{}` is given twice in one mapping, which compose refuses too",
                super::write::comment_text(key)
            ),
            None => "a key is given twice in one mapping, which compose refuses too".into(),
        }),
        Error::Budget { breach, .. } => {
            let what = match breach {
                BudgetBreach::Nodes { nodes } => format!("more than {} values", nodes - 1),
                BudgetBreach::Events { .. } => "too many YAML events".into(),
                BudgetBreach::Aliases { .. } | BudgetBreach::AliasAnchorRatio { .. } => {
                    "too many aliases (`*name`)".into()
                }
                BudgetBreach::Anchors { .. } => "too many anchors (`&name`)".into(),
                BudgetBreach::Depth { depth } => format!("nesting {depth} deep"),
                BudgetBreach::Documents { .. } => "too many documents".into(),
                BudgetBreach::ScalarBytes { .. } | BudgetBreach::InputBytes { .. } => {
                    "too much text".into()
                }
                BudgetBreach::MergeKeys { .. } => "too many merge keys (`<<`)".into(),
                _ => "more than berth reads".into(),
            };
            Some(format!(
                "the file is larger than berth reads as YAML: {what}, with its aliases expanded"
            ))
        }
        _ => None,
    }
}

/// The tree as serde-saphyr gives it, before spans are made byte ranges of our file.
enum Tree {
    Null,
    Scalar(String),
    Seq(Vec<Spanned<Tree>>),
    Map(Vec<(Spanned<Tree>, Spanned<Tree>)>),
}

fn to_node(tree: Spanned<Tree>, text: &str, file: FileId) -> Node {
    let span = byte_range(text, &tree.referenced, file).unwrap_or(Span::new(file, 0..0));
    let value = match tree.value {
        Tree::Null => Value::Null,
        Tree::Scalar(s) => Value::Scalar(s),
        Tree::Seq(items) => Value::Seq(items.into_iter().map(|i| to_node(i, text, file)).collect()),
        Tree::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (to_node(k, text, file), to_node(v, text, file)))
                .collect(),
        ),
    };
    Node { value, span }
}

/// The byte range of a location: its byte offset when the parser knows it, else its line and
/// column counted in the text.
fn byte_range(text: &str, location: &serde_saphyr::Location, file: FileId) -> Option<Span> {
    if location.line() == 0 {
        return None;
    }
    let start = match location.span().byte_offset() {
        Some(offset) => offset as usize,
        None => {
            let line_start: usize = text
                .split_inclusive('\n')
                .take(location.line() as usize - 1)
                .map(str::len)
                .sum();
            let column = location.column() as usize - 1;
            line_start
                + text[line_start..]
                    .char_indices()
                    .nth(column)
                    .map_or(0, |(i, _)| i)
        }
    };
    let start = start.min(text.len());
    let len = location.span().byte_len().unwrap_or(0) as usize;
    let end = (start + len.max(1)).min(text.len());
    Some(Span::new(file, start..end))
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Tree, D::Error> {
        deserializer.deserialize_any(TreeVisitor)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Tree, E> {
        Ok(Tree::Scalar(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Tree, E> {
        Ok(Tree::Scalar(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tree, E> {
        Ok(Tree::Scalar(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Tree, E> {
        Ok(Tree::Scalar(v.to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Tree, E> {
        Ok(Tree::Scalar(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Tree, E> {
        Ok(Tree::Scalar(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Tree>>()? {
            items.push(item);
        }
        Ok(Tree::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries: Vec<(Spanned<Tree>, Spanned<Tree>)> = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Tree>>()? {
            let value = map.next_value::<Spanned<Tree>>()?;
            // A key given again (after a `<<` merge) replaces the earlier value in place.
            let same = |k: &Spanned<Tree>| matches!((&k.value, &key.value), (Tree::Scalar(a), Tree::Scalar(b)) if a == b);
            match entries.iter().position(|(k, _)| same(k)) {
                Some(at) => entries[at] = (key, value),
                None => entries.push((key, value)),
            }
        }
        Ok(Tree::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_and_expands_anchors_and_merge_keys() {
        let text = "x-common: &common\n  image: etcd:3\n  restart: always\nservices:\n  a:\n    <<: *common\n    restart: \"no\"\n    ports:\n      - 2379:2379\n";
        let root = parse(text, 0).unwrap();
        let a = root.get("services").unwrap().get("a").unwrap();
        assert_eq!(a.get("image").unwrap().as_str(), Some("etcd:3"));
        assert_eq!(a.get("restart").unwrap().as_str(), Some("no"));
        let port = &a.get("ports").unwrap().items()[0];
        assert_eq!(port.as_str(), Some("2379:2379"));
        assert_eq!(&text[port.span.range.clone()][..9], "2379:2379");
    }

    #[test]
    fn a_syntax_error_says_where() {
        let (message, span) = parse("services:\n  a: [1, 2\n", 0).unwrap_err();
        assert!(
            !message.is_empty() && !message.starts_with("error: line"),
            "{message}"
        );
        assert!(span.is_some());
    }

    /// Issue 29 item 11: a duplicate key and an alias bomb are said in the user's terms, not
    /// the parser's (`set DuplicateKeyPolicy in Options`, `Nodes { nodes: ... }`).
    #[test]
    fn the_parsers_internals_are_not_shown() {
        let (message, span) =
            parse("services:\n  db:\n    image: a\n    image: b\n", 0).unwrap_err();
        assert_eq!(
            message,
            "`image` is given twice in one mapping, which compose refuses too"
        );
        assert!(span.is_some());
        let mut bomb = String::from("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n");
        for (name, from) in ["bcdef".chars().zip("abcde".chars())].into_iter().flatten() {
            bomb.push_str(&format!(
                "{name}: &{name} [{}]\n",
                vec![format!("*{from}"); 9].join(", ")
            ));
        }
        let (message, _) = parse(&bomb, 0).unwrap_err();
        assert!(
            message.starts_with("the file is larger than berth reads as YAML"),
            "{message}"
        );
        assert!(!message.contains('{'), "{message}");
    }
}
