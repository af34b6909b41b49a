//! The process of each member: its command, environment, health check, resources, stop grace,
//! replication, and the init service.

use super::convert::{cpus, duration, memory};
use super::*;
use berth_compile::spec_rules::looks_like_secret;

impl<'a> Mapping<'a> {
    pub(super) fn container(&mut self, doc: &mut Document) {
        doc.table(&["container"]);
        let images = self.each(|m| m.image.as_ref());
        if images.iter().all(Option::is_some) {
            let image = self.literal(images, "`image`");
            doc.pair("image", Item::Str(image), None);
        } else {
            let name = self.input.cluster.name.clone();
            self.unmapped.push(
                "`build`: berth deploys an image; build and push it, then set `container.image`"
                    .into(),
            );
            doc.pair(
                "image",
                Item::Str(format!("{name}:latest")),
                Some("guessed: the Compose file builds the image"),
            );
        }
        let argvs: Vec<Vec<&Text>> = self
            .members()
            .iter()
            .map(|m| {
                m.entrypoint
                    .iter()
                    .flatten()
                    .chain(m.command.iter().flatten())
                    .collect()
            })
            .collect();
        let first_words: Vec<&str> = argvs[0].iter().map(|t| t.value.as_str()).collect();
        if let Some((copies, used)) = crate::start::read(&first_words) {
            // berth's own start script: the files it copies are `[[files]]`, the rest is the process.
            self.copies = copies;
            let rest: Vec<Vec<Text>> = argvs
                .iter()
                .map(|a| a.iter().skip(used).map(|t| (*t).clone()).collect())
                .collect();
            let lists: Vec<Option<&Vec<Text>>> = rest.iter().map(Some).collect();
            if let Some(list) = self.word_lists(&lists, "command") {
                doc.pair("command", Item::List(list), None);
            }
        } else {
            for (key, compose_key, field) in [
                (
                    "command",
                    "entrypoint",
                    (|m: &Service| m.entrypoint.as_ref()) as fn(&Service) -> Option<&Vec<Text>>,
                ),
                ("args", "command", |m: &Service| m.command.as_ref()),
            ] {
                let words: Vec<Option<&Vec<Text>>> =
                    self.members().iter().map(|m| field(m)).collect();
                if words.iter().all(Option::is_none) {
                    continue;
                }
                if let Some(list) = self.word_lists(&words, compose_key) {
                    doc.pair(key, Item::List(list), None);
                }
            }
        }
        if let Some(user) = &self.first().user {
            let uid = user.value.split(':').next().unwrap_or_default();
            match uid.parse::<i64>() {
                Ok(uid) => doc.pair("user", Item::Int(uid), user.value.contains(':').then_some("the group is the image's")),
                Err(_) => self.unmapped.push(format!("`user: {}`: the spec takes a numeric user; give the image's uid in `container.user`", user.value)),
            }
        }
    }

    /// The members' argv, word by word, as templates; `None` when their lengths differ.
    pub(super) fn word_lists(
        &mut self,
        lists: &[Option<&Vec<Text>>],
        key: &str,
    ) -> Option<Vec<String>> {
        let length = lists[0].map_or(0, Vec::len);
        if lists.iter().any(|l| l.map_or(0, Vec::len) != length) {
            let lengths: Vec<String> = self
                .members()
                .iter()
                .zip(lists)
                .map(|(m, l)| format!("{} on `{}`", l.map_or(0, Vec::len), m.name))
                .collect();
            self.refusals.push(format!(
                "its members are not alike: they run different command lines (`{key}` of {} words), and one spec gives every member the same",
                lengths.join(", ")
            ));
            return None;
        }
        let mut words = Vec::new();
        for i in 0..length {
            let values = lists.iter().map(|l| l.map(|w| &w[i].raw)).collect();
            words.push(self.template(values, &format!("`{key}` word {}", i + 1)));
        }
        Some(words)
    }

    pub(super) fn environment(&mut self, doc: &mut Document) {
        let mut keys: Vec<String> = Vec::new();
        for member in self.members() {
            for (key, _, _) in &member.environment {
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
        if keys.is_empty() {
            return;
        }
        doc.table(&["container", "env"]);
        for key in keys {
            let values: Vec<Option<&Option<Text>>> = self
                .members()
                .iter()
                .map(|m| {
                    m.environment
                        .iter()
                        .find(|(k, _, _)| *k == key)
                        .map(|(_, v, _)| v)
                })
                .collect();
            // A name the spec would refuse is listed, not written.
            if !berth_language::names::env_name(&key) {
                self.unmapped.push(format!("`environment.{key}`: not an environment name every orchestrator takes (letters, digits, `_`, `.` and `-`, not starting with a digit or `-`); set it by hand"));
                continue;
            }
            // A name that looks like a secret, or a value that is one secret variable: a
            // reference to a secret, never the value.
            let variable = values
                .iter()
                .find_map(|v| v.and_then(Option::as_ref)?.raw.single_reference())
                .filter(|r| berth_compile::spec_rules::looks_like_secret(&r.name));
            if berth_compile::spec_rules::looks_like_secret(&key) || variable.is_some() {
                let named = variable.map_or(key.as_str(), |r| r.name.as_str());
                let secret_key = crate::secrets::key(named);
                let comment = format!(
                    "a secret, its key guessed from `{named}`: set it in the environment of `up` (compose), or in each orchestrator's secret store"
                );
                let secret = vec![
                    ("secret".to_string(), self.input.cluster.name.clone()),
                    ("key".to_string(), secret_key),
                ];
                doc.pair(&key, Item::Inline(secret), Some(&comment));
                continue;
            }
            if values.iter().any(|v| v.is_none()) {
                let setting: Vec<String> = self
                    .members()
                    .iter()
                    .zip(&values)
                    .filter(|(_, v)| v.is_some())
                    .map(|(m, _)| format!("`{}`", m.name))
                    .collect();
                self.refusals.push(format!(
                    "its members are not alike: only {} of them set{} `{key}`, and one spec gives every member the same environment",
                    setting.join(", "),
                    if setting.len() == 1 { "s" } else { "" }
                ));
                continue;
            }
            let texts: Vec<Option<&Interpolated>> = values
                .iter()
                .map(|v| v.and_then(|v| v.as_ref()).map(|t| &t.raw))
                .collect();
            if texts.iter().all(Option::is_none) {
                // `- KEY` alone: compose passes the variable through from the environment of `up`.
                let reference = crate::interpolate::Reference {
                    name: key.clone(),
                    default: None,
                    required: false,
                };
                self.param(&reference);
                doc.pair(
                    &key,
                    Item::Str(format!("{{{{params.{}}}}}", param_name(&key))),
                    Some("passed through from the environment in the Compose file"),
                );
                continue;
            }
            let fallback = texts.iter().flatten().next().copied();
            let marked: Vec<Option<Interpolated>> = (texts.into_iter().enumerate())
                .map(|(i, t)| t.or(fallback).map(|t| self.mark_published(t, i)))
                .collect();
            let texts = marked.iter().map(Option::as_ref).collect();
            let what = format!("`environment.{key}`");
            let value = if crate::template::names_hosts(&key) {
                self.hosts(texts, &what)
            } else {
                self.template(texts, &what)
            };
            doc.pair(&key, Item::Str(unmark_published(&value)), None);
        }
    }

    /// Member `index`'s value with each of its own published addresses (`IP:HOST_PORT` of its
    /// `ports`) marked, so that the members' values, which differ only there, become one
    /// template: `{{self.published.NAME}}` (Kafka's advertised external listener).
    fn mark_published(&self, value: &Interpolated, index: usize) -> Interpolated {
        let mut marked = value.clone();
        for mapping in &self.members()[index].ports {
            let (Some(ip), Some(host_port)) = (&mapping.host_ip, mapping.host_port) else {
                continue;
            };
            let Some(port) = self.ports.iter().find(|p| p.number == mapping.container) else {
                continue;
            };
            let address = format!("{ip}:{host_port}");
            for part in &mut marked.parts {
                if let Part::Text(text) = part {
                    *text = text.replace(
                        &address,
                        &format!("{PUBLISHED_MARK}{}{PUBLISHED_END}", port.name),
                    );
                }
            }
        }
        marked
    }

    pub(super) fn health(&mut self, doc: &mut Document) {
        let checks: Vec<Option<&Healthcheck>> = self
            .members()
            .iter()
            .map(|m| m.healthcheck.as_ref())
            .collect();
        let Some(check) = checks[0] else { return };
        let Some(test) = &check.test else { return };
        let tests: Vec<Option<&Vec<Text>>> = checks
            .iter()
            .map(|c| c.and_then(|c| c.test.as_ref()))
            .collect();
        let words: Vec<&str> = test.iter().map(|t| t.value.as_str()).collect();
        let probe = probe_of(&words);
        let timeout = check.timeout.as_deref().map_or(5, |t| {
            duration(t).trim_end_matches('s').parse().unwrap_or(5)
        });
        // berth's own line for the probe; any other command is kept for the docker family.
        let (mut action, berths_line) = match probe {
            Some(Probe::Http { port, path }) => {
                let line = docker::http_probe(port, &path, timeout);
                let name = self.add_port(port, "tcp".into(), false);
                (
                    vec![("http", Item::Str(path)), ("port", Item::Str(name))],
                    line,
                )
            }
            Some(Probe::Tcp { port }) => {
                let line = docker::tcp_probe(port);
                (
                    vec![("tcp", Item::Str(self.add_port(port, "tcp".into(), false)))],
                    line,
                )
            }
            None => (Vec::new(), String::new()),
        };
        if words != ["/bin/sh", "-c", berths_line.as_str()] {
            let Some(exec) = self.word_lists(&tests, "healthcheck.test") else {
                return;
            };
            let key = if action.is_empty() {
                "exec"
            } else {
                "docker_exec"
            };
            action.push((key, Item::List(exec)));
        }
        doc.table(&["health", "liveness"]);
        for (key, value) in action {
            doc.pair(key, value, None);
        }
        for (key, value) in [
            ("interval", &check.interval),
            ("timeout", &check.timeout),
            ("initial_delay", &check.start_period),
        ] {
            if let Some(value) = value {
                doc.pair(key, Item::Str(duration(value)), None);
            }
        }
        if let Some(retries) = check.retries {
            doc.pair("failures", Item::Int(retries.into()), None);
        }
        let needs = match self.first().labels.get(LIVENESS_NEEDS).map(String::as_str) {
            Some("quorum") => Some(("needs_quorum", true)),
            Some("peers") => Some(("needs_peers", true)),
            Some("nothing") => Some(("needs_peers", false)),
            _ => None,
        };
        if let Some((key, value)) = needs {
            doc.pair(key, Item::Bool(value), Some("berth's own label"));
        }
    }

    /// `[health.readiness]` from the label berth's compose output carries it in (the spec's own
    /// inline table, port numbers for names): Compose has no readiness check.
    pub(super) fn readiness(&mut self, doc: &mut Document) {
        let Some(check) = readiness_label(self.first()) else {
            return;
        };
        doc.table(&["health", "readiness"]);
        doc.comment("berth's own label: Compose has no readiness check");
        for (key, value) in check {
            let item = match value {
                toml::Value::Integer(port) if key == "port" || key == "tcp" => {
                    let port = u16::try_from(port).unwrap_or_default();
                    Item::Str(self.add_port(port, "tcp".into(), false))
                }
                toml::Value::String(s) => Item::Str(s),
                toml::Value::Integer(i) => Item::Int(i),
                toml::Value::Boolean(b) => Item::Bool(b),
                toml::Value::Array(words) => Item::List(
                    words
                        .into_iter()
                        .filter_map(|w| w.as_str().map(str::to_string))
                        .collect(),
                ),
                _ => continue,
            };
            doc.pair(&key, item, None);
        }
    }

    pub(super) fn resources(&mut self, doc: &mut Document) {
        let first = self.first();
        let cpu = first.cpus.as_ref().map(|(c, _)| cpus(c));
        let limit = first.mem_limit.as_ref().map(|(m, _)| memory(m));
        let reservation = first.mem_reservation.as_ref().map(|(m, _)| memory(m));
        if cpu.is_none() && limit.is_none() && reservation.is_none() {
            return;
        }
        doc.table(&["resources"]);
        if let Some(cpu) = cpu {
            doc.pair("cpu", Item::Str(cpu), None);
        }
        match (reservation, limit) {
            (Some(request), Some(limit)) => {
                doc.pair("memory", Item::Str(request), None);
                doc.pair("memory_limit", Item::Str(limit), None);
            }
            (Some(memory), None) | (None, Some(memory)) => {
                doc.pair("memory", Item::Str(memory), None)
            }
            (None, None) => {}
        }
    }

    pub(super) fn lifecycle(&mut self, doc: &mut Document) {
        if let Some((grace, _)) = &self.first().stop_grace_period {
            doc.table(&["lifecycle"]);
            doc.pair("stop_grace", Item::Str(duration(grace)), None);
        }
    }

    /// The one-shot service that initializes the cluster, as `[init]`.
    pub(super) fn init(&mut self, doc: &mut Document) {
        let Some(init) = self.input.init else { return };
        let mut argv: Vec<Text> = init
            .entrypoint
            .iter()
            .flatten()
            .chain(init.command.iter().flatten())
            .cloned()
            .collect();
        let mut done_output = None;
        let words: Vec<&str> = argv.iter().map(|t| t.value.as_str()).collect();
        if let [sh, dash_c, script, marker, ..] = words.as_slice()
            && *sh == "/bin/sh"
            && *dash_c == "-c"
            && *marker == "berth-init"
            && let Some(done) = done_output_of(script)
        {
            done_output = Some(done);
            argv.drain(..4);
        }
        let mut command = Vec::new();
        for word in &argv {
            for reference in word.raw.references() {
                self.param(reference);
            }
            // Not a member: every member's name in it is a peer's (`{{peers.[i].host}}`).
            command.push(crate::template::for_init(
                &word.raw,
                &self.names,
                &|n: &str| param_name(n),
            ));
        }
        doc.table(&["init"]);
        doc.pair("command", Item::List(command), None);
        let own = Some(self.first().image_name());
        if let Some(image) = &init.image
            && Some(image.value.as_str()) != own
        {
            let image = self.literal(vec![Some(&image.raw)], "the init service's `image`");
            doc.pair("image", Item::Str(image), None);
        }
        if let Some(done) = done_output {
            doc.pair("done_output", Item::Str(done), None);
        }
        self.init_env(doc, init);
        let cpu = init.cpus.as_ref().map(|(c, _)| cpus(c));
        let memory = init.mem_limit.as_ref().map(|(m, _)| memory(m));
        if cpu.is_some() || memory.is_some() {
            doc.table(&["init", "resources"]);
            for (key, value) in [("cpu", cpu), ("memory", memory)] {
                if let Some(value) = value {
                    doc.pair(key, Item::Str(value), None);
                }
            }
        }
    }

    /// The init service's `environment` as `[init.env]`: a secret as the members' are (a
    /// variable passed through, or one whose name says it is a secret), else its value.
    fn init_env(&mut self, doc: &mut Document, init: &crate::compose::Service) {
        if init.environment.is_empty() {
            return;
        }
        doc.table(&["init", "env"]);
        for (key, value, _) in &init.environment {
            if !berth_language::names::env_name(key) {
                self.unmapped.push(format!("the init service's `environment.{key}`: not an environment name every orchestrator takes; set it by hand"));
                continue;
            }
            let Some(value) = value.as_ref().filter(|_| !looks_like_secret(key)) else {
                let secret = vec![
                    ("secret".to_string(), self.input.cluster.name.clone()),
                    ("key".to_string(), crate::secrets::key(key)),
                ];
                doc.pair(key, Item::Inline(secret), Some("a secret, as the members'"));
                continue;
            };
            for reference in value.raw.references() {
                self.param(reference);
            }
            let t = crate::template::for_init(&value.raw, &self.names, &|n: &str| param_name(n));
            doc.pair(key, Item::Str(t), None);
        }
    }

    pub(super) fn replication(&mut self, doc: &mut Document) {
        let replicas = self.input.cluster.replicas;
        let image = self.first().image_name().to_string();
        let majority = known::software(&image).is_some_and(|s| s.majority) && replicas > 1;
        let member_names: Vec<&str> = self.members().iter().map(|m| m.name.as_str()).collect();
        // A member that waits for another's health is a mistake the report names
        // (`import/members-gated-on-health`): such members start together instead.
        let ordered = self.members().iter().any(|m| {
            m.depends_on.iter().any(|d| {
                member_names.contains(&d.service.as_str()) && d.condition != "service_healthy"
            })
        });
        if replicas == 1 && !ordered {
            return;
        }
        doc.table(&["replication"]);
        if i64::from(replicas) > crate::compose::MAX_REPLICAS {
            let first = self.first();
            self.findings.push(crate::rules::OUT_OF_RANGE.report(
                first.span.clone(),
                format!(
                    "`{}` has {replicas} members, more than berth's {}: the spec leaves `replicas` out",
                    self.input.cluster.name,
                    crate::compose::MAX_REPLICAS
                ),
                "too many members",
                format!("import at most {} members", crate::compose::MAX_REPLICAS),
            ));
        } else {
            doc.pair("replicas", Item::Int(replicas.into()), None);
        }
        if majority {
            doc.pair(
                "quorum",
                Item::Str("majority".into()),
                Some("guessed from the image"),
            );
        }
        if ordered {
            doc.pair(
                "start",
                Item::Str("ordered".into()),
                Some("members depend on each other in the Compose file"),
            );
        }
    }
}

/// The label berth's compose output says with what the liveness check needs.
pub(super) const LIVENESS_NEEDS: &str = "berth.liveness-needs";

/// The readiness check a member's `berth.readiness` label holds, as the spec's keys.
pub(super) fn readiness_label(member: &Service) -> Option<toml::Table> {
    let label = member.labels.get("berth.readiness")?;
    let mut parsed: toml::Table = toml::from_str(&format!("check = {label}")).ok()?;
    match parsed.remove("check")? {
        toml::Value::Table(check) => Some(check),
        _ => None,
    }
}

/// A health check that is an HTTP GET or a TCP connect on the member's own port.
enum Probe {
    Http { port: u16, path: String },
    Tcp { port: u16 },
}

/// Recognizes `curl`/`wget` of `http://localhost:PORT/PATH` and `nc -z localhost PORT` (berth's
/// own checks among them), so they import as `http` and `tcp` checks that every backend runs
/// its own way.
fn probe_of(words: &[&str]) -> Option<Probe> {
    let line = match words {
        ["/bin/sh", "-c", line] => line.to_string(),
        _ => words.join(" "),
    };
    let first = line.split_whitespace().next()?;
    if first == "curl" || first == "wget" {
        let url = line
            .split_whitespace()
            .map(|w| w.trim_matches(['\'', '"']))
            .find_map(|w| {
                w.strip_prefix("http://127.0.0.1:")
                    .or_else(|| w.strip_prefix("http://localhost:"))
            })?;
        let (port, path) = url.split_at(url.find('/').unwrap_or(url.len()));
        let path = if path.is_empty() { "/" } else { path };
        return Some(Probe::Http {
            port: port.parse().ok()?,
            path: path.to_string(),
        });
    }
    let mut tokens = line.split_whitespace();
    if first == "nc" && tokens.nth(1) == Some("-z") {
        let host = tokens.next()?;
        if host == "127.0.0.1" || host == "localhost" {
            return Some(Probe::Tcp {
                port: tokens.next()?.parse().ok()?,
            });
        }
    }
    None
}

/// The `[init] done_output` text of berth's own init wrapper, if `script` is one.
fn done_output_of(script: &str) -> Option<String> {
    let start = script.find("*\"")? + 2;
    let end = script.find("\"*)")?;
    let pattern = script.get(start..end)?;
    let mut done = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        done.push(if c == '\\' { chars.next()? } else { c });
    }
    (berth_model::done_output_script(&done) == script).then_some(done)
}

/// Stands in for a member's published address while the members' values are compared.
const PUBLISHED_MARK: &str = "\u{F0000}published:";
const PUBLISHED_END: &str = "\u{F0001}";

/// `{{self.published.NAME}}` where [`PUBLISHED_MARK`] stood.
fn unmark_published(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find(PUBLISHED_MARK) {
        out.push_str(&rest[..start]);
        let after = &rest[start + PUBLISHED_MARK.len()..];
        let end = after.find(PUBLISHED_END).unwrap_or(after.len());
        out.push_str(&format!("{{{{self.published.{}}}}}", &after[..end]));
        rest = after.get(end + PUBLISHED_END.len()..).unwrap_or("");
    }
    out + rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn berth_s_init_wrapper_reads_back() {
        let script = berth_model::done_output_script("already \"initialized\"");
        assert_eq!(
            done_output_of(&script).as_deref(),
            Some("already \"initialized\"")
        );
        assert_eq!(done_output_of("echo hi"), None);
    }
}
