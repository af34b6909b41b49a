//! The spec's `{{...}}` strings written in Go's text/template with Sprig's functions: the
//! language of Helm's charts. A chart computes with it what berth computes when it renders a
//! spec's string, so the translation must give the same text for the same context.
//!
//! Every variable is read from one Go expression, the context (`$ctx` in a chart's template), a
//! map laid out as [`Templates`](crate::template::Templates) lays out its own: `name`, `params`,
//! `port`, `self`, `peers`, `peer_hosts`, `member`, `members`. The translation covers what the
//! spec language documents: paths (`this`, `../`, `@root`, `peers.[0].host`), `@index`,
//! `@first`, `@last`, the blocks `each` (over lists), `if`, `unless` and their `else`, the
//! helpers `join` and `add`, and `eq`, `ne`, `not`, `and`, `or` in conditions. Anything else
//! is refused with the reason, never translated approximately. A path written past a list's end
//! (`{{peers.[2].host}}` with two members) fails with berth's `spec/undefined-variable`.
//!
//! Some differences depend on values, not on the string, so whoever writes the chart checks the
//! parameters' types: a float with an integral value (`2.0`) is written `2` by Go's JSON, as
//! are numbers past 2^53 or written with exponents differently; `each` over a table walks its
//! sorted keys in both but Go's index is the key; a list or table written whole (`{{peer_hosts}}`,
//! where `join` is meant) is written as JSON; `eq` of an integer and a float is true in Go.
//! `tests/suite/go_templates.rs` renders every example's strings and edge cases both ways.

use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement};
use handlebars::{Path, PathSeg};
use serde_json::Value;

/// Why a string has no translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untranslatable {
    pub reason: String,
}

fn refuse<T>(reason: impl Into<String>) -> Result<T, Untranslatable> {
    Err(Untranslatable {
        reason: reason.into(),
    })
}

/// `source`, a spec string, as a Go template reading its variables from the expression
/// `context` (`$ctx`, `.Values.ctx`).
pub fn to_go(source: &str, context: &str) -> Result<String, Untranslatable> {
    // Text without an expression is one raw string to Handlebars: no need to parse it.
    if !source.contains("{{") {
        return Ok(raw_text(source));
    }
    parsed_to_go(source, context)
}

fn parsed_to_go(source: &str, context: &str) -> Result<String, Untranslatable> {
    let parsed = crate::template::parsed(source).or_else(|e| refuse(e.reason))?;
    let template = &parsed.template;
    let mut writer = Writer {
        context: context.to_string(),
        blocks: Vec::new(),
        out: String::new(),
        variables: 0,
    };
    writer.template(template)?;
    Ok(writer.out)
}

/// An `each` block around the text being written: its Go variables and the list it walks.
struct Block {
    index: String,
    item: String,
    list: String,
}

struct Writer {
    context: String,
    blocks: Vec<Block>,
    out: String,
    /// Variables named so far, so that each gets a name of its own.
    variables: usize,
}

impl Writer {
    fn template(&mut self, template: &Template) -> Result<(), Untranslatable> {
        for element in &template.elements {
            self.element(element)?;
        }
        Ok(())
    }

    fn element(&mut self, element: &TemplateElement) -> Result<(), Untranslatable> {
        match element {
            TemplateElement::RawString(text) => {
                self.out.push_str(&raw_text(text));
                Ok(())
            }
            TemplateElement::Comment(_) => Ok(()),
            TemplateElement::Expression(helper) | TemplateElement::HtmlExpression(helper) => {
                self.expression(helper)
            }
            TemplateElement::HelperBlock(helper) => self.block(helper),
            _ => refuse("partials and decorators have no translation"),
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.variables += 1;
        format!("${prefix}{}", self.variables)
    }

    /// `{{path}}`, `{{add A B}}`, `{{join LIST SEP}}`: text written where it stands.
    fn expression(&mut self, helper: &HelperTemplate) -> Result<(), Untranslatable> {
        if helper.name.as_name() == Some("join") && !helper.params.is_empty() {
            return self.join(helper);
        }
        let value = self.helper_value(helper)?;
        if let Some(guard) = self
            .written_path(helper)?
            .map(|p| self.past_the_end(&p))
            .transpose()?
        {
            self.out.push_str(&guard);
        }
        let v = self.fresh("v");
        self.out.push_str(&scalar(&v, &value));
        Ok(())
    }

    /// The path `{{path}}` writes, if it writes one alone.
    fn written_path(&self, helper: &HelperTemplate) -> Result<Option<Path>, Untranslatable> {
        match (&helper.name, helper.params.is_empty()) {
            (Parameter::Name(name), true) if !is_helper(name) => Path::parse(name)
                .map(Some)
                .or_else(|_| refuse(format!("`{name}` is not a path"))),
            (Parameter::Path(path), true) => Ok(Some(path.clone())),
            _ => Ok(None),
        }
    }

    /// The Go that fails where berth does when a path it writes indexes past a list's end
    /// (`peers.[2].host` with two members): berth's strict rendering has no such variable.
    fn past_the_end(&self, path: &Path) -> Result<String, Untranslatable> {
        let Path::Relative((segments, raw)) = path else {
            return Ok(String::new());
        };
        let (base, rest) = self.base(segments, raw)?;
        let (_, within) = read_within(base, &rest)?;
        if within.is_empty() {
            return Ok(String::new());
        }
        let message = format!(
            "spec/undefined-variable: undefined template variable `{raw}`; help: use only indexes below the member count the values give"
        );
        Ok(format!(
            "{{{{ if not (and {}) }}}}{{{{ fail {} }}}}{{{{ end }}}}",
            within.join(" "),
            go_string(&message)
        ))
    }

    /// `join LIST SEP` as a loop, each item written as berth writes a value.
    fn join(&mut self, helper: &HelperTemplate) -> Result<(), Untranslatable> {
        let [list, separator] = helper.params.as_slice() else {
            return refuse("`join` takes a list and a separator");
        };
        let list = self.parameter(list)?;
        let separator = match separator {
            Parameter::Literal(Value::String(s)) => raw_text(s),
            other => {
                let value = self.parameter(other)?;
                let v = self.fresh("v");
                scalar(&v, &value)
            }
        };
        let (index, item) = (self.fresh("j"), self.fresh("x"));
        let v = self.fresh("v");
        self.out.push_str(&format!(
            "{{{{ range {index}, {item} := {list} }}}}{{{{ if {index} }}}}{separator}{{{{ end }}}}{}{{{{ end }}}}",
            scalar(&v, &item)
        ));
        Ok(())
    }

    fn block(&mut self, helper: &HelperTemplate) -> Result<(), Untranslatable> {
        if helper.block_param.is_some() || !helper.hash.is_empty() {
            return refuse("block parameters and hash arguments have no translation");
        }
        let name = helper.name.as_name().unwrap_or_default();
        let [argument] = helper.params.as_slice() else {
            return refuse(format!("`#{name}` takes one argument"));
        };
        let argument = self.parameter(argument)?;
        match name {
            "if" => self.conditional(&argument, helper),
            "unless" => self.conditional(&format!("(not {argument})"), helper),
            "each" => self.each(argument, helper),
            other => refuse(format!("the block `#{other}` has no translation")),
        }
    }

    fn conditional(
        &mut self,
        condition: &str,
        helper: &HelperTemplate,
    ) -> Result<(), Untranslatable> {
        self.out.push_str(&format!("{{{{ if {condition} }}}}"));
        self.body_and_inverse(helper)
    }

    fn each(&mut self, list: String, helper: &HelperTemplate) -> Result<(), Untranslatable> {
        let (index, item) = (self.fresh("i"), self.fresh("e"));
        self.out
            .push_str(&format!("{{{{ range {index}, {item} := {list} }}}}"));
        self.blocks.push(Block { index, item, list });
        let body = helper.template.as_ref().map(|t| self.template(t));
        self.blocks.pop();
        body.unwrap_or(Ok(()))?;
        self.inverse_and_end(helper)
    }

    fn body_and_inverse(&mut self, helper: &HelperTemplate) -> Result<(), Untranslatable> {
        if let Some(body) = &helper.template {
            self.template(body)?;
        }
        self.inverse_and_end(helper)
    }

    /// `{{else}}` (the block `{{else}}` opens is outside the `each`'s item), then the end.
    fn inverse_and_end(&mut self, helper: &HelperTemplate) -> Result<(), Untranslatable> {
        if let Some(inverse) = &helper.inverse {
            self.out.push_str("{{ else }}");
            self.template(inverse)?;
        }
        self.out.push_str("{{ end }}");
        Ok(())
    }

    /// A helper's value as a Go expression: a path alone, or a helper with its arguments.
    fn helper_value(&mut self, helper: &HelperTemplate) -> Result<String, Untranslatable> {
        if !helper.hash.is_empty() {
            return refuse("hash arguments have no translation");
        }
        match (&helper.name, helper.params.is_empty()) {
            (Parameter::Name(name), true) if !is_helper(name) => self.named(name),
            (Parameter::Path(path), true) => self.path(path),
            (Parameter::Name(name), false) => self.call(name, &helper.params),
            _ => refuse("this expression has no translation"),
        }
    }

    fn call(&mut self, name: &str, params: &[Parameter]) -> Result<String, Untranslatable> {
        let args = params
            .iter()
            .map(|p| self.parameter(p))
            .collect::<Result<Vec<_>, _>>()?;
        match (name, args.as_slice()) {
            // Berth's `add` reads decimal integers (Sprig's reads `010` as octal) and gives text.
            ("add", [a, b]) => Ok(format!("(toString (add {} {}))", integer(a), integer(b))),
            // Berth compares JSON values; `toJson` makes Go's `eq` do so across number types.
            ("eq", [a, b]) => Ok(format!("(eq (toJson {a}) (toJson {b}))")),
            ("ne", [a, b]) => Ok(format!("(ne (toJson {a}) (toJson {b}))")),
            ("not", [a]) => Ok(format!("(not {a})")),
            // Go's `and` and `or` give an operand; berth's give true or false.
            ("and" | "or", [_, _, ..]) => Ok(format!("(not (not ({name} {})))", args.join(" "))),
            _ => refuse(format!(
                "`{name}` with {} arguments has no translation",
                args.len()
            )),
        }
    }

    fn parameter(&mut self, parameter: &Parameter) -> Result<String, Untranslatable> {
        match parameter {
            Parameter::Name(name) => self.named(name),
            Parameter::Path(path) => self.path(path),
            Parameter::Literal(value) => literal(value),
            Parameter::Subexpression(sub) => match sub.as_element() {
                TemplateElement::Expression(helper) => self.helper_value(helper),
                _ => refuse("this subexpression has no translation"),
            },
            _ => refuse("this argument has no translation"),
        }
    }

    fn named(&mut self, name: &str) -> Result<String, Untranslatable> {
        let path = Path::parse(name).or_else(|_| refuse(format!("`{name}` is not a path")))?;
        self.path(&path)
    }

    /// A path as a Go expression: `@index`, `@first` and `@last` of an enclosing `each`, or a
    /// value read from the context, an `each`'s item, or an enclosing one's (`../`).
    fn path(&self, path: &Path) -> Result<String, Untranslatable> {
        match path {
            Path::Local((level, name, _)) => self.local(*level, name),
            Path::Relative((segments, raw)) => {
                let (base, rest) = self.base(segments, raw)?;
                read(base, &rest)
            }
        }
    }

    fn local(&self, level: usize, name: &str) -> Result<String, Untranslatable> {
        let Some(block) = self
            .blocks
            .len()
            .checked_sub(level + 1)
            .map(|at| &self.blocks[at])
        else {
            return refuse(format!("`@{name}` outside an `#each`"));
        };
        let index = &block.index;
        match name {
            "index" => Ok(index.clone()),
            "first" => Ok(format!("(eq {index} 0)")),
            "last" => Ok(format!("(eq {index} (sub (len {}) 1))", block.list)),
            other => refuse(format!("`@{other}` has no translation")),
        }
    }

    /// Where a relative path starts (the context, an item) and its named segments.
    fn base(
        &self,
        segments: &[PathSeg],
        raw: &str,
    ) -> Result<(String, Vec<String>), Untranslatable> {
        let names: Vec<String> = segments
            .iter()
            .filter_map(|s| match s {
                PathSeg::Named(name) => Some(name.clone()),
                _ => None,
            })
            .collect();
        if raw.starts_with("@root") {
            return Ok((self.context.clone(), names));
        }
        let ups = raw.matches("../").count();
        let base = match self.blocks.len().checked_sub(ups) {
            Some(0) => self.context.clone(),
            Some(depth) => self.blocks[depth - 1].item.clone(),
            None => return refuse(format!("`{raw}` goes above the outermost block")),
        };
        Ok((base, names))
    }
}

/// Reads `segments` below `base`: names from maps (an absent one reads as empty, as berth's `if`
/// sees it), numbers (`[0]`) from lists.
fn read(base: String, segments: &[String]) -> Result<String, Untranslatable> {
    read_within(base, segments).map(|(expression, _)| expression)
}

/// [`read`], and for each number read, the condition that it is within its list (Go's `and`
/// stops at the first false one, so each is read only where the ones before hold).
fn read_within(base: String, segments: &[String]) -> Result<(String, Vec<String>), Untranslatable> {
    let mut within = Vec::new();
    let mut expression = base;
    let mut keys: Vec<String> = Vec::new();
    let flush = |expression: &mut String, keys: &mut Vec<String>| {
        if !keys.is_empty() {
            // An absent value reads as an empty list: false to `if`, nothing to `each`.
            *expression = format!("(dig {} (list) {expression})", keys.join(" "));
            keys.clear();
        }
    };
    for (at, segment) in segments.iter().enumerate() {
        let bare = segment.trim_start_matches('[').trim_end_matches(']');
        if !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_digit()) {
            flush(&mut expression, &mut keys);
            let index: usize = bare.parse().or_else(|_| refuse("an index too large"))?;
            within.push(format!("(gt (len {expression}) {index})"));
            // Past the end is false (Go's `and` stops there), and a map to read on from.
            expression =
                format!("(and (gt (len {expression}) {index}) (index {expression} {index}))");
            if at + 1 < segments.len() {
                expression = format!("(default (dict) {expression})");
            }
        } else {
            keys.push(go_string(bare));
        }
    }
    flush(&mut expression, &mut keys);
    Ok((expression, within))
}

fn is_helper(name: &str) -> bool {
    matches!(name, "add" | "join" | "eq" | "ne" | "not" | "and" | "or")
}

/// Writes the value in `expression` as berth writes a value: a string as it is, anything else
/// as JSON (`3`, `true`, `1000000` where Go's `%v` writes `1e+06`).
fn scalar(variable: &str, expression: &str) -> String {
    format!(
        "{{{{ {variable} := {expression} }}}}{{{{ if kindIs \"string\" {variable} }}}}{{{{ {variable} }}}}{{{{ else }}}}{{{{ toJson {variable} }}}}{{{{ end }}}}"
    )
}

/// Text written as it stands: Go reads `{{` in text as an action, so it is written by one, and
/// so is a last `{`, which the action after it would extend to `{{{`.
fn raw_text(text: &str) -> String {
    let escaped = text.replace("{{", "{{ \"{{\" }}");
    match escaped.strip_suffix('{') {
        Some(rest) => format!("{rest}{{{{ \"{{\" }}}}"),
        None => escaped,
    }
}

/// An integer read as berth's `add` reads it: a number, or a string of decimal digits.
fn integer(expression: &str) -> String {
    format!("(atoi (trimAll \"\\\"\" (toJson {expression})))")
}

fn literal(value: &Value) -> Result<String, Untranslatable> {
    match value {
        Value::String(s) => Ok(go_string(s)),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => refuse("this literal has no translation"),
    }
}

/// A Go string literal: JSON's escapes are Go's, apart from `\u` of a surrogate pair, which
/// `serde_json` never writes (it writes such characters as they are).
fn go_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

#[cfg(test)]
mod tests {
    use super::{parsed_to_go, to_go};

    #[test]
    fn paths_read_the_context() {
        assert_eq!(
            to_go("{{params.version}}", "$ctx").unwrap(),
            "{{ $v1 := (dig \"params\" \"version\" (list) $ctx) }}{{ if kindIs \"string\" $v1 }}{{ $v1 }}{{ else }}{{ toJson $v1 }}{{ end }}"
        );
    }

    #[test]
    fn text_without_expressions_reads_as_handlebars_reads_it() {
        for text in ["", "a", "x{", "a}}b", r"back\slash \", "{ {", "}}", "a\n{"] {
            assert_eq!(to_go(text, "$ctx"), parsed_to_go(text, "$ctx"), "{text}");
        }
    }

    #[test]
    fn go_actions_in_text_stay_text() {
        assert_eq!(
            to_go(r"a \{{b}} }}", "$ctx").unwrap(),
            "a {{ \"{{\" }}b}} }}"
        );
    }

    #[test]
    fn each_names_its_item_and_index() {
        let go = to_go("{{#each peers}}{{@index}}={{this.host}}{{/each}}", "$ctx").unwrap();
        assert!(
            go.starts_with("{{ range $i1, $e2 := (dig \"peers\" (list) $ctx) }}"),
            "{go}"
        );
        assert!(go.contains("(dig \"host\" (list) $e2)"), "{go}");
    }

    #[test]
    fn what_has_no_translation_is_refused() {
        for source in [
            "{{> partial}}",
            "{{#with params}}{{x}}{{/with}}",
            "{{lookup peers 0}}",
        ] {
            assert!(to_go(source, "$ctx").is_err(), "{source}");
        }
        assert!(to_go("{{#each peers}}{{../../x}}{{/each}}", "$ctx").is_err());
    }
}
