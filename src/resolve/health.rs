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
        let port_ref = |r: &mut Self, s: &SString, which: &str| -> Option<String> {
            let name = r.string(s, which)?;
            if ports.iter().any(|p| p.name == name) {
                return Some(name);
            }
            let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
            let help = match closest(&name, names.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None if names.is_empty() => "declare the port under `[[ports]]`".to_string(),
                None => format!("name one of {}", backticked(&names)),
            };
            r.error(
                &errors::SPEC_UNKNOWN_PORT,
                s.span(),
                format!("`{which}` names unknown port `{name}`"),
                "no such port",
                help,
            );
            None
        };
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
            let path = self.string(path, &format!("{key}.http"))?;
            let Some(port) = &c.port else {
                self.error(
                    &errors::SPEC_MISSING_KEY,
                    spanned.span(),
                    format!("`{key}` has `http` but no `port`"),
                    "needs `port`",
                    "add `port = \"NAME\"` naming one of `[[ports]]`".to_string(),
                );
                return None;
            };
            CheckAction::Http {
                path,
                port: port_ref(self, port, &format!("{key}.port"))?,
            }
        } else if let Some(tcp) = &c.tcp {
            CheckAction::Tcp {
                port: port_ref(self, tcp, &format!("{key}.tcp"))?,
            }
        } else {
            let argv: Vec<String> = c
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
            CheckAction::Exec { argv }
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
        // A check every 0 s, or one that times out at once, is refused by Kubernetes and
        // means "the default" to Docker: both periods must be at least a second.
        let seconds = |r: &mut Self, s: &Option<SString>, which: &str| {
            let at_least_one = which.ends_with("interval") || which.ends_with("timeout");
            s.as_ref().and_then(|s| {
                r.string(s, which).and_then(|t| {
                    let parsed = parse_duration(&t).and_then(|n| match n {
                        0 if at_least_one => Err("must be at least `1s`".to_string()),
                        n => Ok(n),
                    });
                    r.parsed(s, which, parsed)
                })
            })
        };
        let docker_exec: Option<Vec<String>> = c.docker_exec.as_ref().map(|argv| {
            argv.iter()
                .filter_map(|a| self.string(a, &format!("{key}.docker_exec")))
                .collect()
        });
        if docker_exec.as_ref().is_some_and(Vec::is_empty) {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                spanned.span(),
                format!("`{key}.docker_exec` is empty"),
                "empty command",
                "give the command as a list, like `docker_exec = [\"curl\", \"-f\", \"http://127.0.0.1:8080/health\"]`".to_string(),
            );
        }
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
        // Unsaid, a check of a service with peers is taken to need them: the safe side, since a
        // check that needs peers must never gate how the peers find each other.
        let needs_peers = needs_quorum || said_peers.unwrap_or(replicas > 1);
        Some(Check {
            action,
            docker_exec,
            interval: seconds(self, &c.interval, &format!("{key}.interval"))
                .unwrap_or(berth_model::DEFAULT_INTERVAL),
            timeout: seconds(self, &c.timeout, &format!("{key}.timeout"))
                .unwrap_or(berth_model::DEFAULT_TIMEOUT),
            initial_delay: seconds(self, &c.initial_delay, &format!("{key}.initial_delay")),
            failures: c
                .failures
                .as_ref()
                .and_then(|f| self.integer(f, &format!("{key}.failures"), 1, 1000))
                .map(|f| f as u32),
            needs_quorum,
            needs_peers,
            span: self.span(spanned.span()),
        })
    }
}
