//! Writes compiled files under `--out`, keeping a manifest of what berth wrote so that it never
//! overwrites or deletes a file it did not write. Nothing is written until every check passed.

use crate::diagnostic::Diagnostic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

/// The manifest's name inside `--out`.
pub const MANIFEST: &str = ".berth-manifest.json";

#[derive(Serialize, Deserialize, Default)]
struct Manifest {
    files: BTreeSet<String>,
}

/// What a write did, for the summary line.
#[derive(Debug, Default)]
pub struct Written {
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
    pub removed: Vec<String>,
}

/// One file to write: a path relative to `--out` (`/`-separated), its text, and whether it is a script.
pub struct Planned {
    pub path: String,
    pub contents: String,
    pub executable: bool,
}

/// Writes `files` atomically, refusing to replace a file
/// that berth did not write; removes files berth wrote before that this compile no longer makes.
pub fn write(out: &Path, files: &[Planned]) -> Result<Written, Diagnostic> {
    let manifest_path = out.join(MANIFEST);
    let previous: Manifest = match fs::read_to_string(&manifest_path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            Diagnostic::input(
                "output/manifest",
                format!("cannot read `{}`: {e}", manifest_path.display()),
            )
            .help("remove the damaged manifest, or choose another `--out` directory")
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
        Err(e) => return Err(io_error(&manifest_path, e)),
    };
    for Planned { path: relative, .. } in files {
        if !safe_relative(relative) {
            return Err(Diagnostic::input(
                "output/path",
                format!("refusing to write outside `--out`: `{relative}`"),
            ));
        }
        let target = out.join(relative);
        if target.symlink_metadata().is_ok() && !previous.files.contains(relative) {
            return Err(Diagnostic::input(
                "output/foreign-file",
                format!(
                    "refusing to overwrite `{}`: berth did not write it",
                    target.display()
                ),
            )
            .help("move the file away, or compile into another `--out` directory"));
        }
    }
    let mut written = Written::default();
    for file in files {
        let (relative, contents) = (&file.path, &file.contents);
        let target = out.join(relative);
        let mode_ok =
            |meta: fs::Metadata| !file.executable || meta.permissions().mode() & 0o111 != 0;
        if fs::read(&target).is_ok_and(|old| old == contents.as_bytes())
            && fs::metadata(&target).is_ok_and(mode_ok)
        {
            written.unchanged.push(relative.clone());
            continue;
        }
        write_atomically(&target, contents.as_bytes(), file.executable)?;
        written.changed.push(relative.clone());
    }
    let now: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
    for stale in previous.files.difference(&now) {
        let path = out.join(stale);
        if safe_relative(stale) && path.is_file() {
            fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
            written.removed.push(stale.clone());
        }
    }
    let manifest = serde_json::to_string_pretty(&Manifest { files: now })
        .expect("a set of strings serializes");
    write_atomically(&manifest_path, format!("{manifest}\n").as_bytes(), false)?;
    Ok(written)
}

/// Writes to a temporary file in the same directory, then renames it over the target, so a reader
/// sees either the old or the new file.
fn write_atomically(target: &Path, contents: &[u8], executable: bool) -> Result<(), Diagnostic> {
    let dir = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.berth-tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(contents)?;
        file.set_permissions(fs::Permissions::from_mode(if executable {
            0o755
        } else {
            0o644
        }))?;
        file.sync_all()?;
        fs::rename(&temporary, target)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&temporary);
        io_error(target, e)
    })
}

fn safe_relative(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

fn io_error(path: &Path, e: std::io::Error) -> Diagnostic {
    Diagnostic::input(
        "output/io",
        format!("cannot write `{}`: {e}", path.display()),
    )
    .help("check that the `--out` directory is writable")
}

/// What a write would change in `out`, as a unified diff (old: the directory, new: `files`): files
/// that differ, files berth would add, and files berth wrote before that it would remove.
/// Empty when `out` is up to date.
pub fn drift(out: &Path, files: &[Planned]) -> Result<String, Diagnostic> {
    let previous: Manifest = match fs::read_to_string(out.join(MANIFEST)) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_default(),
        Err(_) => Manifest::default(),
    };
    let mut diff = String::new();
    for file in files {
        let target = out.join(&file.path);
        let old = match fs::read(&target) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_error(&target, e)),
        };
        let old_name = if target.exists() {
            format!("a/{}", file.path)
        } else {
            "/dev/null".to_string()
        };
        diff.push_str(&crate::diff::unified(
            &old,
            &file.contents,
            &old_name,
            &format!("b/{}", file.path),
        ));
    }
    let planned: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for stale in previous
        .files
        .iter()
        .filter(|f| !planned.contains(f.as_str()) && safe_relative(f))
    {
        if let Ok(old) = fs::read_to_string(out.join(stale)) {
            diff.push_str(&crate::diff::unified(
                &old,
                "",
                &format!("a/{stale}"),
                "/dev/null",
            ));
        }
    }
    Ok(diff)
}
