//! What berth knows of common database images, for what an import cannot read in the Compose
//! file: which software an image runs (by its repository's name exactly: `redis`, never
//! `rediscommander/redis-commander`), where that vendor's image keeps its data (Docker's official
//! images, Bitnami's `/bitnami/<name>`, Elastic's, Confluent's...), whether it elects by majority,
//! and what its ports are called. Where the Compose file says where the data lives (etcd's
//! `--data-dir`, `PGDATA`), that wins; where neither says, nothing is guessed.

use crate::compose::Service;

/// One family of images.
pub struct Software {
    /// The repository names of its images (the last part of the image's path).
    pub repositories: &'static [&'static str],
    pub majority: bool,
    /// Ports the members use among themselves, which the Compose file need not mention.
    pub peer_ports: &'static [u16],
    /// Where each vendor's image keeps the data: (the namespace, `""` for Docker's official
    /// images, which are also `library/...`; the path).
    pub layouts: &'static [(&'static str, &'static str)],
    /// Command-line flags that name the data directory (`--data-dir`), as `--flag VALUE` or
    /// `--flag=VALUE`.
    pub flags: &'static [&'static str],
    /// Variables that name it (`PGDATA`).
    pub variables: &'static [&'static str],
}

const OFFICIAL: &str = "";
const BITNAMI: &str = "bitnami";

pub const SOFTWARE: [Software; 12] = [
    Software {
        repositories: &["postgres", "postgresql"],
        majority: false,
        peer_ports: &[],
        layouts: &[
            (OFFICIAL, "/var/lib/postgresql/data"),
            (BITNAMI, "/bitnami/postgresql"),
        ],
        flags: &[],
        variables: &["PGDATA"],
    },
    Software {
        repositories: &["mysql", "mysql-server"],
        majority: false,
        peer_ports: &[],
        layouts: &[
            (OFFICIAL, "/var/lib/mysql"),
            ("mysql", "/var/lib/mysql"),
            (BITNAMI, "/bitnami/mysql/data"),
        ],
        flags: &["--datadir"],
        variables: &[],
    },
    Software {
        repositories: &["mariadb"],
        majority: false,
        peer_ports: &[],
        layouts: &[(OFFICIAL, "/var/lib/mysql"), (BITNAMI, "/bitnami/mariadb")],
        flags: &["--datadir"],
        variables: &[],
    },
    Software {
        repositories: &["mongo", "mongodb", "mongodb-community-server"],
        majority: true,
        peer_ports: &[],
        layouts: &[
            (OFFICIAL, "/data/db"),
            ("mongodb", "/data/db"),
            (BITNAMI, "/bitnami/mongodb"),
        ],
        flags: &["--dbpath"],
        variables: &[],
    },
    Software {
        repositories: &["redis", "redis-stack-server"],
        majority: false,
        peer_ports: &[],
        layouts: &[
            (OFFICIAL, "/data"),
            ("redis", "/data"),
            (BITNAMI, "/bitnami/redis/data"),
        ],
        flags: &["--dir"],
        variables: &[],
    },
    Software {
        repositories: &["etcd"],
        majority: true,
        peer_ports: &[2380],
        // The etcd project's own images keep it where `--data-dir` says (else in the working
        // directory): only the Compose file can say.
        layouts: &[(BITNAMI, "/bitnami/etcd")],
        flags: &["--data-dir", "-data-dir"],
        variables: &["ETCD_DATA_DIR"],
    },
    Software {
        repositories: &["zookeeper", "cp-zookeeper"],
        majority: true,
        peer_ports: &[2888, 3888],
        layouts: &[
            (OFFICIAL, "/data"),
            (BITNAMI, "/bitnami/zookeeper"),
            ("confluentinc", "/var/lib/zookeeper/data"),
        ],
        flags: &[],
        variables: &["ZOO_DATA_DIR"],
    },
    Software {
        repositories: &["kafka", "cp-kafka", "cp-server"],
        majority: true,
        peer_ports: &[9093],
        layouts: &[
            (BITNAMI, "/bitnami/kafka"),
            ("confluentinc", "/var/lib/kafka/data"),
        ],
        flags: &[],
        variables: &["KAFKA_LOG_DIRS", "KAFKA_CFG_LOG_DIRS"],
    },
    Software {
        repositories: &["rabbitmq"],
        majority: true,
        peer_ports: &[4369, 25672],
        layouts: &[
            (OFFICIAL, "/var/lib/rabbitmq"),
            (BITNAMI, "/bitnami/rabbitmq/mnesia"),
        ],
        flags: &[],
        variables: &[],
    },
    Software {
        repositories: &["elasticsearch"],
        majority: true,
        peer_ports: &[9300],
        layouts: &[
            (OFFICIAL, "/usr/share/elasticsearch/data"),
            ("elasticsearch", "/usr/share/elasticsearch/data"),
            (BITNAMI, "/bitnami/elasticsearch/data"),
        ],
        flags: &[],
        variables: &["path.data"],
    },
    Software {
        repositories: &["cockroach"],
        majority: true,
        peer_ports: &[],
        layouts: &[("cockroachdb", "/cockroach/cockroach-data")],
        flags: &[],
        variables: &[],
    },
    Software {
        repositories: &["consul"],
        majority: true,
        peer_ports: &[8300, 8301, 8302],
        layouts: &[
            (OFFICIAL, "/consul/data"),
            ("hashicorp", "/consul/data"),
            (BITNAMI, "/bitnami/consul"),
        ],
        flags: &["-data-dir", "--data-dir"],
        variables: &[],
    },
];

/// An image reference's namespace and repository name: `docker.io/bitnami/etcd:3.5` →
/// (`bitnami`, `etcd`); `postgres:16` and `library/postgres` → (``, `postgres`);
/// `docker.elastic.co/elasticsearch/elasticsearch:8` → (`elasticsearch`, `elasticsearch`).
pub fn repository(image: &str) -> (String, String) {
    let reference = image.split('@').next().unwrap_or(image);
    let path = match reference.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') => path,
        _ => reference,
    };
    let mut parts: Vec<&str> = path.split('/').collect();
    let registry = parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost");
    if registry {
        parts.remove(0);
    }
    let name = parts.pop().unwrap_or_default().to_string();
    let namespace = parts.join("/");
    let namespace = if namespace == "library" {
        String::new()
    } else {
        namespace
    };
    (namespace, name)
}

/// The family of an image, by its repository's name exactly.
pub fn software(image: &str) -> Option<&'static Software> {
    let (_, name) = repository(image);
    SOFTWARE
        .iter()
        .find(|s| s.repositories.contains(&name.as_str()))
}

/// Where a service's software keeps its data, and how berth knows: the Compose file's own word
/// (a flag of the command, a variable), else the image's vendor layout; `None` when neither
/// says.
pub fn data_path(service: &Service) -> Option<(String, String)> {
    let image = service.image_name();
    let software = software(image)?;
    let words: Vec<&str> = service
        .entrypoint
        .iter()
        .chain(service.command.iter())
        .flatten()
        .map(|t| t.value.as_str())
        .collect();
    for flag in software.flags {
        let given = words.iter().enumerate().find_map(|(i, word)| {
            match word.strip_prefix(flag)?.strip_prefix('=') {
                Some(value) => Some(value.to_string()),
                None if word == flag => words.get(i + 1).map(|w| w.to_string()),
                None => None,
            }
        });
        if let Some(path) = given.filter(|p| p.starts_with('/')) {
            return Some((path, format!("the command's `{flag}`")));
        }
    }
    for variable in software.variables {
        let given = service
            .environment
            .iter()
            .find(|(k, _, _)| k == variable)
            .and_then(|(_, v, _)| v.as_ref())
            .map(|v| v.value.split(',').next().unwrap_or_default().to_string());
        if let Some(path) = given.filter(|p| p.starts_with('/')) {
            return Some((path, format!("`{variable}`")));
        }
    }
    let (namespace, _) = repository(image);
    let vendor = software.layouts.iter().find(|(n, _)| *n == namespace)?;
    let whose = if namespace.is_empty() {
        "Docker's official image".to_string()
    } else {
        format!("the `{namespace}` image's layout")
    };
    Some((vendor.1.to_string(), whose))
}

/// A port's IANA-style name from its number, else `port-<number>`.
pub fn port_name(port: u16) -> String {
    let known = match port {
        53 => "dns",
        2379 | 2181 | 26257 | 9042 => "client",
        2380 => "peer",
        2888 => "quorum",
        3888 => "election",
        5432 => "postgres",
        3306 => "mysql",
        6379 => "redis",
        16379 => "redis-bus",
        26379 => "sentinel",
        27017 => "mongodb",
        9092 => "kafka",
        9093 => "controller",
        5672 => "amqp",
        15672 => "management",
        25672 => "dist",
        4369 => "epmd",
        9200 => "http",
        9300 => "transport",
        8080 => "http-alt",
        8500 => "consul-http",
        8300 => "consul-server",
        _ => return format!("port-{port}"),
    };
    known.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reproducer of issue 29 item 6: an image is a database berth knows by its
    /// repository's name exactly, not by a word in it.
    #[test]
    fn families_by_repository_name_exactly() {
        for (image, known) in [
            ("postgres:16.4", true),
            ("docker.io/bitnami/etcd:3.5", true),
            ("registry:5000/team/redis", true),
            ("library/mongo@sha256:abc", true),
            ("confluentinc/cp-kafka:7.6.1", true),
            ("nginx:1.27", false),
            ("rediscommander/redis-commander:latest", false),
            ("mongo-express:1.0", false),
            ("redis-exporter", false),
            ("bitnami/postgres-exporter", false),
        ] {
            assert_eq!(software(image).is_some(), known, "{image}");
        }
        assert_eq!(
            repository("docker.elastic.co/elasticsearch/elasticsearch:8.15.0"),
            ("elasticsearch".into(), "elasticsearch".into())
        );
        assert_eq!(repository("localhost/etcd"), (String::new(), "etcd".into()));
        assert_eq!(port_name(2380), "peer");
        assert_eq!(port_name(1234), "port-1234");
    }
}
