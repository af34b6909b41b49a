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
pub mod write;
pub mod yaml;

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
    import_reading(path, wanted, &[])
}

/// [`import`], also reading files in the folders of `allowed` (`--allow-read`); the findings
/// name each file read from one.
pub fn import_reading(
    path: &Path,
    wanted: &[String],
    allowed: &[PathBuf],
) -> Result<Import, (Diagnostic, Sources)> {
    let mut sources = Sources::default();
    let file = match compose::read(path, allowed, &mut sources) {
        Ok(file) => file,
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
    for (index, cluster) in clusters.iter().enumerate() {
        if inits.iter().any(|(i, _)| *i == index) {
            continue;
        }
        if let Some(why) = skipped_because(cluster, wanted) {
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
            .find(|(_, of)| *of == index)
            .map(|(i, _)| clusters[*i].first());
        import.findings.extend(rules::check(cluster, &file.dir));
        let refused = cluster.members.iter().chain(init.as_slice());
        import
            .findings
            .extend(refused.flat_map(|m| m.refused.iter().cloned()));
        let written = write_spec(&file, cluster, init, source.clone(), allowed);
        import.findings.extend(written.findings.iter().cloned());
        import.specs.push(written);
    }
    import.sources = sources;
    Ok(import)
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
fn skipped_because(cluster: &cluster::Cluster, wanted: &[String]) -> Option<String> {
    if wanted.is_empty() {
        return skip_reason(cluster);
    }
    let asked = wanted
        .iter()
        .any(|w| *w == cluster.name || cluster.members.iter().any(|m| m.name == *w));
    (!asked).then(|| "not named by `--service`".to_string())
}

/// The spec of one cluster, its `targets` narrowed to the backends a probe compile reaches.
fn write_spec(
    file: &compose::ComposeFile,
    cluster: &cluster::Cluster,
    init: Option<&compose::Service>,
    source: String,
    allowed: &[PathBuf],
) -> spec::Imported {
    let mut input = spec::Input {
        file,
        cluster,
        init,
        source,
        excluded: Vec::new(),
        allowed,
        probe: true,
    };
    input.excluded = unreachable_backends(&spec::write(&input).text);
    input.probe = false;
    spec::write(&input)
}

/// The backends a spec cannot target for a reason other than what the Compose file lacks (the
/// probe spec fills that in), each with the first error one compile of it gives for that backend.
fn unreachable_backends(text: &str) -> Vec<(String, String)> {
    let request = berth_compile::Request {
        spec: "imported.toml".into(),
        set: Vec::new(),
        values: None,
        backends: Vec::new(),
        allow_read: vec![],
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
fn skip_reason(cluster: &Cluster) -> Option<String> {
    let first = cluster.first();
    let image = first.image_name();
    let keeps_data = first.mounts.iter().any(|m| match m.kind {
        MountKind::Volume => true,
        MountKind::Bind => !m.read_only,
        MountKind::Tmpfs => false,
    });
    (!keeps_data && known::software(image).is_none()).then(|| "no volume and not a database berth knows: stateless (name it with `--service` to import it)".into())
}

/// One-shot services that initialize a cluster: berth's own (`<name>-init`, labelled), or a
/// service of the cluster's image that depends on its members and does not restart always.
/// Returns (init's index, cluster's index).
fn init_services(clusters: &[Cluster]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
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
        if let Some((j, _)) = owner {
            found.push((i, j));
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
    !restarts_always && !keeps_data && !service.depends_on.is_empty()
}

fn same_image(a: &Service, b: &Service) -> bool {
    a.image.is_some() && a.image_name() == b.image_name()
}
