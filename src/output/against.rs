//! What is deployed, read back from the directory an earlier compile wrote (`--against`) as every
//! file of an output directory is read: regular files only, no link followed.

use crate::manifest::MANIFEST;
use berth_backend::plan::Deployed;
use berth_diagnostic::{Diagnostic, errors};
use std::path::Path;

/// Refuses an `--against` that no compile wrote: a missing directory (a typo) would read as
/// nothing deployed, every file new. Accepted: the `--out` of a compile, and one service's
/// folder of a compile of several specs (`multi/etcd`, beside `multi/zookeeper`); refused with
/// the folder to name instead: a backend's folder (`deployed/compose`), and the `--out` of a
/// compile of several specs. `backends` are the backends' names, their folders' names.
pub fn check(dir: &Path, backends: &[&str]) -> Result<(), Diagnostic> {
    let holds_backends = |p: &Path| !held(p, backends).is_empty();
    let written = |p: &Path| p.join(MANIFEST).is_file();
    let parent = dir.parent().map(|p| {
        if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        }
    });
    let shown = dir.display();
    let refuse = |message: String, help: String| {
        Err(Diagnostic::input(&errors::OUTPUT_AGAINST, message).help(help))
    };
    let backend_folder = dir
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| backends.contains(n));
    if let (Some(backend), Some(parent)) = (backend_folder, parent.filter(|p| written(p))) {
        return refuse(
            format!("`--against {shown}` is the folder of one backend, `{backend}`"),
            format!(
                "name the directory `berth compile --out` wrote: `--against {}`",
                parent.display()
            ),
        );
    }
    let service_folder = parent.is_some_and(&written) && holds_backends(dir);
    if (written(dir) && holds_backends(dir)) || service_folder {
        return Ok(());
    }
    if written(dir) {
        let mut services: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| is_dir(p) && holds_backends(p))
            .map(|p| format!("`--against {}`", p.display()))
            .collect();
        services.sort();
        if !services.is_empty() {
            return refuse(
                format!("`--against {shown}` holds the outputs of several specs"),
                format!(
                    "name the folder of the service deployed: {}",
                    services.join(" or ")
                ),
            );
        }
        return Ok(());
    }
    let message = if !dir.exists() {
        format!("`--against {shown}` does not exist")
    } else if !dir.is_dir() {
        format!("`--against {shown}` is not a directory")
    } else {
        format!("`--against {shown}` holds no `{MANIFEST}`: `berth compile` did not write it")
    };
    refuse(
        message,
        "name the directory an earlier `berth compile --out` wrote (or compile the deployed spec there first)".into(),
    )
}

/// Of `backends`, those whose folders stand in `dir` (a link is not followed).
pub fn held<'a>(dir: &Path, backends: &[&'a str]) -> Vec<&'a str> {
    backends
        .iter()
        .copied()
        .filter(|b| is_dir(&dir.join(b)))
        .collect()
}

fn is_dir(path: &Path) -> bool {
    path.symlink_metadata().is_ok_and(|m| m.is_dir())
}

/// The directory, whether the plan writes to it too, the members to replace and those lost, and
/// whether the backends add their plans (`berth plan`) or only say what the change does (`berth diff`).
pub struct Against<'a> {
    pub dir: &'a Path,
    pub is_out: bool,
    pub replace: Vec<String>,
    pub lost: Vec<String>,
    pub plans: bool,
}

impl<'a> Against<'a> {
    /// `dir`, read for a plan written to `out`.
    pub fn new(dir: &'a Path, out: &Path) -> Self {
        let is_out = match (dir.canonicalize(), out.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        Against {
            dir,
            is_out,
            replace: Vec::new(),
            lost: Vec::new(),
            plans: true,
        }
    }
}

impl Deployed for Against<'_> {
    fn is_out(&self) -> bool {
        self.is_out
    }

    fn replace(&self) -> &[String] {
        &self.replace
    }

    fn lost(&self) -> &[String] {
        &self.lost
    }

    fn plans(&self) -> bool {
        self.plans
    }

    fn read(&self, path: &str) -> Option<String> {
        crate::inside::read_file(self.dir, path)
            .ok()
            .flatten()
            .and_then(|bytes| String::from_utf8(bytes).ok())
    }
}
