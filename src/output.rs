//! Writes compiled files under `--out`, keeping a manifest of what berth wrote so that it never
//! overwrites or deletes a file it did not write. Files are staged as specs compile; nothing
//! reaches its place until every spec and check passed.

use crate::diagnostic::Diagnostic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

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
#[derive(Clone)]
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

/// Writes `files` in one [`Transaction`].
pub fn write(out: &Path, files: Vec<Planned>, force: bool) -> Result<Written, Diagnostic> {
    let transaction = Transaction::begin(out, force)?;
    let staged = transaction.stage(files)?;
    transaction.commit(vec![staged])
}

/// One write into `--out`, in two steps: files are staged (compared with what is there, and the
/// changed ones written into a staging directory inside `--out`) as they are compiled, from any
/// thread; [`Transaction::commit`] then moves them into place. Dropped without a commit, it
/// removes what it staged, so a refused compile writes nothing.
///
/// The commit refuses to replace a file berth did not write unless `force`, removes files berth
/// wrote before that this compile no longer makes, lists the old and the new files in the
/// manifest before any rename (so files of an interrupted write are still known as berth's), and
/// takes entry points away first and puts them back last.
pub struct Transaction {
    out: PathBuf,
    staging: PathBuf,
    /// Whether `--out` existed before: if not, an abort removes it again.
    out_existed: bool,
    previous: Manifest,
    force: bool,
    committed: bool,
}

/// Files of one group (one spec's output) after staging: all their paths, and those whose new
/// contents wait in the staging directory.
pub struct Staged {
    paths: Vec<String>,
    changed: Vec<String>,
}

const STAGING_PREFIX: &str = ".berth-staging-";

impl Transaction {
    /// Reads the manifest of `out`; writes nothing.
    pub fn begin(out: &Path, force: bool) -> Result<Transaction, Diagnostic> {
        let previous = read_manifest(out)?;
        Ok(Transaction {
            out: out.to_path_buf(),
            staging: out.join(format!("{STAGING_PREFIX}{}", std::process::id())),
            out_existed: out.exists(),
            previous,
            force,
            committed: false,
        })
    }

    /// Checks `files` against `--out`, and writes those that differ into the staging directory.
    /// An entry point whose directory has changing files is staged even if it is the same, so
    /// that it can be taken away and put back around them.
    pub fn stage(&self, files: Vec<Planned>) -> Result<Staged, Diagnostic> {
        for file in &files {
            self.check_target(&file.path)?;
        }
        let current: Vec<bool> = files
            .iter()
            .map(|file| is_current(&self.out.join(&file.path), file))
            .collect();
        let changed_dirs: BTreeSet<&str> = files
            .iter()
            .zip(&current)
            .filter(|(f, current)| !**current && !is_entry_point(&f.path))
            .map(|(f, _)| parent(&f.path))
            .collect();
        let rewrites: Vec<bool> = files
            .iter()
            .zip(&current)
            .map(|(file, current)| {
                !current
                    || (is_entry_point(&file.path) && changed_dirs.contains(parent(&file.path)))
            })
            .collect();
        let mut changed = Vec::new();
        for (file, rewrite) in files.iter().zip(rewrites) {
            if rewrite {
                let mut staged = self.create_staged(&file.path)?;
                staged
                    .write_all(file.contents.as_bytes())
                    .and_then(|()| set_mode(&staged, file.executable))
                    .map_err(|e| io_error(&self.staging.join(&file.path), e))?;
                changed.push(file.path.clone());
            }
        }
        Ok(Staged {
            paths: files.into_iter().map(|f| f.path).collect(),
            changed,
        })
    }

    /// A new file at `relative` inside the staging directory, for output too large to hold in
    /// memory (the report); [`Transaction::settle`] then stages it like a file of [`stage`].
    ///
    /// [`stage`]: Transaction::stage
    pub fn create_staged(&self, relative: &str) -> Result<fs::File, Diagnostic> {
        let path = self.staging.join(relative);
        let dir = path.parent().unwrap_or(&self.staging);
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        fs::File::create(&path).map_err(|e| io_error(&path, e))
    }

    /// Stages a file written through [`Transaction::create_staged`]: unchanged if `--out` holds
    /// the same bytes.
    pub fn settle(&self, relative: &str) -> Result<Staged, Diagnostic> {
        self.check_target(relative)?;
        let staged = self.staging.join(relative);
        let same =
            same_contents(&staged, &self.out.join(relative)).map_err(|e| io_error(&staged, e))?;
        if same {
            fs::remove_file(&staged).map_err(|e| io_error(&staged, e))?;
        } else {
            fs::File::open(&staged)
                .and_then(|file| set_mode(&file, false))
                .map_err(|e| io_error(&staged, e))?;
        }
        Ok(Staged {
            paths: vec![relative.to_string()],
            changed: if same {
                vec![]
            } else {
                vec![relative.to_string()]
            },
        })
    }

    fn check_target(&self, relative: &str) -> Result<(), Diagnostic> {
        if !safe_relative(relative) {
            return Err(Diagnostic::input(
                "output/path",
                format!("refusing to write outside `--out`: `{relative}`"),
            ));
        }
        let target = self.out.join(relative);
        if !self.force
            && !self.previous.files.contains(relative)
            && target.symlink_metadata().is_ok()
        {
            return Err(Diagnostic::input("output/foreign-file", format!("refusing to overwrite `{}`: berth did not write it", target.display()))
                .help("move the file away, compile into another `--out` directory, or pass `--force` to replace it"));
        }
        Ok(())
    }

    /// Moves every staged file into place and removes the files berth wrote before that no group
    /// makes now.
    pub fn commit(mut self, groups: Vec<Staged>) -> Result<Written, Diagnostic> {
        self.committed = true;
        let out = self.out.clone();
        fs::create_dir_all(&out).map_err(|e| io_error(&out, e))?;
        let manifest_path = out.join(MANIFEST);
        let mut written = Written::default();
        let mut now = BTreeSet::new();
        let mut changed = Vec::new();
        for group in groups {
            let changed_here: BTreeSet<&String> = group.changed.iter().collect();
            for path in &group.paths {
                if !changed_here.contains(path) {
                    written.unchanged.push(path.clone());
                }
            }
            now.extend(group.paths);
            changed.extend(group.changed);
        }
        let stale: Vec<String> = self.previous.files.difference(&now).cloned().collect();
        if !changed.is_empty() {
            // One flush for every staged file, rather than one per file: the renames below then
            // replace targets with complete files.
            sync_filesystem(&self.staging);
        }
        if !now.is_subset(&self.previous.files) {
            let all = self.previous.files.union(&now).cloned().collect();
            write_manifest(&manifest_path, all)?;
        }
        for entry in changed.iter().filter(|path| is_entry_point(path)) {
            let target = out.join(entry);
            match fs::remove_file(&target) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_error(&target, e));
                }
                _ => interruption_point(),
            }
        }
        changed.sort_by_key(|path| is_entry_point(path));
        let mut made_dirs = BTreeSet::new();
        for path in changed {
            let target = out.join(&path);
            let dir = parent(&path);
            if made_dirs.insert(dir.to_string()) {
                let dir = out.join(dir);
                fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
            }
            fs::rename(self.staging.join(&path), &target).map_err(|e| io_error(&target, e))?;
            interruption_point();
            written.changed.push(path);
        }
        for stale in stale {
            let path = out.join(&stale);
            if safe_relative(&stale) && path.is_file() {
                fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
                written.removed.push(stale);
            }
        }
        if now != self.previous.files {
            write_manifest(&manifest_path, now)?;
        }
        if !written.changed.is_empty() || !written.removed.is_empty() {
            sync_filesystem(&out);
        }
        remove_staging_dirs(&out);
        Ok(written)
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
            if !self.out_existed {
                let _ = fs::remove_dir(&self.out);
            }
        }
    }
}

/// Removes this process's staging directory, and those of berth processes that were killed
/// during a write (their process is gone).
fn remove_staging_dirs(out: &Path) {
    let Ok(entries) = fs::read_dir(out) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(STAGING_PREFIX))
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only asks whether the process exists.
        let alive = pid != std::process::id() as i32 && unsafe { libc::kill(pid, 0) } == 0;
        if !alive {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether `target` already holds `file`: the same bytes, and executable if `file` is a script.
fn is_current(target: &Path, file: &Planned) -> bool {
    use std::io::Read;
    let Ok(mut old) = fs::File::open(target) else {
        return false;
    };
    let Ok(meta) = old.metadata() else {
        return false;
    };
    if meta.len() != file.contents.len() as u64
        || (file.executable && meta.permissions().mode() & 0o111 == 0)
    {
        return false;
    }
    let mut bytes = Vec::with_capacity(file.contents.len());
    old.read_to_end(&mut bytes).is_ok() && bytes == file.contents.as_bytes()
}

/// Whether two files hold the same bytes, reading both a block at a time.
fn same_contents(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut a = std::io::BufReader::new(fs::File::open(a)?);
    let mut b = match fs::File::open(b) {
        Ok(file) => std::io::BufReader::new(file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let (mut block_a, mut block_b) = (vec![0; 64 * 1024], vec![0; 64 * 1024]);
    loop {
        let n = read_full(&mut a, &mut block_a)?;
        if n != read_full(&mut b, &mut block_b)? || block_a[..n] != block_b[..n] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
    fn read_full(reader: &mut impl Read, block: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < block.len() {
            match reader.read(&mut block[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        Ok(filled)
    }
}

fn set_mode(file: &fs::File, executable: bool) -> std::io::Result<()> {
    file.set_permissions(fs::Permissions::from_mode(if executable {
        0o755
    } else {
        0o644
    }))
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

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// The manifest of `out`; none yet is an empty one.
fn read_manifest(out: &Path) -> Result<Manifest, Diagnostic> {
    let path = out.join(MANIFEST);
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            Diagnostic::input(
                "output/manifest",
                format!("cannot read `{}`: {e}", path.display()),
            )
            .help("remove the damaged manifest, or choose another `--out` directory")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
        Err(e) => Err(io_error(&path, e)),
    }
}

fn write_manifest(path: &Path, files: BTreeSet<String>) -> Result<(), Diagnostic> {
    let manifest =
        serde_json::to_string_pretty(&Manifest { files }).expect("a set of strings serializes");
    let temporary = stage_beside(path, format!("{manifest}\n").as_bytes())?;
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

/// Writes `contents` to a temporary file beside `target`, to be renamed over it.
fn stage_beside(target: &Path, contents: &[u8]) -> Result<PathBuf, Diagnostic> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = target.with_file_name(format!(".{name}.berth-tmp-{}", std::process::id()));
    fs::write(&temporary, contents).map_err(|e| io_error(target, e))?;
    Ok(temporary)
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
    let previous = read_manifest(out).unwrap_or_default();
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
