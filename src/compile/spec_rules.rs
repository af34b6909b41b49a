//! Rules about the spec itself, whatever the backend (ids `spec/...`). Backends keep their own
//! rules in their folders; these run once per compile.

use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use berth_model::{Encryption, EnvValue, Quorum, Service};

berth_diagnostic::rules!();

mod variables;

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

/// Endings that mark a secret inside one word, where words run together (`DBPASSWORD`,
/// `AUTHTOKEN`, `CLIENTSECRET`, `AWSSECRETKEY`); not `KEY` or `PASS` alone, which end many words
/// that are not secrets (`MONKEY`, `BYPASS`).
const SECRET_ENDINGS: [&str; 10] = [
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "TOKEN",
    "SECRET",
    "APIKEY",
    "ACCESSKEY",
    "SECRETKEY",
    "PRIVATEKEY",
    "CREDENTIALS",
];

/// Whether an environment variable's name marks a secret (`DB_PASSWORD`, `API_TOKEN`,
/// `MYSQL_ROOTPASSWORD`). A name ending in `_FILE` is not: by Docker's convention it holds the
/// path of a file that holds the secret (`POSTGRES_PASSWORD_FILE`), not the secret.
pub fn looks_like_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split(['_', '.', '-']).collect();
    if words.len() > 1 && words.last() == Some(&"FILE") {
        return false;
    }
    // etcd's `--initial-cluster-token` names the cluster, so that members of two clusters never
    // join each other: an identifier, not a secret.
    if words.ends_with(&["CLUSTER", "TOKEN"]) {
        return false;
    }
    // A switch about a secret (`ALLOW_EMPTY_PASSWORD=yes`, `MYSQL_RANDOM_ROOT_PASSWORD=yes`).
    if words.iter().any(|w| matches!(*w, "ALLOW" | "RANDOM")) {
        return false;
    }
    words.iter().any(|word| {
        SECRET_WORDS.contains(word) || SECRET_ENDINGS.iter().any(|end| word.ends_with(end))
    })
}

pub fn check(service: &Service) -> Vec<Diagnostic> {
    let mut found = image_reference(service);
    found.extend(quorum_size(service));
    found.extend(cleartext_peer_traffic(service));
    found.extend(files(service));
    found.extend(variables::check(service));
    let init_env = service.init.iter().flat_map(|init| &init.env);
    for var in service.container.env.iter().chain(init_env) {
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

fn cleartext_peer_traffic(service: &Service) -> Option<Diagnostic> {
    let encryption = &service.replication.encryption;
    (service.replicas() > 1 && encryption.value == Encryption::None).then(|| {
        CLEARTEXT_PEER_TRAFFIC.fire(
            service,
            encryption.span.clone(),
            "the members' traffic to each other is cleartext: whoever is on the network between the nodes reads every replicated write",
            "cleartext",
            "choose `encryption = \"network\"` where the orchestrator can encrypt, or `\"tls\"` with `[tls]`; or allow this rule where the network is trusted",
        )
    })
}

/// The software that refuses to start with `path` readable by others, where berth knows it: the
/// Erlang cookie, the file `mongod --keyFile` names, an OpenSSH private key.
fn refuses_readable(service: &Service, path: &str) -> Option<&'static str> {
    let file_name = path.rsplit('/').next().unwrap_or(path);
    if file_name == ".erlang.cookie" {
        return Some("Erlang (and so RabbitMQ)");
    }
    let words: Vec<&str> = service
        .container
        .command
        .iter()
        .chain(&service.container.args)
        .map(|t| t.source.as_str())
        .collect();
    let key_file = words
        .windows(2)
        .any(|w| w[0] == "--keyFile" && w[1] == path)
        || words
            .iter()
            .any(|w| w.strip_prefix("--keyFile=") == Some(path));
    if key_file {
        return Some("MongoDB (`mongod --keyFile`)");
    }
    let ssh_key =
        path.contains("/.ssh/") && file_name.starts_with("id_") && !file_name.ends_with(".pub");
    ssh_key.then_some("OpenSSH")
}

/// A secret file that group or others may read, and a file placed inside a persistent volume.
fn files(service: &Service) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for file in &service.files {
        let readable =
            matches!(file.body, berth_model::FileBody::Secret { .. }) && file.mode & 0o077 != 0;
        if let Some(software) = readable
            .then(|| refuses_readable(service, &file.path))
            .flatten()
        {
            found.push(SECRET_FILE_REFUSED.fire(
                service,
                file.span.clone(),
                format!("secret file `{}` has mode `{}`, and {software} refuses a file other users can read: the member will not start", file.path, file.octal_mode()),
                "refused by the software",
                "give it mode `\"0400\"`, and `owner` if the process is not root",
            ));
        } else if readable {
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

/// The image references, `[container] image` rendered for every member and `[init] image`:
/// refused when Docker's reference grammar refuses one (which also keeps an image from reading
/// as an option of `docker run`), warned about when one is `latest` or untagged.
fn image_reference(service: &Service) -> Vec<Diagnostic> {
    let members = service.members();
    let mut images: Vec<(&str, &berth_model::Template, berth_model::Identity)> = members
        .iter()
        .map(|m| {
            let identity = berth_model::Identity::new(Some(m), &members);
            ("container.image", &service.container.image, identity)
        })
        .collect();
    if let Some(image) = service.init.as_ref().and_then(|i| i.image.as_ref()) {
        images.push((
            "init.image",
            image,
            berth_model::Identity::new(None, &members),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut found = Vec::new();
    for (key, image, identity) in &images {
        let Ok(reference) = service.render(image, identity) else {
            continue;
        };
        if seen.insert(reference.clone()) {
            found.extend(check_reference(service, key, image, &reference));
        }
    }
    found
}

fn check_reference(
    service: &Service,
    key: &str,
    image: &berth_model::Template,
    reference: &str,
) -> Option<Diagnostic> {
    match berth_language::image::pin(reference) {
        Err(why) => Some(
            Diagnostic::input(
                &errors::SPEC_INVALID_VALUE,
                format!("`{key}` `{}` {why}", reference.escape_debug()),
            )
            .at(image.span.clone(), "not an image reference")
            .help("write it as Docker does: `[registry/]path[:tag][@digest]`, path in lowercase, like `postgres:16.4`"),
        ),
        Ok(Some(tag)) if tag != "latest" => None,
        Ok(tag) => Some(MUTABLE_IMAGE_TAG.fire(
            service,
            image.span.clone(),
            format!(
                "`{reference}` {}: each pull may run another version of the software on the same data",
                if tag.is_some() { "is `latest`" } else { "has no tag, so it means `latest`" }
            ),
            "a moving tag",
            "name the version with a tag (`:16.4`) or a digest (`@sha256:...`)",
        )),
    }
}
