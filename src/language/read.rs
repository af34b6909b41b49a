//! How berth reads a file that its input names: a spec, a `--values` file, a `[[files]] source`,
//! a Compose file and what it refers to. One policy for all of them:
//! - regular files only, opened without blocking (a FIFO or a device is refused, never waited on
//!   or read without end), and at most [`LIMIT`] bytes of UTF-8 text without NUL;
//! - a file named by another file (a spec's `source`, a Compose file's bind or `env_file`) is read
//!   only from inside the naming file's folder, symbolic links resolved first, unless the user
//!   named a folder that holds it with `--allow-read`; such a read is returned as `outside`, so
//!   that the report can name it.

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The most bytes berth reads from one input file: far above any spec or configuration file, far
/// below what would exhaust memory.
pub const LIMIT: u64 = 4 * 1024 * 1024;

/// Why a file was not read: a message naming it and a help line starting with a verb.
#[derive(Debug)]
pub struct Refusal {
    pub message: String,
    pub help: String,
}

/// A file read beside another: its text, and its resolved path when it lies outside the folder
/// (read because `--allow-read` named a folder holding it).
#[derive(Debug)]
pub struct Read {
    pub text: String,
    pub outside: Option<PathBuf>,
}

/// Reads a file the user named on the command line (a spec, a `--values` file, a Compose file).
pub fn named(path: &Path) -> Result<String, Refusal> {
    bounded(path, &format!("`{}`", path.display()))
}

/// Reads `name`, relative to `folder` (or absolute), as the policy above says. `allowed` are the
/// folders of `--allow-read`.
pub fn beside(folder: &Path, name: &str, allowed: &[PathBuf]) -> Result<Read, Refusal> {
    let shown = format!("`{name}`");
    if name.contains('\0') {
        return Err(refusal(&shown, "holds a NUL byte", "rename the file"));
    }
    // A spec named without a folder (`spec.toml`) has the empty path as its parent.
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let joined = folder.join(name);
    let resolved = fs::canonicalize(&joined).map_err(|e| Refusal {
        message: format!("cannot read {shown} (`{}`): {e}", joined.display()),
        help: "name a file that exists, relative to the folder of the file that names it".into(),
    })?;
    let home = fs::canonicalize(folder).map_err(|e| Refusal {
        message: format!(
            "cannot read {shown}: its folder `{}`: {e}",
            folder.display()
        ),
        help: "check the folder and its permissions".into(),
    })?;
    let outside = if resolved.starts_with(&home) {
        None
    } else if allowed
        .iter()
        .filter_map(|dir| fs::canonicalize(dir).ok())
        .any(|dir| resolved.starts_with(dir))
    {
        Some(resolved.clone())
    } else {
        return Err(Refusal {
            message: if Path::new(name) == resolved {
                format!(
                    "{shown} is outside `{}`: berth reads only files inside the folder that names them",
                    home.display()
                )
            } else {
                format!(
                    "{shown} leads to `{}`, outside `{}`: berth reads only files inside the folder that names them",
                    resolved.display(),
                    home.display()
                )
            },
            help: format!(
                "copy the file into `{}`, or pass `--allow-read {}` if you trust it",
                home.display(),
                resolved.parent().unwrap_or(Path::new("/")).display()
            ),
        });
    };
    let text = bounded(&resolved, &shown)?;
    Ok(Read { text, outside })
}

/// Opens `path` without blocking, checks that it is a regular file, and reads at most [`LIMIT`]
/// bytes of text.
fn bounded(path: &Path, shown: &str) -> Result<String, Refusal> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC).bits() as i32)
        .open(path)
        .map_err(|e| Refusal {
            message: format!("cannot read {shown}: {e}"),
            help: "check the path and its permissions".into(),
        })?;
    let meta = file.metadata().map_err(|e| Refusal {
        message: format!("cannot read {shown}: {e}"),
        help: "check the path and its permissions".into(),
    })?;
    if !meta.is_file() {
        return Err(refusal(
            shown,
            "is not a regular file (a directory, device, FIFO or socket)",
            "name a regular text file",
        ));
    }
    let mut bytes = Vec::new();
    file.take(LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Refusal {
            message: format!("cannot read {shown}: {e}"),
            help: "check the path and its permissions".into(),
        })?;
    if bytes.len() as u64 > LIMIT {
        return Err(refusal(
            shown,
            &format!("is larger than {} MiB", LIMIT / (1024 * 1024)),
            "split the file, or keep large data out of the spec (a volume, an image)",
        ));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| refusal(shown, "is not UTF-8 text", "name a text file"))?;
    if text.contains('\0') {
        return Err(refusal(shown, "holds a NUL byte", "name a text file"));
    }
    Ok(text)
}

fn refusal(shown: &str, what: &str, help: &str) -> Refusal {
    Refusal {
        message: format!("{shown} {what}"),
        help: help.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_inside_the_folder_is_read() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.conf"), "x = 1\n").unwrap();
        let read = beside(dir.path(), "a.conf", &[]).unwrap();
        assert_eq!((read.text.as_str(), read.outside), ("x = 1\n", None));
    }

    #[test]
    fn outside_the_folder_only_with_allow_read() {
        let dir = tempfile::tempdir().unwrap();
        let spec_dir = dir.path().join("spec");
        fs::create_dir(&spec_dir).unwrap();
        fs::write(dir.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink("../secret", spec_dir.join("link")).unwrap();
        for name in ["../secret", "link", "/etc/passwd", "/proc/self/environ"] {
            let refused = beside(&spec_dir, name, &[]).unwrap_err();
            assert!(refused.message.contains("outside"), "{name}: {refused:?}");
        }
        let read = beside(&spec_dir, "link", &[dir.path().to_path_buf()]).unwrap();
        assert_eq!(read.text, "s");
        assert!(read.outside.unwrap().ends_with("secret"));
    }

    #[test]
    fn devices_fifos_and_large_files_are_refused_promptly() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
        fs::write(dir.path().join("big"), vec![b'a'; LIMIT as usize + 1]).unwrap();
        let all = [dir.path().to_path_buf(), PathBuf::from("/dev")];
        for name in ["fifo", "zero", "big"] {
            assert!(beside(dir.path(), name, &all).is_err(), "{name}");
        }
        assert!(named(Path::new("/dev/zero")).is_err());
        assert!(named(&fifo).is_err());
    }
}
