//! What berth knows of common database images, for the guesses an import makes: where each
//! keeps its data, whether it elects by majority, and what its ports are called. Every guess is
//! marked as one in the written spec.

/// One family of images, recognized by a word of the image's repository name.
pub struct Software {
    pub word: &'static str,
    pub data: &'static str,
    pub majority: bool,
    /// Ports the members use among themselves, which the Compose file need not mention.
    pub peer_ports: &'static [u16],
}

const fn software_of(
    word: &'static str,
    data: &'static str,
    majority: bool,
    peer_ports: &'static [u16],
) -> Software {
    Software {
        word,
        data,
        majority,
        peer_ports,
    }
}

pub const SOFTWARE: [Software; 12] = [
    software_of("postgres", "/var/lib/postgresql/data", false, &[]),
    software_of("mysql", "/var/lib/mysql", false, &[]),
    software_of("mariadb", "/var/lib/mysql", false, &[]),
    software_of("mongo", "/data/db", true, &[]),
    software_of("redis", "/data", false, &[]),
    software_of("etcd", "/var/lib/etcd", true, &[2380]),
    software_of("zookeeper", "/data", true, &[2888, 3888]),
    software_of("kafka", "/var/lib/kafka/data", true, &[9093]),
    software_of("rabbitmq", "/var/lib/rabbitmq", true, &[4369, 25672]),
    software_of(
        "elasticsearch",
        "/usr/share/elasticsearch/data",
        true,
        &[9300],
    ),
    software_of("cockroach", "/cockroach/cockroach-data", true, &[]),
    software_of("consul", "/consul/data", true, &[8300, 8301, 8302]),
];

/// The family of an image reference (`docker.io/library/postgres:16` → postgres).
pub fn software(image: &str) -> Option<&'static Software> {
    let repository = image.split(['@']).next().unwrap_or(image);
    let path = repository
        .rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/'))
        .map_or(repository, |(r, _)| r);
    let name = path.rsplit('/').next().unwrap_or(path);
    SOFTWARE.iter().find(|s| name.contains(s.word))
}

/// A port's IANA-style name from its number, else `port-<number>`.
pub fn port_name(port: u16) -> String {
    let known = match port {
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

    #[test]
    fn families_by_repository_name() {
        assert_eq!(software("postgres:16.4").unwrap().word, "postgres");
        assert_eq!(software("docker.io/bitnami/etcd:3.5").unwrap().word, "etcd");
        assert_eq!(software("registry:5000/team/redis").unwrap().word, "redis");
        assert!(software("nginx:1.27").is_none());
        assert_eq!(port_name(2380), "peer");
        assert_eq!(port_name(1234), "port-1234");
    }
}
