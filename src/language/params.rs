//! Typed parameters: declared under `[params.NAME]`, overridden by `--values FILE` and then by
//! `--set NAME=VALUE`. A parameter's type is the TOML type of its `default`; a `required` one is
//! a string without a default, which a compile without its value refuses.

use crate::spec::{ParamDecl, backticked};
use berth_diagnostic::errors;
use berth_diagnostic::source::{FileId, Span};
use berth_diagnostic::{Diagnostic, closest};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ParamType {
    String,
    Integer,
    Bool,
}

impl ParamType {
    fn of(value: &toml::Value) -> Option<Self> {
        match value {
            toml::Value::String(_) => Some(ParamType::String),
            toml::Value::Integer(_) => Some(ParamType::Integer),
            toml::Value::Boolean(_) => Some(ParamType::Bool),
            _ => None,
        }
    }

    fn word(self) -> &'static str {
        match self {
            ParamType::String => "a string",
            ParamType::Integer => "an integer",
            ParamType::Bool => "a boolean",
        }
    }
}

/// One `--set NAME=VALUE` argument, or one key of a `--values` file, with where it was written.
pub struct Override {
    pub name: String,
    pub value: OverrideValue,
    pub span: Span,
    pub origin: &'static str,
}

pub enum OverrideValue {
    /// From `--set`: converted to the parameter's type.
    Text(String),
    /// From a `--values` file: must already have the parameter's type.
    Toml(toml::Value),
}

/// Splits the `--set` arguments, which live in one pseudo-file (one argument per line).
pub fn parse_set_args(args: &[String], file: FileId) -> Result<Vec<Override>, Diagnostic> {
    let mut offset = 0;
    let mut overrides = Vec::new();
    for arg in args {
        let span = Span::new(file, offset..offset + arg.len());
        offset += arg.len() + 1;
        let Some((name, value)) = arg.split_once('=') else {
            return Err(
                Diagnostic::input(&errors::CLI_USAGE, format!("`--set {arg}` has no `=`"))
                    .at(Some(span), "expected NAME=VALUE")
                    .help("write `--set NAME=VALUE`"),
            );
        };
        if value.contains(crate::spec::reserved) {
            return Err(Diagnostic::input(
                &errors::SPEC_INVALID_VALUE,
                format!("`--set {name}` holds a character berth reserves (U+F0000 and up)"),
            )
            .at(Some(span), "reserved character")
            .help("remove the private-use character from the value"));
        }
        overrides.push(Override {
            name: name.trim().to_string(),
            value: OverrideValue::Text(value.to_string()),
            span,
            origin: "--set",
        });
    }
    Ok(overrides)
}

/// Reads a `--values` file: a TOML table of `NAME = value` lines.
pub fn parse_values_file(text: &str, file: FileId) -> Result<Vec<Override>, Diagnostic> {
    let table: BTreeMap<Spanned<String>, Spanned<toml::Value>> =
        toml::from_str(text).map_err(|e| crate::spec::toml_error_to_diagnostic(&e, file))?;
    if let Some((name, value)) = table.iter().find(|(_, v)| holds_nul(v.get_ref())) {
        return Err(Diagnostic::input(
            &errors::SPEC_INVALID_VALUE,
            format!(
                "the value of `{}` holds a NUL byte or a character berth reserves (U+F0000 and up)",
                name.get_ref()
            ),
        )
        .at(Some(Span::new(file, value.span())), "reserved character")
        .help("remove the `\\u0000` from the value"));
    }
    Ok(table
        .into_iter()
        .map(|(name, value)| {
            let start = name.span().start;
            let end = value.span().end;
            Override {
                name: name.into_inner(),
                value: OverrideValue::Toml(value.into_inner()),
                span: Span::new(file, start..end),
                origin: "--values",
            }
        })
        .collect())
}

fn holds_nul(value: &toml::Value) -> bool {
    match value {
        toml::Value::String(s) => s.contains(crate::spec::reserved),
        toml::Value::Array(items) => items.iter().any(holds_nul),
        toml::Value::Table(table) => table.values().any(holds_nul),
        _ => false,
    }
}

/// A parameter as its spec declares it, for a package manager's list of values (a Helm chart's
/// `values.yaml` and `values.schema.json`).
#[derive(Clone, Debug, PartialEq)]
pub struct Declared {
    pub name: String,
    pub description: Option<String>,
    pub kind: Kind,
    /// `None` for a required parameter.
    pub default: Option<Value>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub values: Option<Vec<String>>,
    /// The regular expression the whole value matches, as written.
    pub pattern: Option<String>,
}

impl Declared {
    /// Whether the parameter's `pattern`, if it has one, matches the whole of `text`.
    pub fn matches_pattern(&self, text: &str) -> bool {
        (self.pattern.as_ref()).is_none_or(|p| whole_match(p).is_ok_and(|r| r.is_match(text)))
    }
}

/// The type of a parameter's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Boolean,
}

/// The declarations of a spec whose parameters [`resolve`] accepted, in name order.
pub fn declared(decls: &BTreeMap<Spanned<String>, Spanned<ParamDecl>>) -> Vec<Declared> {
    decls
        .iter()
        .filter_map(|(name, decl)| {
            let decl = decl.get_ref();
            let kind = match decl.default.as_ref().map(|d| ParamType::of(d.get_ref())) {
                None => ParamType::String,
                Some(ty) => ty?,
            };
            Some(Declared {
                name: name.get_ref().clone(),
                description: decl.description.clone(),
                kind: match kind {
                    ParamType::String => Kind::String,
                    ParamType::Integer => Kind::Integer,
                    ParamType::Bool => Kind::Boolean,
                },
                default: decl.default.as_ref().map(|d| to_json(d.get_ref())),
                min: decl.min.as_ref().map(|m| *m.get_ref()),
                max: decl.max.as_ref().map(|m| *m.get_ref()),
                values: decl.values.as_ref().map(|v| v.get_ref().clone()),
                pattern: decl.pattern.as_ref().map(|p| p.get_ref().clone()),
            })
        })
        .collect()
}

/// The parameters among `names` that a structural template may read: each one its actions name
/// (`params.NAME`, `params.[NAME]`), and every one where an action reads `params` whole.
pub fn mentioned<'n>(source: &str, names: impl Iterator<Item = &'n str>) -> Vec<&'n str> {
    let actions: Vec<&str> = crate::template::actions(source).collect();
    let whole = actions.iter().any(|action| {
        action
            .match_indices("params")
            .any(|(at, _)| !action[at + "params".len()..].starts_with('.'))
    });
    // What follows each `params.` of the actions: `NAME` or `[NAME]`, then the rest.
    let fields: Vec<&str> = actions
        .iter()
        .flat_map(|action| {
            let fields = action.match_indices("params.");
            fields.map(|(at, _)| &action[at + "params.".len()..])
        })
        .collect();
    let identifier = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let names_it = |field: &str, name: &str| match field.strip_prefix('[') {
        Some(quoted) => quoted
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(']')),
        None => field
            .strip_prefix(name)
            .is_some_and(|rest| !rest.starts_with(identifier)),
    };
    names
        .filter(|name| whole || fields.iter().any(|field| names_it(field, name)))
        .collect()
}

/// Where a parameter's final value came from, for diagnostics about values it fed.
#[derive(Clone, Debug)]
pub struct ParamOrigin {
    pub value: String,
    /// `its default`, `--set` or `--values`.
    pub origin: &'static str,
    pub span: Option<Span>,
}

/// The final value of every parameter (the template context's `params` map), and where each came from.
pub fn resolve(
    decls: &BTreeMap<Spanned<String>, Spanned<ParamDecl>>,
    overrides: &[Override],
    spec_file: FileId,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Map<String, Value>, BTreeMap<String, ParamOrigin>) {
    let mut types = BTreeMap::new();
    let mut values = Map::new();
    let mut origins = BTreeMap::new();
    for (name, decl) in decls {
        let Some(ty) = declared_type(name, decl.get_ref(), spec_file, diagnostics) else {
            continue;
        };
        types.insert(name.get_ref().clone(), (ty, decl));
        let Some(default) = &decl.get_ref().default else {
            continue;
        };
        values.insert(name.get_ref().clone(), to_json(default.get_ref()));
        origins.insert(
            name.get_ref().clone(),
            ParamOrigin {
                value: shown(default.get_ref()),
                origin: "its default",
                span: Some(Span::new(spec_file, default.span())),
            },
        );
    }
    for o in overrides {
        let Some(value) = overridden(o, &types, diagnostics) else {
            continue;
        };
        origins.insert(
            o.name.clone(),
            ParamOrigin {
                value: shown(&value),
                origin: o.origin,
                span: Some(o.span.clone()),
            },
        );
        values.insert(o.name.clone(), to_json(&value));
    }
    // Like compose's `${VAR:?}`, an empty value is no value; a refused override was said already.
    let overridden: Vec<&str> = overrides.iter().map(|o| o.name.as_str()).collect();
    for (name, _) in decls.iter().filter(|(_, d)| d.get_ref().required) {
        let given = values.get(name.get_ref()).is_some_and(|v| v != "");
        let refused =
            !values.contains_key(name.get_ref()) && overridden.contains(&name.get_ref().as_str());
        if !given && !refused && types.contains_key(name.get_ref()) {
            diagnostics.push(
                Diagnostic::input(
                    &errors::SPEC_INVALID_VALUE,
                    format!(
                        "parameter `{}` is required and has no value",
                        name.get_ref()
                    ),
                )
                .at(Some(Span::new(spec_file, name.span())), "required")
                .help(format!(
                    "give it with `--set {}=VALUE` or in a `--values` file",
                    name.get_ref()
                )),
            );
        }
    }
    (values, origins)
}

/// The type a parameter's default gives it (a string when it is required), once the
/// declaration and the default are checked.
fn declared_type(
    name: &Spanned<String>,
    decl: &ParamDecl,
    spec_file: FileId,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<ParamType> {
    let at = |range: std::ops::Range<usize>| Some(Span::new(spec_file, range));
    let (name_span, name) = (name.span(), name.get_ref());
    let default = match (&decl.default, decl.required) {
        (Some(default), false) => default,
        (None, true) => {
            check_decl(name, decl, ParamType::String, spec_file, diagnostics);
            return Some(ParamType::String);
        }
        (Some(default), true) => {
            diagnostics.push(
                Diagnostic::input(
                    &errors::SPEC_INVALID_VALUE,
                    format!("parameter `{name}` is required, yet has a default"),
                )
                .at(at(default.span()), "a default")
                .help("remove `default`, or remove `required` to let the default stand"),
            );
            return None;
        }
        (None, false) => {
            diagnostics.push(
                Diagnostic::input(
                    &errors::SPEC_MISSING_KEY,
                    format!("parameter `{name}` has no `default`"),
                )
                .at(at(name_span), "no default")
                .help("give it a `default`, or `required = true` for a string the user must give"),
            );
            return None;
        }
    };
    let span = at(default.span());
    let default = default.get_ref();
    let Some(ty) = ParamType::of(default) else {
        diagnostics.push(
            Diagnostic::input(
                &errors::SPEC_INVALID_VALUE,
                format!(
                    "parameter `{name}` has a default that is not a string, integer or boolean"
                ),
            )
            .at(span, "unsupported type")
            .help("give `default` a string, integer or boolean value"),
        );
        return None;
    };
    check_decl(name, decl, ty, spec_file, diagnostics);
    if let Err(message) = check_constraints(decl, default) {
        diagnostics.push(
            Diagnostic::input(
                &errors::SPEC_INVALID_VALUE,
                format!("the default of `{name}` {message}"),
            )
            .at(span, "default not allowed")
            .help("change the default or the constraint"),
        );
    }
    Some(ty)
}

/// The value an override gives its parameter, checked against the parameter's type and
/// constraints; `None` once the reason is in `diagnostics`.
fn overridden(
    o: &Override,
    types: &BTreeMap<String, (ParamType, &Spanned<ParamDecl>)>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<toml::Value> {
    let Some((ty, decl)) = types.get(&o.name) else {
        diagnostics.push(unknown_parameter(
            o,
            types.keys().map(String::as_str).collect(),
        ));
        return None;
    };
    let value = match (&o.value, ty) {
        (OverrideValue::Toml(v), ty) if ParamType::of(v) == Some(*ty) => Some(v.clone()),
        (OverrideValue::Toml(_), _) => None,
        (OverrideValue::Text(t), ParamType::String) => Some(toml::Value::String(t.clone())),
        (OverrideValue::Text(t), ParamType::Integer) => {
            t.trim().parse().ok().map(toml::Value::Integer)
        }
        (OverrideValue::Text(t), ParamType::Bool) => {
            t.trim().parse().ok().map(toml::Value::Boolean)
        }
    };
    let Some(value) = value else {
        diagnostics.push(
            Diagnostic::input(
                &errors::SPEC_INVALID_VALUE,
                format!("parameter `{}` must be {}", o.name, ty.word()),
            )
            .at(Some(o.span.clone()), "wrong type")
            .help(format!(
                "give `{}` {} value, like its default",
                o.name,
                ty.word()
            )),
        );
        return None;
    };
    if let Err(message) = check_constraints(decl.get_ref(), &value) {
        diagnostics.push(
            Diagnostic::input(
                &errors::SPEC_INVALID_VALUE,
                format!("parameter `{}` {message}", o.name),
            )
            .at(Some(o.span.clone()), "not allowed")
            .help(format!(
                "choose a value that `[params.{}]` allows (its `min`, `max`, `values` or `pattern`)",
                o.name
            )),
        );
        return None;
    }
    Some(value)
}

fn unknown_parameter(o: &Override, known: Vec<&str>) -> Diagnostic {
    let help = match closest(&o.name, known.iter().copied()) {
        Some(best) if o.origin == "--set" => format!("did you mean `{best}`? (`--set {best}=...`)"),
        Some(best) => format!("did you mean `{best}`? (`{best} = ...` in the values file)"),
        None if known.is_empty() => {
            "this spec declares no parameters; add one under `[params.NAME]`".to_string()
        }
        None => format!("use one of {}", backticked(&known)),
    };
    Diagnostic::input(
        &errors::SPEC_UNKNOWN_PARAMETER,
        format!("unknown parameter `{}` in `{}`", o.name, o.origin),
    )
    .at(Some(o.span.clone()), "not declared under `[params]`")
    .help(help)
}

fn check_decl(
    name: &str,
    decl: &ParamDecl,
    ty: ParamType,
    file: FileId,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let misplaced = |key: &str, span: std::ops::Range<usize>, wanted: &str| {
        Diagnostic::input(
            &errors::SPEC_INVALID_VALUE,
            format!("`{key}` of parameter `{name}` needs {wanted} default"),
        )
        .at(
            Some(Span::new(file, span)),
            "does not fit the parameter's type",
        )
        .help(format!(
            "remove `{key}`, or give the parameter {wanted} default"
        ))
    };
    if ty != ParamType::Integer {
        for bound in [("min", &decl.min), ("max", &decl.max)] {
            if let (key, Some(v)) = bound {
                diagnostics.push(misplaced(key, v.span(), "an integer"));
            }
        }
    }
    if let (Some(values), false) = (&decl.values, ty == ParamType::String) {
        diagnostics.push(misplaced("values", values.span(), "a string"));
    }
    if let Some(pattern) = &decl.pattern {
        if ty != ParamType::String {
            diagnostics.push(misplaced("pattern", pattern.span(), "a string"));
        } else if let Err(error) = whole_match(pattern.get_ref()) {
            diagnostics.push(
                Diagnostic::input(
                    &errors::SPEC_INVALID_VALUE,
                    format!("`pattern` of parameter `{name}` is no regular expression: {error}"),
                )
                .at(Some(Span::new(file, pattern.span())), "not a regular expression")
                .help("write a regular expression in the common syntax (classes `[a-z]`, `\\d`, repetitions `{2,5}`, groups, `|`)"),
            );
        }
    }
}

/// `pattern` compiled to match a whole value, not a part of it.
fn whole_match(pattern: &str) -> Result<regex_lite::Regex, regex_lite::Error> {
    regex_lite::Regex::new(&format!("^(?:{pattern})$"))
}

fn check_constraints(decl: &ParamDecl, value: &toml::Value) -> Result<(), String> {
    match value {
        toml::Value::Integer(i) => {
            if let Some(min) = &decl.min
                && i < min.get_ref()
            {
                return Err(format!("is {i}, below its minimum {}", min.get_ref()));
            }
            if let Some(max) = &decl.max
                && i > max.get_ref()
            {
                return Err(format!("is {i}, above its maximum {}", max.get_ref()));
            }
        }
        toml::Value::String(s) => {
            if let Some(allowed) = &decl.values
                && !allowed.get_ref().contains(s)
            {
                let allowed: Vec<&str> = allowed.get_ref().iter().map(String::as_str).collect();
                return Err(format!("is `{s}`, not one of {}", backticked(&allowed)));
            }
            // An invalid pattern was reported with the declaration.
            if let Some(pattern) = &decl.pattern
                && let Ok(regex) = whole_match(pattern.get_ref())
                && !regex.is_match(s)
            {
                return Err(format!(
                    "is `{}`, which does not match its pattern `{}`",
                    s.escape_debug(),
                    pattern.get_ref()
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

fn shown(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Boolean(b) => Value::Bool(*b),
        other => Value::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::mentioned;

    #[test]
    fn mentioned_finds_the_parameters_an_action_names() {
        let names = ["size", "size_gb", "class", "x"];
        let found = |source: &str| mentioned(source, names.iter().copied());
        assert_eq!(found("{{params.size_gb}}Gi"), ["size_gb"]);
        assert_eq!(
            found("{{ params.size }}-{{params.[class]}}"),
            ["size", "class"]
        );
        assert_eq!(found("params.size, not in an action"), Vec::<&str>::new());
        assert_eq!(found("{{#each params}}{{this}}{{/each}}"), names);
        assert_eq!(found("{{@root.params.x}}"), ["x"]);
    }
}
