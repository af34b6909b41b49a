//! The one place berth turns a typed value into YAML.
//!
//! Backed by serde-saphyr in its YAML 1.1-safe mode: strings that a YAML 1.1 reader (kubectl's,
//! PyYAML) would read as another type (`yes`, `on`, `0755`, `1_000`, `2024-01-01`, `~`) are quoted,
//! so every reader gets back the same types. Block scalars are off so multi-line strings are
//! written as escaped double-quoted strings, which every reader reads the same way.

use serde::Serialize;

pub fn to_yaml<T: Serialize>(value: &T) -> Result<String, String> {
    let options = serde_saphyr::ser_options! {
        prefer_block_scalars: false,
    };
    let mut yaml = serde_saphyr::to_string_with_options(value, options)
        .map_err(|e| format!("cannot write YAML: {e}"))?;
    if !yaml.ends_with('\n') {
        yaml.push('\n');
    }
    Ok(yaml)
}

#[cfg(test)]
mod tests {
    use super::to_yaml;
    use std::collections::BTreeMap;

    /// Strings a YAML 1.1 reader would turn into a bool, number, null or date must come out quoted.
    #[test]
    fn yaml_1_1_lookalikes_are_quoted() {
        for s in [
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "true",
            "False",
            "0755",
            "1_000",
            "2024-01-01",
            "~",
            "null",
            "1e3",
            "0x1F",
            "12:30:00",
            ".inf",
            "",
            "- item",
            "a: b",
            "#x",
        ] {
            let yaml = to_yaml(&BTreeMap::from([("k", s)])).unwrap();
            let value = yaml.trim_end().strip_prefix("k: ").unwrap();
            assert!(
                value.starts_with('"') || value.starts_with('\''),
                "`{s}` came out unquoted: {yaml}"
            );
        }
    }

    #[test]
    fn plain_strings_stay_plain() {
        let yaml = to_yaml(&BTreeMap::from([("k", "cockroachdb")])).unwrap();
        assert_eq!(yaml, "k: cockroachdb\n");
    }
}
