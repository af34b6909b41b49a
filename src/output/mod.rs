//! Writes compiled files under `--out`, keeping a manifest of what berth wrote so that it never
//! overwrites or deletes a file it did not write. Files are staged as specs compile; nothing
//! reaches its place until every spec and check passed. Beside the writer: [`diff`] (what a
//! compile would change, and what an upgrade does to a running service), [`report`]
//! (`berth-report.json`), and [`yaml`], the one way every YAML output is serialized. It uses the
//! engine's results; the engine never uses it.

pub mod diff;
pub mod report;
pub mod yaml;

use crate::engine::diagnostic::Diagnostic;
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
    /// Permission bits.
    pub mode: u32,
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
    /// The outermost directory of `--out` that did not exist before: an abort removes it again.
    created: Option<PathBuf>,
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
            created: out
                .ancestors()
                .take_while(|d| !d.as_os_str().is_empty() && d.symlink_metadata().is_err())
                .last()
                .map(Path::to_path_buf),
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
                    .and_then(|()| set_mode(&staged, file.mode))
                    .map_err(|e| io_error(&self.out.join(&file.path), e))?;
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
        // Errors name the place the user chose, not the staging directory inside it.
        fs::create_dir_all(&self.staging).map_err(|e| io_error(&self.out, e))?;
        fs::create_dir_all(dir)
            .and_then(|()| fs::File::create(&path))
            .map_err(|e| io_error(&self.out.join(relative), e))
    }

    /// Stages a file written through [`Transaction::create_staged`]: unchanged if `--out` holds
    /// the same bytes.
    pub fn settle(&self, relative: &str) -> Result<Staged, Diagnostic> {
        self.check_target(relative)?;
        let staged = self.staging.join(relative);
        let target = self.out.join(relative);
        let same = same_contents(&staged, &target).map_err(|e| io_error(&target, e))?;
        if same {
            fs::remove_file(&staged).map_err(|e| io_error(&target, e))?;
        } else {
            fs::File::open(&staged)
                .and_then(|file| set_mode(&file, 0o644))
                .map_err(|e| io_error(&target, e))?;
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
        check_shape(&self.out, relative)?;
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
    /// makes now. A step that fails undoes every step before it, so `--out` is as it was.
    pub fn commit(mut self, groups: Vec<Staged>) -> Result<Written, Diagnostic> {
        let mut journal = Journal::new(self.staging.join(".replaced"));
        let result = self.apply(groups, &mut journal);
        match result {
            Ok(written) => {
                self.committed = true;
                remove_staging_dirs(&self.out);
                Ok(written)
            }
            Err((path, e)) => {
                let error = io_error(&path, e);
                if journal.undo() {
                    return Err(error);
                }
                // Keep what could not be moved back, and say where it is.
                self.committed = true;
                Err(error.help(format!(
                    "some replaced files could not be moved back: they are in `{}`",
                    self.staging.join(".replaced").display()
                )))
            }
        }
    }

    fn apply(
        &self,
        groups: Vec<Staged>,
        journal: &mut Journal,
    ) -> Result<Written, (PathBuf, std::io::Error)> {
        let out = &self.out;
        journal.make_dirs(out).map_err(|e| (out.clone(), e))?;
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
            sync_filesystem(&self.staging).map_err(|e| (self.staging.clone(), e))?;
        }
        if !now.is_subset(&self.previous.files) {
            let all = self.previous.files.union(&now).cloned().collect();
            self.put_manifest(journal, all)?;
        }
        for entry in changed.iter().filter(|path| is_entry_point(path)) {
            let target = out.join(entry);
            journal.move_aside(&target).map_err(|e| (target, e))?;
            interruption_point();
        }
        changed.sort_by_key(|path| is_entry_point(path));
        for path in changed {
            let target = out.join(&path);
            let dir = out.join(parent(&path));
            journal.make_dirs(&dir).map_err(|e| (dir, e))?;
            journal
                .put(&self.staging.join(&path), &target)
                .map_err(|e| (target, e))?;
            interruption_point();
            written.changed.push(path);
        }
        for stale in stale {
            let path = out.join(&stale);
            if safe_relative(&stale) && path.is_file() {
                journal.move_aside(&path).map_err(|e| (path, e))?;
                written.removed.push(stale);
            }
        }
        if now != self.previous.files {
            self.put_manifest(journal, now)?;
        }
        if !written.changed.is_empty() || !written.removed.is_empty() {
            sync_filesystem(out).map_err(|e| (out.to_path_buf(), e))?;
        }
        Ok(written)
    }

    fn put_manifest(
        &self,
        journal: &mut Journal,
        files: BTreeSet<String>,
    ) -> Result<(), (PathBuf, std::io::Error)> {
        let target = self.out.join(MANIFEST);
        let manifest =
            serde_json::to_string_pretty(&Manifest { files }).expect("a set of strings serializes");
        let temporary = self
            .staging
            .join(format!("{MANIFEST}.{}", journal.steps.len()));
        fs::create_dir_all(&self.staging)
            .and_then(|()| fs::write(&temporary, format!("{manifest}\n")))
            .and_then(|()| journal.put(&temporary, &target))
            .map_err(|e| (target, e))
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
            // Directories this write created for `--out` go again, if nothing else was put there.
            if let Some(created) = &self.created {
                for dir in self.out.ancestors() {
                    if fs::remove_dir(dir).is_err() || dir == created {
                        break;
                    }
                }
            }
        }
    }
}

/// One step of a commit, undone in reverse order if a later step fails.
enum Step {
    MadeDir(PathBuf),
    /// A new file now stands at this path.
    Put(PathBuf),
    /// The file at `target` was moved to `aside`.
    MovedAside {
        target: PathBuf,
        aside: PathBuf,
    },
}

/// The steps of a commit so far. Nothing is deleted before the commit succeeds: a file it
/// replaces or removes is moved into the staging directory, from where an undo moves it back.
struct Journal {
    aside: PathBuf,
    steps: Vec<Step>,
}

impl Journal {
    fn new(aside: PathBuf) -> Self {
        Journal {
            aside,
            steps: Vec::new(),
        }
    }

    /// Creates `dir` and its missing parents.
    fn make_dirs(&mut self, dir: &Path) -> std::io::Result<()> {
        let missing: Vec<&Path> = dir
            .ancestors()
            .take_while(|d| d.symlink_metadata().is_err())
            .collect();
        for dir in missing.into_iter().rev() {
            fault_point()?;
            fs::create_dir(dir)?;
            self.steps.push(Step::MadeDir(dir.to_path_buf()));
        }
        Ok(())
    }

    /// Moves the file at `target`, if any, aside.
    fn move_aside(&mut self, target: &Path) -> std::io::Result<()> {
        if target.symlink_metadata().is_err() {
            return Ok(());
        }
        fault_point()?;
        fs::create_dir_all(&self.aside)?;
        let aside = self.aside.join(self.steps.len().to_string());
        fs::rename(target, &aside)?;
        self.steps.push(Step::MovedAside {
            target: target.to_path_buf(),
            aside,
        });
        Ok(())
    }

    /// Puts the file `from` at `target`, moving what was there aside.
    fn put(&mut self, from: &Path, target: &Path) -> std::io::Result<()> {
        self.move_aside(target)?;
        fault_point()?;
        fs::rename(from, target)?;
        self.steps.push(Step::Put(target.to_path_buf()));
        Ok(())
    }

    /// Undoes every step, newest first; false if one could not be undone.
    fn undo(self) -> bool {
        let mut complete = true;
        for step in self.steps.into_iter().rev() {
            complete &= match step {
                Step::Put(target) => fs::remove_file(target),
                Step::MovedAside { target, aside } => fs::rename(aside, target),
                Step::MadeDir(dir) => fs::remove_dir(dir),
            }
            .is_ok();
        }
        complete
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
        // Signal 0 only asks whether the process exists; one of another user's exists too.
        let alive = pid != std::process::id() as i32
            && rustix::process::Pid::from_raw(pid).is_some_and(|pid| {
                rustix::process::test_kill_process(pid) != Err(rustix::io::Errno::SRCH)
            });
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
    if meta.len() != file.contents.len() as u64 || meta.permissions().mode() & 0o7777 != file.mode {
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

fn set_mode(file: &fs::File, mode: u32) -> std::io::Result<()> {
    file.set_permissions(fs::Permissions::from_mode(mode))
}

/// Flushes the filesystem holding `dir` to disk (Linux `syncfs`; elsewhere every filesystem). A
/// failure means the files may not have reached the disk, so the commit fails with it.
fn sync_filesystem(dir: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let handle = fs::File::open(dir)?;
        rustix::fs::syncfs(&handle)?;
    }
    #[cfg(not(target_os = "linux"))]
    rustix::fs::sync();
    Ok(())
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

/// Tests make the `BERTH_TEST_FAIL_AT`-th step of a commit fail as a full disk would (debug
/// builds only), to prove that the steps before it are undone.
fn fault_point() -> std::io::Result<()> {
    #[cfg(debug_assertions)]
    {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static STEPS: AtomicUsize = AtomicUsize::new(0);
        if let Some(at) = std::env::var("BERTH_TEST_FAIL_AT")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            && STEPS.fetch_add(1, Ordering::SeqCst) + 1 == at
        {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
    }
    Ok(())
}

fn safe_relative(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// An error of the filesystem at `path` (a path the user knows), with a help for its cause.
fn io_error(path: &Path, e: std::io::Error) -> Diagnostic {
    use std::io::ErrorKind;
    let help = match (e.kind(), e.raw_os_error()) {
        (ErrorKind::PermissionDenied, _) => {
            "make it writable for this user, or choose another `--out`"
        }
        (_, Some(libc::ENOSPC | libc::EDQUOT)) => {
            "free space on its filesystem, or choose another `--out`"
        }
        (_, Some(libc::EROFS)) => "choose an `--out` on a writable filesystem",
        (_, Some(libc::EISDIR | libc::ENOTDIR)) => {
            "move what is in the way elsewhere, or choose another `--out`"
        }
        _ => "fix the cause above and compile again; nothing was written",
    };
    Diagnostic::input(
        "output/io",
        format!("cannot write `{}`: {e}", path.display()),
    )
    .help(format!("{help}; `--out` is as it was before this compile"))
}

/// Refuses a target whose place is taken by the wrong kind of file: a directory where berth
/// writes a file, or a file where berth needs a directory.
fn check_shape(out: &Path, relative: &str) -> Result<(), Diagnostic> {
    let target = out.join(relative);
    if target.symlink_metadata().is_ok_and(|m| m.is_dir()) {
        return Err(Diagnostic::input(
            "output/path",
            format!(
                "`{}` is a directory, where berth writes a file",
                target.display()
            ),
        )
        .help("move the directory elsewhere, or choose another `--out`"));
    }
    let mut dir = out.to_path_buf();
    for part in Path::new(parent(relative)).components() {
        dir.push(part);
        if fs::metadata(&dir).is_ok_and(|m| !m.is_dir()) {
            return Err(Diagnostic::input(
                "output/path",
                format!(
                    "`{}` is a file, where berth puts a directory of its output",
                    dir.display()
                ),
            )
            .help("move the file elsewhere, or choose another `--out`"));
        }
    }
    Ok(())
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
        diff.push_str(&crate::output::diff::unified(
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
            diff.push_str(&crate::output::diff::unified(
                &old,
                "",
                &format!("a/{stale}"),
                "/dev/null",
            ));
        }
    }
    Ok(diff)
}
