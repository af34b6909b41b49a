//! Resolution of `[[allow]]`, `targets` and the `[backends.*]` tables.

use super::*;

impl Resolver<'_> {
    pub(super) fn allow(
        &mut self,
        allows: &[toml::Spanned<spec::Allow>],
        rules: &[&str],
    ) -> Vec<Allow> {
        let mut out = Vec::new();
        for a in allows {
            let rule = a.get_ref().rule.get_ref().clone();
            let reason = a.get_ref().reason.get_ref().trim().to_string();
            if let Some(error) = berth_diagnostic::errors::input_error(&rule) {
                self.error(
                    &errors::SPEC_UNKNOWN_RULE,
                    a.get_ref().rule.span(),
                    format!("`{rule}` is an input error, not a rule: `[[allow]]` cannot lift it"),
                    "not a rule",
                    format!("{} instead (`berth explain {rule}`)", error.fix),
                );
            } else if !rules.contains(&rule.as_str()) {
                let help = match closest(&rule, rules.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`? (`berth rules` lists every id)"),
                    None => "name a rule id from `berth rules`".to_string(),
                };
                self.error(
                    &errors::SPEC_UNKNOWN_RULE,
                    a.get_ref().rule.span(),
                    format!("`[[allow]]` names unknown rule `{rule}`"),
                    "no such rule",
                    help,
                );
            }
            if reason.is_empty() {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    a.get_ref().reason.span(),
                    "`[[allow]]` needs a non-empty `reason`".to_string(),
                    "empty reason",
                    "say why this rule does not apply to this service".to_string(),
                );
            }
            out.push(Allow {
                rule,
                reason,
                span: self.span(a.span()),
            });
        }
        out
    }

    pub(super) fn targets(
        &mut self,
        targets: &toml::Spanned<Vec<toml::Spanned<String>>>,
        backends: &[&str],
    ) -> Located<Vec<String>> {
        let mut names: Vec<String> = Vec::new();
        for name in targets.get_ref() {
            if !backends.contains(&name.get_ref().as_str()) {
                let help = match closest(name.get_ref(), backends.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("use some of {}", backticked(backends)),
                };
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    name.span(),
                    format!("`targets` names unknown backend `{}`", name.get_ref()),
                    "no such backend",
                    help,
                );
            } else if !names.contains(name.get_ref()) {
                names.push(name.get_ref().clone());
            }
        }
        if targets.get_ref().is_empty() {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                targets.span(),
                "`targets` is empty: the spec would compile to nothing".to_string(),
                "no backend",
                format!("name the backends you deploy to, some of {}, or remove `targets` for all of them", backticked(backends)),
            );
        }
        Located::new(names, self.span(targets.span()))
    }

    pub(super) fn backend_tables(
        &mut self,
        tables: &BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>>,
        backends: &[&str],
    ) -> BTreeMap<String, Span> {
        let mut out = BTreeMap::new();
        for (name, table) in tables {
            if !backends.contains(&name.get_ref().as_str()) {
                let help = match closest(name.get_ref(), backends.iter().copied()) {
                    Some(best) => format!("rename it to `[backends.{best}]`"),
                    None => format!("use one of {}", backticked(backends)),
                };
                self.error(
                    &errors::SPEC_UNKNOWN_KEY,
                    name.span(),
                    format!("unknown backend `{}`", name.get_ref()),
                    "no such backend",
                    help,
                );
            } else if !table.get_ref().is_table() {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    table.span(),
                    format!("`backends.{}` must be a table", name.get_ref()),
                    "not a table",
                    format!(
                        "write `[backends.{}]` with its options below",
                        name.get_ref()
                    ),
                );
            }
            out.insert(name.get_ref().clone(), Span::new(self.file, table.span()));
        }
        out
    }
}
