//! Writes compiled files under `--out`, keeping a manifest of what berth wrote so that it never
//! overwrites or deletes a file it did not write. Files are staged as specs compile; nothing
//! reaches its place until every spec and check passed. Beside the writer: [`diff`] (what a
//! compile would change, and what an upgrade does to a running service) and [`report`]
//! (`berth-report.json`). It uses `berth_compile`'s results; nothing below uses it.
//!
//! The output directory is trusted only as far as berth can prove it wrote it: no link below
//! `--out` is followed and only regular files are read ([`inside`]); the manifest records each
//! file's hash, and a file counts as berth's only while it still holds those bytes
//! ([`manifest`]); SIGINT and SIGTERM undo a write rather than cut it short ([`signals`]).

pub mod against;
pub mod diff;
pub mod inside;
pub mod manifest;
pub mod report;
pub mod signals;

use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use inside::Entry;
use inside::Sha256;
use manifest::{Claim, Found, MANIFEST, Manifest, Record, Recorded};
use rustix::io::Errno;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What a write did, for the summary line.
#[derive(Debug, Default)]
pub struct Written {
    pub changed: Vec<String>,
    /// How many files already held what berth would write.
    pub unchanged: usize,
    pub removed: Vec<String>,
    /// Files the manifest lists that this compile no longer makes, left in place because berth
    /// cannot prove they are its own: a warning for each, saying why.
    pub kept: Vec<Diagnostic>,
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

/// Refuses an `--out` that is, or resolves to, the root directory: berth would take the whole
/// filesystem for its output directory.
pub fn check_out(out: &Path) -> Result<(), Diagnostic> {
    if inside::resolve(out) == Path::new("/") {
        return Err(Diagnostic::input(
            &errors::OUTPUT_PATH,
            format!(
                "refusing `--out {}`: it is the root directory",
                out.display()
            ),
        )
        .help("name a directory of its own for the output, such as `--out deploy`"));
    }
    // Not followed: a link at `--out` is refused later with its own message.
    if out
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_file())
    {
        return Err(Diagnostic::input(
            &errors::OUTPUT_PATH,
            format!("`--out {}` is a file, not a directory", out.display()),
        )
        .help("name a directory for the output (berth makes it if it is missing), such as `--out deploy`"));
    }
    Ok(())
}

/// The error that ends a write which a signal interrupted, once `--out` is as it was.
pub fn interrupted(signal: i32) -> Diagnostic {
    Diagnostic::input(
        &errors::OUTPUT_IO,
        format!(
            "interrupted by `{}`: nothing was written",
            signals::name(signal)
        ),
    )
    .help("compile again to write the files; `--out` is as it was before this compile")
}

/// One write into `--out`, in two steps: files are staged (compared with what is there, and the
/// changed ones written into a staging directory inside `--out`) as they are compiled, from any
/// thread; [`Transaction::commit`] then moves them into place. Dropped without a commit, it
/// removes what it staged, so a refused compile writes nothing.
///
/// The commit refuses to replace a file that is not berth's unless `force`, removes files berth
/// wrote before that this compile no longer makes (only those that still hold what it wrote),
/// lists the old and the new files with their hashes in the manifest before any rename (so files
/// of an interrupted write are still known as berth's), and takes entry points away first and
/// puts them back last. While it is open, SIGINT and SIGTERM are noted and end it cleanly.
pub struct Transaction {
    out: PathBuf,
    /// `.berth-staging-PID` inside `--out`: the PID lets a later write tell that it was left by
    /// a process that is gone.
    staging: PathBuf,
    /// Whether this write made the staging directory (and so removes it).
    staging_made: bool,
    /// The outermost directory of `--out` that did not exist before: an abort removes it again.
    created: Option<PathBuf>,
    previous: Manifest,
    force: bool,
    committed: bool,
    /// Lines about what berth found and tidied in `--out` (staging directories of killed writes).
    notes: Vec<String>,
    /// Dropped last, after an abort's cleanup: until then a signal is only noted.
    _signals: signals::Catch,
}

/// What [`Transaction::look`] found.
pub struct Existing(Result<Target, Diagnostic>);

/// A file written into the staging directory, hashed as it is written.
pub struct StagedFile {
    relative: String,
    file: std::io::BufWriter<fs::File>,
    hasher: sha2::Sha256,
}

impl StagedFile {
    /// Writes what is buffered; gives the file's place and the hash of every byte written.
    fn finish(mut self) -> std::io::Result<(String, Sha256)> {
        use sha2::Digest;
        self.file.flush()?;
        Ok((self.relative, Sha256(self.hasher.finalize().into())))
    }
}

impl Write for StagedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let written = self.file.write(buf)?;
        self.hasher.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Files of one group (one spec's output) after staging.
pub struct Staged {
    /// Every path of the group, with the SHA-256 of its new bytes.
    files: Vec<(String, Sha256)>,
    /// The paths whose new bytes wait in the staging directory, with what stood there when
    /// checked.
    changed: Vec<Changed>,
}

/// What stands where berth writes a file, once checked.
enum Target {
    Missing,
    /// A regular file of berth's.
    Ours(Found),
    /// Something that is not berth's, which `--force` lets berth replace (never write through):
    /// a regular file, or a link, a FIFO or a device (`None`).
    Forced(Option<Found>),
}

impl Target {
    fn found(&self) -> Option<&Found> {
        match self {
            Target::Ours(found) | Target::Forced(Some(found)) => Some(found),
            _ => None,
        }
    }

    /// What the commit must find there still before it replaces it.
    fn there(&self) -> There {
        match self {
            Target::Missing => There::Nothing,
            Target::Ours(found) => There::Ours(found.sha256),
            Target::Forced(_) => There::Replaceable,
        }
    }
}

/// What stood at a target when it was checked, which the commit checks again as it moves it
/// aside: the specs compile between the two, and whatever took the place since (a directory, a
/// user's file) is not berth's to replace, nor to delete with the staging directory.
#[derive(Clone, Copy, Debug)]
enum There {
    Nothing,
    /// Berth's own file, with the hash of its bytes (which the manifest keeps while a commit
    /// runs).
    Ours(Sha256),
    /// Anything but a directory: what `--force` lets berth replace, and the manifest's place
    /// (read when the write began, and written twice by a commit).
    Replaceable,
}

impl There {
    fn ours(self) -> Option<Sha256> {
        match self {
            There::Ours(sha256) => Some(sha256),
            _ => None,
        }
    }

    /// Whether `moved`, what stood at the target and is now moved aside, is what was checked.
    fn still(self, moved: &Path) -> std::io::Result<bool> {
        let meta = moved.symlink_metadata()?;
        Ok(match self {
            There::Nothing => false,
            There::Replaceable => !meta.is_dir(),
            There::Ours(sha256) => {
                meta.is_file() && inside::sha256(fs::File::open(moved)?)? == sha256
            }
        })
    }
}

const STAGING_PREFIX: &str = ".berth-staging-";

const FOREIGN_HELP: &str =
    "move the file away, compile into another `--out` directory, or pass `--force` to replace it";

impl Transaction {
    /// Reads the manifest of `out`, removes the staging directories of writes whose process is
    /// gone, and makes this write's staging directory (and `out` if it is missing).
    pub fn begin(out: &Path, force: bool) -> Result<Transaction, Diagnostic> {
        check_out(out)?;
        let previous = manifest::read(out)?;
        let mut transaction = Transaction {
            out: out.to_path_buf(),
            staging: out.join(format!("{STAGING_PREFIX}{}", std::process::id())),
            staging_made: false,
            created: out
                .ancestors()
                .take_while(|d| !d.as_os_str().is_empty() && d.symlink_metadata().is_err())
                .last()
                .map(Path::to_path_buf),
            previous,
            force,
            committed: false,
            notes: remove_dead_staging(out),
            _signals: signals::catch(),
        };
        // Errors name the place the user chose, not the staging directory inside it.
        fs::create_dir_all(out).map_err(|e| io_error(out, e))?;
        fs::create_dir(&transaction.staging).map_err(|e| io_error(out, e))?;
        transaction.staging_made = true;
        // A signal while specs compile (which may take long) ends the process at once, once no
        // file is being staged; one during the commit is left to the commit, which undoes it.
        let (staging, out, created) = (
            transaction.staging.clone(),
            transaction.out.clone(),
            transaction.created.clone(),
        );
        signals::watch(move || abandon(Some(&staging), &out, created.as_deref()));
        Ok(transaction)
    }

    /// Lines about what berth tidied in `--out` before writing, for standard error.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Checks `files` against `--out`, and writes those that differ into the staging directory.
    /// An entry point whose directory has changing files is staged even if it is the same, so
    /// that it can be taken away and put back around them.
    pub fn stage(&self, files: Vec<Planned>) -> Result<Staged, Diagnostic> {
        let _writing = signals::writing();
        stop_if_signalled().map_err(|_| self.interruption())?;
        let hashes: Vec<Sha256> = files
            .iter()
            .map(|file| Sha256::of(file.contents.as_bytes()))
            .collect();
        let mut dirs = inside::Dirs::new(&self.out);
        let targets = files
            .iter()
            .zip(&hashes)
            .map(|(file, hash)| {
                self.examine(
                    &mut dirs,
                    &file.path,
                    Some((file.contents.as_bytes(), *hash)),
                )
            })
            .collect::<Result<Vec<Target>, Diagnostic>>()?;
        let current: Vec<bool> = files
            .iter()
            .zip(&targets)
            .zip(&hashes)
            .map(|((file, target), hash)| {
                target
                    .found()
                    .is_some_and(|found| found.sha256 == *hash && found.mode == file.mode)
            })
            .collect();
        let changed_dirs: BTreeSet<&str> = files
            .iter()
            .zip(&current)
            .filter(|(f, current)| !**current && !is_entry_point(&f.path))
            .map(|(f, _)| parent(&f.path))
            .collect();
        let mut changed = Vec::new();
        for ((file, current), target) in files.iter().zip(&current).zip(&targets) {
            let rewrite = !current
                || (is_entry_point(&file.path) && changed_dirs.contains(parent(&file.path)));
            if rewrite {
                let mut staged = self.staged_file(&file.path)?;
                staged
                    .write_all(file.contents.as_bytes())
                    .and_then(|()| set_mode(&staged, file.mode))
                    .map_err(|e| io_error(&self.out.join(&file.path), e))?;
                changed.push((file.path.clone(), target.there()));
            }
        }
        Ok(Staged {
            files: files.into_iter().map(|f| f.path).zip(hashes).collect(),
            changed,
        })
    }

    /// A new file at `relative` inside the staging directory, for output too large to hold in
    /// memory (the report), hashed as it is written; [`Transaction::settle`] then stages it like
    /// a file of [`stage`].
    ///
    /// [`stage`]: Transaction::stage
    pub fn create_staged(&self, relative: &str) -> Result<StagedFile, Diagnostic> {
        let _writing = signals::writing();
        Ok(StagedFile {
            relative: relative.to_string(),
            // Large writes: the report of 100 specs is about 3 MB.
            file: std::io::BufWriter::with_capacity(64 * 1024, self.staged_file(relative)?),
            hasher: sha2::Sha256::default(),
        })
    }

    /// A new file in the staging directory; the caller holds [`signals::writing`].
    fn staged_file(&self, relative: &str) -> Result<fs::File, Diagnostic> {
        inside::components(relative).map_err(|r| r.diagnostic("write"))?;
        let path = self.staging.join(relative);
        let dir = path.parent().unwrap_or(&self.staging);
        // Errors name the place the user chose, not the staging directory inside it.
        fs::create_dir_all(dir)
            .and_then(|()| fs::File::create(&path))
            .map_err(|e| io_error(&self.out.join(relative), e))
    }

    /// What stands where a file of [`Transaction::create_staged`] goes, checked as every target
    /// is; [`Transaction::settle`] takes it. Done apart, it can run while the file is written.
    pub fn look(&self, relative: &str) -> Existing {
        Existing(self.examine(&mut inside::Dirs::new(&self.out), relative, None))
    }

    /// Stages a file written through [`Transaction::create_staged`], where [`Transaction::look`]
    /// found `existing`: unchanged if `--out` holds the same bytes.
    pub fn settle(&self, staged: StagedFile, existing: Existing) -> Result<Staged, Diagnostic> {
        let _writing = signals::writing();
        stop_if_signalled().map_err(|_| self.interruption())?;
        let target = self.out.join(&staged.relative);
        let (relative, sha256) = staged.finish().map_err(|e| io_error(&target, e))?;
        let relative = relative.as_str();
        let existing = existing.0?;
        let staged = self.staging.join(relative);
        let same = existing
            .found()
            .is_some_and(|found| found.sha256 == sha256 && found.mode == 0o644);
        if same {
            fs::remove_file(&staged).map_err(|e| io_error(&target, e))?;
        } else {
            fs::File::open(&staged)
                .and_then(|file| set_mode(&file, 0o644))
                .map_err(|e| io_error(&target, e))?;
        }
        Ok(Staged {
            files: vec![(relative.to_string(), sha256)],
            changed: if same {
                vec![]
            } else {
                vec![(relative.to_string(), existing.there())]
            },
        })
    }

    /// Checks the place of a file berth is about to write: every directory on its way below
    /// `--out` is a real one (a link is refused even with `--force`: berth would write outside
    /// `--out`), and what stands there is berth's own regular file, or nothing, or `--force`
    /// was given.
    fn examine(
        &self,
        dirs: &mut inside::Dirs,
        relative: &str,
        new: Option<(&[u8], Sha256)>,
    ) -> Result<Target, Diagnostic> {
        let target = self.out.join(relative);
        let refuse = |reason: &str, help: &str| {
            Err(Diagnostic::input(
                &errors::OUTPUT_FOREIGN_FILE,
                format!("refusing to overwrite `{}`: {reason}", target.display()),
            )
            .help(help))
        };
        match dirs.entry(relative).map_err(|r| r.diagnostic("write"))? {
            Entry::Missing => Ok(Target::Missing),
            Entry::Directory => Err(Diagnostic::input(
                &errors::OUTPUT_PATH,
                format!(
                    "`{}` is a directory, where berth writes a file",
                    target.display()
                ),
            )
            .help("move the directory elsewhere, or choose another `--out`")),
            Entry::Symlink | Entry::Special(_) if self.force => Ok(Target::Forced(None)),
            Entry::Symlink => refuse(
                "it is a symbolic link, and berth never writes through one",
                "remove the link, compile into another `--out` directory, or pass `--force` to replace the link itself (not what it points to)",
            ),
            Entry::Special(kind) => refuse(
                &format!("it is a {kind}, which berth did not write"),
                FOREIGN_HELP,
            ),
            Entry::File(None) => Ok(Target::Missing),
            Entry::File(Some(opened)) => match manifest::hashed(opened, new) {
                Ok(found) => match Claim::of(self.previous.files.get(relative), found.sha256) {
                    Claim::Verified | Claim::Unhashed => Ok(Target::Ours(found)),
                    _ if self.force => Ok(Target::Forced(Some(found))),
                    claim => refuse(claim.reason(), FOREIGN_HELP),
                },
                Err(_) if self.force => Ok(Target::Forced(None)),
                Err(e) => Err(inside::Refusal::Io(target.clone(), e).diagnostic("read")),
            },
        }
    }

    /// The error of a stage that a signal stopped.
    fn interruption(&self) -> Diagnostic {
        interrupted(signals::received().unwrap_or(signals::SIGTERM))
    }

    /// Moves every staged file into place and removes the files berth wrote before that no group
    /// makes now. A step that fails undoes every step before it, so `--out` is as it was.
    ///
    /// A signal during the commit is handled the same way: each step checks for it, and the
    /// journal undoes the steps before. Undoing rather than finishing first keeps one meaning
    /// for an exit by signal (`--out` as it was, as for every other failure), reuses the undo
    /// that every failing step already proves, and answers at the next step instead of after
    /// the whole commit (and its flush to disk).
    pub fn commit(mut self, groups: Vec<Staged>) -> Result<Written, Diagnostic> {
        signals::pause_for_test("staged");
        // Held until the commit returns, before `self` (a parameter) drops and takes it again.
        let _writing = signals::writing();
        let mut journal = Journal::new(self.staging.join(".replaced"));
        let result = self.apply(groups, &mut journal);
        match result {
            Ok(written) => {
                self.committed = true;
                signals::settled();
                let _ = fs::remove_dir_all(&self.staging);
                Ok(written)
            }
            Err((path, e)) => {
                let error = match signals::received() {
                    Some(signal) => interrupted(signal),
                    None => io_error(&path, e),
                };
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
        stop_if_signalled().map_err(|e| (out.clone(), e))?;
        journal.make_dirs(out).map_err(|e| (out.clone(), e))?;
        let mut written = Written::default();
        let (now, changed) = gather(groups, &mut written);
        let stale: Vec<(String, Record)> = self
            .previous
            .files
            .iter()
            .filter(|(path, _)| !now.contains_key(&path[..]))
            .map(|(path, record)| (String::from(&**path), record.clone()))
            .collect();
        if !changed.is_empty() {
            // One flush for every staged file, rather than one per file: the renames below then
            // replace targets with complete files.
            sync_filesystem(&self.staging).map_err(|e| (self.staging.clone(), e))?;
            self.put_manifest(journal, &self.during(&now, &changed))?;
        }
        self.put_changed(changed, journal, &mut written)?;
        self.remove_stale(stale, journal, &mut written)?;
        // Compared before it is built: a write of thousands of files that changes none keeps
        // one copy of the manifest in memory, not two.
        let same_files = now.len() == self.previous.files.len()
            && now.iter().all(|(path, sha256)| {
                self.previous.files.get(path.as_str()) == Some(&Record::of(*sha256))
            });
        if !same_files {
            let after = Manifest {
                files: now
                    .into_iter()
                    .map(|(path, sha256)| (path.into_boxed_str(), Record::of(sha256)))
                    .collect(),
            };
            self.put_manifest(journal, &after)?;
        }
        if !written.changed.is_empty() || !written.removed.is_empty() {
            sync_filesystem(out).map_err(|e| (out.to_path_buf(), e))?;
        }
        // A signal during the last steps undoes them too.
        stop_if_signalled().map_err(|e| (out.clone(), e))?;
        Ok(written)
    }

    /// Moves each changed file from the staging directory into place, entry points (which
    /// are first moved aside) last, so that no entry point runs with half its files.
    fn put_changed(
        &self,
        mut changed: Vec<Changed>,
        journal: &mut Journal,
        written: &mut Written,
    ) -> Result<(), (PathBuf, std::io::Error)> {
        let out = &self.out;
        for (entry, there) in changed.iter().filter(|(path, _)| is_entry_point(path)) {
            let target = out.join(entry);
            journal
                .move_aside(&target, *there)
                .map_err(|e| (target, e))?;
            interruption_point();
        }
        changed.sort_by_key(|(path, _)| is_entry_point(path));
        for (path, there) in changed {
            let target = out.join(&path);
            // Checked when staged; again here, in case a link took a directory's place since.
            inside::check_dirs(out, &path)
                .map_err(|r| (target.clone(), std::io::Error::other(r.reason())))?;
            let dir = out.join(parent(&path));
            journal.make_dirs(&dir).map_err(|e| (dir, e))?;
            journal
                .put(&self.staging.join(&path), &target, there)
                .map_err(|e| (target, e))?;
            interruption_point();
            signals::pause_for_test("commit");
            written.changed.push(path);
        }
        Ok(())
    }

    /// Moves aside each file of the last compile that this one does not write, if it is still
    /// berth's; notes the ones kept.
    fn remove_stale(
        &self,
        stale: Vec<(String, Record)>,
        journal: &mut Journal,
        written: &mut Written,
    ) -> Result<(), (PathBuf, std::io::Error)> {
        let out = &self.out;
        for (stale, record) in stale {
            match manifest::removable(out, &stale, &record) {
                Ok(sha256) => {
                    let path = out.join(&stale);
                    journal
                        .move_aside(&path, There::Ours(sha256))
                        .map_err(|e| (path, e))?;
                    written.removed.push(stale);
                }
                Err(Some(reason)) => written.kept.push(kept(out, &stale, &reason)),
                Err(None) => {}
            }
        }
        Ok(())
    }

    /// The manifest while the commit moves files: the files of before and of now, and for each
    /// file that changes the hash of berth's file there now and of what replaces it, so a file
    /// of a commit killed halfway is berth's in either state.
    fn during(&self, now: &BTreeMap<String, Sha256>, changed: &[Changed]) -> Manifest {
        let mut during = self.previous.clone();
        for (path, sha256) in now {
            during
                .files
                .insert(path.as_str().into(), Record::of(*sha256));
        }
        for (path, there) in changed {
            during.files.insert(
                path.as_str().into(),
                Record {
                    sha256: there.ours().map(Recorded::Sha256),
                    pending: now.get(path).map(|&hash| Box::new(Recorded::Sha256(hash))),
                },
            );
        }
        during
    }

    fn put_manifest(
        &self,
        journal: &mut Journal,
        manifest: &Manifest,
    ) -> Result<(), (PathBuf, std::io::Error)> {
        let target = self.out.join(MANIFEST);
        let temporary = self
            .staging
            .join(format!("{MANIFEST}.{}", journal.steps.len()));
        fs::write(&temporary, manifest.to_json())
            .and_then(|()| journal.put(&temporary, &target, There::Replaceable))
            .map_err(|e| (target, e))
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        let _writing = signals::writing();
        signals::settled();
        if !self.committed {
            abandon(
                self.staging_made.then_some(self.staging.as_path()),
                &self.out,
                self.created.as_deref(),
            );
        }
    }
}

/// Removes what an abandoned write put in `--out`: its staging directory, and the directories
/// it created for `--out`, if nothing else was put there.
fn abandon(staging: Option<&Path>, out: &Path, created: Option<&Path>) {
    if let Some(staging) = staging {
        let _ = fs::remove_dir_all(staging);
    }
    if let Some(created) = created {
        for dir in out.ancestors() {
            if fs::remove_dir(dir).is_err() || dir == created {
                break;
            }
        }
    }
}

/// The warning for a file the manifest lists that berth leaves in place.
fn kept(out: &Path, relative: &str, reason: &str) -> Diagnostic {
    Diagnostic::input(
        &errors::OUTPUT_KEPT,
        format!(
            "kept `{}`, which the manifest lists but this compile no longer makes: {reason}",
            out.join(relative).display()
        ),
    )
    .help("remove it by hand if it is berth's; berth removes only files that still hold what it wrote")
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

    /// Moves the file at `target`, if any, aside (a link itself, never what it points to), once
    /// it is what was checked there (`there`); otherwise it is put back and the commit stops.
    fn move_aside(&mut self, target: &Path, there: There) -> std::io::Result<()> {
        if target.symlink_metadata().is_err() {
            return Ok(());
        }
        fault_point()?;
        fs::create_dir_all(&self.aside)?;
        let aside = self.aside.join(self.steps.len().to_string());
        fs::rename(target, &aside)?;
        self.steps.push(Step::MovedAside {
            target: target.to_path_buf(),
            aside: aside.clone(),
        });
        // What cannot be read to be checked is not what was checked.
        if there.still(&aside).unwrap_or(false) {
            return Ok(());
        }
        Err(changed_since_checked())
    }

    /// Puts the file `from` at `target`, moving what was there (`there`, when checked) aside;
    /// what takes the emptied place meanwhile is not replaced.
    fn put(&mut self, from: &Path, target: &Path, there: There) -> std::io::Result<()> {
        self.move_aside(target, there)?;
        fault_point()?;
        rename_noreplace(from, target).map_err(|e| match e.raw_os_error() {
            Some(code) if code == Errno::EXIST.raw_os_error() => changed_since_checked(),
            _ => e,
        })?;
        self.steps.push(Step::Put(target.to_path_buf()));
        Ok(())
    }

    /// Undoes every step, newest first; false if one could not be undone.
    fn undo(self) -> bool {
        let mut complete = true;
        for step in self.steps.into_iter().rev() {
            complete &= match step {
                Step::Put(target) => fs::remove_file(target),
                // Never over what took the place since: that stays, and so does this, aside.
                Step::MovedAside { target, aside } => rename_noreplace(&aside, &target),
                Step::MadeDir(dir) => fs::remove_dir(dir),
            }
            .is_ok();
        }
        complete
    }
}

/// The error of a place that holds something else than what berth checked there.
fn changed_since_checked() -> std::io::Error {
    std::io::Error::other(
        "it changed while berth compiled: what stands there now is not what berth checked",
    )
}

/// Renames `from` to `to` unless something is at `to` (`EEXIST`); a filesystem that cannot
/// refuse so (`EINVAL`) gets a plain rename.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Err(Errno::INVAL) => fs::rename(from, to),
        result => result.map_err(std::io::Error::from),
    }
}

/// Removes the staging directories in `out` of berth processes that are gone (killed during a
/// write: SIGKILL cannot be caught), and returns a line for each. A directory named for this
/// process's id was left by an earlier process that had the same id. Only real directories are
/// removed (`remove_dir_all` follows no link inside): anything else of that name stays.
fn remove_dead_staging(out: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(out) else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(STAGING_PREFIX))
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        // Signal 0 only asks whether the process exists; one of another user's exists too.
        let alive = pid != std::process::id() as i32
            && rustix::process::Pid::from_raw(pid).is_some_and(|pid| {
                rustix::process::test_kill_process(pid) != Err(rustix::io::Errno::SRCH)
            });
        if !alive && fs::remove_dir_all(entry.path()).is_ok() {
            notes.push(format!(
                "removed `{}`, left by berth process {pid}, which is gone",
                entry.path().display()
            ));
        }
    }
    notes
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

/// Before each step of a commit: a signal noted since stops the commit there, and tests make
/// the `BERTH_TEST_FAIL_AT`-th step fail as a full disk would (debug builds only), to prove that
/// the steps before it are undone.
fn fault_point() -> std::io::Result<()> {
    stop_if_signalled()?;
    #[cfg(debug_assertions)]
    {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static STEPS: AtomicUsize = AtomicUsize::new(0);
        if let Some(at) = std::env::var("BERTH_TEST_FAIL_AT")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            && STEPS.fetch_add(1, Ordering::SeqCst) + 1 == at
        {
            return Err(Errno::NOSPC.into());
        }
    }
    Ok(())
}

/// An error if SIGINT or SIGTERM arrived while the write was open: the write stops and undoes.
fn stop_if_signalled() -> std::io::Result<()> {
    match signals::received() {
        Some(signal) => Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            format!("interrupted by {}", signals::name(signal)),
        )),
        None => Ok(()),
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

/// An error of the filesystem at `path` (a path the user knows), with a help for its cause.
fn io_error(path: &Path, e: std::io::Error) -> Diagnostic {
    use std::io::ErrorKind;
    let help = match (e.kind(), Errno::from_io_error(&e)) {
        (ErrorKind::PermissionDenied, _) => {
            "make it writable for this user, or choose another `--out`"
        }
        (_, Some(Errno::NOSPC | Errno::DQUOT)) => {
            "free space on its filesystem, or choose another `--out`"
        }
        (_, Some(Errno::ROFS)) => "choose an `--out` on a writable filesystem",
        (_, Some(Errno::ISDIR | Errno::NOTDIR)) => {
            "move what is in the way elsewhere, or choose another `--out`"
        }
        _ => "fix the cause above and compile again; nothing was written",
    };
    Diagnostic::input(
        &errors::OUTPUT_IO,
        format!("cannot write `{}`: {e}", path.display()),
    )
    .help(format!("{help}; `--out` is as it was before this compile"))
}

/// What a write would change in `out`, as a unified diff (old: the directory, new: `files`): files
/// that differ, files berth would add, and files berth wrote before that it would remove.
/// Empty when `out` is up to date. Reads as a write checks: no link below `out` is followed, a
/// file in the way that is not a regular one is an error, and a stale file shows as removed
/// only if the write would remove it.
pub fn drift(out: &Path, files: &[Planned]) -> Result<String, Diagnostic> {
    let previous = manifest::read(out).unwrap_or_default();
    let mut diff = String::new();
    for file in files {
        let old = inside::read_file(out, &file.path).map_err(|r| r.diagnostic("read"))?;
        let old_name = match old {
            Some(_) => format!("a/{}", file.path),
            None => "/dev/null".to_string(),
        };
        let old = old.map_or_else(String::new, |b| String::from_utf8_lossy(&b).into_owned());
        diff.push_str(&crate::diff::unified(
            &old,
            &file.contents,
            &old_name,
            &format!("b/{}", file.path),
        ));
    }
    let planned: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for (stale, record) in previous
        .files
        .iter()
        .filter(|(f, _)| !planned.contains(&f[..]))
    {
        if manifest::removable(out, stale, record).is_ok()
            && let Ok(Some(old)) = inside::read_file(out, stale)
        {
            diff.push_str(&crate::diff::unified(
                &String::from_utf8_lossy(&old),
                "",
                &format!("a/{stale}"),
                "/dev/null",
            ));
        }
    }
    Ok(diff)
}

/// A path whose new bytes are staged, and what stood there when it was checked.
type Changed = (String, There);

/// Every staged path with its new hash, and the changed ones; the unchanged are counted in
/// `written`.
fn gather(groups: Vec<Staged>, written: &mut Written) -> (BTreeMap<String, Sha256>, Vec<Changed>) {
    let mut now = BTreeMap::new();
    let mut changed = Vec::new();
    for group in groups {
        let changed_here: BTreeSet<&str> = group
            .changed
            .iter()
            .map(|(path, _)| path.as_str())
            .collect();
        written.unchanged += group
            .files
            .iter()
            .filter(|(path, _)| !changed_here.contains(path.as_str()))
            .count();
        now.extend(group.files);
        changed.extend(group.changed);
    }
    (now, changed)
}
