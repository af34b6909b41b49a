//! The services of a Compose file as berth needs them: `extends` applied, strings interpolated
//! (kept as references), short and long syntaxes read into one form each. What berth does not
//! map is kept by key and position, so the written spec can list it.

use super::interpolate::{self, Interpolated};
use super::spec::convert;
use super::yaml::{Node, Value};
use berth_compile::spec_rules::looks_like_secret;
use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use berth_diagnostic::source::{Sources, Span};
use berth_language::read;
use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// A string of the Compose file: as written (with references), as compose would resolve it,
/// and where it stands.
#[derive(Clone, Debug)]
pub struct Text {
    pub raw: Interpolated,
    pub value: String,
    pub span: Span,
}

/// A variable of a service's environment: its name, its value (none: passed through from the
/// environment of `up`) and where it is set.
pub type Variable = (String, Option<Text>, Span);

#[derive(Debug, Default)]
pub struct ComposeFile {
    /// In file order.
    pub services: Vec<Service>,
    /// Top-level `secrets` and `configs`: name → the file that holds them, if any.
    pub secrets: BTreeMap<String, Option<String>>,
    pub configs: BTreeMap<String, Option<String>>,
    /// Top-level volumes declared `external: true`: made outside the project, such as certificates.
    pub external_volumes: Vec<String>,
    /// The Compose project's name, which prefixes its volumes' names: `--project-name`, the
    /// file's `name`, or its folder's name as compose normalizes it; `None` if none gives one.
    pub project: Option<String>,
    /// Top-level volumes by key: the `name` each declares, and whether it is external.
    pub volume_decls: BTreeMap<String, (Option<String>, bool)>,
    /// The `.env` values beside the file, but those of variables that look like secrets.
    pub env: BTreeMap<String, String>,
    /// The variables `.env` sets that look like secrets: their values are not kept.
    pub withheld: BTreeSet<String>,
    /// Warnings naming each file read from outside the file's folder (`--allow-read`).
    pub outside: Vec<Diagnostic>,
    /// Variables of `.env` named like secrets, with a value, by where each stands (in a copy of
    /// `.env` whose secret values are masked).
    pub dotenv_secrets: Vec<(String, Span)>,
    /// Whether a `.gitignore` beside the Compose file keeps `.env` out of the repository.
    pub ignores_dotenv: bool,
    /// The directory of the file, for bind mounts and `file:` paths.
    pub dir: PathBuf,
}

#[derive(Debug)]
pub struct Service {
    pub name: String,
    pub span: Span,
    pub image: Option<Text>,
    pub entrypoint: Option<Vec<Text>>,
    pub command: Option<Vec<Text>>,
    pub environment: Vec<Variable>,
    /// The names in `environment` whose value an `env_file` gives (not the Compose file).
    pub from_env_files: BTreeSet<String>,
    pub ports: Vec<PortMapping>,
    /// `expose`: (port, protocol).
    pub expose: Vec<(u16, String)>,
    pub mounts: Vec<Mount>,
    pub healthcheck: Option<Healthcheck>,
    pub depends_on: Vec<Dependency>,
    pub restart: Option<(String, Span)>,
    pub replicas: Option<(u32, Span)>,
    pub cpus: Option<(String, Span)>,
    pub mem_limit: Option<(String, Span)>,
    pub mem_reservation: Option<(String, Span)>,
    pub user: Option<Text>,
    pub stop_grace_period: Option<(String, Span)>,
    pub hostname: Option<String>,
    pub container_name: Option<String>,
    pub secrets: Vec<FileRef>,
    pub configs: Vec<FileRef>,
    pub labels: BTreeMap<String, String>,
    /// Keys berth does not map, with where they stand.
    pub unmapped: Vec<(String, Span)>,
    /// Values left out because berth cannot carry them, as `import/out-of-range` findings.
    pub refused: Vec<Diagnostic>,
}

#[derive(Clone, Debug)]
pub struct PortMapping {
    pub host_ip: Option<String>,
    /// `None`: not published (an `expose`-like entry with only the container port).
    pub host_port: Option<u16>,
    pub container: u16,
    pub protocol: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountKind {
    Volume,
    Bind,
    Tmpfs,
}

#[derive(Clone, Debug)]
pub struct Mount {
    pub kind: MountKind,
    /// The named volume or host path; `None` for an anonymous volume.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Healthcheck {
    /// The command as an argv (`CMD-SHELL x` is `["/bin/sh", "-c", "x"]`); `None` when disabled.
    pub test: Option<Vec<Text>>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub start_period: Option<String>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Dependency {
    pub service: String,
    /// `service_started`, `service_healthy` or `service_completed_successfully`.
    pub condition: String,
    pub span: Span,
}

impl Service {
    /// The image as compose resolves it; empty for a service that only builds one.
    pub fn image_name(&self) -> &str {
        self.image.as_ref().map_or("", |i| i.value.as_str())
    }
}

/// The resolved values of a list of strings.
pub fn values(texts: &[Text]) -> Vec<&str> {
    texts.iter().map(|t| t.value.as_str()).collect()
}

/// A service's `secrets:` or `configs:` entry.
#[derive(Clone, Debug)]
pub struct FileRef {
    pub source: String,
    pub target: Option<String>,
    pub mode: Option<String>,
    pub uid: Option<String>,
    pub span: Span,
}

/// What went wrong reading the file: a message, where, and how to fix it when the usual help
/// (correct the Compose file) is not it.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub span: Option<Span>,
    pub help: Option<String>,
}

impl From<(String, Option<Span>)> for Failure {
    fn from((message, span): (String, Option<Span>)) -> Failure {
        Failure {
            message,
            span,
            help: None,
        }
    }
}

/// Reads a Compose file and the files it names (`.env`, `env_file`, `extends.file`), each by
/// `berth_language::read`'s policy: inside the Compose file's folder, or inside a folder of
/// `allowed` (`--allow-read`), which `ComposeFile::outside` then records.
pub fn read(
    path: &Path,
    allowed: &[PathBuf],
    sources: &mut Sources,
) -> Result<ComposeFile, Failure> {
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let shown = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut loader = Loader {
        sources,
        roots: BTreeMap::new(),
        dir: dir.clone(),
        allowed,
        shown,
        outside: Vec::new(),
        dotenv_secrets: Vec::new(),
    };
    let text = read::named(path).map_err(|refused| Failure {
        message: refused.message,
        span: None,
        help: Some(refused.help),
    })?;
    let root = loader.parse(path.display().to_string(), &text, "")?;
    let (env, withheld) = loader.dotenv()?;
    let mut file = ComposeFile {
        env,
        withheld,
        dir,
        ..ComposeFile::default()
    };
    file.secrets = file_declarations(root.get("secrets"));
    file.configs = file_declarations(root.get("configs"));
    file.external_volumes = root
        .get("volumes")
        .map(|v| {
            v.entries()
                .iter()
                .filter(|(_, decl)| decl.get("external").and_then(Node::as_str) == Some("true"))
                .filter_map(|(k, decl)| {
                    let name = decl.get("name").and_then(Node::as_str).or(k.as_str())?;
                    Some(name.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    file.volume_decls = root
        .get("volumes")
        .map(|v| {
            v.entries()
                .iter()
                .filter_map(|(key, decl)| {
                    let name = decl.get("name").and_then(Node::as_str).map(str::to_string);
                    let external = decl.get("external").and_then(Node::as_str) == Some("true");
                    Some((key.as_str()?.to_string(), (name, external)))
                })
                .collect()
        })
        .unwrap_or_default();
    file.project = root
        .get("name")
        .and_then(Node::as_str)
        .filter(|name| project_name(name))
        .map(str::to_string)
        .or_else(|| folder_project(&file.dir));
    let Some(services) = root.get("services") else {
        return Err((
            "the file has no `services`".to_string(),
            Some(root.span.clone()),
        )
            .into());
    };
    for (key, _) in services.entries() {
        let name = key.as_str().unwrap_or_default().to_string();
        let node = loader.extended("", &root, &name, 0)?;
        let service = service(&name, key.span.clone(), &node, &file.env, &mut loader)?;
        file.services.push(service);
    }
    file.outside = loader.outside;
    file.dotenv_secrets = loader.dotenv_secrets;
    file.ignores_dotenv = ignores_dotenv(&file.dir);
    Ok(file)
}

/// Top-level `secrets:`/`configs:`: each name and its `file:`.
fn file_declarations(node: Option<&Node>) -> BTreeMap<String, Option<String>> {
    node.map(|n| {
        n.entries()
            .iter()
            .filter_map(|(k, v)| {
                let file = v.get("file").and_then(Node::as_str).map(str::to_string);
                Some((k.as_str()?.to_string(), file))
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Reads the files a Compose file names, by the read policy, and parses those that are YAML.
struct Loader<'a> {
    sources: &'a mut Sources,
    /// Parsed files by their name relative to the Compose file's folder (`""`: the Compose file),
    /// so `extends` across files reads each once.
    roots: BTreeMap<String, Node>,
    /// The Compose file's folder: what it names is read from inside it.
    dir: PathBuf,
    /// `--allow-read`: folders outside `dir` that it may name too.
    allowed: &'a [PathBuf],
    /// The Compose file's name, for messages.
    shown: String,
    /// What was read from outside `dir`, as warnings.
    outside: Vec<Diagnostic>,
    /// Variables of `.env` named like secrets, with a value, by where each stands.
    dotenv_secrets: Vec<(String, Span)>,
}

impl Loader<'_> {
    /// A file the Compose file names by `key` (`services.db.env_file`; `None` for `.env`, which
    /// it names by being there), read by the policy; a refusal names the Compose file, the key
    /// and the fix.
    fn beside(
        &mut self,
        name: &str,
        key: Option<&str>,
        span: Option<&Span>,
    ) -> Result<String, Failure> {
        match read::beside(&self.dir, name, self.allowed) {
            Ok(read) => {
                if let Some(path) = read.outside {
                    self.outside
                        .push(read_outside(key.unwrap_or(name), &path, span));
                }
                Ok(read.text)
            }
            Err(refused) => Err(Failure {
                message: match key {
                    Some(key) => format!("`{}`: `{key}`: {}", self.shown, refused.message),
                    None => format!("`{}`: {}", self.shown, refused.message),
                },
                span: span.cloned(),
                help: Some(refused.help),
            }),
        }
    }

    fn parse(&mut self, shown: String, text: &str, name: &str) -> Result<Node, Failure> {
        let file = self.sources.add(shown, text.to_string());
        let root = super::yaml::parse(text, file)?;
        self.roots.insert(name.to_string(), root.clone());
        Ok(root)
    }

    /// The file `extends.file` names (relative to the Compose file's folder), parsed once.
    fn load(&mut self, name: &str, key: &str, span: &Span) -> Result<Node, Failure> {
        if let Some(root) = self.roots.get(name) {
            return Ok(root.clone());
        }
        let text = self.beside(name, Some(key), Some(span))?;
        self.parse(self.dir.join(name).display().to_string(), &text, name)
    }

    /// The `.env` values beside the Compose file, without those of variables that look like
    /// secrets (their names are returned apart): a secret's value never reaches the spec, not
    /// even as a parameter's default. No `.env` is no values.
    fn dotenv(&mut self) -> Result<(BTreeMap<String, String>, BTreeSet<String>), Failure> {
        let path = self.dir.join(".env");
        if std::fs::symlink_metadata(&path).is_err_and(|e| e.kind() == ErrorKind::NotFound) {
            return Ok(Default::default());
        }
        let shown = self.shown.clone();
        let text = self.beside(".env", None, None).map_err(|failure| Failure {
            help: failure
                .help
                .map(|help| format!("{help}, or remove the `.env` beside `{shown}`")),
            ..failure
        })?;
        let (secret, plain): (BTreeMap<_, _>, BTreeMap<_, _>) = interpolate::dotenv(&text)
            .into_iter()
            .partition(|(name, _)| looks_like_secret(name));
        self.dotenv_secrets(&text);
        Ok((plain, secret.into_keys().collect()))
    }

    /// The lines of `.env` that set a variable named like a secret to a value, by where the name
    /// stands. The text the report may show has those values masked, byte for byte, so that a
    /// finding's snippet never prints a password.
    fn dotenv_secrets(&mut self, text: &str) {
        let mut found = Vec::new();
        let mut masked = text.as_bytes().to_vec();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let content = line.trim_end_matches(['\n', '\r']);
            let indent = content.len() - content.trim_start().len();
            let statement = &content[indent..];
            let skip = if statement.starts_with("export ") {
                7
            } else {
                0
            };
            let Some((name, value)) = statement[skip..].split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches(['"', '\'']);
            if statement.starts_with('#') || value.is_empty() || !looks_like_secret(name.trim()) {
                continue;
            }
            let name_at = start + indent + skip;
            let value_at = name_at + name.len() + 1;
            for byte in &mut masked[value_at..start + content.len()] {
                *byte = b'*';
            }
            found.push((
                name.trim().to_string(),
                name_at..name_at + name.trim_end().len(),
            ));
        }
        if found.is_empty() {
            return;
        }
        let masked = String::from_utf8(masked).expect("ASCII written over whole lines");
        let file = self
            .sources
            .add(self.dir.join(".env").display().to_string(), masked);
        self.dotenv_secrets = found
            .into_iter()
            .map(|(name, range)| (name, Span::new(file, range)))
            .collect();
    }

    /// A service's node with its `extends` chain merged in (the service's own keys win). `file`
    /// is the name of the file that holds it, relative to the Compose file's folder.
    fn extended(
        &mut self,
        file: &str,
        root: &Node,
        name: &str,
        depth: usize,
    ) -> Result<Node, Failure> {
        let node = root
            .get("services")
            .and_then(|s| s.get(name))
            .ok_or_else(|| {
                Failure::from((
                    format!(
                        "`extends` names `{name}`, which is not a service of `{}`",
                        if file.is_empty() {
                            self.shown.as_str()
                        } else {
                            file
                        }
                    ),
                    None,
                ))
            })?
            .clone();
        let Some(extends) = node.get("extends") else {
            return Ok(node);
        };
        if depth > 16 {
            return Err((
                "`extends` goes round in a circle".to_string(),
                Some(extends.span.clone()),
            )
                .into());
        }
        let (base_file, base_name) = match (&extends.value, extends.get("service")) {
            (Value::Scalar(s), _) => (file.to_string(), s.clone()),
            (_, Some(service)) => {
                let base = match extends.get("file") {
                    Some(named) => {
                        let named_text = named.as_str().unwrap_or_default();
                        // Relative to the file that names it, which is relative to the folder.
                        let relative = Path::new(file)
                            .parent()
                            .unwrap_or(Path::new(""))
                            .join(named_text);
                        let relative = relative.to_string_lossy().into_owned();
                        let key = format!("services.{name}.extends.file");
                        self.load(&relative, &key, &named.span)?;
                        relative
                    }
                    None => file.to_string(),
                };
                (base, service.as_str().unwrap_or_default().to_string())
            }
            _ => {
                return Err((
                    "`extends` needs `service` (and optionally `file`)".to_string(),
                    Some(extends.span.clone()),
                )
                    .into());
            }
        };
        let base_root = self
            .roots
            .get(&base_file)
            .cloned()
            .unwrap_or_else(|| root.clone());
        let base = self.extended(&base_file, &base_root, &base_name, depth + 1)?;
        Ok(merge(base, node))
    }

    /// A service's `env_file` entries, in order: (the file's name, its span, whether compose
    /// requires it).
    fn env_files(node: Option<&Node>) -> Vec<(String, Span, bool)> {
        let Some(node) = node else { return Vec::new() };
        let one = |n: &Node| -> Option<(String, Span, bool)> {
            match &n.value {
                Value::Scalar(path) => Some((path.clone(), n.span.clone(), true)),
                Value::Map(_) => Some((
                    n.get("path")?.as_str()?.to_string(),
                    n.span.clone(),
                    n.get("required").and_then(Node::as_str) != Some("false"),
                )),
                _ => None,
            }
        };
        match &node.value {
            Value::Seq(items) => items.iter().filter_map(one).collect(),
            _ => one(node).into_iter().collect(),
        }
    }

    /// The variables a service's `env_file`s set, read by the policy, as literal texts (compose
    /// passes them to the container as they are). A missing file that is not `required` is none.
    fn env_file_variables(
        &mut self,
        service: &str,
        node: Option<&Node>,
    ) -> Result<Vec<(String, Option<Text>, Span)>, Failure> {
        let mut found = Vec::new();
        for (name, span, required) in Self::env_files(node) {
            let missing = std::fs::symlink_metadata(self.dir.join(&name))
                .is_err_and(|e| e.kind() == ErrorKind::NotFound);
            if missing && !required {
                continue;
            }
            let key = format!("services.{service}.env_file");
            let text = self.beside(&name, Some(&key), Some(&span))?;
            for (key, value) in interpolate::dotenv(&text) {
                let text = Text {
                    raw: Interpolated {
                        parts: vec![interpolate::Part::Text(value.clone())],
                    },
                    value,
                    span: span.clone(),
                };
                found.push((key, Some(text), span.clone()));
            }
        }
        Ok(found)
    }
}

/// Whether the `.gitignore` beside the Compose file names `.env`, so that it is not committed.
fn ignores_dotenv(dir: &Path) -> bool {
    let Ok(read) = read::beside(dir, ".gitignore", &[]) else {
        return false;
    };
    read.text
        .lines()
        .map(str::trim)
        .any(|line| matches!(line, ".env" | "/.env" | "*.env" | ".env*" | "/.env*"))
}

/// The warning that names a file read from outside the Compose file's folder.
pub(crate) fn read_outside(key: &str, path: &Path, span: Option<&Span>) -> Diagnostic {
    Diagnostic::input(
        &errors::SPEC_READ_OUTSIDE,
        format!(
            "`{key}` read `{}`, outside the Compose file's folder, as `--allow-read` allows",
            path.display()
        ),
    )
    .at(span.cloned(), "read from outside")
    .help("copy the file beside the Compose file if it belongs to it; otherwise nothing: you allowed the read")
}

/// Compose's merge of a service over the one it extends: mappings merge key by key, the lists
/// compose appends (`ports`, `volumes`, ...) are appended, `environment` and `labels` merge by
/// name, and anything else is replaced.
fn merge(base: Node, local: Node) -> Node {
    let (Value::Map(base_entries), Value::Map(local_entries)) = (&base.value, &local.value) else {
        return local;
    };
    let mut entries = base_entries.clone();
    for (key, value) in local_entries {
        let Some(name) = key.as_str() else { continue };
        if name == "extends" {
            continue;
        }
        match entries.iter().position(|(k, _)| k.as_str() == Some(name)) {
            Some(at) => {
                let merged = merge_key(name, entries[at].1.clone(), value.clone());
                entries[at] = (key.clone(), merged);
            }
            None => entries.push((key.clone(), value.clone())),
        }
    }
    Node::synthetic(Value::Map(entries), local.span)
}

fn merge_key(name: &str, base: Node, local: Node) -> Node {
    const APPENDED: [&str; 7] = [
        "ports",
        "expose",
        "volumes",
        "secrets",
        "configs",
        "dns",
        "extra_hosts",
    ];
    match name {
        "environment" | "labels" => merge(as_map(base), as_map(local)),
        _ if APPENDED.contains(&name) => {
            let mut items = base.items().to_vec();
            items.extend(local.items().iter().cloned());
            Node::synthetic(Value::Seq(items), local.span)
        }
        "healthcheck" | "deploy" | "logging" | "build" => merge(base, local),
        _ => local,
    }
}

/// `environment`/`labels` as a mapping, from either of their syntaxes (`- KEY=value`).
fn as_map(node: Node) -> Node {
    let Value::Seq(items) = &node.value else {
        return node;
    };
    let entries = items
        .iter()
        .filter_map(|item| {
            let text = item.as_str()?;
            let (key, value) = match text.split_once('=') {
                Some((k, v)) => (k, Value::Scalar(v.to_string())),
                None => (text, Value::Null),
            };
            Some((
                Node::synthetic(Value::Scalar(key.to_string()), item.span.clone()),
                Node::synthetic(value, item.span.clone()),
            ))
        })
        .collect();
    Node::synthetic(Value::Map(entries), node.span)
}

/// The keys of a service that berth maps; every other key is listed as not mapped.
const MAPPED: [&str; 25] = [
    "image",
    "env_file",
    "entrypoint",
    "command",
    "environment",
    "ports",
    "expose",
    "volumes",
    "healthcheck",
    "depends_on",
    "restart",
    "deploy",
    "cpus",
    "mem_limit",
    "mem_reservation",
    "user",
    "stop_grace_period",
    "hostname",
    "container_name",
    "secrets",
    "configs",
    "labels",
    "extends",
    "networks",
    "security_opt",
];

/// A service as berth reads it. Numbers outside berth's ranges are left out, each with an
/// `import/out-of-range` finding in `refused`.
fn service(
    name: &str,
    span: Span,
    node: &Node,
    env: &BTreeMap<String, String>,
    loader: &mut Loader,
) -> Result<Service, Failure> {
    let mut refused = Refusals {
        service: name,
        found: Vec::new(),
    };
    let text = |n: &Node| interpolated(n, env);
    let scalar = |key: &str| {
        node.get(key)
            .and_then(|n| Some((text(n).ok()?.value, n.span.clone())))
    };
    // In the order of the keys' findings in `refused`.
    let replicas = deploy_replicas(node, env, &mut refused)?;
    let (environment, from_env_files) = merged_environment(name, node, env, loader)?;
    let expose = exposed(node, env, &mut refused)?;
    let user = node.get("user").map(text).transpose()?;
    let user = user.filter(|u| refused.user(u));
    let image = node.get("image").map(text).transpose()?;
    let entrypoint = node.get("entrypoint").map(|n| argv(n, env)).transpose()?;
    let command = node.get("command").map(|n| argv(n, env)).transpose()?;
    let ports = node.get("ports").map(|n| ports(n, env, &mut refused));
    let ports = ports.transpose()?;
    let mounts = node.get("volumes").map(|n| mounts(n, env)).transpose()?;
    let check = node.get("healthcheck");
    let check = check
        .map(|n| healthcheck(n, env, &mut refused))
        .transpose()?;
    let (cpus, mem_limit, mem_reservation) = resources(node, env, &mut refused);
    let stop_grace = scalar("stop_grace_period");
    let stop_grace_period = refused.duration("stop_grace_period", stop_grace, false);
    let mut file_refs_of = |key| {
        node.get(key)
            .map(|n| file_refs(n, env, key, &mut refused))
            .unwrap_or_default()
    };
    let (secrets, configs) = (file_refs_of("secrets"), file_refs_of("configs"));
    Ok(Service {
        name: name.to_string(),
        span,
        image,
        entrypoint,
        command,
        environment,
        from_env_files,
        ports: ports.unwrap_or_default(),
        expose,
        mounts: mounts.unwrap_or_default(),
        healthcheck: check,
        depends_on: node.get("depends_on").map(dependencies).unwrap_or_default(),
        restart: scalar("restart").or_else(|| deploy_restart(node.get("deploy")?)),
        replicas,
        cpus,
        mem_limit,
        mem_reservation,
        user,
        stop_grace_period,
        hostname: scalar("hostname").map(|(h, _)| h),
        container_name: scalar("container_name").map(|(c, _)| c),
        secrets,
        configs,
        labels: node.get("labels").map(labels).unwrap_or_default(),
        unmapped: unmapped(node),
        refused: refused.found,
    })
}

fn deploy_replicas(
    node: &Node,
    env: &BTreeMap<String, String>,
    refused: &mut Refusals,
) -> Result<Option<(u32, Span)>, Failure> {
    let Some(n) = node.get("deploy").and_then(|d| d.get("replicas")) else {
        return Ok(None);
    };
    Ok(refused
        .number(
            "deploy.replicas",
            &interpolated(n, env)?.value,
            &n.span,
            1..=MAX_REPLICAS,
        )
        .map(|r| (r as u32, n.span.clone())))
}

type Quantity = Option<(String, Span)>;

/// `cpus`, `mem_limit` and `mem_reservation`, from the service's keys or else from
/// `deploy.resources`, converted to berth's units.
fn resources(
    node: &Node,
    env: &BTreeMap<String, String>,
    refused: &mut Refusals,
) -> (Quantity, Quantity, Quantity) {
    let text = |n: &Node| Some((interpolated(n, env).ok()?.value, n.span.clone()));
    let scalar = |key: &str| node.get(key).and_then(text);
    let resources = node.get("deploy").and_then(|d| d.get("resources"));
    let limit = |key: &str| {
        resources
            .and_then(|r| r.get("limits"))
            .and_then(|l| l.get(key))
            .and_then(text)
    };
    let reservation = resources
        .and_then(|r| r.get("reservations"))
        .and_then(|l| l.get("memory"))
        .and_then(text);
    (
        refused.quantity(
            "cpus",
            scalar("cpus").or_else(|| limit("cpus")),
            convert::cpus,
        ),
        refused.quantity(
            "mem_limit",
            scalar("mem_limit").or_else(|| limit("memory")),
            convert::memory,
        ),
        refused.quantity(
            "mem_reservation",
            scalar("mem_reservation").or(reservation),
            convert::memory,
        ),
    )
}

/// `deploy.restart_policy` as the restart policy berth reads (`deploy:on-failure`).
fn deploy_restart(deploy: &Node) -> Option<(String, Span)> {
    let policy = deploy.get("restart_policy")?;
    let condition = policy
        .get("condition")
        .and_then(Node::as_str)
        .unwrap_or("any");
    Some((format!("deploy:{condition}"), policy.span.clone()))
}

/// The keys of a service that berth does not map, with where they stand.
fn unmapped(node: &Node) -> Vec<(String, Span)> {
    node.entries()
        .iter()
        .filter_map(|(k, _)| k.as_str().map(|s| (s, k.span.clone())))
        .filter(|(k, _)| !MAPPED.contains(k) && !k.starts_with("x-"))
        .map(|(k, s)| (k.to_string(), s))
        .collect()
}

/// The variables of the `env_file`s, then of `environment`, which wins; and the names whose
/// value still comes from an `env_file`.
fn merged_environment(
    name: &str,
    node: &Node,
    env: &BTreeMap<String, String>,
    loader: &mut Loader,
) -> Result<(Vec<Variable>, BTreeSet<String>), Failure> {
    let mut environment = loader.env_file_variables(name, node.get("env_file"))?;
    let mut from_env_files: BTreeSet<String> =
        environment.iter().map(|(k, _, _)| k.clone()).collect();
    for entry in self::environment(node.get("environment"), env)? {
        environment.retain(|(k, _, _)| *k != entry.0);
        from_env_files.remove(&entry.0);
        environment.push(entry);
    }
    Ok((environment, from_env_files))
}

/// The ports of `expose` and their protocols (`"8080/udp"` gives 8080 over udp).
fn exposed(
    node: &Node,
    env: &BTreeMap<String, String>,
    refused: &mut Refusals,
) -> Result<Vec<(u16, String)>, Failure> {
    let mut expose = Vec::new();
    for item in node.get("expose").map_or(&[][..], Node::items) {
        let value = interpolated(item, env)?.value;
        let (number, protocol) = value.split_once('/').unwrap_or((&value, "tcp"));
        expose.extend(
            refused
                .number("expose", number, &item.span, PORTS)
                .map(|p| (p as u16, protocol.to_string())),
        );
    }
    Ok(expose)
}

fn labels(node: &Node) -> BTreeMap<String, String> {
    as_map(node.clone())
        .entries()
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str()?.to_string(),
                v.as_str().unwrap_or("").to_string(),
            ))
        })
        .collect()
}

/// berth's most members (`replication.replicas`).
pub const MAX_REPLICAS: i64 = 1000;
/// Port numbers berth accepts.
const PORTS: std::ops::RangeInclusive<i64> = 1..=65535;
/// User and group ids berth accepts (`container.user`, `files.owner`).
const IDS: std::ops::RangeInclusive<i64> = 0..=u32::MAX as i64;
/// Health check failures berth accepts (`failures`, from `retries`).
const FAILURES: std::ops::RangeInclusive<i64> = 1..=1000;

/// The values of one service that berth cannot carry into the spec: each is left out with a
/// finding that names the service and the key, rather than written out of range or dropped
/// without a word.
struct Refusals<'a> {
    service: &'a str,
    found: Vec<Diagnostic>,
}

impl Refusals<'_> {
    fn refuse(&mut self, key: &str, span: &Span, why: String, help: String) {
        self.found.push(super::rules::OUT_OF_RANGE.report(
            span.clone(),
            format!(
                "`{key}` of `{}` {why}: the spec leaves it out",
                self.service
            ),
            "not carried",
            help,
        ));
    }

    /// `text` as an integer within `range`, or a finding.
    fn number(
        &mut self,
        key: &str,
        text: &str,
        span: &Span,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        let (min, max) = (range.start(), range.end());
        let help = format!("set `{key}` between {min} and {max}");
        match text.trim().parse::<i64>() {
            Ok(n) if range.contains(&n) => Some(n),
            Ok(n) => {
                self.refuse(key, span, format!("is {n}, outside {min}..={max}"), help);
                None
            }
            Err(_) => {
                let shown = shown(text);
                self.refuse(
                    key,
                    span,
                    format!("is `{shown}`, not a number berth reads"),
                    help,
                );
                None
            }
        }
    }

    /// Whether a `user` is one the spec can carry: a name (which the spec lists), or a uid in
    /// range.
    fn user(&mut self, user: &Text) -> bool {
        let uid = user.value.split(':').next().unwrap_or_default();
        !uid.starts_with(|c: char| c.is_ascii_digit())
            || self.number("user", uid, &user.span, IDS).is_some()
    }

    /// A CPU count or memory size, kept when its conversion is a positive quantity.
    fn quantity(
        &mut self,
        key: &str,
        value: Option<(String, Span)>,
        convert: fn(&str) -> String,
    ) -> Option<(String, Span)> {
        let (text, span) = value?;
        match berth_language::quantity::parse_quantity(&convert(&text)) {
            Ok(q) if q > 0.0 && q.is_finite() => Some((text, span)),
            _ => {
                let why = format!("is `{}`, not a positive size berth reads", shown(&text));
                let help =
                    format!("write `{key}` as a positive number with a unit, like `2g` or `0.5`");
                self.refuse(key, &span, why, help);
                None
            }
        }
    }

    /// A duration, kept when its conversion is one the spec takes (whole seconds; at least one
    /// when `at_least_a_second`).
    fn duration(
        &mut self,
        key: &str,
        value: Option<(String, Span)>,
        at_least_a_second: bool,
    ) -> Option<(String, Span)> {
        let (text, span) = value?;
        match berth_language::quantity::parse_duration(&convert::duration(&text)) {
            Ok(seconds) if seconds > 0 || !at_least_a_second => Some((text, span)),
            _ => {
                let least = if at_least_a_second {
                    ", at least `1s`"
                } else {
                    ""
                };
                let why = format!(
                    "is `{}`, not a duration in whole seconds{least}",
                    shown(&text)
                );
                self.refuse(
                    key,
                    &span,
                    why,
                    format!("write `{key}` in whole seconds, like `30s` or `1m30s`"),
                );
                None
            }
        }
    }
}

/// A value as a message shows it: on one line, at most 60 characters.
fn shown(text: &str) -> String {
    let one_line = super::write::comment_text(text);
    match one_line.char_indices().nth(60) {
        Some((at, _)) => format!("{}...", &one_line[..at]),
        None => one_line,
    }
}

fn interpolated(node: &Node, env: &BTreeMap<String, String>) -> Result<Text, Failure> {
    let source = node.as_str().unwrap_or("");
    let raw = interpolate::parse(source).map_err(|e| (e, Some(node.span.clone())))?;
    let value = raw.resolve(env);
    Ok(Text {
        raw,
        value,
        span: node.span.clone(),
    })
}

/// `command`/`entrypoint`: a list, or a string compose splits as a shell would.
fn argv(node: &Node, env: &BTreeMap<String, String>) -> Result<Vec<Text>, Failure> {
    match &node.value {
        Value::Seq(items) => items.iter().map(|i| interpolated(i, env)).collect(),
        Value::Scalar(line) => shell_words(line)
            .map_err(|e| (e, Some(node.span.clone())))?
            .into_iter()
            .map(|word| {
                interpolated(
                    &Node::synthetic(Value::Scalar(word), node.span.clone()),
                    env,
                )
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        Value::Map(_) => Err((
            "expected a list or a string".to_string(),
            Some(node.span.clone()),
        )
            .into()),
    }
}

/// Splits a command line as a POSIX shell would (quotes and backslashes; no expansion).
pub fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(format!("unterminated `'` in `{line}`")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => w.extend(chars.next()),
                        Some(c) => w.push(c),
                        None => return Err(format!("unterminated `\"` in `{line}`")),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

fn environment(
    node: Option<&Node>,
    env: &BTreeMap<String, String>,
) -> Result<Vec<(String, Option<Text>, Span)>, Failure> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    as_map(node.clone())
        .entries()
        .iter()
        .map(|(k, v)| {
            let value = if v.is_null() {
                None
            } else {
                Some(interpolated(v, env)?)
            };
            Ok((
                k.as_str().unwrap_or_default().to_string(),
                value,
                k.span.clone(),
            ))
        })
        .collect()
}

/// `ports`: `"8080"`, `"8080:80"`, `"127.0.0.1:8080:80/udp"`, or the long syntax. A mapping with
/// a number berth does not take (0, 70000, a range) is left out with a finding.
fn ports(
    node: &Node,
    env: &BTreeMap<String, String>,
    refused: &mut Refusals,
) -> Result<Vec<PortMapping>, Failure> {
    let mut found = Vec::new();
    for item in node.items() {
        let mut port = |key: &str, text: &str| {
            refused
                .number(key, text, &item.span, PORTS)
                .map(|p| p as u16)
        };
        if let Some(target) = item.get("target") {
            let container = port("ports.target", &interpolated(target, env)?.value);
            let host_port = match item.get("published") {
                Some(published) => {
                    match port("ports.published", &interpolated(published, env)?.value) {
                        Some(p) => Some(p),
                        None => continue,
                    }
                }
                None => None,
            };
            let Some(container) = container else { continue };
            found.push(PortMapping {
                host_ip: item
                    .get("host_ip")
                    .and_then(Node::as_str)
                    .map(str::to_string),
                host_port,
                container,
                protocol: item
                    .get("protocol")
                    .and_then(Node::as_str)
                    .unwrap_or("tcp")
                    .to_string(),
                span: item.span.clone(),
            });
            continue;
        }
        let text = interpolated(item, env)?.value;
        let (mapping, protocol) = text.split_once('/').unwrap_or((&text, "tcp"));
        let fields: Vec<&str> = mapping.rsplitn(3, ':').collect();
        let (host_ip, host, container) = match fields.as_slice() {
            [container] => (None, None, *container),
            [container, host] => (None, Some(*host), *container),
            [container, host, ip] => (
                Some(ip.trim_matches(['[', ']']).to_string()),
                Some(*host),
                *container,
            ),
            _ => {
                return Err((
                    format!("`{text}` is not a port mapping berth reads"),
                    Some(item.span.clone()),
                )
                    .into());
            }
        };
        // An empty host port (`127.0.0.1::80`) is one docker picks.
        let host_port = match host.filter(|h| !h.is_empty()) {
            Some(host) => match port("ports", host) {
                Some(p) => Some(p),
                None => continue,
            },
            None => None,
        };
        let Some(container) = port("ports", container) else {
            continue;
        };
        found.push(PortMapping {
            host_ip,
            host_port,
            container,
            protocol: protocol.to_string(),
            span: item.span.clone(),
        });
    }
    Ok(found)
}

/// `volumes`: `name:/path[:ro]`, `./dir:/path`, `/path` (anonymous), or the long syntax.
fn mounts(node: &Node, env: &BTreeMap<String, String>) -> Result<Vec<Mount>, Failure> {
    node.items()
        .iter()
        .map(|item| {
            if let Some(target) = item.get("target") {
                let kind = match item.get("type").and_then(Node::as_str) {
                    Some("bind") => MountKind::Bind,
                    Some("tmpfs") => MountKind::Tmpfs,
                    _ => MountKind::Volume,
                };
                return Ok(Mount {
                    kind,
                    source: item
                        .get("source")
                        .map(|s| interpolated(s, env))
                        .transpose()?
                        .map(|t| t.value),
                    target: interpolated(target, env)?.value,
                    read_only: item.get("read_only").and_then(Node::as_str) == Some("true"),
                    span: item.span.clone(),
                });
            }
            let text = interpolated(item, env)?.value;
            let fields: Vec<&str> = text.split(':').collect();
            let (source, target, options) = match fields.as_slice() {
                [target] => (None, *target, ""),
                [source, target] => (Some(*source), *target, ""),
                [source, target, options] => (Some(*source), *target, *options),
                _ => {
                    return Err((
                        format!("`{text}` is not a volume berth reads"),
                        Some(item.span.clone()),
                    )
                        .into());
                }
            };
            let bind = source.is_some_and(|s| s.starts_with(['.', '/', '~']));
            Ok(Mount {
                kind: if bind {
                    MountKind::Bind
                } else {
                    MountKind::Volume
                },
                source: source.map(str::to_string),
                target: target.to_string(),
                read_only: options.split(',').any(|o| o == "ro"),
                span: item.span.clone(),
            })
        })
        .collect()
}

fn healthcheck(
    node: &Node,
    env: &BTreeMap<String, String>,
    refused: &mut Refusals,
) -> Result<Healthcheck, Failure> {
    let field = |key: &str| node.get(key).and_then(Node::as_str).map(str::to_string);
    let spanned = |key: &str| {
        node.get(key)
            .and_then(|n| Some((n.as_str()?.to_string(), n.span.clone())))
    };
    let mut duration = |key: &str, at_least_a_second| {
        let value = spanned(key);
        refused
            .duration(&format!("healthcheck.{key}"), value, at_least_a_second)
            .map(|(d, _)| d)
    };
    let interval = duration("interval", true);
    let timeout = duration("timeout", true);
    let start_period = duration("start_period", false);
    let retries = spanned("retries")
        .and_then(|(r, span)| refused.number("healthcheck.retries", &r, &span, FAILURES));
    let disabled = field("disable").as_deref() == Some("true");
    let test = match node.get("test") {
        _ if disabled => None,
        None => None,
        Some(test) => match &test.value {
            Value::Scalar(line) if line == "NONE" => None,
            Value::Scalar(_) => Some(shell_form(interpolated(test, env)?)),
            Value::Seq(items) => {
                let words: Vec<Text> = items
                    .iter()
                    .map(|i| interpolated(i, env))
                    .collect::<Result<_, _>>()?;
                match words.first().map(|w| w.value.as_str()) {
                    Some("NONE") => None,
                    Some("CMD") => Some(words[1..].to_vec()),
                    Some("CMD-SHELL") => words.get(1).cloned().map(shell_form),
                    _ => Some(words),
                }
            }
            _ => None,
        },
    };
    Ok(Healthcheck {
        test,
        interval,
        timeout,
        retries: retries.map(|r| r as u32),
        start_period,
        span: node.span.clone(),
    })
}

/// A `CMD-SHELL` check as the argv it runs.
fn shell_form(line: Text) -> Vec<Text> {
    let word = |w: &str| Text {
        raw: interpolate::parse(w).expect("a plain word parses"),
        value: w.to_string(),
        span: line.span.clone(),
    };
    vec![word("/bin/sh"), word("-c"), line]
}

fn dependencies(node: &Node) -> Vec<Dependency> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .filter_map(|i| {
                Some(Dependency {
                    service: i.as_str()?.to_string(),
                    condition: "service_started".into(),
                    span: i.span.clone(),
                })
            })
            .collect(),
        Value::Map(entries) => entries
            .iter()
            .filter_map(|(k, v)| {
                Some(Dependency {
                    service: k.as_str()?.to_string(),
                    condition: v
                        .get("condition")
                        .and_then(Node::as_str)
                        .unwrap_or("service_started")
                        .to_string(),
                    span: k.span.clone(),
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A service's `secrets:` or `configs:` entries; a `mode` or `uid` berth cannot write is left
/// out with a finding.
fn file_refs(
    node: &Node,
    env: &BTreeMap<String, String>,
    key: &str,
    refused: &mut Refusals,
) -> Vec<FileRef> {
    let mut found = Vec::new();
    for item in node.items() {
        let field = |key: &str| {
            item.get(key)
                .and_then(|n| interpolated(n, env).ok())
                .map(|t| t.value)
        };
        let source = match &item.value {
            Value::Scalar(s) => s.clone(),
            _ => match field("source") {
                Some(source) => source,
                None => continue,
            },
        };
        let mode = field("mode").and_then(|mode| {
            let key = format!("{key}.mode");
            // Compose reads `0440` as octal and `288` as decimal; berth writes octal text.
            let parsed = match mode.strip_prefix('0').filter(|m| !m.is_empty()) {
                Some(octal) => i64::from_str_radix(octal, 8).ok(),
                None => mode.trim().parse().ok(),
            };
            match parsed {
                Some(m) if (0..=0o7777).contains(&m) => Some(format!("0{m:o}")),
                _ => {
                    let why = format!("is `{}`, not a mode berth reads", shown(&mode));
                    let help = format!("write `{key}` in octal, like `0440`");
                    refused.refuse(&key, &item.span, why, help);
                    None
                }
            }
        });
        let uid = field("uid").and_then(|uid| {
            refused
                .number(&format!("{key}.uid"), &uid, &item.span, IDS)
                .map(|u| u.to_string())
        });
        found.push(FileRef {
            source,
            target: field("target"),
            mode,
            uid,
            span: item.span.clone(),
        });
    }
    found
}

impl ComposeFile {
    /// The name Docker knows the Compose file's volume `key` by: the `name` it declares, an
    /// external one's key, or `<project>_<key>` (compose's own naming).
    pub fn docker_volume(&self, key: &str) -> Option<String> {
        match self.volume_decls.get(key)? {
            (Some(name), _) => Some(name.clone()),
            (None, true) => Some(key.to_string()),
            (None, false) => Some(format!("{}_{key}", self.project.as_ref()?)),
        }
    }
}

/// The project name compose gives a file in `dir`: the folder's name, lowercased, without the
/// characters a project name cannot hold.
fn folder_project(dir: &Path) -> Option<String> {
    // `compose.yaml` alone has the empty path as its parent: the current directory.
    let here = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let dir = std::fs::canonicalize(here).ok()?;
    let name: String = dir
        .file_name()?
        .to_string_lossy()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(*c))
        .collect();
    project_name(&name).then_some(name)
}

/// Whether compose takes `name` as a project's name: lowercase letters, digits, `_` and `-`,
/// starting with a letter or digit.
pub fn project_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(files: &[(&str, &str)]) -> ComposeFile {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        read(&dir.path().join(files[0].0), &[], &mut Sources::default()).unwrap()
    }

    /// `berth import compose.yaml` names the project after the current folder, as compose does.
    #[test]
    fn a_file_named_alone_is_in_the_current_folder() {
        let here = std::env::current_dir().unwrap();
        assert!(folder_project(Path::new("")).is_some());
        assert_eq!(folder_project(Path::new("")), folder_project(&here));
    }

    #[test]
    fn short_and_long_syntaxes_read_alike() {
        let file = read_text(&[(
            "compose.yaml",
            "services:\n  db:\n    image: postgres:${PG:-16}\n    command: postgres -c 'max_connections=200'\n    environment:\n      - A=1\n      - B\n    ports:\n      - \"127.0.0.1:5433:5432\"\n      - target: 9187\n        published: 9188\n    volumes:\n      - data:/var/lib/postgresql/data\n      - ./init.sql:/docker-entrypoint-initdb.d/init.sql:ro\n      - type: volume\n        source: wal\n        target: /wal\n    healthcheck:\n      test: pg_isready -U postgres\n      retries: 5\n    depends_on:\n      other:\n        condition: service_healthy\n    privileged: true\n",
        )]);
        let db = &file.services[0];
        assert_eq!(db.image.as_ref().unwrap().value, "postgres:16");
        let command = values(db.command.as_ref().unwrap());
        assert_eq!(command, ["postgres", "-c", "max_connections=200"]);
        assert_eq!(db.environment.len(), 2);
        assert!(db.environment[1].1.is_none());
        assert_eq!(
            (db.ports[0].host_port, db.ports[0].container),
            (Some(5433), 5432)
        );
        assert_eq!(db.ports[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(
            (db.ports[1].host_port, db.ports[1].container),
            (Some(9188), 9187)
        );
        assert_eq!(db.mounts[0].kind, MountKind::Volume);
        assert_eq!(db.mounts[1].kind, MountKind::Bind);
        assert!(db.mounts[1].read_only);
        assert_eq!(db.mounts[2].source.as_deref(), Some("wal"));
        let test = values(db.healthcheck.as_ref().unwrap().test.as_ref().unwrap());
        assert_eq!(test, ["/bin/sh", "-c", "pg_isready -U postgres"]);
        assert_eq!(db.depends_on[0].condition, "service_healthy");
        assert_eq!(db.unmapped[0].0, "privileged");
    }

    #[test]
    fn extends_merges_across_files() {
        let file = read_text(&[
            (
                "compose.yaml",
                "services:\n  a:\n    extends:\n      file: base.yaml\n      service: base\n    environment:\n      B: local\n    ports: [\"2\"]\n",
            ),
            (
                "base.yaml",
                "services:\n  base:\n    image: x:1\n    environment:\n      - A=base\n      - B=base\n    ports: [\"1\"]\n",
            ),
        ]);
        let a = &file.services[0];
        assert_eq!(a.image.as_ref().unwrap().value, "x:1");
        let env: Vec<(&str, &str)> = a
            .environment
            .iter()
            .map(|(k, v, _)| (k.as_str(), v.as_ref().unwrap().value.as_str()))
            .collect();
        assert_eq!(env, [("A", "base"), ("B", "local")]);
        assert_eq!(a.ports.len(), 2);
    }

    /// `.env` values of variables that look like secrets are not kept; `env_file` entries come
    /// before `environment`, which wins.
    #[test]
    fn secrets_of_env_files_are_withheld() {
        let file = read_text(&[
            (
                "compose.yaml",
                "services:\n  db:\n    image: x:${V}\n    env_file: [db.env]\n    environment:\n      B: local\n",
            ),
            (
                ".env",
                "V=1\nADMIN_PASSWORD=s3cret\nPASSWORD_FILE=/run/secrets/pw\n",
            ),
            ("db.env", "A=1\nB=file\nDB_TOKEN=t0ken\n"),
        ]);
        assert_eq!(file.env.get("V").map(String::as_str), Some("1"));
        assert_eq!(
            file.env.get("PASSWORD_FILE").map(String::as_str),
            Some("/run/secrets/pw")
        );
        assert!(!file.env.contains_key("ADMIN_PASSWORD"));
        assert!(file.withheld.contains("ADMIN_PASSWORD"));
        let db = &file.services[0];
        let env: Vec<(&str, &str)> = db
            .environment
            .iter()
            .map(|(k, v, _)| (k.as_str(), v.as_ref().unwrap().value.as_str()))
            .collect();
        assert_eq!(env, [("A", "1"), ("DB_TOKEN", "t0ken"), ("B", "local")]);
        let from_files: Vec<&str> = db.from_env_files.iter().map(String::as_str).collect();
        assert_eq!(from_files, ["A", "DB_TOKEN"]);
    }

    /// Each number outside berth's range is left out with a finding naming the service and key.
    #[test]
    fn numbers_out_of_range_are_refused_with_a_finding() {
        let file = read_text(&[(
            "compose.yaml",
            "services:\n  db:\n    image: x\n    user: \"99999999999\"\n    ports: [\"0:80\", \"70000\", \"5432:5432\"]\n    expose: [\"0\"]\n    cpus: -1\n    stop_grace_period: 500ms\n    healthcheck:\n      test: [CMD, x]\n      retries: 0\n      interval: 0s\n    configs:\n      - source: c\n        mode: \"0999\"\n        uid: \"-1\"\n    deploy:\n      replicas: 1001\n",
        )]);
        let db = &file.services[0];
        let keys: Vec<&str> = db
            .refused
            .iter()
            .map(|d| {
                assert_eq!(d.code, "import/out-of-range");
                assert!(d.message.contains("of `db`"), "{}", d.message);
                d.message.split('`').nth(1).unwrap()
            })
            .collect();
        assert_eq!(
            keys,
            [
                "deploy.replicas",
                "expose",
                "user",
                "ports",
                "ports",
                "healthcheck.interval",
                "healthcheck.retries",
                "cpus",
                "stop_grace_period",
                "configs.mode",
                "configs.uid",
            ]
        );
        assert!(db.replicas.is_none() && db.user.is_none() && db.cpus.is_none());
        assert_eq!(db.ports.len(), 1);
        assert!(db.expose.is_empty() && db.stop_grace_period.is_none());
        let check = db.healthcheck.as_ref().unwrap();
        assert!(check.retries.is_none() && check.interval.is_none());
        assert!(db.configs[0].mode.is_none() && db.configs[0].uid.is_none());
    }

    #[test]
    fn shell_words_follow_quotes() {
        assert_eq!(
            shell_words(r#"a 'b c' "d \"e\"" f\ g"#).unwrap(),
            ["a", "b c", "d \"e\"", "f g"]
        );
        assert!(shell_words("'open").is_err());
    }
}
