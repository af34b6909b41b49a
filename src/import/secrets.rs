//! What `berth import` takes for a secret, so that it references one instead of copying it: a
//! variable named like one (`berth_compile::spec_rules::looks_like_secret`), and a file named or
//! holding one (a private key, credentials). A secret's value never reaches the spec.

use berth_compile::spec_rules::looks_like_secret;

/// Why a file looks like a secret by its name (`id_rsa`, `server.key`, `.env`, `db_password.txt`),
/// or `None`. `name` is a path; its last part is judged.
pub fn file_name(name: &str) -> Option<&'static str> {
    let base = name
        .rsplit('/')
        .find(|part| !part.is_empty())
        .unwrap_or(name)
        .to_ascii_lowercase();
    let extension = base.rsplit_once('.').map(|(_, e)| e);
    let ssh_key = ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"]
        .iter()
        .any(|k| base.starts_with(k));
    if ssh_key
        || matches!(
            extension,
            Some("pem" | "key" | "p12" | "pfx" | "jks" | "keystore")
        )
    {
        return Some("a private key");
    }
    let credentials = [".env", ".netrc", ".pgpass", ".htpasswd", ".git-credentials"];
    if credentials.contains(&base.as_str()) || base.starts_with(".env.") || extension == Some("env")
    {
        return Some("a file of credentials");
    }
    looks_like_secret(&base).then_some("named like a secret")
}

/// Whether a file's text holds a private key (`-----BEGIN ... PRIVATE KEY-----`).
pub fn holds_private_key(text: &str) -> bool {
    text.contains("PRIVATE KEY")
}

/// A key of a secret, from a variable's or a file's name: `POSTGRES_PASSWORD` →
/// `postgres-password`, `id_rsa` → `id-rsa`, `.erlang.cookie` → `erlang.cookie`; always one the
/// spec takes (letters, digits, `-`, `.`, starting with a letter or digit).
pub fn key(name: &str) -> String {
    let base = name.rsplit('/').find(|p| !p.is_empty()).unwrap_or(name);
    let mapped: String = base
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '.' | '-' => c,
            _ => '-',
        })
        .collect();
    let trimmed = mapped.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut key: String = trimmed.chars().take(253).collect();
    if key.is_empty() {
        key = "secret".into();
    }
    key
}

/// `name` as a secret's key when the spec takes it as one, else [`key`] of it.
pub fn valid_key(name: &str) -> String {
    match berth_language::names::secret_part(name) {
        Ok(()) => name.to_string(),
        Err(_) => key(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_look_like_secrets() {
        for name in [
            "../hostsecret/id_rsa",
            "./id_ed25519.pub.bak",
            "certs/server.key",
            "tls.PEM",
            "store.p12",
            "cert.pfx",
            ".env",
            "prod.env",
            ".env.local",
            "./secrets-dir/db_password.txt",
            "api-token",
            ".erlang.cookie",
            "/etc/passwd",
        ] {
            assert!(file_name(name).is_some(), "{name}");
        }
        for name in [
            "rabbitmq.conf",
            "init.sql",
            "/etc/hosts",
            "keyboard.map",
            "server.crt",
        ] {
            assert_eq!(file_name(name), None, "{name}");
        }
    }

    #[test]
    fn variables_that_look_like_secrets() {
        for name in [
            "ADMIN_PASSWORD",
            "DB_PASS",
            "API_TOKEN",
            "CLIENT_SECRET",
            "AWS_SECRET_ACCESS_KEY",
            "REGISTRY_CREDENTIALS",
            "MYSQL_ROOTPASSWORD",
            "GITHUBTOKEN",
            "elastic.password",
        ] {
            assert!(looks_like_secret(name), "{name}");
        }
        for name in [
            "POSTGRES_PASSWORD_FILE",
            "STACK_VERSION",
            "PGDATA",
            "MONKEY",
            "BYPASS_CACHE",
            "ETCD_INITIAL_CLUSTER_TOKEN",
            "CLUSTER_TOKEN",
            "ALLOW_EMPTY_PASSWORD",
            "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD",
            "MYSQL_RANDOM_ROOT_PASSWORD",
        ] {
            assert!(!looks_like_secret(name), "{name}");
        }
    }

    #[test]
    fn keys_are_ones_the_spec_takes() {
        for (name, expected) in [
            ("POSTGRES_PASSWORD", "postgres-password"),
            ("../x/id_rsa", "id-rsa"),
            (".erlang.cookie", "erlang.cookie"),
            ("_", "secret"),
            ("a b\n[c]", "a-b--c-"),
        ] {
            assert_eq!(key(name), expected);
            assert!(berth_language::names::secret_part(&key(name)).is_ok());
        }
        assert_eq!(valid_key("db_password"), "db_password");
        assert_eq!(valid_key("../x"), "x");
    }
}
