//! Paths below `--out`, reached without following a symbolic link. The output directory lives
//! in a repository that others change, so whatever stands in it may be a trap: a link to a
//! directory outside it, to `/proc/self/environ` or to `/dev/zero`, a FIFO that blocks the first
//! reader. `--out` itself is the user's to name and may be a link; below it, berth walks one
//! component at a time with `O_NOFOLLOW`, and reads only regular files, up to a size limit.
//! Every read of the output directory goes through [`open_file`].

use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

/// The most berth reads of one file of the output directory into memory: its own files are a
/// fraction of it, and a bound keeps a planted giant file from exhausting memory.
pub const READ_LIMIT: u64 = 64 * 1024 * 1024;

/// Why berth will not read or write through a path below `--out`.
#[derive(Debug)]
pub enum Refusal {
    /// The path has a component other than a plain name (`..`, `/`, `.`), so it may leave `--out`.
    Outside(String),
    /// A symbolic link stands at this place on the way.
    Symlink(PathBuf),
    /// Something other than a directory stands where the path needs one.
    NotDirectory(PathBuf),
    /// Something other than a regular file stands at the end (its kind in words).
    NotFile(PathBuf, &'static str),
    /// A regular file larger than [`READ_LIMIT`].
    TooLarge(PathBuf),
    Io(PathBuf, std::io::Error),
}

impl Refusal {
    /// Why a file was not touched, as the end of a sentence ("kept `x`: REASON").
    pub fn reason(&self) -> String {
        match self {
            Refusal::Outside(_) => "its path leaves `--out`".into(),
            Refusal::Symlink(at) => format!("`{}` is a symbolic link", at.display()),
            Refusal::NotDirectory(at) => format!("`{}` is not a directory", at.display()),
            Refusal::NotFile(_, kind) => format!("it is a {kind}, not a regular file"),
            Refusal::TooLarge(_) => format!("it is larger than {} MiB", READ_LIMIT >> 20),
            Refusal::Io(_, e) => format!("it cannot be read: {e}"),
        }
    }

    /// The error that stops a command which needed the path; `verb` is what it would have done
    /// (`read`, `write`).
    pub fn diagnostic(&self, verb: &str) -> Diagnostic {
        match self {
            Refusal::Outside(path) => Diagnostic::input(
                &errors::OUTPUT_PATH,
                format!("refusing to {verb} outside `--out`: `{path}`"),
            )
            .help("name paths below `--out`: berth reads and writes nothing else"),
            Refusal::Symlink(at) => Diagnostic::input(
                &errors::OUTPUT_SYMLINK,
                format!(
                    "refusing to {verb} through `{}`: it is a symbolic link",
                    at.display()
                ),
            )
            .help("replace the link with a real directory or file, or choose another `--out`; berth follows no link below `--out`"),
            Refusal::NotDirectory(at) => Diagnostic::input(
                &errors::OUTPUT_PATH,
                format!(
                    "`{}` is a file, where berth puts a directory of its output",
                    at.display()
                ),
            )
            .help("move the file elsewhere, or choose another `--out`"),
            Refusal::NotFile(at, kind) => Diagnostic::input(
                &errors::OUTPUT_PATH,
                format!(
                    "refusing to {verb} `{}`: it is a {kind}, not a regular file",
                    at.display()
                ),
            )
            .help("move it elsewhere, or choose another `--out`"),
            Refusal::TooLarge(at) => Diagnostic::input(
                &errors::OUTPUT_TOO_LARGE,
                format!(
                    "refusing to {verb} `{}`: it is larger than {} MiB",
                    at.display(),
                    READ_LIMIT >> 20
                ),
            )
            .help("move the file elsewhere, or choose another `--out`: berth writes no file that large"),
            Refusal::Io(at, e) => Diagnostic::input(
                &errors::OUTPUT_IO,
                format!("cannot {verb} `{}`: {e}", at.display()),
            )
            .help("fix the cause the message names, or choose another `--out`"),
        }
    }
}

/// The components of `relative` (a `/`-separated path below `--out`), if each is a plain name.
pub fn components(relative: &str) -> Result<Vec<&OsStr>, Refusal> {
    let mut names = Vec::new();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(name) => names.push(name),
            _ => return Err(Refusal::Outside(relative.to_string())),
        }
    }
    if names.is_empty() {
        return Err(Refusal::Outside(relative.to_string()));
    }
    Ok(names)
}

/// Whether `relative` names a place below `--out` by plain names only.
pub fn is_inside(relative: &str) -> bool {
    components(relative).is_ok()
}

const DIRECTORY: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);

/// `--out` itself, open, or `None` if it is missing.
fn open_out(out: &Path) -> Result<Option<OwnedFd>, Refusal> {
    match rustix::fs::open(out, DIRECTORY, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(Refusal::Io(out.to_path_buf(), e.into())),
    }
}

/// The directory `name` inside `dir` (which is `at` without its last component), opened
/// without following a link, or `None` if it is missing.
fn step(dir: &OwnedFd, name: &OsStr, at: &Path) -> Result<Option<OwnedFd>, Refusal> {
    match rustix::fs::openat(dir, name, DIRECTORY | OFlags::NOFOLLOW, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        // A link (ELOOP) or something else (ENOTDIR): say which.
        Err(e) => Err(
            match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
                    Refusal::Symlink(at.to_path_buf())
                }
                Ok(stat) if FileType::from_raw_mode(stat.st_mode) != FileType::Directory => {
                    Refusal::NotDirectory(at.to_path_buf())
                }
                _ => Refusal::Io(at.to_path_buf(), e.into()),
            },
        ),
    }
}

/// Checks that every directory of `relative` (all but its last component) below `out` is a
/// real directory or missing: what a write needs before it puts anything there.
pub fn check_dirs(out: &Path, relative: &str) -> Result<(), Refusal> {
    let names = components(relative)?;
    Dirs::new(out).dir(&names[..names.len() - 1]).map(|_| ())
}

/// What stands at the end of a path, seen without following it.
pub enum Entry {
    Missing,
    /// A regular file, opened for reading as [`open_file`] opens it (or `None` if it went away
    /// between the look and the open).
    File(Option<Opened>),
    Directory,
    Symlink,
    /// A FIFO, a socket or a device, in words.
    Special(&'static str),
}

/// The directories below `--out` walked so far, kept open: the files of one spec share a few,
/// each is opened once from its parent, and a directory once reached without a link stays the
/// one reached.
pub struct Dirs<'a> {
    out: &'a Path,
    /// By the directory's path below `--out` (empty for `--out`); `None` for a missing one.
    open: std::collections::HashMap<PathBuf, Option<OwnedFd>>,
}

impl<'a> Dirs<'a> {
    pub fn new(out: &'a Path) -> Self {
        Dirs {
            out,
            open: Default::default(),
        }
    }

    /// What stands at `relative` below `out`, after checking its directories as [`check_dirs`]
    /// does; a regular file is opened.
    pub fn entry(&mut self, relative: &str) -> Result<Entry, Refusal> {
        let names = components(relative)?;
        let (last, dirs) = names.split_last().expect("components are never empty");
        let out = self.out;
        let Some(dir) = self.dir(dirs)? else {
            return Ok(Entry::Missing);
        };
        let at = || out.join(relative);
        match rustix::fs::statat(dir, *last, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(match FileType::from_raw_mode(stat.st_mode) {
                FileType::RegularFile => Entry::File(open_regular(dir, last, at())?),
                FileType::Directory => Entry::Directory,
                FileType::Symlink => Entry::Symlink,
                other => Entry::Special(kind(other)),
            }),
            Err(rustix::io::Errno::NOENT) => Ok(Entry::Missing),
            Err(e) => Err(Refusal::Io(at(), e.into())),
        }
    }

    /// The directory `dirs` names below `out`, open, or `None` if it (or one above it) is missing:
    /// `out` itself is opened following links (the user named it), each directory below it
    /// without following one, so no link anywhere below `--out` is taken.
    fn dir(&mut self, dirs: &[&OsStr]) -> Result<Option<&OwnedFd>, Refusal> {
        let key: PathBuf = dirs.iter().collect();
        if !self.open.contains_key(&key) {
            let out = self.out;
            let opened = match dirs.split_last() {
                None => open_out(out)?,
                Some((name, parents)) => match self.dir(parents)? {
                    Some(parent) => step(parent, name, &out.join(&key))?,
                    None => None,
                },
            };
            return Ok(self.open.entry(key).or_insert(opened).as_ref());
        }
        Ok(self.open[&key].as_ref())
    }
}

fn kind(file_type: FileType) -> &'static str {
    match file_type {
        FileType::Fifo => "FIFO",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Directory => "directory",
        FileType::Symlink => "symbolic link",
        _ => "special file",
    }
}

/// A regular file below `--out`, open for reading, with its size and permission bits.
pub struct Opened {
    pub file: fs::File,
    pub size: u64,
    pub mode: u32,
}

/// Opens the regular file at `relative` below `out` for reading, or `None` if nothing is there.
/// No link is followed (`O_NOFOLLOW` at every step), a FIFO does not block the open
/// (`O_NONBLOCK`), and what was opened is checked to be a regular file (`fstat`) before a byte is
/// read, so neither a device nor `/proc` is ever read. The one way berth reads its output.
pub fn open_file(out: &Path, relative: &str) -> Result<Option<Opened>, Refusal> {
    let at = || out.join(relative);
    match Dirs::new(out).entry(relative)? {
        Entry::File(opened) => Ok(opened),
        Entry::Missing => Ok(None),
        Entry::Symlink => Err(Refusal::Symlink(at())),
        Entry::Directory => Err(Refusal::NotFile(at(), kind(FileType::Directory))),
        Entry::Special(what) => Err(Refusal::NotFile(at(), what)),
    }
}

/// Opens `name` in `dir`, which was just seen to be a regular file, checking it still is once
/// open (it may have been swapped between the look and the open).
fn open_regular(dir: &OwnedFd, name: &OsStr, at: PathBuf) -> Result<Option<Opened>, Refusal> {
    let flags =
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(rustix::io::Errno::LOOP) => return Err(Refusal::Symlink(at)),
        Err(e) => return Err(Refusal::Io(at, e.into())),
    };
    let stat = rustix::fs::fstat(&fd).map_err(|e| Refusal::Io(at.clone(), e.into()))?;
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => Ok(Some(Opened {
            file: fs::File::from(fd),
            size: stat.st_size as u64,
            mode: stat.st_mode & 0o7777,
        })),
        other => Err(Refusal::NotFile(at, kind(other))),
    }
}

/// The bytes of the regular file at `relative` below `out` (see [`open_file`]), or `None` if nothing
/// is there; past [`READ_LIMIT`] bytes it is refused.
pub fn read_file(out: &Path, relative: &str) -> Result<Option<Vec<u8>>, Refusal> {
    let Some(Opened { file, size, .. }) = open_file(out, relative)? else {
        return Ok(None);
    };
    let at = || out.join(relative);
    if size > READ_LIMIT {
        return Err(Refusal::TooLarge(at()));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // One byte more than the limit tells a file that grew since `fstat`.
    file.take(READ_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Refusal::Io(at(), e))?;
    if bytes.len() as u64 > READ_LIMIT {
        return Err(Refusal::TooLarge(at()));
    }
    Ok(Some(bytes))
}

/// Bytes read at a time: most of berth's files fit in one block.
const BLOCK: usize = 16 * 1024;

/// The SHA-256 of a file's bytes, as the manifest records it (in lowercase hex): held as bytes,
/// since a write keeps one for every file of `--out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256 {
        use sha2::Digest;
        Sha256(sha2::Sha256::digest(bytes).into())
    }

    /// A hash written as 64 lowercase hex digits, as berth writes it into the manifest.
    pub fn parse(text: &str) -> Option<Sha256> {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let text = text.as_bytes();
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks(2)) {
            *byte = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Some(Sha256(bytes))
    }
}

impl serde::Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl std::fmt::Display for Sha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

/// The SHA-256 of everything `reader` yields, read a block at a time.
pub fn sha256(mut reader: impl Read) -> std::io::Result<Sha256> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut block = [0; BLOCK];
    loop {
        match reader.read(&mut block) {
            Ok(0) => break,
            Ok(n) => hasher.update(&block[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Sha256(hasher.finalize().into()))
}

/// Whether `reader` begins with `expected`, read a block at a time (a file whose size is
/// `expected`'s then holds exactly it, without a read to see its end).
pub fn begins_with(mut reader: impl Read, mut expected: &[u8]) -> std::io::Result<bool> {
    let mut block = [0; BLOCK];
    loop {
        if expected.is_empty() {
            return Ok(true);
        }
        match reader.read(&mut block) {
            Ok(0) => return Ok(false),
            Ok(n) if expected.len() >= n && block[..n] == expected[..n] => {
                expected = &expected[n..];
            }
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(DIGITS[usize::from(b >> 4)] as char);
        text.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    text
}

/// Where `out` leads once resolved: the system resolves its longest existing part (links
/// included), and the rest is applied as `create_dir_all` would make it (`..` goes up).
pub fn resolve(out: &Path) -> PathBuf {
    let absolute = if out.is_absolute() {
        out.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(out)
    };
    let parts: Vec<Component> = absolute.components().collect();
    for split in (1..=parts.len()).rev() {
        let existing: PathBuf = parts[..split].iter().collect();
        if let Ok(mut real) = fs::canonicalize(&existing) {
            for part in &parts[split..] {
                match part {
                    Component::Normal(name) => real.push(name),
                    Component::ParentDir => {
                        real.pop();
                    }
                    _ => {}
                }
            }
            return real;
        }
    }
    absolute
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_inside() {
        assert!(is_inside("kubernetes/a.yaml"));
        for path in ["", "/etc/passwd", "../x", "a/../../x", "./a"] {
            assert!(!is_inside(path), "{path:?}");
        }
    }

    #[test]
    fn files_that_share_a_directory_see_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir_all(out.join("real/deeper")).unwrap();
        fs::write(out.join("real/a"), "a").unwrap();
        fs::write(out.join("real/deeper/b"), "b").unwrap();
        fs::write(out.join("file"), "").unwrap();
        fs::create_dir(dir.path().join("elsewhere")).unwrap();
        fs::write(dir.path().join("elsewhere/a"), "secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), out.join("link")).unwrap();
        let mut dirs = Dirs::new(&out);
        for _ in 0..2 {
            assert!(matches!(dirs.entry("real/a"), Ok(Entry::File(Some(_)))));
            assert!(matches!(
                dirs.entry("real/deeper/b"),
                Ok(Entry::File(Some(_)))
            ));
            assert!(matches!(dirs.entry("real/deeper/c"), Ok(Entry::Missing)));
            assert!(matches!(dirs.entry("missing/x/y"), Ok(Entry::Missing)));
            assert!(matches!(dirs.entry("missing/x"), Ok(Entry::Missing)));
            assert!(
                matches!(dirs.entry("link/a"), Err(Refusal::Symlink(at)) if at == out.join("link"))
            );
            assert!(matches!(dirs.entry("link/b/c"), Err(Refusal::Symlink(_))));
            assert!(
                matches!(dirs.entry("file/x"), Err(Refusal::NotDirectory(at)) if at == out.join("file"))
            );
            assert!(matches!(dirs.entry("real"), Ok(Entry::Directory)));
        }
    }

    #[test]
    fn reads_refuse_links_special_files_and_giants() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir_all(out.join("real")).unwrap();
        fs::write(out.join("real/file"), "text").unwrap();
        fs::write(dir.path().join("outside"), "secret").unwrap();
        std::os::unix::fs::symlink(dir.path(), out.join("up")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", out.join("zero")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            out.join("fifo"),
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert_eq!(
            read_file(&out, "real/file").unwrap().as_deref(),
            Some(&b"text"[..])
        );
        assert!(read_file(&out, "real/missing").unwrap().is_none());
        assert!(read_file(&out, "missing/file").unwrap().is_none());
        assert!(matches!(
            read_file(&out, "up/outside"),
            Err(Refusal::Symlink(_))
        ));
        assert!(matches!(read_file(&out, "zero"), Err(Refusal::Symlink(_))));
        assert!(matches!(
            read_file(&out, "fifo"),
            Err(Refusal::NotFile(_, "FIFO"))
        ));
        assert!(matches!(
            read_file(&out, "real/file/x"),
            Err(Refusal::NotDirectory(_))
        ));
        assert!(matches!(
            read_file(&out, "../outside"),
            Err(Refusal::Outside(_))
        ));
        let giant = fs::File::create(out.join("giant")).unwrap();
        giant.set_len(READ_LIMIT + 1).unwrap();
        assert!(matches!(
            read_file(&out, "giant"),
            Err(Refusal::TooLarge(_))
        ));
    }

    #[test]
    fn resolving_follows_links_and_dot_dots() {
        assert_eq!(resolve(Path::new("/")), Path::new("/"));
        assert_eq!(resolve(Path::new("/tmp/..")), Path::new("/"));
        assert_eq!(resolve(Path::new("/no-such-dir/..")), Path::new("/"));
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("root")).unwrap();
        assert_eq!(resolve(&dir.path().join("root")), Path::new("/"));
        assert_ne!(resolve(&dir.path().join("root/tmp")), Path::new("/"));
    }
}
