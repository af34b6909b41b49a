//! Resolution of `[tls]`.

use super::*;

impl Resolver<'_> {
    pub(super) fn tls(&mut self, tls: &toml::Spanned<spec::Tls>) -> Located<Tls> {
        let t = tls.get_ref();
        let secret = self.string(&t.secret, "tls.secret").unwrap_or_default();
        if !dns_name(&secret) || secret.starts_with("*.") {
            self.error(
                &errors::SPEC_INVALID_NAME,
                t.secret.span(),
                format!("`tls.secret` `{}` is not a DNS subdomain name", secret.escape_debug()),
                "invalid name",
                "name the secret with lowercase letters, digits, `-` and `.`, like `db-certs`: it names a Kubernetes Secret, a Docker volume and Swarm secrets".to_string(),
            );
        }
        let path = self.string(&t.path, "tls.path").unwrap_or_default();
        if let Err(why) = absolute_path(&path) {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                t.path.span(),
                format!("`tls.path` `{path}` {why}"),
                "invalid path",
                "write an absolute path such as `/certs`".to_string(),
            );
        }
        let mut extra_names = Vec::new();
        for name in &t.extra_names {
            let Some(text) = self.string(name, "tls.extra_names") else {
                continue;
            };
            // IP addresses are kept so that each backend's rule can refuse them with its own reason.
            if text.parse::<std::net::IpAddr>().is_err() && !dns_name(&text) {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    name.span(),
                    format!("`{text}` is not a DNS name"),
                    "invalid name",
                    "write a DNS name such as `db.example.com` (a leading `*.` is allowed)"
                        .to_string(),
                );
            }
            extra_names.push(Located::new(text, self.span(name.span())));
        }
        Located::new(
            Tls {
                secret,
                path,
                extra_names,
                group: t.group.as_ref().map(|g| *g.get_ref()),
            },
            self.span(tls.span()),
        )
    }
}
