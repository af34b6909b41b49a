//! The backend-neutral model of one stateful service: every parameter and structural template
//! already resolved and type-checked. Backends lower this model; they never see the TOML.
//!
//! Strings in `[container]` and `[init]` stay templates ([`Template`]) because `self` and `peers`
//! resolve differently on each orchestrator; [`Service::render`] renders them with a backend's
//! [`Identity`]. [`concern`] names what a backend must realize for such a service and records how
//! it did; [`start`] is the start script that places files where a platform mounts no content.
//! The model uses the language's spans and templates and the engine's diagnostics; the start
//! script borrows the single-engine backends' shell quoting.

pub mod concern;
pub mod shell;
pub mod start;

use berth_diagnostic::source::Span;
use berth_language::template::Templates;
use serde::Serialize;
use std::collections::BTreeMap;

/// A value together with where the spec wrote it, for diagnostics.
#[derive(Clone, Debug)]
pub struct Located<T> {
    pub value: T,
    pub span: Option<Span>,
}

impl<T> Located<T> {
    pub fn new(value: T, span: Option<Span>) -> Self {
        Located { value, span }
    }
}

/// Defined with the templates that render them; part of the model.
pub use berth_language::template::{Identity, Member, Template};

#[derive(Clone, Debug)]
pub struct Service {
    pub name: Located<String>,
    pub description: Option<String>,
    pub container: Container,
    pub ports: Vec<Port>,
    pub volumes: Vec<Volume>,
    pub files: Vec<File>,
    pub network: Network,
    pub replication: Replication,
    pub health: Health,
    pub resources: Option<Located<Resources>>,
    pub stop_grace: Located<u64>,
    pub init: Option<Init>,
    /// How a member joins and leaves the running cluster, when the spec says.
    pub membership: Option<Membership>,
    pub tls: Option<Located<Tls>>,
    pub allow: Vec<Allow>,
    /// The backends the spec names in `targets`; `None` when it names none (every backend).
    pub targets: Option<Located<Vec<String>>>,
    /// Rendered `params` (for templates in backend options) and the handlebars registry.
    pub templates: Templates,
    /// Where each parameter's value came from.
    pub param_origins: BTreeMap<String, berth_language::params::ParamOrigin>,
    /// The parameters as declared, for a package manager's list of values.
    pub parameters: Vec<berth_language::params::Declared>,
    /// By parameter, the structural keys (`volumes.size`, `name`) its value may reach.
    pub parameter_feeds: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// The structural templates (those with an action), where a value computed from them (a
    /// chart's) needs the template rather than the value.
    pub structural_sources: Vec<StructuralSource>,
    /// The `[backends.NAME]` tables, with their spans.
    pub backend_options: BTreeMap<String, Span>,
}

/// A structural template with an action: the key it sets (`volumes.size`), where the spec wrote
/// it, and the template.
#[derive(Clone, Debug)]
pub struct StructuralSource {
    pub key: String,
    pub span: Span,
    pub template: String,
}

impl Service {
    /// The template that set `key` in the table that starts at `from` (a `[[volumes]]` entry's,
    /// the `[resources]` table's), before the next one of its kind starts at `until`, where a
    /// template with an action did.
    pub fn structural_source(
        &self,
        key: &str,
        from: Option<&Span>,
        until: Option<&Span>,
    ) -> Option<&str> {
        let from = from?;
        self.structural_sources
            .iter()
            .find(|s| {
                s.key == key
                    && s.span.file == from.file
                    && from.range.start <= s.span.range.start
                    && until.is_none_or(|until| s.span.range.start < until.range.start)
            })
            .map(|s| s.template.as_str())
    }
}

#[derive(Clone, Debug)]
pub struct Container {
    pub image: Template,
    pub command: Vec<Template>,
    pub args: Vec<Template>,
    pub env: Vec<EnvVar>,
    pub user: Option<u32>,
    /// Whether the image has `/bin/sh`; `None` when the spec does not say.
    pub shell: Option<bool>,
    pub span: Option<Span>,
}

#[derive(Clone, Debug)]
pub struct EnvVar {
    pub name: String,
    pub value: EnvValue,
    pub span: Option<Span>,
}

#[derive(Clone, Debug)]
pub enum EnvValue {
    Literal(Template),
    Secret { secret: String, key: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expose {
    /// Clients and peers.
    Public,
    /// Replica-to-replica traffic only: never published, not in the client service.
    Peers,
}

#[derive(Clone, Debug)]
pub struct Port {
    pub name: String,
    pub port: u16,
    pub protocol: Protocol,
    pub expose: Expose,
    pub span: Option<Span>,
}

#[derive(Clone, Debug)]
pub struct Volume {
    pub name: String,
    pub path: String,
    /// A Kubernetes quantity as written (`100Gi`) and its value in bytes.
    pub size: Option<(String, u128)>,
    pub class: Option<String>,
    pub persistent: bool,
    /// The Docker volume that already holds each member's data, rendered for each member.
    pub external: Option<Template>,
    pub span: Option<Span>,
}

/// Where other services find the members (`[network]`).
#[derive(Clone, Debug, Default)]
pub struct Network {
    /// The network shared with other services, when the spec names one.
    pub name: Option<Located<String>>,
    /// Names each member answers to besides its host name, rendered for each member.
    pub aliases: Vec<Template>,
}

/// A file in each member's container.
#[derive(Clone, Debug)]
pub struct File {
    pub path: String,
    pub body: FileBody,
    /// Permission bits, such as `0o644`.
    pub mode: u32,
    pub owner: Option<u32>,
    pub span: Option<Span>,
}

#[derive(Clone, Debug)]
pub enum FileBody {
    /// Text rendered for each member, like `[container]` strings.
    Content(Template),
    /// A key of a secret the user provides; its value is never written out.
    Secret { secret: String, key: String },
}

impl File {
    /// A name for the file that is unique within the service and safe as a ConfigMap key, a
    /// Swarm config name part and a file name: its index and the path's last part.
    pub fn key(&self, index: usize) -> String {
        let base = self.path.rsplit('/').next().unwrap_or_default();
        let safe: String = base
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{index}-{}", safe.trim_start_matches('.'))
    }

    /// The mode as four octal digits, as `chmod` and manifests write it.
    pub fn octal_mode(&self) -> String {
        format!("{:04o}", self.mode)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Quorum {
    Majority,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Spread {
    Required,
    Preferred,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Start {
    Parallel,
    Ordered,
}

/// How the members' traffic to each other is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encryption {
    /// The software's own TLS (`[tls]`).
    Tls,
    /// The orchestrator's network between nodes (Swarm's encrypted overlay).
    Network,
    /// Cleartext.
    None,
}

/// How the software finds its peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discovery {
    /// It keeps resolving and connecting until its peers answer.
    Retrying,
    /// It looks its peers up once, as it starts (RabbitMQ's Mnesia): a peer that cannot be
    /// resolved at that moment is not tried again until the member restarts.
    AtStart,
}

#[derive(Clone, Debug)]
pub struct Replication {
    pub replicas: Located<u32>,
    pub quorum: Located<Quorum>,
    pub spread: Located<Spread>,
    /// Whether the spec says `spread`; without, it follows the member count (`required` with
    /// several, `none` with one).
    pub spread_written: bool,
    pub start: Located<Start>,
    pub discovery: Located<Discovery>,
    pub encryption: Located<Encryption>,
}

impl Replication {
    /// How many members must stay up for the service to stay available.
    pub fn majority(&self) -> u32 {
        match self.quorum.value {
            Quorum::Majority => self.replicas.value / 2 + 1,
            Quorum::None => 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckAction {
    Http { path: String, port: String },
    Tcp { port: String },
    Exec { argv: Vec<String> },
}

#[derive(Clone, Debug)]
pub struct Check {
    pub action: CheckAction,
    /// Seconds between checks; [`DEFAULT_INTERVAL`] unless the spec says.
    pub interval: u64,
    /// Seconds a check may take; [`DEFAULT_TIMEOUT`] unless the spec says.
    pub timeout: u64,
    pub failures: Option<u32>,
    pub initial_delay: Option<u64>,
    pub needs_quorum: bool,
    /// The check passes only once the member found its peers (declared, or the default for a
    /// service of several members); implied by `needs_quorum`.
    pub needs_peers: bool,
    /// What `needs_peers` is with several members, whatever this compile's count: declared, or
    /// by default. The rules about checks that wait for peers read it, so that they hold for any
    /// member count a chart's values give.
    pub peers_when_several: bool,
    /// `docker_exec`: this check as an argv run inside the container.
    pub docker_exec: Option<Vec<String>>,
    pub span: Option<Span>,
}

/// One default for every backend, whose own defaults differ (Kubernetes and Cloud Foundry time a
/// check out after 1 s, Docker after 30 s).
pub const DEFAULT_INTERVAL: u64 = 10;
pub const DEFAULT_TIMEOUT: u64 = 5;

#[derive(Clone, Debug, Default)]
pub struct Health {
    pub liveness: Option<Check>,
    pub readiness: Option<Check>,
    pub startup: Option<Check>,
}

#[derive(Clone, Debug)]
pub struct Resources {
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub cpu_limit: Option<String>,
    pub memory_limit: Option<String>,
}

/// How a member joins and leaves the running cluster (`[membership]`); every command is a list of
/// templates rendered with [`Templates::try_membership`].
#[derive(Clone, Debug)]
pub struct Membership {
    pub run: RunOn,
    pub add: Vec<Vec<Template>>,
    pub added: Vec<Vec<Template>>,
    pub remove: Vec<Vec<Template>>,
    pub forget: Vec<Vec<Template>>,
    pub caught_up: Option<Vec<Template>>,
    pub safe_to_stop: Option<Vec<Template>>,
    /// Seconds a check may take to pass.
    pub timeout: u64,
    pub id: Option<MemberId>,
    pub span: Option<Span>,
}

/// Where membership commands run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOn {
    /// Inside a current member other than the one concerned.
    Member,
    /// A container of the member image on the members' network.
    Oneoff,
}

/// How to find a member's id in the output of a listing command.
#[derive(Clone, Debug)]
pub struct MemberId {
    pub command: Vec<Template>,
    pub separator: char,
    pub name_field: u32,
    pub id_field: u32,
}

#[derive(Clone, Debug)]
pub struct Init {
    pub command: Vec<Template>,
    pub image: Option<Template>,
    /// Text in the command's output that means the cluster was initialized before.
    pub done_output: Option<String>,
    /// The step's own environment (none of `[container.env]` unless named again).
    pub env: Vec<EnvVar>,
    pub resources: InitResources,
    pub span: Option<Span>,
}

/// What the init step may use: request and limit alike.
#[derive(Clone, Debug, PartialEq)]
pub struct InitResources {
    /// A Kubernetes quantity, `100m` unless the spec says otherwise.
    pub cpu: String,
    /// A Kubernetes quantity, `128Mi` unless the spec says otherwise.
    pub memory: String,
}

impl Default for InitResources {
    fn default() -> Self {
        InitResources {
            cpu: "100m".into(),
            memory: "128Mi".into(),
        }
    }
}

impl Init {
    /// The argv every backend runs: `command` rendered, and with `done_output` wrapped in
    /// `/bin/sh`, so that a run after the cluster was initialized succeeds (a re-created Job, a
    /// re-run script) instead of failing and retrying.
    pub fn argv(
        &self,
        service: &Service,
        identity: &Identity,
    ) -> Result<Vec<String>, berth_diagnostic::Diagnostic> {
        let mut argv = self
            .command
            .iter()
            .map(|t| service.render(t, identity))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(done) = &self.done_output {
            let script = done_output_script(done);
            let mut wrapped = vec![
                "/bin/sh".to_string(),
                "-c".to_string(),
                script,
                "berth-init".to_string(),
            ];
            wrapped.append(&mut argv);
            argv = wrapped;
        }
        Ok(argv)
    }
}

#[derive(Clone, Debug)]
pub struct Tls {
    pub secret: String,
    pub path: String,
    pub extra_names: Vec<Located<String>>,
    /// The group that reads the keys.
    pub group: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct Allow {
    pub rule: String,
    pub reason: String,
    pub span: Option<Span>,
}

/// The `/bin/sh -c` script that runs `[init] command` (its `"$@"`) and succeeds when its output
/// says the cluster was initialized before.
pub fn done_output_script(done: &str) -> String {
    // Double quotes only: the script is quoted again by the backends that run it in a shell
    // command line (Cloud Foundry's task).
    let pattern: String = done
        .chars()
        .flat_map(|c| match c {
            '"' | '$' | '`' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!(
        "out=$(\"$@\" 2>&1); status=$?; printf \"%s\\n\" \"$out\"; case $out in *\"{pattern}\"*) echo \"berth: initialized before\"; exit 0 ;; esac; exit \"$status\""
    )
}

impl berth_diagnostic::Allowances for Service {
    fn allowed_because(&self, rule: &str) -> Option<&str> {
        self.allow
            .iter()
            .find(|a| a.rule == rule)
            .map(|a| a.reason.as_str())
    }
}

impl Service {
    pub fn name(&self) -> &str {
        &self.name.value
    }

    pub fn replicas(&self) -> u32 {
        self.replication.replicas.value
    }

    /// The members, `NAME-0` to `NAME-(replicas-1)`, each its own host name.
    pub fn members(&self) -> Vec<Member> {
        (0..self.replicas())
            .map(|i| {
                let name = format!("{}-{i}", self.name());
                Member {
                    ordinal: i.to_string(),
                    host: name.clone(),
                    name,
                    ..Default::default()
                }
            })
            .collect()
    }

    /// Whether any `env` value or file comes from a secret.
    pub fn uses_secrets(&self) -> bool {
        self.container
            .env
            .iter()
            .any(|var| matches!(var.value, EnvValue::Secret { .. }))
            || self
                .files
                .iter()
                .any(|file| matches!(file.body, FileBody::Secret { .. }))
    }

    pub fn persistent_volumes(&self) -> impl Iterator<Item = &Volume> {
        self.volumes.iter().filter(|v| v.persistent)
    }

    pub fn public_ports(&self) -> impl Iterator<Item = &Port> {
        self.ports.iter().filter(|p| p.expose == Expose::Public)
    }

    pub fn port(&self, name: &str) -> Option<&Port> {
        self.ports.iter().find(|p| p.name == name)
    }

    /// Whether `check` can pass only after this member found peers that exist: the check must
    /// then never gate how members discover each other, or a cold start never forms.
    pub fn waits_for_peers(&self, check: &Check) -> bool {
        check.peers_when_several && self.replicas() > 1
    }

    /// Whether the liveness check needs quorum: declared so, or the same action as a readiness
    /// check that does.
    pub fn liveness_needs_quorum(&self) -> bool {
        let (Some(live), ready) = (&self.health.liveness, &self.health.readiness) else {
            return false;
        };
        live.needs_quorum
            || ready
                .as_ref()
                .is_some_and(|r| r.needs_quorum && r.action == live.action)
    }

    /// The `[resources]` keys among `cpu` and `memory` that are not set.
    pub fn missing_resources(&self) -> Vec<&'static str> {
        let resources = self.resources.as_ref().map(|r| &r.value);
        let mut missing = Vec::new();
        if resources.is_none_or(|r| r.cpu.is_none()) {
            missing.push("cpu");
        }
        if resources.is_none_or(|r| r.memory.is_none()) {
            missing.push("memory");
        }
        missing
    }

    /// Whether the spec is meant for `backend`.
    pub fn targets(&self, backend: &str) -> bool {
        self.targets
            .as_ref()
            .is_none_or(|t| t.value.iter().any(|name| name == backend))
    }

    /// The content of file number `index` for one member, or `None` for a secret file.
    pub fn file_content(
        &self,
        file: &File,
        identity: &Identity,
    ) -> Result<Option<String>, berth_diagnostic::Diagnostic> {
        match &file.body {
            FileBody::Content(template) => self.render(template, identity).map(Some),
            FileBody::Secret { .. } => Ok(None),
        }
    }

    /// Renders a `[container]` or `[init]` string with a backend's notion of `self` and `peers`.
    pub fn render(
        &self,
        template: &Template,
        identity: &Identity,
    ) -> Result<String, berth_diagnostic::Diagnostic> {
        self.templates.render_member(template, identity)
    }

    /// The Docker volume that already holds the member's data for `volume`
    /// (`volumes.external`, rendered for it), if the spec names one.
    pub fn external_volume(
        &self,
        volume: &Volume,
        identity: &Identity,
    ) -> Result<Option<String>, berth_diagnostic::Diagnostic> {
        volume
            .external
            .as_ref()
            .map(|t| self.render(t, identity))
            .transpose()
    }

    /// The network a single-host or Swarm backend puts the members on: the one the spec shares
    /// with other services, else `<name>-<backend>`, so that the outputs of one service for two
    /// backends never share a network (and so a member name) on one engine.
    pub fn network_name(&self, backend: &str) -> String {
        match &self.network.name {
            Some(shared) => shared.value.clone(),
            None => format!("{}-{backend}", self.name()),
        }
    }

    /// The names the member answers to besides its host name (`network.aliases`, rendered for
    /// it), each once; its own host name is no alias.
    pub fn aliases(
        &self,
        identity: &Identity,
    ) -> Result<Vec<String>, berth_diagnostic::Diagnostic> {
        let own = identity.me.map(|m| m.host.as_str());
        let mut aliases = Vec::new();
        for template in &self.network.aliases {
            let alias = self.render(template, identity)?;
            if !aliases.contains(&alias) && Some(alias.as_str()) != own {
                aliases.push(alias);
            }
        }
        Ok(aliases)
    }

    /// The member's command line: `container.command` then `container.args`, rendered for it.
    pub fn render_argv(
        &self,
        identity: &Identity,
    ) -> Result<Vec<String>, berth_diagnostic::Diagnostic> {
        let container = &self.container;
        container
            .command
            .iter()
            .chain(&container.args)
            .map(|t| self.render(t, identity))
            .collect()
    }

    /// Renders a string option of a backend (params only, no `self`/`peers`).
    pub fn render_option(
        &self,
        source: &str,
        span: Option<Span>,
    ) -> Result<String, berth_diagnostic::Diagnostic> {
        self.templates.render_structural(source, span)
    }
}
