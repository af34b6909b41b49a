//! Resolution of `[membership]`: the commands that add and remove a member of the running
//! cluster, each rendered once here for a stand-in member so that a mistake is reported at the
//! spec, not when `berth plan` runs.

use super::*;
use berth_language::template::MembershipContext;

/// How long a check may take to pass when the spec does not say.
const DEFAULT_TIMEOUT: u64 = 300;

impl Resolver<'_> {
    pub(super) fn membership(
        &mut self,
        membership: &toml::Spanned<spec::Membership>,
    ) -> Membership {
        let m = membership.get_ref();
        let run = m.run.as_ref().map_or(Some(RunOn::Member), |run| {
            self.choice(
                run,
                "membership.run",
                &[("member", RunOn::Member), ("oneoff", RunOn::Oneoff)],
            )
        });
        let timeout = m.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |t| {
            self.string(t, "membership.timeout")
                .and_then(|text| self.parsed(t, "membership.timeout", parse_duration(&text)))
                .unwrap_or(DEFAULT_TIMEOUT)
        });
        let commands = |r: &mut Self, list: &[toml::Spanned<Vec<SString>>], key: &str| {
            list.iter()
                .filter_map(|command| r.command(command.get_ref(), command.span(), key))
                .collect()
        };
        Membership {
            run: run.unwrap_or(RunOn::Member),
            add: commands(self, &m.add, "membership.add"),
            added: commands(self, &m.added, "membership.added"),
            remove: commands(self, &m.remove, "membership.remove"),
            forget: commands(self, &m.forget, "membership.forget"),
            caught_up: m
                .caught_up
                .as_ref()
                .and_then(|c| self.command(c.get_ref(), c.span(), "membership.caught_up")),
            safe_to_stop: m
                .safe_to_stop
                .as_ref()
                .and_then(|c| self.command(c.get_ref(), c.span(), "membership.safe_to_stop")),
            timeout,
            id: m.id.as_ref().and_then(|id| self.member_id(id)),
            span: self.span(membership.span()),
        }
    }

    /// One command: a non-empty list of templates.
    fn command(
        &mut self,
        command: &[SString],
        span: std::ops::Range<usize>,
        key: &str,
    ) -> Option<Vec<Template>> {
        if command.is_empty() {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                span,
                format!("a command of `{key}` is empty"),
                "empty command",
                "give the command as a list of arguments, the program first".to_string(),
            );
            return None;
        }
        Some(command.iter().map(|s| self.template(s)).collect())
    }

    fn member_id(&mut self, id: &toml::Spanned<spec::MemberId>) -> Option<MemberId> {
        let i = id.get_ref();
        let command = self.command(&i.command, id.span(), "membership.id.command")?;
        let mut chars = i.separator.get_ref().chars();
        let separator = match (chars.next(), chars.next()) {
            // awk reads a one-character field separator literally, but for a space (any run of
            // blanks) and a backslash (an escape).
            (Some(c), None)
                if !c.is_alphanumeric() && !c.is_whitespace() && c != '\\' && !c.is_control() =>
            {
                c
            }
            _ => {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    i.separator.span(),
                    format!(
                        "`membership.id.separator` is `{}`, not one character between fields",
                        i.separator.get_ref().escape_default()
                    ),
                    "not one separator character",
                    "give the one punctuation character between the fields, such as `,` or `|`"
                        .to_string(),
                );
                return None;
            }
        };
        for field in [&i.name_field, &i.id_field] {
            if !(1..=64).contains(field.get_ref()) {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    field.span(),
                    format!(
                        "a field number of `membership.id` is {}, outside 1..=64",
                        field.get_ref()
                    ),
                    "out of range",
                    "count the fields from 1".to_string(),
                );
                return None;
            }
        }
        Some(MemberId {
            command,
            separator,
            name_field: *i.name_field.get_ref(),
            id_field: *i.id_field.get_ref(),
        })
    }

    /// Renders every membership command once for a stand-in member joining the stand-in members,
    /// so that an undefined variable is an input error at its place. `member.id` is defined
    /// only where `[membership.id]` finds it: in `remove` and `forget`.
    pub(super) fn check_membership_templates(
        &mut self,
        membership: &Membership,
        name: &str,
        replicas: u32,
    ) {
        let members = members::stand_in_members(name, replicas.max(1), &BTreeMap::new());
        let concerned = members.last().cloned().unwrap_or_default();
        let id = membership.id.as_ref().map(|_| "stand-in-id");
        let without_id = membership
            .add
            .iter()
            .chain(&membership.added)
            .chain(&membership.caught_up)
            .chain(&membership.safe_to_stop)
            .chain(membership.id.as_ref().map(|id| &id.command));
        let context = self
            .templates
            .membership_context(&concerned, &members, None);
        for command in without_id {
            self.check_membership_command(command, &context);
        }
        let context = self.templates.membership_context(&concerned, &members, id);
        for command in membership.remove.iter().chain(&membership.forget) {
            self.check_membership_command(command, &context);
        }
    }

    fn check_membership_command(&mut self, command: &[Template], context: &MembershipContext) {
        for t in command {
            if let Err(failure) = self.templates.try_membership(&t.source, context) {
                let range = t.span.as_ref().map(|s| s.range.clone()).unwrap_or(0..0);
                self.template_error(range, &t.source, failure);
            }
        }
    }
}
