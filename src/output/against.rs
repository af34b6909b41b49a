//! What is deployed, read back from the directory an earlier compile wrote (`--against`) as every
//! file of an output directory is read: regular files only, no link followed.

use crate::manifest::MANIFEST;
use berth_backend::plan::Deployed;
use berth_diagnostic::{Diagnostic, errors};
use std::path::Path;

/// Refuses an `--against` that no compile wrote: a missing directory (a typo) would read as
/// nothing deployed, every file new; a backend's folder (`deployed/compose`) as no backend.
pub fn check(dir: &Path) -> Result<(), Diagnostic> {
    if dir.join(MANIFEST).is_file() {
        return Ok(());
    }
    let shown = dir.display();
    let (message, help) = if !dir.exists() {
        (format!("`--against {shown}` does not exist"), None)
    } else if !dir.is_dir() {
        (format!("`--against {shown}` is not a directory"), None)
    } else {
        let parent = dir.parent().filter(|p| p.join(MANIFEST).is_file());
        (
            format!("`--against {shown}` holds no `{MANIFEST}`: `berth compile` did not write it"),
            parent.map(|p| {
                format!(
                    "name the directory `berth compile --out` wrote: `--against {}`",
                    p.display()
                )
            }),
        )
    };
    let help = help.unwrap_or_else(|| {
        "name the directory an earlier `berth compile --out` wrote (or compile the deployed spec there first)".into()
    });
    Err(Diagnostic::input(&errors::OUTPUT_AGAINST, message).help(help))
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
