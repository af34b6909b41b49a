//! Resolution of `[network]`: the shared network's name, and each member's aliases rendered
//! once with the stand-in members, so that a name no backend accepts is an input error here.

use super::*;

impl Resolver<'_> {
    pub(super) fn network(&mut self, network: Option<&toml::Spanned<spec::Network>>) -> Network {
        let Some(network) = network.map(|n| n.get_ref()) else {
            return Network::default();
        };
        let name = network.name.as_ref().and_then(|name| {
            let text = self.string(name, "network.name")?;
            match names::shared_network(&text) {
                Ok(()) => Some(Located::new(text, self.span(name.span()))),
                Err(why) => {
                    self.error(
                        &errors::SPEC_INVALID_NAME,
                        name.span(),
                        format!("`network.name` `{}` {why}", text.escape_debug()),
                        "invalid network name",
                        "name the network with lowercase letters, digits and `-`, like `shop`: it names a Docker network of its own and, on Kubernetes, the namespace".to_string(),
                    );
                    None
                }
            }
        });
        let aliases = network.aliases.iter().map(|a| self.template(a)).collect();
        Network { name, aliases }
    }

    /// Renders each alias for every member: a DNS label that starts with a letter (a Kubernetes
    /// Service name), and never another member's host name.
    pub(super) fn check_aliases(&mut self, network: &Network, name: &str, replicas: u32) {
        let peers = &members::stand_in_members(name, replicas, &BTreeMap::new());
        for alias in &network.aliases {
            let Some(rendered) = self.render_for_each_member(alias, peers) else {
                return;
            };
            let range = alias.span.as_ref().map(|s| s.range.clone()).unwrap_or(0..0);
            for (i, text) in rendered.iter().enumerate() {
                let invalid = dns_label(text, 63).err().or_else(|| {
                    (!text.starts_with(|c: char| c.is_ascii_lowercase()))
                        .then(|| "must start with a letter".to_string())
                });
                if let Some(why) = invalid {
                    return self.error(
                        &errors::SPEC_INVALID_NAME,
                        range,
                        format!("`network.aliases` `{}` {why} (member {i})", text.escape_debug()),
                        "invalid alias",
                        "write a DNS label that starts with a letter, like `db`: it names a DNS entry and, on Kubernetes, a Service".to_string(),
                    );
                }
                if let Some(other) = peers
                    .iter()
                    .position(|p| &p.host == text)
                    .filter(|&o| o != i)
                {
                    return self.error(
                        &errors::SPEC_INVALID_VALUE,
                        range,
                        format!("member {i}'s alias `{text}` is member {other}'s host name"),
                        "names another member",
                        "choose an alias no member is named, or give each member its own with `{{self.ordinal}}`".to_string(),
                    );
                }
            }
        }
    }
}
