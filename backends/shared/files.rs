//! `[[files]]` on one Docker engine (docker run and compose): each member's files are written
//! beside the script or compose file and bind-mounted read-only; secrets are files the user puts
//! in `secrets/<secret>/<key>` there. A bind mount keeps the host file's owner and mode, so a file
//! that needs an owner, and every secret (whose mode must not be the host's), is mounted aside and
//! copied into place by a start script.

use berth_backend::OutputFile;
use berth_diagnostic::Diagnostic;
use berth_model::start::{Placement, Source};
use berth_model::{FileBody, Identity, Member, Service};

/// The files of one member.
#[derive(Default)]
pub struct MemberFiles {
    /// Files berth writes, relative to the backend's directory.
    pub outputs: Vec<OutputFile>,
    /// Read-only bind mounts: a path relative to the backend's directory, and the target.
    pub binds: Vec<(String, String)>,
    /// What a start script copies into place.
    pub placements: Vec<Placement>,
}

impl MemberFiles {
    /// Moves the files berth writes from directory `from` to `to` (both ending in `/`), where
    /// the binds then find them; a secret stays where the user puts it.
    pub fn relocate(&mut self, from: &str, to: &str) {
        let moved = |path: &mut String| {
            if let Some(rest) = path.strip_prefix(from) {
                *path = format!("{to}{rest}");
            }
        };
        self.outputs.iter_mut().for_each(|f| moved(&mut f.path));
        self.binds.iter_mut().for_each(|(source, _)| moved(source));
    }
}

/// Where a secret file is for docker run and compose, relative to the backend's directory.
pub fn secret_source(secret: &str, key: &str) -> String {
    format!("secrets/{secret}/{key}")
}

/// Whether any file needs the start script: an owner, or a secret.
pub fn needs_copy(service: &Service) -> bool {
    service
        .files
        .iter()
        .any(|f| f.owner.is_some() || matches!(f.body, FileBody::Secret { .. }))
}

pub fn member_files(
    service: &Service,
    member: &Member,
    members: &[Member],
) -> Result<MemberFiles, Diagnostic> {
    let identity = Identity::new(Some(member), members);
    let copy = berth_model::start::possible(service);
    let mut files = MemberFiles::default();
    for (index, file) in service.files.iter().enumerate() {
        let key = file.key(index);
        let (source, needs_copy) = match service.file_content(file, &identity)? {
            Some(text) => {
                let path = format!("files/{}/{key}", member.name);
                files
                    .outputs
                    .push(OutputFile::with_mode(path.clone(), text, file.mode));
                (path, file.owner.is_some())
            }
            None => {
                let berth_model::FileBody::Secret { secret, key } = &file.body else {
                    unreachable!("a file without content is a secret")
                };
                (secret_source(secret, key), true)
            }
        };
        if needs_copy && copy {
            let aside = format!("/run/berth/files/{key}");
            files.binds.push((source, aside.clone()));
            files.placements.push(Placement {
                path: file.path.clone(),
                source: Source::Mounted(aside),
                mode: file.mode,
                owner: file.owner,
            });
        } else {
            files.binds.push((source, file.path.clone()));
        }
    }
    Ok(files)
}

/// A fingerprint of a member's files (their paths, contents and modes), so that a changed file
/// changes the member's configuration.
pub fn fingerprint(files: &MemberFiles) -> String {
    let text: String = files
        .outputs
        .iter()
        .map(|f| format!("{}\n{}\n{:o}\n", f.path, f.contents, f.mode))
        .collect();
    hash(&text)
}

/// A 64-bit FNV-1a hash of `text`, in hex: for names and labels that change with a file's
/// content (not for security).
pub fn hash(text: &str) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("{hash:016x}")
}

/// The hash of a ConfigMap's data that a Helm chart computes too (`berth.files-hash` in the helm
/// backend's helpers): the SHA-256 of each key and its content, in key order.
pub fn data_hash(data: &std::collections::BTreeMap<String, String>) -> String {
    let text: String = data.iter().map(|(k, v)| format!("{k}\n{v}\n")).collect();
    sha256(&text)
}

/// The SHA-256 of `text`, in hex (Sprig's `sha256sum`, where FNV-1a has no template function).
fn sha256(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The rule that fires when a file needs the start script (one with an `owner`, and with
/// `secrets_too` every secret file) but the image cannot run one: the file then keeps what
/// `mount` gives it.
pub fn owner_not_applied(
    service: &Service,
    rule: &'static berth_diagnostic::Rule,
    mount: &str,
    secrets_too: bool,
) -> Option<Diagnostic> {
    if berth_model::start::possible(service) {
        return None;
    }
    let file = service.files.iter().find(|f| {
        f.owner.is_some() || (secrets_too && matches!(f.body, FileBody::Secret { .. }))
    })?;
    let why = if service.container.shell == Some(false) {
        "the image has no shell"
    } else {
        "the spec has no `container.command` for the script to start afterwards"
    };
    Some(rule.fire(
        service,
        file.span.clone(),
        format!("`{}` keeps the owner and mode of {mount}: a start script would set them, but {why}", file.path),
        "owner and mode not applied",
        "give the image's entrypoint in `container.command` (with an image that has `/bin/sh`), or allow this rule if the software accepts the file as it is",
    ))
}
