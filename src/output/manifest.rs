//! `.berth-manifest.json`: the files berth wrote into `--out`, each with the SHA-256 of what it
//! wrote. A file counts as berth's (to replace, or to remove once no compile makes it) only if it
//! is a regular file reached without a link and still holds those bytes: the manifest lies in a
//! directory others change, so it is a claim that is checked against the file, never trusted.
//!
//! Its shape: `files`, the list of paths (all an older berth wrote; kept as a list so that
//! readers of it keep working); `sha256`, each path's hash; and, only in the manifest a commit
//! writes before it renames anything, `pending`, the hash of what the commit puts there, so that a
//! file of a killed commit is still known as berth's in either state.

use super::inside::{self, Refusal, Sha256};
use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Seek;
use std::path::Path;

/// The manifest's name inside `--out`.
pub const MANIFEST: &str = ".berth-manifest.json";

/// What berth recorded about one file it wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The hash of what the last complete write put there.
    pub sha256: Option<Recorded>,
    /// The hash of what an unfinished commit was putting there. Boxed: only the manifest written
    /// during a commit (left behind if it is killed) holds one, and a write holds a record of
    /// every file of `--out`.
    pub pending: Option<Box<Recorded>>,
}

/// A hash as the manifest holds it: a SHA-256, or text that is none (a manifest changed by hand),
/// kept as written and matched by no file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    Sha256(Sha256),
    Other(Box<str>),
}

impl Recorded {
    fn read(text: &str) -> Recorded {
        Sha256::parse(text).map_or_else(|| Recorded::Other(text.into()), Recorded::Sha256)
    }
}

impl Serialize for Recorded {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Recorded::Sha256(sha256) => sha256.serialize(serializer),
            Recorded::Other(text) => serializer.serialize_str(text),
        }
    }
}

impl Record {
    /// A record of the bytes hashed to `sha256`.
    pub fn of(sha256: Sha256) -> Record {
        Record {
            sha256: Some(Recorded::Sha256(sha256)),
            pending: None,
        }
    }

    /// A manifest of an older berth lists paths without hashes.
    fn is_unhashed(&self) -> bool {
        self.sha256.is_none() && self.pending.is_none()
    }

    fn matches(&self, sha256: Sha256) -> bool {
        let sha256 = Some(Recorded::Sha256(sha256));
        self.sha256 == sha256 || self.pending.as_deref() == sha256.as_ref()
    }
}

/// The files berth wrote, by path relative to `--out`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Boxed paths: a write holds the manifest of every file of `--out`.
    pub files: BTreeMap<Box<str>, Record>,
}

/// The manifest as read: paths and hashes borrowed from its text where they hold no escape, and
/// hashes as a list, so that reading one of many thousand files copies each path once, into
/// the [`Manifest`].
#[derive(Deserialize)]
struct Stored<'a> {
    #[serde(borrow)]
    files: Vec<Borrowed<'a>>,
    #[serde(borrow, default)]
    sha256: Pairs<'a>,
    #[serde(borrow, default)]
    pending: Pairs<'a>,
}

/// A JSON object's entries in the order written.
#[derive(Default)]
struct Pairs<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<Pairs<'a>>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Pairs<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of paths and hashes")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Pairs<'a>, M::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((Borrowed(path), Borrowed(hash))) = map.next_entry()? {
                    pairs.push((path, hash));
                }
                Ok(Pairs(pairs))
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// A string borrowed from the text when it holds no escape.
struct Borrowed<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Borrowed<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Inner<'a>(#[serde(borrow)] Cow<'a, str>);
        Inner::deserialize(deserializer).map(|inner| Borrowed(inner.0))
    }
}

/// The manifest as written, borrowed from the [`Manifest`]: `files` in order, as a set.
#[derive(Serialize)]
struct Storing<'a> {
    files: Vec<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    sha256: BTreeMap<&'a str, &'a Recorded>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pending: BTreeMap<&'a str, &'a Recorded>,
}

impl Manifest {
    /// The manifest's text.
    pub fn to_json(&self) -> String {
        let hashes = |which: fn(&Record) -> Option<&Recorded>| {
            self.files
                .iter()
                .filter_map(|(path, record)| Some((&**path, which(record)?)))
                .collect()
        };
        let storing = Storing {
            files: self.files.keys().map(|path| &**path).collect(),
            sha256: hashes(|r| r.sha256.as_ref()),
            pending: hashes(|r| r.pending.as_deref()),
        };
        let text = serde_json::to_string_pretty(&storing).expect("strings serialize");
        format!("{text}\n")
    }

    /// The manifest written as `text`.
    fn from_json(text: &str) -> Result<Manifest, String> {
        let stored: Stored = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut files: BTreeMap<Box<str>, Record> = stored
            .files
            .into_iter()
            .map(|Borrowed(path)| (path.into(), Record::default()))
            .collect();
        type Slot = fn(&mut Record, Recorded);
        let hashes: [(Pairs, Slot); 2] = [
            (stored.sha256, |record, hash| record.sha256 = Some(hash)),
            (stored.pending, |record, hash| {
                record.pending = Some(Box::new(hash))
            }),
        ];
        for (Pairs(pairs), slot) in hashes {
            for (path, text) in pairs {
                // A hash of a path the list does not hold claims nothing.
                if let Some(record) = files.get_mut(path.as_ref()) {
                    slot(record, Recorded::read(&text));
                }
            }
        }
        Ok(Manifest { files })
    }
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
        .and_then(Manifest::from_json)
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
    pub sha256: Sha256,
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
pub fn hashed(opened: inside::Opened, new: Option<(&[u8], Sha256)>) -> std::io::Result<Found> {
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
        Some(hash) => hash,
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
    pub fn of(record: Option<&Record>, sha256: Sha256) -> Claim {
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
pub fn removable(out: &Path, relative: &str, record: &Record) -> Result<Sha256, Option<String>> {
    match find(out, relative) {
        Ok(None) => Err(None),
        Ok(Some(found)) => match Claim::of(Some(record), found.sha256) {
            Claim::Verified if !berth_could_write(relative) => Err(Some(
                "berth never writes there (only `berth-report.json` and files in a backend's folder)"
                    .into(),
            )),
            Claim::Verified => Ok(found.sha256),
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
        let hash = |byte: u8| Sha256([byte; 32]);
        let old = Manifest::from_json(r#"{"files": ["a/b.yaml", "c"]}"#).unwrap();
        assert_eq!(old.files.len(), 2);
        assert_eq!(Claim::of(old.files.get("c"), hash(0)), Claim::Unhashed);
        let mut new = Manifest::default();
        new.files.insert("a".into(), Record::of(hash(0x11)));
        new.files.insert(
            "b".into(),
            Record {
                sha256: Some(Recorded::Sha256(hash(0x22))),
                pending: Some(Box::new(Recorded::Sha256(hash(0x33)))),
            },
        );
        let text = new.to_json();
        assert!(text.contains(r#""files": ["#), "{text}");
        assert!(text.contains(&"33".repeat(32)), "{text}");
        let parsed = Sha256::parse(&"33".repeat(32));
        assert_eq!(parsed, Some(hash(0x33)));
        assert_eq!(Manifest::from_json(&text).unwrap(), new);
        assert_eq!(Claim::of(new.files.get("b"), hash(0x33)), Claim::Verified);
        assert_eq!(Claim::of(new.files.get("a"), hash(0x22)), Claim::Changed);
        assert_eq!(Claim::of(None, hash(0x11)), Claim::NotWritten);
    }

    #[test]
    fn a_hash_that_is_not_sha256_matches_nothing_and_is_kept() {
        for bad in ["00", &"A".repeat(64), &"+f".repeat(32), &"g".repeat(64)] {
            let text = format!(r#"{{"files": ["a"], "sha256": {{"a": "{bad}"}}}}"#);
            let manifest = Manifest::from_json(&text).unwrap();
            let record = manifest.files.get("a");
            assert_eq!(
                Claim::of(record, Sha256([0xaa; 32])),
                Claim::Changed,
                "{bad}"
            );
            assert!(
                manifest.to_json().contains(&format!(r#""a": "{bad}""#)),
                "{bad}"
            );
        }
    }
}
