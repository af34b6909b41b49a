//! Resolution of `[health]`: the liveness, readiness and startup checks.

use super::*;

impl Resolver<'_> {
    pub(super) fn health(
        &mut self,
        health: Option<&toml::Spanned<spec::Health>>,
        ports: &[Port],
        replicas: u32,
    ) -> Health {
        let Some(health) = health else {
            return Health::default();
        };
        let h = health.get_ref();
        Health {
            liveness: h
                .liveness
                .as_ref()
                .and_then(|c| self.check(c, "health.liveness", ports, replicas)),
            readiness: h
                .readiness
                .as_ref()
                .and_then(|c| self.check(c, "health.readiness", ports, replicas)),
            startup: h
                .startup
                .as_ref()
                .and_then(|c| self.check(c, "health.startup", ports, replicas)),
        }
    }

    pub(super) fn check(
        &mut self,
        spanned: &toml::Spanned<spec::Check>,
        key: &str,
        ports: &[Port],
        replicas: u32,
    ) -> Option<Check> {
        let c = spanned.get_ref();
        let action = self.check_action(spanned, key, ports)?;
        let docker_exec = self.docker_exec(spanned, key);
        let (needs_quorum, needs_peers, peers_when_several) =
            self.check_peers(spanned, key, replicas);
        Some(Check {
            action,
            docker_exec,
            interval: self
                .seconds(&c.interval, &format!("{key}.interval"), true)
                .unwrap_or(berth_model::DEFAULT_INTERVAL),
            timeout: self
                .seconds(&c.timeout, &format!("{key}.timeout"), true)
                .unwrap_or(berth_model::DEFAULT_TIMEOUT),
            initial_delay: self.seconds(&c.initial_delay, &format!("{key}.initial_delay"), false),
            failures: c
                .failures
                .as_ref()
                .and_then(|f| self.integer(f, &format!("{key}.failures"), 1, 1000))
                .map(|f| f as u32),
            needs_quorum,
            needs_peers,
            peers_when_several,
            span: self.span(spanned.span()),
        })
    }

    /// What the check does: exactly one of `http` (with its `port`), `tcp` or `exec`.
    fn check_action(
        &mut self,
        spanned: &toml::Spanned<spec::Check>,
        key: &str,
        ports: &[Port],
    ) -> Option<CheckAction> {
        let c = spanned.get_ref();
        let kinds = [c.http.is_some(), c.tcp.is_some(), c.exec.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if kinds != 1 {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                spanned.span(),
                format!("`{key}` needs exactly one of `http`, `tcp` or `exec`"),
                "ambiguous check",
                "keep exactly one of `http = \"/path\"`, `tcp = \"port\"` or `exec = [...]`"
                    .to_string(),
            );
            return None;
        }
        let action = if let Some(path) = &c.http {
            self.http_action(spanned, path, key, ports)?
        } else if let Some(tcp) = &c.tcp {
            CheckAction::Tcp {
                port: self.port_ref(tcp, &format!("{key}.tcp"), ports)?,
            }
        } else {
            self.exec_action(spanned, key)?
        };
        if let (Some(port), false) = (&c.port, c.http.is_some()) {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                port.span(),
                format!("`{key}.port` only goes with `http`"),
                "unused",
                "remove `port`; `tcp` names its port itself".to_string(),
            );
        }
        Some(action)
    }

    fn http_action(
        &mut self,
        spanned: &toml::Spanned<spec::Check>,
        path: &SString,
        key: &str,
        ports: &[Port],
    ) -> Option<CheckAction> {
        let path = self.string(path, &format!("{key}.http"))?;
        let Some(port) = &spanned.get_ref().port else {
            self.error(
                &errors::SPEC_MISSING_KEY,
                spanned.span(),
                format!("`{key}` has `http` but no `port`"),
                "needs `port`",
                "add `port = \"NAME\"` naming one of `[[ports]]`".to_string(),
            );
            return None;
        };
        Some(CheckAction::Http {
            path,
            port: self.port_ref(port, &format!("{key}.port"), ports)?,
        })
    }

    fn exec_action(
        &mut self,
        spanned: &toml::Spanned<spec::Check>,
        key: &str,
    ) -> Option<CheckAction> {
        let argv: Vec<String> = spanned
            .get_ref()
            .exec
            .iter()
            .flatten()
            .filter_map(|a| self.string(a, &format!("{key}.exec")))
            .collect();
        if argv.is_empty() {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                spanned.span(),
                format!("`{key}.exec` is empty"),
                "empty command",
                "give the command as a list, like `exec = [\"pg_isready\"]`".to_string(),
            );
            return None;
        }
        Some(CheckAction::Exec { argv })
    }

    /// The name of one of `[[ports]]`, or an error naming the closest.
    fn port_ref(&mut self, s: &SString, which: &str, ports: &[Port]) -> Option<String> {
        let name = self.string(s, which)?;
        if ports.iter().any(|p| p.name == name) {
            return Some(name);
        }
        // Once each: a name declared twice is its own error.
        let names: Vec<&str> = ports
            .iter()
            .map(|p| p.name.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let help = match closest(&name, names.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None if names.is_empty() => "declare the port under `[[ports]]`".to_string(),
            None => format!("name one of {}", backticked(&names)),
        };
        self.error(
            &errors::SPEC_UNKNOWN_PORT,
            s.span(),
            format!("`{which}` names unknown port `{name}`"),
            "no such port",
            help,
        );
        None
    }

    /// A duration in seconds. A check every 0 s, or one that times out at once, is refused by
    /// Kubernetes and means "the default" to Docker: both periods must be at least a second.
    fn seconds(&mut self, s: &Option<SString>, which: &str, at_least_one: bool) -> Option<u64> {
        let s = s.as_ref()?;
        let text = self.string(s, which)?;
        let parsed = parse_duration(&text).and_then(|n| match n {
            0 if at_least_one => Err("must be at least `1s`".to_string()),
            n => Ok(n),
        });
        self.parsed(s, which, parsed)
    }

    fn docker_exec(
        &mut self,
        spanned: &toml::Spanned<spec::Check>,
        key: &str,
    ) -> Option<Vec<String>> {
        let argv: Vec<String> = spanned
            .get_ref()
            .docker_exec
            .as_ref()?
            .iter()
            .filter_map(|a| self.string(a, &format!("{key}.docker_exec")))
            .collect();
        if argv.is_empty() {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                spanned.span(),
                format!("`{key}.docker_exec` is empty"),
                "empty command",
                "give the command as a list, like `docker_exec = [\"curl\", \"-f\", \"http://127.0.0.1:8080/health\"]`".to_string(),
            );
        }
        Some(argv)
    }

    /// `needs_quorum`, `needs_peers` and what `needs_peers` is with several members. Unsaid, a
    /// check of a service with peers is taken to need them: the safe side, since a check that
    /// needs peers must never gate how the peers find each other.
    fn check_peers(
        &mut self,
        spanned: &toml::Spanned<spec::Check>,
        key: &str,
        replicas: u32,
    ) -> (bool, bool, bool) {
        let c = spanned.get_ref();
        let needs_quorum = c
            .needs_quorum
            .as_ref()
            .and_then(|q| self.boolean(q, &format!("{key}.needs_quorum")))
            .unwrap_or(false);
        let said_peers = c
            .needs_peers
            .as_ref()
            .and_then(|q| self.boolean(q, &format!("{key}.needs_peers")));
        if needs_quorum && said_peers == Some(false) {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                c.needs_peers.as_ref().map_or(spanned.span(), |p| p.span()),
                format!("`{key}` needs quorum but says `needs_peers = false`"),
                "contradicts `needs_quorum = true`",
                "remove `needs_peers`: a check that needs a majority of the peers needs the peers"
                    .to_string(),
            );
        }
        (
            needs_quorum,
            needs_quorum || said_peers.unwrap_or(replicas > 1),
            needs_quorum || said_peers.unwrap_or(true),
        )
    }
}
