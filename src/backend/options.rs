//! A backend's `[backends.NAME]` options: typed values that keep where the spec wrote them, read
//! so that every bad key of the table is reported at once, and described by the JSON Schema that
//! editors use (`berth schema`), so that the type that reads the options is also their document.

use crate::Input;
use berth_diagnostic::source::Span;
use berth_diagnostic::{Diagnostic, closest, errors};
use berth_language::spec::{backticked, toml_error_to_diagnostic};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{Deserialize, DeserializeOwned, Deserializer};
use std::borrow::Cow;
use std::ops::{Deref, Range};
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// An option's value as read, and its byte range in the spec: a field of a backend's options
/// type (`Option<Spanned<UpdateOrder>>`), described in the schema as the value alone.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    pub value: T,
    pub range: Range<usize>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = toml::Spanned::<T>::deserialize(deserializer)?;
        Ok(Spanned {
            range: spanned.span(),
            value: spanned.into_inner(),
        })
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }
}

/// An option's value once read, and where the spec set it (`None` when it is the default), so
/// that a rule about the option points at it. It reads as its value (`*settings.pin`).
#[derive(Clone, Debug)]
pub struct Setting<T> {
    pub value: T,
    pub span: Option<Span>,
}

impl<T> Deref for Setting<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl Input<'_> {
    /// Deserializes this backend's `[backends.NAME]` table, so that errors keep their position
    /// in the spec. A missing table gives `T::default()`. A table with bad keys gives the
    /// options of its good keys (the others at their defaults) and one diagnostic per bad key.
    pub fn options<T: DeserializeOwned + Default + JsonSchema>(
        &self,
        backend: &str,
    ) -> (T, Vec<Diagnostic>) {
        let Some((_, table)) = self.backend_tables.iter().find(|(name, _)| name == backend) else {
            return (T::default(), Vec::new());
        };
        match T::deserialize(ValueDeserializer::from(table.clone())) {
            Ok(options) => (options, Vec::new()),
            Err(error) => self.options_key_by_key(backend, table, error),
        }
    }

    /// Reads `table` one key at a time, as serde stops at the first bad key: each key alone
    /// either reads (every option is optional) or is what is wrong with it.
    fn options_key_by_key<T: DeserializeOwned + Default + JsonSchema>(
        &self,
        backend: &str,
        table: &toml::Spanned<DeValue>,
        error: toml::de::Error,
    ) -> (T, Vec<Diagnostic>) {
        let DeValue::Table(entries) = table.get_ref() else {
            return (
                T::default(),
                vec![toml_error_to_diagnostic(&error, self.file)],
            );
        };
        let read = |entries: DeTable| {
            T::deserialize(ValueDeserializer::from(toml::Spanned::new(
                table.span(),
                DeValue::Table(entries),
            )))
        };
        let mut diagnostics = Vec::new();
        let mut good = entries.clone();
        let mut in_spec_order: Vec<_> = entries.iter().collect();
        in_spec_order.sort_by_key(|(key, _)| key.span().start);
        for (key, value) in in_spec_order {
            let mut alone = DeTable::new();
            alone.insert(key.clone(), value.clone());
            if let Err(error) = read(alone) {
                good.remove(key);
                diagnostics.push(self.invalid_option::<T>(backend, key, value, &error));
            }
        }
        if diagnostics.is_empty() {
            diagnostics.push(toml_error_to_diagnostic(&error, self.file));
        }
        (read(good).unwrap_or_default(), diagnostics)
    }

    /// What is wrong with one key: a value outside a closed set names the allowed values (from
    /// the schema of `T`); anything else is the parser's own diagnostic (an unknown key, a wrong
    /// type).
    fn invalid_option<T: JsonSchema>(
        &self,
        backend: &str,
        key: &toml::Spanned<Cow<str>>,
        value: &toml::Spanned<DeValue>,
        error: &toml::de::Error,
    ) -> Diagnostic {
        let allowed = allowed_values::<T>(key.get_ref());
        if allowed.is_empty() {
            return toml_error_to_diagnostic(error, self.file);
        }
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        let path = format!("backends.{backend}.{}", key.get_ref());
        let shown = match value.get_ref() {
            DeValue::String(text) => Some(text.to_string()),
            DeValue::Integer(number) => Some(number.as_str().to_string()),
            DeValue::Float(number) => Some(number.as_str().to_string()),
            DeValue::Boolean(truth) => Some(truth.to_string()),
            _ => None,
        };
        let message = match &shown {
            Some(shown) => format!("`{path}` is `{shown}`, not one of {}", backticked(&allowed)),
            None => format!("`{path}` is not one of {}", backticked(&allowed)),
        };
        let help = match shown
            .as_deref()
            .and_then(|s| closest(s, allowed.iter().copied()))
        {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("use one of {}", backticked(&allowed)),
        };
        Diagnostic::input(&errors::SPEC_INVALID_VALUE, message)
            .at(Some(Span::new(self.file, value.span())), "unknown value")
            .help(help)
    }

    /// `option` with where the spec set it, or `default` where it does not.
    pub fn setting<T>(&self, option: Option<Spanned<T>>, default: T) -> Setting<T> {
        match option {
            Some(option) => Setting {
                span: Some(self.span(&option)),
                value: option.value,
            },
            None => Setting {
                value: default,
                span: None,
            },
        }
    }

    /// Where the spec wrote `option`.
    pub fn span<T>(&self, option: &Spanned<T>) -> Span {
        Span::new(self.file, option.range.clone())
    }
}

/// The values `key` of the options type `T` may take, when it is a closed set (an enum): what
/// its schema lists, so the diagnostic and the editor offer the same values.
fn allowed_values<T: JsonSchema>(key: &str) -> Vec<String> {
    let schema = schemars::generate::SchemaSettings::draft07()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>();
    let mut values = Vec::new();
    if let Some(property) = schema
        .get("properties")
        .and_then(|properties| properties.get(key))
    {
        collect_values(property, &mut values);
    }
    values
}

fn collect_values(schema: &serde_json::Value, values: &mut Vec<String>) {
    let strings = schema
        .get("enum")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .chain(schema.get("const"))
        .filter_map(serde_json::Value::as_str);
    values.extend(strings.map(str::to_string));
    for alternatives in ["anyOf", "oneOf", "allOf"] {
        for alternative in schema
            .get(alternatives)
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            collect_values(alternative, values);
        }
    }
}

/// How a closed-set value is written in the spec: its serde name, so that it is spelled once
/// (in the enum's `rename_all`) for reading, the schema, the output and the messages.
pub fn spelling<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Default, Deserialize, Serialize, JsonSchema)]
    #[serde(rename_all = "kebab-case")]
    enum Order {
        #[default]
        StopFirst,
        StartFirst,
    }

    #[derive(Default, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Options {
        order: Option<Spanned<Order>>,
        orders: Option<Vec<Order>>,
        stride: Option<u16>,
    }

    #[test]
    fn a_closed_set_lists_its_values_from_the_schema() {
        assert_eq!(
            allowed_values::<Options>("order"),
            ["stop-first", "start-first"]
        );
        // Not a closed set itself: a bad element is the parser's diagnostic.
        assert!(allowed_values::<Options>("orders").is_empty());
        assert!(allowed_values::<Options>("stride").is_empty());
        assert!(allowed_values::<Options>("unknown").is_empty());
    }

    #[test]
    fn a_value_is_spelled_as_serde_reads_it() {
        assert_eq!(spelling(&Order::StartFirst), "start-first");
    }
}
