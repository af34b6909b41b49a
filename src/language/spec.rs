//! The spec file as written: serde types that mirror the TOML, with spans kept for diagnostics.
//!
//! Fields that may hold a template (`replicas = "{{params.replicas}}"`) are kept as raw TOML
//! values here; [`berth_resolve`] renders and type-checks them against the parameters.

use berth_diagnostic::errors;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

pub type SString = Spanned<String>;
/// A scalar that is either its own type or a string template rendering to it.
pub type SValue = Spanned<toml::Value>;

/// JSON Schema of a structural integer: an integer, or a template string such as `"{{params.replicas}}"`.
fn integer_or_template(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "anyOf": [{ "type": "integer" }, { "type": "string", "pattern": "\\{\\{" }] })
}

fn optional_integer_or_template(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    integer_or_template(generator)
}

fn optional_boolean_or_template(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "anyOf": [{ "type": "boolean" }, { "type": "string", "pattern": "\\{\\{" }] })
}

fn parameter_default(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": ["string", "integer", "boolean"] })
}

/// One declarative spec of a stateful service (berth). Any string may hold handlebars templates:
/// `name`, `params.*`, `port.*`, and in `[container]`/`[init]` strings `self`, `peers`, `peer_hosts`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A DNS-1123 label of at most 52 characters, starting with a letter: it names every object, volume and host.
    #[schemars(with = "String")]
    pub name: SString,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The backends this spec is meant for (default: every backend). `compile`, `check` and `diff`
    /// work on these; `--backend` narrows within them, and only these backends' needs are errors.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub targets: Option<Spanned<Vec<SString>>>,
    /// Typed parameters that users override with `--set NAME=VALUE` and `--values FILE`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, ParamDecl>")]
    pub params: BTreeMap<Spanned<String>, Spanned<ParamDecl>>,
    /// The process of each member.
    #[schemars(with = "Container")]
    pub container: Spanned<Container>,
    /// Ports of each member.
    #[serde(default)]
    #[schemars(with = "Vec<Port>")]
    pub ports: Vec<Spanned<Port>>,
    /// Volumes of each member.
    #[serde(default)]
    #[schemars(with = "Vec<Volume>")]
    pub volumes: Vec<Spanned<Volume>>,
    /// Files put into each member's container: configuration, or a secret the user provides.
    #[serde(default)]
    #[schemars(with = "Vec<File>")]
    pub files: Vec<Spanned<File>>,
    /// How many members, and what they need of each other.
    #[serde(default)]
    #[schemars(with = "Option<Replication>")]
    pub replication: Option<Spanned<Replication>>,
    /// Health checks.
    #[serde(default)]
    #[schemars(with = "Option<Health>")]
    pub health: Option<Spanned<Health>>,
    /// CPU and memory of each member.
    #[serde(default)]
    #[schemars(with = "Option<Resources>")]
    pub resources: Option<Spanned<Resources>>,
    /// Stopping.
    #[serde(default)]
    #[schemars(with = "Option<Lifecycle>")]
    pub lifecycle: Option<Spanned<Lifecycle>>,
    /// A one-shot bootstrap step that runs once after the members started, retrying until the cluster answers.
    #[serde(default)]
    #[schemars(with = "Option<Init>")]
    pub init: Option<Spanned<Init>>,
    /// Certificates the user provides; each backend reports the DNS names they must cover.
    #[serde(default)]
    #[schemars(with = "Option<Tls>")]
    pub tls: Option<Spanned<Tls>>,
    /// How a member joins and leaves the running cluster: what `berth plan` runs when the member
    /// count changes, and the checks between its steps.
    #[serde(default)]
    #[schemars(with = "Option<Membership>")]
    pub membership: Option<Spanned<Membership>>,
    /// The network the members join and the names they answer to there, for other services.
    #[serde(default)]
    #[schemars(with = "Option<Network>")]
    pub network: Option<Spanned<Network>>,
    /// Options of each backend, under its name (`berth explain` lists the backends); see each backend's README.
    #[serde(default)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub backends: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    /// Rules lifted for this spec, each with the reason; the output says so in a comment.
    #[serde(default)]
    #[schemars(with = "Vec<Allow>")]
    pub allow: Vec<Spanned<Allow>>,
}

/// A typed parameter; its type is the TOML type of `default` (a string when `required`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParamDecl {
    /// The value when nothing overrides it: a string, an integer or a boolean. Required unless
    /// `required` is true.
    #[serde(default)]
    #[schemars(schema_with = "parameter_default")]
    pub default: Option<SValue>,
    /// `true`: a string with no default, which `--set` or `--values` must give (a compile
    /// without it fails), for a value only the user can know.
    #[serde(default)]
    pub required: bool,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The smallest allowed value (integer parameters).
    #[serde(default)]
    #[schemars(with = "Option<i64>")]
    pub min: Option<Spanned<i64>>,
    /// The largest allowed value (integer parameters).
    #[serde(default)]
    #[schemars(with = "Option<i64>")]
    pub max: Option<Spanned<i64>>,
    /// The allowed values (string parameters).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub values: Option<Spanned<Vec<String>>>,
    /// A regular expression the whole value must match (string parameters): a value that a
    /// script or an image's own configuration would read as more than one (`a b`, `x\ny`) is
    /// refused before it reaches them.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub pattern: Option<Spanned<String>>,
}

/// The process of each member.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// The image reference.
    #[schemars(with = "String")]
    pub image: SString,
    /// Replaces the image's entrypoint.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub command: Vec<SString>,
    /// Arguments.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub args: Vec<SString>,
    /// Environment: a string, or `{ secret = "NAME", key = "KEY" }`, which each orchestrator reads from its secret store.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, EnvValue>")]
    pub env: BTreeMap<Spanned<String>, Spanned<EnvValue>>,
    /// The numeric user the image's process runs as; enables the non-root hardening.
    #[serde(default)]
    #[schemars(schema_with = "optional_integer_or_template")]
    pub user: Option<SValue>,
    /// Whether the image has `/bin/sh` (docker run's `--health-cmd` runs through it). Unset: assumed, with a warning where it matters.
    #[serde(default)]
    #[schemars(schema_with = "optional_boolean_or_template")]
    pub shell: Option<SValue>,
}

/// An environment value: a literal string, or a reference to a secret.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EnvValue {
    Literal(String),
    Secret(SecretRef),
}

/// A secret in the orchestrator's secret store, never written out as a value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// The secret's name.
    pub secret: String,
    /// The key within the secret.
    pub key: String,
}

/// A port of each member.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// An IANA service name: at most 15 lowercase letters, digits and single `-`, with a letter.
    #[schemars(with = "String")]
    pub name: SString,
    /// 1 to 65535.
    #[schemars(schema_with = "integer_or_template")]
    pub port: SValue,
    /// `tcp` (default) or `udp`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub protocol: Option<SString>,
    /// `public` (default: clients and peers) or `peers` (replica-to-replica only: never published, not in the client service).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub expose: Option<SString>,
}

/// A volume of each member.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// A DNS-1123 label.
    #[schemars(with = "String")]
    pub name: SString,
    /// The absolute mount path.
    #[schemars(with = "String")]
    pub path: SString,
    /// A Kubernetes quantity such as `100Gi`; required for a persistent volume.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub size: Option<SString>,
    /// The storage class or disk tier.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub class: Option<SString>,
    /// `true` (default): the data outlives the container; `false`: scratch space that may be lost.
    #[serde(default)]
    #[schemars(schema_with = "optional_boolean_or_template")]
    pub persistent: Option<SValue>,
    /// The Docker volume that already holds each member's data, rendered for each member (`app_{{self.ordinal}}_data`): the docker and compose backends mount it instead of a volume of their own, and never create it; the other backends make their own storage, as for any new deployment.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub external: Option<SString>,
}

/// Where other services find the members: a network shared with them, and names besides each
/// member's own host name.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// A network other services' specs name too, so that they reach each other (a DNS-1123 label;
    /// default: the service's own, `<name>-<backend>`). On Kubernetes, the default namespace.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub name: Option<SString>,
    /// Names each member answers to on that network, rendered for each member (`db`, or
    /// `zoo{{add self.ordinal 1}}` for one name per member): DNS-1123 labels. A name every member
    /// shares resolves to any of them.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub aliases: Vec<SString>,
}

/// A file in each member's container: exactly one of `content`, `source` or `secret` (with `key`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// The absolute path inside the container.
    #[schemars(with = "String")]
    pub path: SString,
    /// The file's text, rendered like `[container]` strings (`self`, `peers`, `params`, `port`); a file that uses `self` differs per member.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub content: Option<SString>,
    /// A file beside the spec whose text is rendered like `content`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub source: Option<SString>,
    /// A secret the user provides (as for `env`), whose `key` is the file's content; never written out.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub secret: Option<SString>,
    /// The key within `secret`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub key: Option<SString>,
    /// The permissions, as an octal string (default `"0644"`, `"0400"` for a secret).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub mode: Option<SString>,
    /// The numeric user that owns the file, for software that checks who owns it.
    #[serde(default)]
    #[schemars(schema_with = "optional_integer_or_template")]
    pub owner: Option<SValue>,
}

/// How many members, and what they need of each other.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Replication {
    /// Number of members (default 1).
    #[serde(default)]
    #[schemars(schema_with = "optional_integer_or_template")]
    pub replicas: Option<SValue>,
    /// `majority` (available while a majority of members is up) or `none` (default).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub quorum: Option<SString>,
    /// `required`, `preferred` or `none`: never, preferably not, or freely two members on one host (default `required` above 1 replica).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub spread: Option<SString>,
    /// `parallel` (default) or `ordered`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub start: Option<SString>,
    /// How the software finds its peers: `retrying` (default: it keeps resolving and connecting
    /// until they answer) or `at-start` (it looks them up once, as it starts).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub discovery: Option<SString>,
    /// How the members' traffic to each other is protected: `tls` (the software's own TLS, set up
    /// under `[tls]`), `network` (the orchestrator encrypts the network between nodes: Swarm's
    /// IPsec overlay, which needs ESP, IP protocol 50, to pass between the nodes), or `none`
    /// (cleartext). Default: `tls` with `[tls]`, else `network`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub encryption: Option<SString>,
}

/// Health checks.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// Is the process alive? Keep it process-local: orchestrators restart members that fail it.
    #[serde(default)]
    #[schemars(with = "Option<Check>")]
    pub liveness: Option<Spanned<Check>>,
    /// Does the member accept connections? It may need quorum (`needs_quorum = true`).
    #[serde(default)]
    #[schemars(with = "Option<Check>")]
    pub readiness: Option<Spanned<Check>>,
    /// Has the member finished starting? Defaults to the liveness check with a generous allowance.
    #[serde(default)]
    #[schemars(with = "Option<Check>")]
    pub startup: Option<Spanned<Check>>,
}

/// One health check: exactly one of `http` (with `port`), `tcp` or `exec`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// An HTTP path, checked on the port `port` names.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub http: Option<SString>,
    /// The port name for `http`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub port: Option<SString>,
    /// A port name to open a TCP connection to.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub tcp: Option<SString>,
    /// A command run in the container.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub exec: Option<Vec<SString>>,
    /// How often, as a duration such as `30s` (default 10s, on every backend).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub interval: Option<SString>,
    /// How long one check may take (default 5s, on every backend).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<SString>,
    /// Consecutive failures before the check fails.
    #[serde(default)]
    #[schemars(schema_with = "optional_integer_or_template")]
    pub failures: Option<SValue>,
    /// How long to wait before the first check.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub initial_delay: Option<SString>,
    /// The check passes only while the member sees a majority of its peers.
    #[serde(default)]
    #[schemars(schema_with = "optional_boolean_or_template")]
    pub needs_quorum: Option<SValue>,
    /// The check passes only once this member has found its peers (a cluster formed), so it must never gate how members discover each other. Default: true with more than one member, false with one.
    #[serde(default)]
    #[schemars(schema_with = "optional_boolean_or_template")]
    pub needs_peers: Option<SValue>,
    /// The same check as a command run inside the container, for the docker-family backends, whose health checks can only run commands.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub docker_exec: Option<Vec<SString>>,
}

/// CPU and memory of each member: requests, and limits that equal them unless given.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU request, a Kubernetes quantity such as `2` or `500m`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub cpu: Option<SString>,
    /// Memory request, a Kubernetes quantity such as `8Gi`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub memory: Option<SString>,
    /// CPU limit (default: the request).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub cpu_limit: Option<SString>,
    /// Memory limit (default: the request).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub memory_limit: Option<SString>,
}

/// Stopping.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    /// How long a member may take to stop after SIGTERM (default `60s`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub stop_grace: Option<SString>,
}

/// The bootstrap step.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Init {
    /// The command; `peers` may be used, `self` may not (the step is not a member).
    #[schemars(with = "Vec<String>")]
    pub command: Vec<SString>,
    /// The image (default: the container's).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub image: Option<SString>,
    /// Text in the command's output that means the cluster was initialized before: the step
    /// then succeeds, so running it again is safe. Runs the command under `/bin/sh`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub done_output: Option<SString>,
    /// The step's environment, in `[container.env]`'s forms: a string (`peers` may be used, `self`
    /// may not), or `{ secret = "NAME", key = "KEY" }`, given as each orchestrator gives the members
    /// their secrets. The step gets no variable of `[container.env]` that is not named here.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, EnvValue>")]
    pub env: BTreeMap<Spanned<String>, Spanned<EnvValue>>,
    /// What the step may use (request and limit alike; default: `cpu = "100m"`, `memory = "128Mi"`).
    #[serde(default)]
    #[schemars(with = "Option<InitResources>")]
    pub resources: Option<Spanned<InitResources>>,
}

/// How a member joins and leaves the running cluster. Each command is a list of arguments and may
/// use `member` (the member concerned: `ordinal`, `name`, `host`), `members` (the current
/// members, the concerned one included while it is part of the cluster), `name`, `params.*` and
/// `port.*`. A joining member's own `[container]` strings see `self.joining = true` and, as
/// `peers`, the members as they are once it joined; a founding member's see `false` and all.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    /// Where the commands run: `member` (inside a current member other than the one concerned,
    /// default) or `oneoff` (a container of the member image on the members' network).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub run: Option<SString>,
    /// Commands run before a new member starts (etcd's `member add`).
    #[serde(default)]
    #[schemars(with = "Vec<Vec<String>>")]
    pub add: Vec<Spanned<Vec<SString>>>,
    /// Commands run once a new member has caught up (RabbitMQ's `rabbitmq-queues grow`).
    #[serde(default)]
    #[schemars(with = "Vec<Vec<String>>")]
    pub added: Vec<Spanned<Vec<SString>>>,
    /// Commands run before a leaving member stops (etcd's `member remove`); they may use
    /// `member.id` when `[membership.id]` says how to find it.
    #[serde(default)]
    #[schemars(with = "Vec<Vec<String>>")]
    pub remove: Vec<Spanned<Vec<SString>>>,
    /// Commands run after a leaving member stopped (RabbitMQ's `forget_cluster_node`); they may
    /// use `member.id`.
    #[serde(default)]
    #[schemars(with = "Vec<Vec<String>>")]
    pub forget: Vec<Spanned<Vec<SString>>>,
    /// A check that passes once the member concerned has caught up with the cluster, asked again
    /// until it passes after every start.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub caught_up: Option<Spanned<Vec<SString>>>,
    /// A check that passes when the cluster keeps its majority without the member concerned,
    /// asked again until it passes before every stop.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub safe_to_stop: Option<Spanned<Vec<SString>>>,
    /// How long a check may take to pass before the plan stops (default `300s`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<SString>,
    /// How to find a member's id, which some software wants instead of its name.
    #[serde(default)]
    #[schemars(with = "Option<MemberId>")]
    pub id: Option<Spanned<MemberId>>,
}

/// A command that lists the members one per line, in fields: the line whose `name_field` is the
/// member's name gives its id in `id_field` (fields count from 1; spaces around them are trimmed).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberId {
    #[schemars(with = "Vec<String>")]
    pub command: Vec<SString>,
    /// The one character between fields, such as `,`.
    #[schemars(with = "String")]
    pub separator: SString,
    #[schemars(with = "u32")]
    pub name_field: Spanned<u32>,
    #[schemars(with = "u32")]
    pub id_field: Spanned<u32>,
}

/// What the init step may use.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InitResources {
    /// CPU, a Kubernetes quantity such as `250m` (default `100m`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub cpu: Option<SString>,
    /// Memory, a Kubernetes quantity such as `512Mi` (default `128Mi`; a Node.js client such as
    /// `mongosh` needs more).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub memory: Option<SString>,
}

/// TLS certificates provided by the user.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The secret holding the certificates (never generated into the output).
    #[schemars(with = "String")]
    pub secret: SString,
    /// Where they are mounted.
    #[schemars(with = "String")]
    pub path: SString,
    /// More DNS names the certificates cover; an IP address is refused.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub extra_names: Vec<SString>,
    /// The numeric group that reads the keys (mode 0440), for an image that starts as root and
    /// drops to its own user; default `container.user`.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub group: Option<Spanned<u32>>,
}

/// Lifts one rule for this spec.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    /// The rule id, as `berth rules` lists it.
    #[schemars(with = "String")]
    pub rule: SString,
    /// Why the rule does not apply to this service.
    #[schemars(with = "String")]
    pub reason: SString,
}

/// The JSON Schema (draft-07) of the spec, generated from these types. `backends` names each
/// backend and gives the schema of its `[backends.NAME]` table, made with the generator it is
/// handed so that the tables' definitions join the spec's; `backends` takes no other name.
pub fn json_schema(
    backends: impl FnOnce(&mut schemars::SchemaGenerator) -> Vec<(&'static str, schemars::Schema)>,
) -> String {
    let mut generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let tables: serde_json::Map<String, serde_json::Value> = backends(&mut generator)
        .into_iter()
        .map(|(name, schema)| (name.to_string(), schema.to_value()))
        .collect();
    let mut schema = generator.into_root_schema_for::<Spec>();
    if let Some(property) = schema
        .get_mut("properties")
        .and_then(|properties| properties.get_mut("backends"))
        .and_then(serde_json::Value::as_object_mut)
    {
        property.insert("properties".into(), tables.into());
        property.insert("additionalProperties".into(), false.into());
    }
    serde_json::to_string_pretty(&schema).expect("a schema serializes") + "\n"
}

/// Parses a spec file; a syntax error, an unknown key or a value of the wrong type becomes one
/// diagnostic that points at the offending key.
/// A parsed spec, and each `[backends.NAME]` table as the parser left it (with the spans of its
/// keys), from which that backend deserializes its own options without parsing the text again.
pub struct Parsed<'a> {
    pub spec: Spec,
    pub backend_tables: BackendTables<'a>,
}

pub type BackendTables<'a> = Vec<(String, toml::Spanned<toml::de::DeValue<'a>>)>;

pub fn parse(
    text: &str,
    file: berth_diagnostic::source::FileId,
) -> Result<Parsed<'_>, berth_diagnostic::Diagnostic> {
    use serde::Deserialize;
    let to_diagnostic = |error: toml::de::Error| toml_error_to_diagnostic(&error, file);
    let document = toml::de::DeTable::parse(text).map_err(to_diagnostic)?;
    if let Some(span) = nul_in_table(document.get_ref()) {
        return Err(berth_diagnostic::Diagnostic::input(
            &errors::SPEC_INVALID_VALUE,
            "a string holds a NUL byte, which no script, manifest or environment can carry, or a character of Unicode's supplementary private use planes, which berth reserves",
        )
        .at(
            Some(berth_diagnostic::source::Span::new(file, span)),
            "reserved character",
        )
        .help("remove the `\\u0000` (or the private-use character) from the string"));
    }
    let backend_tables = document
        .get_ref()
        .iter()
        .find(|(key, _)| key.get_ref() == "backends")
        .and_then(|(_, value)| value.get_ref().as_table())
        .map(|tables| {
            tables
                .iter()
                .map(|(name, table)| (name.get_ref().to_string(), table.clone()))
                .collect()
        })
        .unwrap_or_default();
    let spec = Spec::deserialize(toml::de::Deserializer::from(document))
        .map_err(|error| with_key_help(toml_error_to_diagnostic(&error, file), &error, text))?;
    Ok(Parsed {
        spec,
        backend_tables,
    })
}

/// Characters no value may hold: NUL, which no script, manifest or environment can carry, and
/// the supplementary private use planes (U+F0000 and up), where backends mark what they fill in
/// when a member runs (Cloud Foundry's instance index).
pub fn reserved(c: char) -> bool {
    c == '\0' || c >= '\u{F0000}'
}

/// Where a key or string of `table` holds a [`reserved`] character, if anywhere.
fn nul_in_table(table: &toml::de::DeTable) -> Option<std::ops::Range<usize>> {
    table.iter().find_map(|(key, value)| {
        if key.get_ref().contains(reserved) {
            return Some(key.span());
        }
        nul_in_value(value)
    })
}

fn nul_in_value(value: &toml::Spanned<toml::de::DeValue>) -> Option<std::ops::Range<usize>> {
    match value.get_ref() {
        toml::de::DeValue::String(s) if s.contains(reserved) => Some(value.span()),
        toml::de::DeValue::Array(items) => items.iter().find_map(nul_in_value),
        toml::de::DeValue::Table(table) => nul_in_table(table),
        _ => None,
    }
}

/// The section a key of the spec belongs to, for a key written at the top level by mistake.
fn section_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "replicas" | "quorum" | "spread" | "start" => "replication",
        "image" | "command" | "args" | "env" | "user" | "shell" => "container",
        "cpu" | "memory" => "resources",
        "liveness" | "readiness" => "health",
        "stop_grace" => "lifecycle",
        _ => return None,
    })
}

/// Turns a `toml` error into a diagnostic, recognising serde's unknown/missing field messages so
/// the diagnostic can name the key and suggest the closest valid one.
pub fn toml_error_to_diagnostic(
    error: &toml::de::Error,
    file: berth_diagnostic::source::FileId,
) -> berth_diagnostic::Diagnostic {
    use berth_diagnostic::{Diagnostic, closest};
    let message = error.message().trim();
    let span = error
        .span()
        .map(|range| berth_diagnostic::source::Span::new(file, range));
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let help = match (section_of(key), closest(key, candidates.iter().copied())) {
            (Some(section), _) if candidates.contains(&section) => {
                format!("move it under `[{section}]`")
            }
            (_, Some(best)) => format!("rename it to `{best}`"),
            (_, None) if candidates.is_empty() => "remove it: this table takes no keys".to_string(),
            (_, None) => format!("remove it, or use one of {}", backticked(&candidates)),
        };
        return Diagnostic::input(&errors::SPEC_UNKNOWN_KEY, format!("unknown key `{key}`"))
            .at(span, "not a key of this table")
            .help(help);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        return Diagnostic::input(
            &errors::SPEC_MISSING_KEY,
            format!("missing required key `{key}`"),
        )
        .at(span, format!("this table needs `{key}`"))
        .help(format!("add `{key} = ...` to this table"));
    }
    if message.contains("untagged enum EnvValue") {
        return Diagnostic::input(&errors::SPEC_INVALID_VALUE, "invalid `env` value")
            .at(span, "neither a string nor a secret reference")
            .help("write a string, or `{ secret = \"NAME\", key = \"KEY\" }` to read a secret");
    }
    if span.is_some()
        && (message.starts_with("invalid type") || message.starts_with("invalid value"))
    {
        return Diagnostic::input(&errors::SPEC_INVALID_VALUE, message.to_string())
            .at(span, "wrong type")
            .help("change the value to the type the message names");
    }
    Diagnostic::input(&errors::SPEC_SYNTAX, format!("invalid TOML: {message}"))
        .at(span, "here")
        .help("fix the TOML syntax at this position")
}

/// A wrong type's help made specific: the key the value belongs to (read from the line it is
/// on) and, for the keys whose form is not obvious, an example of the right one.
fn with_key_help(
    diagnostic: berth_diagnostic::Diagnostic,
    error: &toml::de::Error,
    text: &str,
) -> berth_diagnostic::Diagnostic {
    let (Some(range), Some(expected)) = (error.span(), error.message().split("expected ").nth(1))
    else {
        return diagnostic;
    };
    if !error.message().starts_with("invalid type") {
        return diagnostic;
    }
    let line_start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let before = text[line_start..range.start].trim_end();
    let Some(key) = before.strip_suffix('=').map(str::trim).filter(|k| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    }) else {
        return diagnostic;
    };
    let leaf = key.rsplit('.').next().unwrap_or(key);
    let example = match leaf {
        "mode" => " (octal, in quotes: `mode = \"0400\"`)",
        "size" => " (a quantity: `size = \"10Gi\"`)",
        "memory" | "memory_limit" => " (a quantity: `memory = \"512Mi\"`)",
        "cpu" | "cpu_limit" => " (CPUs or millicores: `cpu = \"500m\"`)",
        "interval" | "timeout" | "initial_delay" | "stop_grace" => " (a duration: `\"10s\"`)",
        _ => "",
    };
    diagnostic.help(format!("write `{key}` as {}{example}", expected.trim()))
}

pub fn backticked(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
