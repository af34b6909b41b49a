//! Rules about the spec itself, whatever the backend (ids `spec/...`). Backends keep their own
//! rules in their folders; these run once per compile.

use crate::engine::diagnostic::Diagnostic;
use crate::model::{EnvValue, Quorum, Service};

crate::engine::backend::rules_of!("spec");

/// Words of an env name that mark a secret (`DB_PASSWORD`, `API_TOKEN`, `AWS_SECRET_ACCESS_KEY`).
const SECRET_WORDS: [&str; 9] = [
    "PASSWORD",
    "PASSWD",
    "PASS",
    "TOKEN",
    "SECRET",
    "KEY",
    "APIKEY",
    "CREDENTIALS",
    "COOKIE",
];

/// Whether an environment variable's name marks a secret (`DB_PASSWORD`, `API_TOKEN`).
pub fn looks_like_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper
        .split(['_', '.', '-'])
        .any(|word| SECRET_WORDS.contains(&word))
}

pub fn check(service: &Service) -> Vec<Diagnostic> {
    let mut found = image_reference(service);
    found.extend(quorum_size(service));
    found.extend(files(service));
    for var in &service.container.env {
        let EnvValue::Literal(value) = &var.value else {
            continue;
        };
        if value.source.is_empty() || !looks_like_secret(&var.name) {
            continue;
        }
        found.push(LITERAL_SECRET.fire(
            service,
            var.span.clone(),
            format!("`{}` looks like a secret but its value is written in the spec, and so into every output", var.name),
            "a literal value",
            format!("write `{} = {{ secret = \"NAME\", key = \"KEY\" }}` so each orchestrator reads it from its secret store", var.name),
        ));
    }
    found
}

/// A majority of fewer than 3 members is all of them, and an even count survives no more
/// failures than one member fewer: the same on every orchestrator.
fn quorum_size(service: &Service) -> Option<Diagnostic> {
    let replication = &service.replication;
    let replicas = replication.replicas.value;
    if replication.quorum.value != Quorum::Majority
        || (replicas >= 3 && !replicas.is_multiple_of(2))
    {
        return None;
    }
    Some(
        QUORUM_SIZE.fire(
            service,
            replication
                .replicas
                .span
                .clone()
                .or(replication.quorum.span.clone()),
            format!(
                "{replicas} replicas with a majority quorum: {}",
                if replicas < 3 {
                    "losing one replica loses the quorum"
                } else {
                    "an even count tolerates no more failures than one replica fewer"
                }
            ),
            "replica count",
            "use an odd number of replicas, at least 3",
        ),
    )
}

/// A secret file that group or others may read, and a file placed inside a persistent volume.
fn files(service: &Service) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for file in &service.files {
        if matches!(file.body, crate::model::FileBody::Secret { .. }) && file.mode & 0o077 != 0 {
            found.push(SECRET_FILE_READABLE.fire(
                service,
                file.span.clone(),
                format!("secret file `{}` has mode `{}`: users other than its owner can read the secret", file.path, file.octal_mode()),
                "readable by others",
                "give it mode `\"0400\"` (or `\"0440\"` for a group the process is in), and `owner` if the process is not root",
            ));
        }
        let inside = service.persistent_volumes().find(|v| {
            file.path
                .starts_with(&format!("{}/", v.path.trim_end_matches('/')))
        });
        if let Some(volume) = inside {
            found.push(FILE_IN_VOLUME.fire(
                service,
                file.span.clone(),
                format!("`{}` is inside volume `{}` (`{}`): the file is placed over the volume's copy at every start, and what the software writes there is lost", file.path, volume.name, volume.path),
                "inside a persistent volume",
                "place the file outside the volume's path (point the software at it with a flag or variable), or move the volume to the data directory below it",
            ));
        }
    }
    found
}

/// The image reference, rendered with the parameters: refused when Docker's reference grammar
/// refuses it, warned about when it is `latest` or untagged.
fn image_reference(service: &Service) -> Vec<Diagnostic> {
    let image = &service.container.image;
    // An image that depends on the member is checked by the backends that render it.
    let Ok(reference) = service.render(image, &crate::model::Identity::new(None, &[])) else {
        return Vec::new();
    };
    match crate::language::image::pin(&reference) {
        Err(why) => vec![
            Diagnostic::input(
                "spec/invalid-value",
                format!("`container.image` `{reference}` {why}"),
            )
            .at(image.span.clone(), "not an image reference")
            .help("write it as Docker does: `[registry/]path[:tag][@digest]`, path in lowercase, like `postgres:16.4`"),
        ],
        Ok(Some(tag)) if tag != "latest" => Vec::new(),
        Ok(tag) => vec![MUTABLE_IMAGE_TAG.fire(
            service,
            image.span.clone(),
            format!(
                "`{reference}` {}: each pull may run another version of the software on the same data",
                if tag.is_some() { "is `latest`" } else { "has no tag, so it means `latest`" }
            ),
            "a moving tag",
            "name the version with a tag (`:16.4`) or a digest (`@sha256:...`)",
        )],
    }
}
