//! `berth import`: a Compose file read back into specs. Reads the file (`yaml`, with
//! interpolation in `interpolate` and `extends` in `compose`), finds the stateful services and
//! the members of one cluster (`cluster`), writes one commented spec each (`spec`, `write`), and
//! reports the Compose file's own mistakes by rule id (`rules`). Uses the stages below it; the specs
//! it writes are proven by compiling them through `berth_compile`.

pub mod cluster;
pub mod compose;
pub mod interpolate;
pub mod known;
pub mod rules;
pub mod secrets;
pub mod spec;
pub mod start;
pub mod template;
pub mod write;
pub mod yaml;

#[cfg(test)]
mod tests;

use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use berth_diagnostic::source::Sources;
use cluster::Cluster;
use compose::{MountKind, Service};
use std::path::{Path, PathBuf};

/// What an import made of a Compose file.
pub struct Import {
    pub sources: Sources,
    pub specs: Vec<spec::Imported>,
    /// Services not imported, with why.
    pub skipped: Vec<(String, String)>,
    pub findings: Vec<Diagnostic>,
}

/// Reads `path` and writes a spec for each stateful service, or for each of `wanted`, reading
/// only files inside the Compose file's folder.
pub fn import(path: &Path, wanted: &[String]) -> Result<Import, (Diagnostic, Sources)> {
    import_reading(path, wanted, &[], None)
}

/// [`import`], also reading files in the folders of `allowed` (`--allow-read`), the findings
/// naming each file read from one; `project` is the Compose project's name the volumes were
/// made under (`docker compose -p`), when it is not the file's own.
pub fn import_reading(
    path: &Path,
    wanted: &[String],
    allowed: &[PathBuf],
    project: Option<&str>,
) -> Result<Import, (Diagnostic, Sources)> {
    let mut sources = Sources::default();
    let file = match compose::read(path, allowed, &mut sources) {
        Ok(mut file) => {
            if let Some(project) = project {
                file.project = Some(project.to_string());
            }
            file
        }
        Err(failure) => {
            let error = Diagnostic::input(&errors::IMPORT_COMPOSE, failure.message)
                .at(failure.span, "here")
                .help(failure.help.unwrap_or_else(|| {
                    "correct the Compose file; `docker compose config` shows how compose reads it"
                        .into()
                }));
            return Err((error, sources));
        }
    };
    let clusters = cluster::group(&file);
    if let Err(error) = check_wanted(&file, &clusters, wanted) {
        return Err((error, sources));
    }
    let source = path.file_name().map_or("the Compose file".into(), |n| {
        format!("`{}`", n.to_string_lossy())
    });
    let mut import = Import {
        sources: Sources::default(),
        specs: Vec::new(),
        skipped: Vec::new(),
        findings: file.outside.clone(),
    };
    let inits = init_services(&clusters);
    // An init step counts with its cluster: it runs once the members started, retrying until
    // they answer (a health check that needs the cluster initialized would never let it start).
    let owner_of = |index: usize| {
        inits
            .iter()
            .find(|i| i.init == index)
            .map_or(index, |i| i.owner)
    };
    import
        .findings
        .extend(rules::check_file(&file, &clusters, &owner_of));
    for (index, cluster) in clusters.iter().enumerate() {
        if let Some(init) = inits.iter().find(|i| i.init == index) {
            // A second one-shot service of one cluster: berth runs one `[init]`.
            if let Some(used) = init.extra_of {
                let why = format!(
                    "a second one-shot service of `{}`, whose `[init]` is `{}`: berth runs one init step; fold its command into that one by hand",
                    clusters[init.owner].name,
                    clusters[used].first().name
                );
                import.skipped.push((cluster.first().name.clone(), why));
            }
            continue;
        }
        if let Some(why) = skipped_because(cluster, wanted, &file.dir) {
            import.skipped.extend(
                cluster
                    .members
                    .iter()
                    .map(|m| (m.name.clone(), why.clone())),
            );
            continue;
        }
        let init = inits
            .iter()
            .find(|i| i.owner == index && i.extra_of.is_none())
            .map(|i| clusters[i.init].first());
        import.findings.extend(rules::check(cluster, &file.dir));
        let refused = cluster.members.iter().chain(init.as_slice());
        import
            .findings
            .extend(refused.flat_map(|m| m.refused.iter().cloned()));
        let taken = names_of_others(&clusters, index);
        let written = write_spec(&file, cluster, init, source.clone(), allowed, &taken);
        if let Some(why) = not_written(cluster, &written, &file.dir) {
            if asked(cluster, wanted) {
                let error = Diagnostic::input(
                    &errors::CLI_USAGE,
                    format!("`--service`: no spec of {}: {why}", services_of(&written)),
                )
                .help(
                    "import the other services, and write this one's spec by hand (`berth init` starts one)",
                );
                return Err((error, sources));
            }
            import
                .skipped
                .extend(written.services.iter().map(|s| (s.clone(), why.clone())));
            continue;
        }
        import.findings.extend(written.findings.iter().cloned());
        import.specs.push(written);
    }
    import.sources = sources;
    Ok(import)
}

/// `` `a`, `b` `` for the services of a spec.
fn services_of(spec: &spec::Imported) -> String {
    let names: Vec<String> = spec.services.iter().map(|s| format!("`{s}`")).collect();
    names.join(", ")
}

/// Why a spec is not written: its members differ in what one spec gives every member alike
/// (roles berth cannot express), or no backend compiles it. Nothing unusable is written.
fn not_written(cluster: &Cluster, written: &spec::Imported, dir: &Path) -> Option<String> {
    if !written.refused.is_empty() {
        return Some(written.refused.join("; "));
    }
    if written.excluded.len() < berth_compile::registry::names().len() {
        return None;
    }
    if let Some(stateless) = skip_reason(cluster, dir) {
        return Some(stateless);
    }
    // Each reason ends with its rule's id in parentheses: the first in full, then the others' ids.
    let code = |why: &str| {
        why.rsplit_once(" (")
            .map(|(_, c)| c.trim_end_matches(')').to_string())
    };
    let first = &written.excluded[0].1;
    let mut others: Vec<String> = Vec::new();
    for (_, why) in &written.excluded[1..] {
        if let Some(c) =
            code(why).filter(|c| Some(c) != code(first).as_ref() && !others.contains(c))
        {
            others.push(c);
        }
    }
    let also = if others.is_empty() {
        String::new()
    } else {
        format!("; also {}", others.join(", "))
    };
    Some(format!("no backend can run it: {first}{also}"))
}

/// Whether `--service` named a member of the cluster.
fn asked(cluster: &Cluster, wanted: &[String]) -> bool {
    wanted
        .iter()
        .any(|w| *w == cluster.name || cluster.members.iter().any(|m| m.name == *w))
}

/// Every `--service` must name a service of the Compose file.
fn check_wanted(
    file: &compose::ComposeFile,
    clusters: &[cluster::Cluster],
    wanted: &[String],
) -> Result<(), Diagnostic> {
    for name in wanted {
        let known = clusters
            .iter()
            .any(|c| c.name == *name || c.members.iter().any(|m| m.name == *name));
        if !known {
            let names: Vec<&str> = file.services.iter().map(|s| s.name.as_str()).collect();
            return Err(Diagnostic::input(
                &errors::CLI_USAGE,
                format!("`--service {name}`: the Compose file has no such service"),
            )
            .help(format!("name one of: {}", names.join(", "))));
        }
    }
    Ok(())
}

/// Why a cluster gets no spec: not stateful, or not named by `--service`.
fn skipped_because(cluster: &Cluster, wanted: &[String], dir: &Path) -> Option<String> {
    if wanted.is_empty() {
        return skip_reason(cluster, dir);
    }
    (!asked(cluster, wanted)).then(|| "not named by `--service`".to_string())
}

/// The names the other clusters' services answer to on the shared network: their Compose
/// service names, and their members' names in berth's outputs.
fn names_of_others(clusters: &[cluster::Cluster], index: usize) -> Vec<String> {
    let others = clusters.iter().enumerate().filter(|(j, _)| *j != index);
    others
        .flat_map(|(_, other)| {
            let services = other.members.iter().map(|m| m.name.clone());
            services.chain(other.hosts())
        })
        .collect()
}

/// The spec of one cluster, its `targets` narrowed to the backends a probe compile reaches.
fn write_spec(
    file: &compose::ComposeFile,
    cluster: &cluster::Cluster,
    init: Option<&compose::Service>,
    source: String,
    allowed: &[PathBuf],
    taken: &[String],
) -> spec::Imported {
    let mut input = spec::Input {
        file,
        cluster,
        init,
        source,
        excluded: Vec::new(),
        allowed,
        taken,
        probe: true,
    };
    input.excluded = unreachable_backends(&spec::write(&input).text);
    input.probe = false;
    let mut written = spec::write(&input);
    written.excluded = input.excluded;
    written
}

/// The backends a spec cannot target for a reason other than what the Compose file lacks (the
/// probe spec fills that in), each with the first error one compile of it gives for that backend.
fn unreachable_backends(text: &str) -> Vec<(String, String)> {
    refusing_backends(text, Path::new("imported.toml"))
}

/// The backends that refuse spec `text` (named `spec`, where its relative paths start), each
/// with the first error one compile of it gives for that backend.
pub fn refusing_backends(text: &str, spec: &Path) -> Vec<(String, String)> {
    let request = berth_compile::Request {
        spec: spec.to_path_buf(),
        set: Vec::new(),
        values: None,
        backends: Vec::new(),
        allow_read: vec![],
        deployed: None,
    };
    let outcome = berth_compile::compile_text(&request, text.to_string());
    let error = |d: &&Diagnostic| d.severity == berth_diagnostic::Severity::Error;
    outcome
        .outputs
        .iter()
        .filter_map(|output| {
            let error = output.diagnostics.iter().find(error)?;
            let prefix = format!("{}: ", output.backend);
            let message = error
                .message
                .strip_prefix(&prefix)
                .unwrap_or(&error.message);
            Some((
                output.backend.to_string(),
                format!("{message} ({})", error.code),
            ))
        })
        .collect()
}

/// Why a cluster is not a stateful service berth imports unasked: no data of its own.
fn skip_reason(cluster: &Cluster, dir: &Path) -> Option<String> {
    let first = cluster.first();
    let image = first.image_name();
    // A writable bind mount of a file is configuration, not data.
    let keeps_data = first.mounts.iter().any(|m| match m.kind {
        MountKind::Volume => true,
        MountKind::Bind => {
            !m.read_only && !m.source.as_ref().is_some_and(|s| dir.join(s).is_file())
        }
        MountKind::Tmpfs => false,
    });
    (!keeps_data && known::software(image).is_none()).then(|| "stateless: no volume, and not a database berth knows (mount a named volume where it keeps data to import it)".into())
}

/// A one-shot service that initializes a cluster: berth's own (`<name>-init`, labelled), or a
/// service of the cluster's image that depends on its members, runs a command of its own and
/// does not restart always.
struct Init {
    init: usize,
    owner: usize,
    /// For a second such service of one cluster: the index of the first, which is `[init]`.
    extra_of: Option<usize>,
}

fn init_services(clusters: &[Cluster]) -> Vec<Init> {
    let mut found: Vec<Init> = Vec::new();
    for (i, candidate) in clusters.iter().enumerate() {
        let service = candidate.first();
        if candidate.members.len() != 1 || !one_shot(service) {
            continue;
        }
        let owner = clusters.iter().enumerate().find(|(j, c)| {
            *j != i
                && c.members
                    .iter()
                    .any(|m| service.depends_on.iter().any(|d| d.service == m.name))
                && (same_image(c.first(), service)
                    || service.labels.get("berth.service") == Some(&c.name))
        });
        if let Some((owner, _)) = owner {
            let extra_of = found.iter().find(|f| f.owner == owner).map(|f| f.init);
            found.push(Init {
                init: i,
                owner,
                extra_of,
            });
        }
    }
    found
}

fn one_shot(service: &Service) -> bool {
    let restarts_always = service
        .restart
        .as_ref()
        .is_some_and(|(p, _)| matches!(p.as_str(), "always" | "unless-stopped" | "deploy:any"));
    let keeps_data = service
        .mounts
        .iter()
        .any(|m| m.kind == MountKind::Volume && m.source.is_some() && !m.read_only);
    let runs_something = service
        .entrypoint
        .iter()
        .chain(&service.command)
        .any(|w| !w.is_empty());
    !restarts_always && !keeps_data && !service.depends_on.is_empty() && runs_something
}

fn same_image(a: &Service, b: &Service) -> bool {
    a.image.is_some() && a.image_name() == b.image_name()
}
