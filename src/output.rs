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

/// A file that tools read as the entry point of its directory (`kubectl apply -k` reads
/// `Kustomization`): it is removed before the files it names change and written back last, so an
/// interrupted write never leaves an entry point over a mix of old and new files.
const ENTRY_POINTS: [&str; 1] = ["Kustomization"];

fn is_entry_point(path: &str) -> bool {
    ENTRY_POINTS
        .iter()
        .any(|e| path == *e || path.ends_with(&format!("/{e}")))
}

/// Writes `files`, refusing to replace a file that berth did not write unless `force`; removes
/// files berth wrote before that this compile no longer makes.
///
/// Every file is written to a temporary file and renamed over its target. The manifest lists the
/// old and the new files before any rename (so files of an interrupted write are still known as
/// berth's), and entry points are taken away first and put back last.
pub fn write(out: &Path, files: &[Planned], force: bool) -> Result<Written, Diagnostic> {
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
        if !force && target.symlink_metadata().is_ok() && !previous.files.contains(relative) {
            return Err(Diagnostic::input("output/foreign-file", format!("refusing to overwrite `{}`: berth did not write it", target.display()))
                .help("move the file away, compile into another `--out` directory, or pass `--force` to replace it"));
        }
    }
    let mut written = Written::default();
    let current: Vec<bool> = on_every_core(files, |file| {
        let target = out.join(&file.path);
        let mode_ok =
            |meta: fs::Metadata| !file.executable || meta.permissions().mode() & 0o111 != 0;
        fs::read(&target).is_ok_and(|old| old == file.contents.as_bytes())
            && fs::metadata(&target).is_ok_and(mode_ok)
    });
    let changed_dirs: BTreeSet<&str> = files
        .iter()
        .zip(&current)
        .filter(|(f, current)| !**current && !is_entry_point(&f.path))
        .map(|(f, _)| parent(&f.path))
        .collect();
    // An entry point over changing files is taken away and written back, even if it is the same.
    let rewrites: Vec<bool> = files
        .iter()
        .zip(&current)
        .map(|(file, current)| {
            !current || (is_entry_point(&file.path) && changed_dirs.contains(parent(&file.path)))
        })
        .collect();
    written.unchanged = files
        .iter()
        .zip(&rewrites)
        .filter(|(_, rewrite)| !**rewrite)
        .map(|(file, _)| file.path.clone())
        .collect();
    let rewrite: Vec<&Planned> = files
        .iter()
        .zip(&rewrites)
        .filter(|(_, rewrite)| **rewrite)
        .map(|(file, _)| file)
        .collect();
    let temporaries = on_every_core(&rewrite, |file| {
        stage(
            &out.join(&file.path),
            file.contents.as_bytes(),
            file.executable,
        )
    });
    let mut staged = Vec::with_capacity(rewrite.len());
    for (file, temporary) in rewrite.into_iter().zip(temporaries) {
        staged.push((file, temporary?));
    }
    // One flush for every staged file, rather than one per file: the renames below then replace
    // targets with complete files.
    if !staged.is_empty() {
        sync_filesystem(out);
    }
    let now: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
    write_manifest(
        &manifest_path,
        previous.files.union(&now).cloned().collect(),
    )?;
    for (entry, _) in staged.iter().filter(|(f, _)| is_entry_point(&f.path)) {
        let target = out.join(&entry.path);
        match fs::remove_file(&target) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_error(&target, e)),
            _ => interruption_point(),
        }
    }
    staged.sort_by_key(|(f, _)| is_entry_point(&f.path));
    for (file, temporary) in staged {
        let target = out.join(&file.path);
        fs::rename(&temporary, &target).map_err(|e| io_error(&target, e))?;
        interruption_point();
        written.changed.push(file.path.clone());
    }
    for stale in previous.files.difference(&now) {
        let path = out.join(stale);
        if safe_relative(stale) && path.is_file() {
            fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
            written.removed.push(stale.clone());
        }
    }
    write_manifest(&manifest_path, now)?;
    sync_filesystem(out);
    Ok(written)
}

/// Flushes the filesystem holding `dir` to disk (Linux `syncfs`; elsewhere every filesystem).
fn sync_filesystem(dir: &Path) {
    #[cfg(target_os = "linux")]
    if let Ok(handle) = fs::File::open(dir) {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open for the duration of the call; syncfs only reads it.
        unsafe { libc::syncfs(handle.as_raw_fd()) };
        return;
    }
    // SAFETY: sync takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// `work` applied to every item, split over the cores; results in the items' order.
fn on_every_core<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len() / 64 + 1);
    if threads <= 1 {
        return items.iter().map(&work).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(work).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a write worker panicked"))
            .collect()
    })
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn write_manifest(path: &Path, files: BTreeSet<String>) -> Result<(), Diagnostic> {
    let manifest =
        serde_json::to_string_pretty(&Manifest { files }).expect("a set of strings serializes");
    let temporary = stage(path, format!("{manifest}\n").as_bytes(), false)?;
    fs::rename(&temporary, path).map_err(|e| io_error(path, e))
}

/// Tests stop a write after `BERTH_TEST_INTERRUPT_AFTER` renames, as a kill would (debug builds only).
fn interruption_point() {
    #[cfg(debug_assertions)]
    {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static RENAMES: AtomicUsize = AtomicUsize::new(0);
        if let Some(limit) = std::env::var("BERTH_TEST_INTERRUPT_AFTER")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            && RENAMES.fetch_add(1, Ordering::SeqCst) + 1 >= limit
        {
            std::process::exit(99);
        }
    }
}

/// Writes `contents` to a temporary file beside `target`; the caller flushes and renames it over
/// the target, so a reader sees either the old or the new file.
fn stage(
    target: &Path,
    contents: &[u8],
    executable: bool,
) -> Result<std::path::PathBuf, Diagnostic> {
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
        }))
    })();
    result.map(|()| temporary.clone()).map_err(|e| {
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
