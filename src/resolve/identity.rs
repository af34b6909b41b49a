//! Resolution of the service's name and ports.

use super::*;

impl Resolver<'_> {
    pub(super) fn name(&mut self, s: &SString) -> String {
        let name = self.string(s, "name").unwrap_or_default();
        if let Err(why) = dns_label(&name, 52) {
            self.error(&errors::SPEC_INVALID_NAME, s.span(), format!("`name` `{name}` {why}"), "invalid name", "use lowercase letters, digits and `-`, starting with a letter, at most 52 characters (a StatefulSet name must leave room for its revision hash label)".to_string());
        } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            self.error(
                &errors::SPEC_INVALID_NAME,
                s.span(),
                format!("`name` `{name}` must start with a letter"),
                "invalid name",
                "start the name with a lowercase letter: it becomes host names and DNS labels"
                    .to_string(),
            );
        }
        name
    }

    pub(super) fn ports(&mut self, ports: &[toml::Spanned<spec::Port>]) -> Vec<Port> {
        let mut seen_names = BTreeSet::new();
        let mut seen_numbers = BTreeSet::new();
        let mut out = Vec::new();
        for spanned in ports {
            let p = spanned.get_ref();
            let name = self.string(&p.name, "ports.name").unwrap_or_default();
            if let Err(why) = port_name(&name) {
                self.error(&errors::SPEC_INVALID_NAME, p.name.span(), format!("port name `{name}` {why}"), "invalid port name", "use at most 15 lowercase letters, digits and single `-`, with at least one letter (an IANA service name)".to_string());
            }
            if !seen_names.insert(name.clone()) {
                self.error(
                    &errors::SPEC_DUPLICATE,
                    p.name.span(),
                    format!("port `{name}` is declared twice"),
                    "duplicate",
                    "give each port its own name".to_string(),
                );
            }
            let number = self.integer(&p.port, "ports.port", 1, 65535).unwrap_or(1) as u16;
            let protocol = p
                .protocol
                .as_ref()
                .and_then(|s| {
                    self.choice(
                        s,
                        "ports.protocol",
                        &[("tcp", Protocol::Tcp), ("udp", Protocol::Udp)],
                    )
                })
                .unwrap_or(Protocol::Tcp);
            if !seen_numbers.insert((number, protocol == Protocol::Tcp)) {
                self.error(
                    &errors::SPEC_DUPLICATE,
                    p.port.span(),
                    format!("port number {number} is declared twice"),
                    "duplicate",
                    "give each port its own number".to_string(),
                );
            }
            let expose = p
                .expose
                .as_ref()
                .and_then(|s| {
                    self.choice(
                        s,
                        "ports.expose",
                        &[("public", Expose::Public), ("peers", Expose::Peers)],
                    )
                })
                .unwrap_or(Expose::Public);
            out.push(Port {
                name,
                port: number,
                protocol,
                expose,
                span: self.span(spanned.span()),
            });
        }
        out
    }
}
