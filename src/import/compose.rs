//! The services of a Compose file as berth needs them: `extends` applied, strings interpolated
//! (kept as references), short and long syntaxes read into one form each. What berth does not
//! map is kept by key and position, so the written spec can list it.

use super::interpolate::{self, Interpolated};
use super::yaml::{Node, Value};
use crate::language::source::{Sources, Span};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A string of the Compose file: as written (with references), as compose would resolve it,
/// and where it stands.
#[derive(Clone, Debug)]
pub struct Text {
    pub raw: Interpolated,
    pub value: String,
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct ComposeFile {
    /// In file order.
    pub services: Vec<Service>,
    /// Top-level `secrets` and `configs`: name → the file that holds them, if any.
    pub secrets: BTreeMap<String, Option<String>>,
    pub configs: BTreeMap<String, Option<String>>,
    /// Top-level volumes declared `external: true`: made outside the project, such as certificates.
    pub external_volumes: Vec<String>,
    /// The `.env` values beside the file.
    pub env: BTreeMap<String, String>,
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
    pub environment: Vec<(String, Option<Text>, Span)>,
    pub ports: Vec<PortMapping>,
    pub expose: Vec<(u16, Span)>,
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

/// What went wrong reading the file: a message and where.
pub type Failure = (String, Option<Span>);

/// Reads a Compose file and the files its `extends` name.
pub fn read(path: &Path, sources: &mut Sources) -> Result<ComposeFile, Failure> {
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let env = std::fs::read_to_string(dir.join(".env"))
        .map(|t| interpolate::dotenv(&t))
        .unwrap_or_default();
    let mut loader = Loader {
        sources,
        roots: BTreeMap::new(),
    };
    let root = loader.load(path)?;
    let mut file = ComposeFile {
        env,
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
    let Some(services) = root.get("services") else {
        return Err(("the file has no `services`".into(), Some(root.span.clone())));
    };
    for (key, _) in services.entries() {
        let name = key.as_str().unwrap_or_default().to_string();
        let node = loader.extended(path, &root, &name, 0)?;
        file.services
            .push(service(&name, key.span.clone(), &node, &file.env)?);
    }
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

/// Parsed files by path, so `extends` across files reads each once.
struct Loader<'a> {
    sources: &'a mut Sources,
    roots: BTreeMap<PathBuf, Node>,
}

impl Loader<'_> {
    fn load(&mut self, path: &Path) -> Result<Node, Failure> {
        if let Some(root) = self.roots.get(path) {
            return Ok(root.clone());
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| (format!("cannot read `{}`: {e}", path.display()), None))?;
        let file = self.sources.add(path.display().to_string(), text.clone());
        let root = super::yaml::parse(&text, file)?;
        self.roots.insert(path.to_path_buf(), root.clone());
        Ok(root)
    }

    /// A service's node with its `extends` chain merged in (the service's own keys win).
    fn extended(
        &mut self,
        path: &Path,
        root: &Node,
        name: &str,
        depth: usize,
    ) -> Result<Node, Failure> {
        let node = root
            .get("services")
            .and_then(|s| s.get(name))
            .ok_or_else(|| {
                (
                    format!(
                        "`extends` names `{name}`, which is not a service of `{}`",
                        path.display()
                    ),
                    None,
                )
            })?
            .clone();
        let Some(extends) = node.get("extends") else {
            return Ok(node);
        };
        if depth > 16 {
            return Err((
                "`extends` goes round in a circle".into(),
                Some(extends.span.clone()),
            ));
        }
        let (base_path, base_name) = match (&extends.value, extends.get("service")) {
            (Value::Scalar(s), _) => (path.to_path_buf(), s.clone()),
            (_, Some(service)) => {
                let file = extends.get("file").and_then(Node::as_str);
                let base = match file {
                    Some(f) => path.parent().unwrap_or(Path::new(".")).join(f),
                    None => path.to_path_buf(),
                };
                (base, service.as_str().unwrap_or_default().to_string())
            }
            _ => {
                return Err((
                    "`extends` needs `service` (and optionally `file`)".into(),
                    Some(extends.span.clone()),
                ));
            }
        };
        let base_root = self.load(&base_path)?;
        let base = self.extended(&base_path, &base_root, &base_name, depth + 1)?;
        Ok(merge(base, node))
    }
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
const MAPPED: [&str; 24] = [
    "image",
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

fn service(
    name: &str,
    span: Span,
    node: &Node,
    env: &BTreeMap<String, String>,
) -> Result<Service, Failure> {
    let text = |n: &Node| interpolated(n, env);
    let scalar = |key: &str| {
        node.get(key)
            .and_then(|n| Some((text(n).ok()?.value, n.span.clone())))
    };
    let deploy = node.get("deploy");
    let resources = deploy.and_then(|d| d.get("resources"));
    let limit = |key: &str| {
        resources
            .and_then(|r| r.get("limits"))
            .and_then(|l| l.get(key))
            .and_then(|n| Some((text(n).ok()?.value, n.span.clone())))
    };
    let reservation = resources
        .and_then(|r| r.get("reservations"))
        .and_then(|l| l.get("memory"))
        .and_then(|n| Some((text(n).ok()?.value, n.span.clone())));
    let restart = scalar("restart").or_else(|| {
        let policy = deploy?.get("restart_policy")?;
        let condition = policy
            .get("condition")
            .and_then(Node::as_str)
            .unwrap_or("any");
        Some((format!("deploy:{condition}"), policy.span.clone()))
    });
    let replicas = deploy
        .and_then(|d| d.get("replicas"))
        .and_then(|n| Some((text(n).ok()?.value.parse().ok()?, n.span.clone())));
    let unmapped = node
        .entries()
        .iter()
        .filter_map(|(k, _)| k.as_str().map(|s| (s, k.span.clone())))
        .filter(|(k, _)| !MAPPED.contains(k) && !k.starts_with("x-"))
        .map(|(k, s)| (k.to_string(), s))
        .collect();
    Ok(Service {
        name: name.to_string(),
        span,
        image: node.get("image").map(text).transpose()?,
        entrypoint: node.get("entrypoint").map(|n| argv(n, env)).transpose()?,
        command: node.get("command").map(|n| argv(n, env)).transpose()?,
        environment: environment(node.get("environment"), env)?,
        ports: node
            .get("ports")
            .map(|n| ports(n, env))
            .transpose()?
            .unwrap_or_default(),
        expose: node
            .get("expose")
            .map(|n| {
                n.items()
                    .iter()
                    .filter_map(|i| {
                        Some((
                            text(i).ok()?.value.split('/').next()?.parse().ok()?,
                            i.span.clone(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        mounts: node
            .get("volumes")
            .map(|n| mounts(n, env))
            .transpose()?
            .unwrap_or_default(),
        healthcheck: node
            .get("healthcheck")
            .map(|n| healthcheck(n, env))
            .transpose()?,
        depends_on: node.get("depends_on").map(dependencies).unwrap_or_default(),
        restart,
        replicas,
        cpus: scalar("cpus").or_else(|| limit("cpus")),
        mem_limit: scalar("mem_limit").or_else(|| limit("memory")),
        mem_reservation: scalar("mem_reservation").or(reservation),
        user: node.get("user").map(text).transpose()?,
        stop_grace_period: scalar("stop_grace_period"),
        hostname: scalar("hostname").map(|(h, _)| h),
        container_name: scalar("container_name").map(|(c, _)| c),
        secrets: node
            .get("secrets")
            .map(|n| file_refs(n, env))
            .unwrap_or_default(),
        configs: node
            .get("configs")
            .map(|n| file_refs(n, env))
            .unwrap_or_default(),
        labels: node
            .get("labels")
            .map(|n| as_map(n.clone()))
            .map(|n| {
                n.entries()
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((
                            k.as_str()?.to_string(),
                            v.as_str().unwrap_or("").to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        unmapped,
    })
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
            "expected a list or a string".into(),
            Some(node.span.clone()),
        )),
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

/// `ports`: `"8080"`, `"8080:80"`, `"127.0.0.1:8080:80/udp"`, or the long syntax.
fn ports(node: &Node, env: &BTreeMap<String, String>) -> Result<Vec<PortMapping>, Failure> {
    let mut found = Vec::new();
    for item in node.items() {
        let bad = |what: &str| {
            (
                format!("`{what}` is not a port mapping berth reads"),
                Some(item.span.clone()),
            )
        };
        if let Some(target) = item.get("target") {
            let number = |n: Option<&Node>| {
                n.and_then(|n| interpolated(n, env).ok()?.value.parse::<u16>().ok())
            };
            found.push(PortMapping {
                host_ip: item
                    .get("host_ip")
                    .and_then(Node::as_str)
                    .map(str::to_string),
                host_port: number(item.get("published")),
                container: number(Some(target)).ok_or_else(|| bad("target"))?,
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
        let parse = |s: &str| s.parse::<u16>().map_err(|_| bad(&text));
        let (host_ip, host_port, container) = match fields.as_slice() {
            [container] => (None, None, parse(container)?),
            [container, host] => (None, Some(parse(host)?), parse(container)?),
            [container, host, ip] => (
                Some(ip.trim_matches(['[', ']']).to_string()),
                Some(parse(host)?),
                parse(container)?,
            ),
            _ => return Err(bad(&text)),
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
                    ));
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

fn healthcheck(node: &Node, env: &BTreeMap<String, String>) -> Result<Healthcheck, Failure> {
    let field = |key: &str| node.get(key).and_then(Node::as_str).map(str::to_string);
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
        interval: field("interval"),
        timeout: field("timeout"),
        retries: field("retries").and_then(|r| r.parse().ok()),
        start_period: field("start_period"),
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

fn file_refs(node: &Node, env: &BTreeMap<String, String>) -> Vec<FileRef> {
    node.items()
        .iter()
        .filter_map(|item| {
            let field = |key: &str| {
                item.get(key)
                    .and_then(|n| interpolated(n, env).ok())
                    .map(|t| t.value)
            };
            let source = match &item.value {
                Value::Scalar(s) => s.clone(),
                _ => field("source")?,
            };
            Some(FileRef {
                source,
                target: field("target"),
                mode: field("mode"),
                uid: field("uid"),
                span: item.span.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(files: &[(&str, &str)]) -> ComposeFile {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        read(&dir.path().join(files[0].0), &mut Sources::default()).unwrap()
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

    #[test]
    fn shell_words_follow_quotes() {
        assert_eq!(
            shell_words(r#"a 'b c' "d \"e\"" f\ g"#).unwrap(),
            ["a", "b c", "d \"e\"", "f g"]
        );
        assert!(shell_words("'open").is_err());
    }
}
