//! `.berth-manifest.json`: the files berth wrote into `--out`, each with the SHA-256 of what it
//! wrote. A file counts as berth's (to replace, or to remove once no compile makes it) only if it
//! is a regular file reached without a link and still holds those bytes: the manifest lies in a
//! directory others change, so it is a claim that is checked against the file, never trusted.
//!
//! Its shape: `files`, the list of paths (all an older berth wrote; kept as a list so that
//! readers of it keep working); `sha256`, each path's hash; and, only in the manifest a commit
//! writes before it renames anything, `pending`, the hash of what the commit puts there, so that a
//! file of a killed commit is still known as berth's in either state.

use super::inside::{self, Refusal};
use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Seek;
use std::path::Path;

/// The manifest's name inside `--out`.
pub const MANIFEST: &str = ".berth-manifest.json";

/// What berth recorded about one file it wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The hash of what the last complete write put there.
    pub sha256: Option<String>,
    /// The hash of what an unfinished commit was putting there.
    pub pending: Option<String>,
}

impl Record {
    /// A record of the bytes hashed to `sha256`.
    pub fn of(sha256: &str) -> Record {
        Record {
            sha256: Some(sha256.to_string()),
            pending: None,
        }
    }

    /// A manifest of an older berth lists paths without hashes.
    fn is_unhashed(&self) -> bool {
        self.sha256.is_none() && self.pending.is_none()
    }

    fn matches(&self, sha256: &str) -> bool {
        [&self.sha256, &self.pending]
            .iter()
            .any(|h| h.as_deref() == Some(sha256))
    }
}

/// The files berth wrote, by path relative to `--out`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub files: BTreeMap<String, Record>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    files: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    sha256: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pending: BTreeMap<String, String>,
}

impl Manifest {
    /// The manifest's text.
    pub fn to_json(&self) -> String {
        let stored = Stored {
            files: self.files.keys().cloned().collect(),
            sha256: hashes(&self.files, |r| &r.sha256),
            pending: hashes(&self.files, |r| &r.pending),
        };
        let text = serde_json::to_string_pretty(&stored).expect("strings serialize");
        format!("{text}\n")
    }

    fn from_json(text: &str) -> serde_json::Result<Manifest> {
        let stored: Stored = serde_json::from_str(text)?;
        let files = stored
            .files
            .into_iter()
            .map(|path| {
                let record = Record {
                    sha256: stored.sha256.get(&path).cloned(),
                    pending: stored.pending.get(&path).cloned(),
                };
                (path, record)
            })
            .collect();
        Ok(Manifest { files })
    }
}

fn hashes(
    files: &BTreeMap<String, Record>,
    which: impl Fn(&Record) -> &Option<String>,
) -> BTreeMap<String, String> {
    files
        .iter()
        .filter_map(|(path, record)| Some((path.clone(), which(record).clone()?)))
        .collect()
}

/// The manifest of `out`; none yet is an empty one. Read as any file of `--out` is
/// ([`inside::read_file`]): a link, a FIFO or a giant in its place is refused.
pub fn read(out: &Path) -> Result<Manifest, Diagnostic> {
    let bytes = match inside::read_file(out, MANIFEST) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(Manifest::default()),
        Err(refusal) => return Err(refusal.diagnostic("read")),
    };
    let path = out.join(MANIFEST);
    std::str::from_utf8(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|text| Manifest::from_json(text).map_err(|e| e.to_string()))
        .map_err(|e| {
            Diagnostic::input(
                &errors::OUTPUT_MANIFEST,
                format!("cannot read `{}`: {e}", path.display()),
            )
            .help("remove the damaged manifest, or choose another `--out` directory")
        })
}

/// A regular file found below `--out`: the hash of its bytes and its permission bits.
pub struct Found {
    pub sha256: String,
    pub mode: u32,
}

/// The regular file at `relative` below `out`, hashed, or `None` if nothing is there; a link,
/// a special file or an unreadable one is refused ([`inside::open_file`]).
pub fn find(out: &Path, relative: &str) -> Result<Option<Found>, Refusal> {
    match inside::open_file(out, relative)? {
        Some(opened) => hashed(opened, None)
            .map(Some)
            .map_err(|e| Refusal::Io(out.join(relative), e)),
        None => Ok(None),
    }
}

/// An opened file of `--out`, hashed. `new` is what berth is about to write there, with its
/// hash, if it is known: a file that holds those bytes already is not hashed again.
pub fn hashed(opened: inside::Opened, new: Option<(&[u8], &str)>) -> std::io::Result<Found> {
    let inside::Opened {
        mut file,
        size,
        mode,
    } = opened;
    let same = match new {
        Some((bytes, hash)) if size == bytes.len() as u64 => {
            inside::begins_with(&mut file, bytes)?.then_some(hash)
        }
        _ => None,
    };
    let sha256 = match same {
        Some(hash) => hash.to_string(),
        None => {
            file.rewind()?;
            inside::sha256(file)?
        }
    };
    Ok(Found { sha256, mode })
}

/// Whether a regular file counts as berth's, by what the manifest recorded for its path.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// It holds bytes berth recorded writing there.
    Verified,
    /// A manifest of an older berth lists it without a hash: berth may replace it (as before
    /// the hashes, or every upgrade would need `--force`), but never removes it.
    Unhashed,
    NotWritten,
    Changed,
}

impl Claim {
    /// Judges the file hashed to `sha256` at a path the manifest recorded as `record`.
    pub fn of(record: Option<&Record>, sha256: &str) -> Claim {
        match record {
            None => Claim::NotWritten,
            Some(record) if record.is_unhashed() => Claim::Unhashed,
            Some(record) if record.matches(sha256) => Claim::Verified,
            Some(_) => Claim::Changed,
        }
    }

    /// Why a file that is not berth's is not, to end a sentence.
    pub fn reason(&self) -> &'static str {
        match self {
            Claim::Verified => "berth wrote it",
            Claim::Unhashed => "the manifest of an older berth lists it without a hash to check",
            Claim::NotWritten => "berth did not write it",
            Claim::Changed => "it changed since berth wrote it",
        }
    }
}

/// Whether berth may remove the file at `relative` as one it no longer makes: only a regular
/// file inside `out`, reached without a link, that still holds what berth wrote there.
/// Otherwise why it stays (`None` when nothing is there).
pub fn removable(out: &Path, relative: &str, record: &Record) -> Result<(), Option<String>> {
    match find(out, relative) {
        Ok(None) => Err(None),
        Ok(Some(found)) => match Claim::of(Some(record), &found.sha256) {
            Claim::Verified if !berth_could_write(relative) => Err(Some(
                "berth never writes there (only `berth-report.json` and files in a backend's folder)"
                    .into(),
            )),
            Claim::Verified => Ok(()),
            claim => Err(Some(claim.reason().to_string())),
        },
        Err(refusal) => Err(Some(refusal.reason())),
    }
}

/// Whether `relative` is a place berth writes: `berth-report.json`, or a file below a backend's
/// folder (`BACKEND/...`, or `SERVICE/BACKEND/...` for several specs), no part of it hidden. The
/// manifest and its hashes come from `--out`, which others may change: a planted entry with the
/// right hash of `NOTES.md` or `.git/HEAD` proves only that its content was known.
fn berth_could_write(relative: &str) -> bool {
    let parts: Vec<&str> = relative.split('/').collect();
    if parts.iter().any(|p| p.is_empty() || p.starts_with('.')) {
        return false;
    }
    let backend = |part: &str| berth_compile::registry::by_name(part).is_some();
    relative == crate::report::FILE
        || (parts.len() > 1 && backend(parts[0]))
        || (parts.len() > 2
            && berth_language::names::dns_label(parts[0], 63).is_ok()
            && backend(parts[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_places_berth_writes_are_removable() {
        for yes in [
            "berth-report.json",
            "docker/run.sh",
            "db/kubernetes/10-x.yaml",
        ] {
            assert!(berth_could_write(yes), "{yes}");
        }
        for no in [
            "NOTES.md",
            ".git/HEAD",
            "docker/.hidden",
            "notes/docker",
            "a/b/docker",
        ] {
            assert!(!berth_could_write(no), "{no}");
        }
    }

    #[test]
    fn older_manifests_read_as_paths_without_hashes() {
        let old = Manifest::from_json(r#"{"files": ["a/b.yaml", "c"]}"#).unwrap();
        assert_eq!(old.files.len(), 2);
        assert_eq!(Claim::of(old.files.get("c"), "00"), Claim::Unhashed);
        let mut new = Manifest::default();
        new.files.insert("a".into(), Record::of("11"));
        new.files.insert(
            "b".into(),
            Record {
                sha256: Some("22".into()),
                pending: Some("33".into()),
            },
        );
        let text = new.to_json();
        assert!(text.contains(r#""files": ["#), "{text}");
        assert_eq!(Manifest::from_json(&text).unwrap(), new);
        assert_eq!(Claim::of(new.files.get("b"), "33"), Claim::Verified);
        assert_eq!(Claim::of(new.files.get("a"), "22"), Claim::Changed);
        assert_eq!(Claim::of(None, "11"), Claim::NotWritten);
    }
}
