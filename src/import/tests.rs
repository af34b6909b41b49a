//! The reproducers of issue 29, each a Compose file as teams write them, imported whole: what
//! each spec says, which services it came from, and that no service vanishes from the report.

use super::*;

/// A spec one import made: its name, its services, its TOML, and its text.
type Spec = (String, Vec<String>, toml::Table, String);
/// What one import made: its specs and the skipped services.
type Made = (Vec<Spec>, Vec<(String, String)>);

fn import_text(compose: &str, wanted: &[&str]) -> Result<Made, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), compose).unwrap();
    std::fs::write(dir.path().join("nginx.conf"), "events {}\n").unwrap();
    let wanted: Vec<String> = wanted.iter().map(|w| w.to_string()).collect();
    let made = import(&dir.path().join("compose.yaml"), &wanted).map_err(|(e, _)| e.message)?;
    let specs = made
        .specs
        .iter()
        .map(|s| {
            let table = toml::from_str(&s.text).unwrap_or_else(|e| panic!("{e}\n{}", s.text));
            (s.name.clone(), s.services.clone(), table, s.text.clone())
        })
        .collect();
    let services = names_in(compose);
    let reported: Vec<&String> = made
        .specs
        .iter()
        .flat_map(|s| &s.services)
        .chain(made.skipped.iter().map(|(s, _)| s))
        .collect();
    if wanted.is_empty() {
        for service in &services {
            assert!(
                reported.contains(&service),
                "`{service}` vanished from the report"
            );
        }
    }
    Ok((specs, made.skipped))
}

/// The services of a Compose file, by its two-space indented keys under `services:`.
fn names_in(compose: &str) -> Vec<String> {
    let services = compose.split("\nvolumes:").next().unwrap_or(compose);
    services
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' ') && l.ends_with(':'))
        .map(|l| l.trim_end_matches(':').to_string())
        .collect()
}

fn spec<'a>(made: &'a Made, name: &str) -> &'a toml::Table {
    &made
        .0
        .iter()
        .find(|(n, ..)| n == name)
        .unwrap_or_else(|| panic!("no spec `{name}`"))
        .2
}

/// The text of the spec `name`, with its comments.
fn comments<'a>(made: &'a Made, name: &str) -> &'a str {
    &made.0.iter().find(|(n, ..)| n == name).unwrap().3
}

fn text<'a>(table: &'a toml::Table, path: &[&str]) -> &'a str {
    let mut value = table
        .get(path[0])
        .unwrap_or_else(|| panic!("no `{}`", path[0]));
    for key in &path[1..] {
        value = value
            .get(key)
            .unwrap_or_else(|| panic!("no `{key}` in {table:#?}"));
    }
    value.as_str().unwrap()
}

/// Item 1: a member's own name is never put into its image, a database user or a path.
#[test]
fn names_are_templated_only_where_they_are_identities() {
    let made = import_text(
        "services:\n  redis:\n    image: redis:7\n    restart: always\n    command: redis-server --dir /data/redis\n    volumes: [data:/data]\n  gitea:\n    image: gitea/gitea:1.22\n    restart: always\n    environment:\n      DB_USER: gitea\n      GITEA__server__ROOT_URL: http://gitea:3000/\n    volumes: [git_data:/data]\nvolumes: {data: , git_data: }\n",
        &[],
    )
    .unwrap();
    let redis = spec(&made, "redis");
    assert_eq!(text(redis, &["container", "image"]), "redis:7");
    assert_eq!(
        redis["container"]["args"].as_array().unwrap()[2].as_str(),
        Some("/data/redis")
    );
    let gitea = spec(&made, "gitea");
    assert_eq!(text(gitea, &["container", "image"]), "gitea/gitea:1.22");
    assert_eq!(text(gitea, &["container", "env", "DB_USER"]), "gitea");
    assert_eq!(
        text(gitea, &["container", "env", "GITEA__server__ROOT_URL"]),
        "http://{{peers.[0].host}}:3000/"
    );
}

/// Item 2: `zoo`, `zoo2`, `zoo3` of one image, which name each other, are one spec of three
/// members whose ids count from 1.
#[test]
fn an_unnumbered_first_member_joins_its_cluster() {
    let member = |me: &str, id: u32| {
        format!(
            "  {me}:\n    image: zookeeper:3.9\n    restart: always\n    hostname: {me}\n    environment:\n      ZOO_MY_ID: {id}\n      ZOO_SERVERS: server.1=zoo:2888:3888;2181 server.2=zoo2:2888:3888;2181 server.3=zoo3:2888:3888;2181\n    volumes: [{me}:/data]\n"
        )
    };
    let compose = format!(
        "services:\n{}{}{}volumes: {{zoo: , zoo2: , zoo3: }}\n",
        member("zoo", 1),
        member("zoo2", 2),
        member("zoo3", 3)
    );
    let made = import_text(&compose, &[]).unwrap();
    assert_eq!(made.0.len(), 1, "{:?}", made.0);
    let (name, services, zoo, _) = &made.0[0];
    assert_eq!((name.as_str(), services.len()), ("zoo", 3));
    assert_eq!(zoo["replication"]["replicas"].as_integer(), Some(3));
    assert_eq!(
        text(zoo, &["container", "env", "ZOO_MY_ID"]),
        "{{add self.ordinal 1}}"
    );
    assert!(
        text(zoo, &["container", "env", "ZOO_SERVERS"])
            .starts_with("server.1={{peers.[0].host}}:2888:3888;2181 server.2={{peers.[1].host}}")
    );
    // Two services of one image that are not one cluster stay two specs.
    let made = import_text(
        "services:\n  cache:\n    image: redis:7.4\n    restart: always\n    volumes: [a:/data]\n  cache-b:\n    image: redis:7.4\n    restart: always\n    command: redis-server --appendonly yes\n    volumes: [b:/data]\nvolumes: {a: , b: }\n",
        &[],
    )
    .unwrap();
    assert_eq!(made.0.len(), 2);
}

/// Item 3: `mongo-a` with a volume and `mongo-b`, `mongo-c` depending on it are one replica set
/// of three, each member with a volume, none of them an init step; `--service` takes any
/// member's name.
#[test]
fn members_with_roles_are_one_spec_or_refused_whole() {
    let compose = "services:\n  mongo-a:\n    image: mongo:7\n    restart: always\n    command: mongod --replSet rs0 --bind_ip_all\n    volumes: [mongo_a:/data/db]\n  mongo-b:\n    image: mongo:7\n    command: mongod --replSet rs0 --bind_ip_all\n    depends_on: [mongo-a]\n  mongo-c:\n    image: mongo:7\n    command: mongod --replSet rs0 --bind_ip_all\n    depends_on: [mongo-a]\nvolumes: {mongo_a: }\n";
    for wanted in [&[][..], &["mongo-b"]] {
        let made = import_text(compose, wanted).unwrap();
        assert_eq!(made.0.len(), 1);
        let (_, services, mongo, _) = &made.0[0];
        assert_eq!(services, &["mongo-a", "mongo-b", "mongo-c"]);
        assert_eq!(mongo["replication"]["replicas"].as_integer(), Some(3));
        assert!(mongo.get("init").is_none(), "{mongo:#?}");
        assert_eq!(mongo["volumes"][0]["path"].as_str(), Some("/data/db"));
    }
    // The issue's own reproducer: no command at all, so no init step without one.
    let bare = "services:\n  mongo-a:\n    image: mongo:7\n    restart: always\n    volumes: [a:/data/db]\n  mongo-b:\n    image: mongo:7\n    depends_on: [mongo-a]\n  mongo-c:\n    image: mongo:7\n    depends_on: [mongo-a]\nvolumes: {a: }\n";
    let made = import_text(bare, &["mongo-b"]).unwrap();
    assert_eq!(made.0[0].1, ["mongo-a", "mongo-b", "mongo-c"]);
    assert!(made.0[0].2.get("init").is_none());
    // Roles by value are each member's own; roles by what is set are refused, every member
    // listed with the reason.
    let role = |me: &str, mode: &str, extra: &str| {
        format!(
            "  mongodb-{me}:\n    image: bitnami/mongodb:7.0\n    restart: always\n    environment:\n      MONGODB_REPLICA_SET_MODE: {mode}\n      MONGODB_ADVERTISED_HOSTNAME: mongodb-{me}\n{extra}    volumes: [{me}:/bitnami/mongodb]\n"
        )
    };
    let primary_host = "      MONGODB_INITIAL_PRIMARY_HOST: mongodb-primary\n";
    let compose = format!(
        "services:\n{}{}{}volumes: {{primary: , secondary: , arbiter: }}\n",
        role("primary", "primary", ""),
        role("secondary", "secondary", primary_host),
        role("arbiter", "arbiter", primary_host),
    );
    let made = import_text(&compose, &[]).unwrap();
    assert!(made.0.is_empty());
    assert_eq!(made.1.len(), 3);
    for (_, why) in &made.1 {
        assert!(
            why.contains("only `mongodb-secondary`, `mongodb-arbiter` of them set `MONGODB_INITIAL_PRIMARY_HOST`"),
            "{why}"
        );
    }
    let error = import_text(&compose, &["mongodb-arbiter"]).unwrap_err();
    assert!(
        error.contains("no spec of `mongodb-primary`, `mongodb-secondary`, `mongodb-arbiter`"),
        "{error}"
    );
    let compose = format!(
        "services:\n{}{}{}volumes: {{primary: , secondary: , arbiter: }}\n",
        role("primary", "primary", primary_host),
        role("secondary", "secondary", primary_host),
        role("arbiter", "arbiter", primary_host),
    );
    let made = import_text(&compose, &[]).unwrap();
    let mongodb = spec(&made, "mongodb");
    assert_eq!(
        text(mongodb, &["container", "env", "MONGODB_REPLICA_SET_MODE"]),
        "{{#if (eq self.ordinal \"0\")}}primary{{else if (eq self.ordinal \"1\")}}secondary{{else}}arbiter{{/if}}"
    );
    assert_eq!(
        text(
            mongodb,
            &["container", "env", "MONGODB_ADVERTISED_HOSTNAME"]
        ),
        "{{self.host}}"
    );
    assert_eq!(
        text(
            mongodb,
            &["container", "env", "MONGODB_INITIAL_PRIMARY_HOST"]
        ),
        "{{peers.[0].host}}"
    );
}

/// Item 3: an init step runs a command; a second one-shot service of the cluster is listed, not
/// lost.
#[test]
fn a_second_init_service_is_listed() {
    let member = |n: u32| {
        format!(
            "  mongo{n}:\n    image: mongo:7\n    restart: always\n    command: mongod --replSet rs0 --bind_ip_all\n    volumes: [m{n}:/data/db]\n"
        )
    };
    let compose = format!(
        "services:\n{}{}{}  setup:\n    image: mongo:7\n    command: mongosh --host mongo1:27017 --eval 'rs.initiate()'\n    depends_on: [mongo1, mongo2, mongo3]\n  users:\n    image: mongo:7\n    command: mongosh --host mongo1:27017 --eval 'db.createUser()'\n    depends_on: [mongo1]\nvolumes: {{m1: , m2: , m3: }}\n",
        member(1),
        member(2),
        member(3)
    );
    let made = import_text(&compose, &[]).unwrap();
    let mongo = spec(&made, "mongo");
    assert_eq!(
        mongo["init"]["command"].as_array().unwrap()[2].as_str(),
        Some("{{peers.[0].host}}:27017")
    );
    let skipped: Vec<&str> = made.1.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(skipped, ["users"]);
    assert!(made.1[0].1.contains("a second one-shot service of `mongo`"));
}

/// Items 6 and 7: a database by its repository's name exactly, its data where its vendor's
/// image keeps it, and nothing written that no backend can run.
#[test]
fn data_paths_and_databases_by_what_the_image_is() {
    let made = import_text(
        "services:\n  etcd:\n    image: bitnami/etcd:3.5\n    restart: always\n  commander:\n    image: rediscommander/redis-commander:latest\n    restart: always\n  express:\n    image: mongo-express:1.0\n    restart: always\n  web:\n    image: nginx:1.27\n    restart: always\n    volumes: [./nginx.conf:/etc/nginx/nginx.conf]\n  kafka:\n    image: apache/kafka:3.8.0\n    restart: always\n",
        &[],
    )
    .unwrap();
    let etcd = spec(&made, "etcd");
    assert_eq!(etcd["volumes"][0]["path"].as_str(), Some("/bitnami/etcd"));
    let skipped: Vec<&str> = made.1.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(skipped, ["commander", "express", "web", "kafka"]);
    assert!(
        made.1[3]
            .1
            .contains("does not know where the image `apache/kafka:3.8.0` keeps it")
    );
    let error = import_text(
        "services:\n  web:\n    image: nginx:1.27\n    volumes: [./nginx.conf:/etc/nginx/nginx.conf]\n",
        &["web"],
    )
    .unwrap_err();
    assert!(error.contains("no spec of `web`: stateless"), "{error}");
}

/// The data directory the Compose file names wins over any layout.
#[test]
fn the_command_names_the_data_directory() {
    let made = import_text(
        "services:\n  etcd:\n    image: quay.io/coreos/etcd:v3.5.15\n    restart: always\n    command: [etcd, --data-dir=/etcd-data]\n  pg:\n    image: postgres:16\n    restart: always\n    environment:\n      PGDATA: /var/lib/postgresql/data/pgdata\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        spec(&made, "etcd")["volumes"][0]["path"].as_str(),
        Some("/etcd-data")
    );
    assert_eq!(
        spec(&made, "pg")["volumes"][0]["path"].as_str(),
        Some("/var/lib/postgresql/data/pgdata")
    );
}

/// Item 9: what the Compose file means is kept or said: both protocols of one port, `expose`
/// only (not published), a random host port, a volume every member shares, a `*_FILE` path and
/// etcd's cluster token as plain values.
#[test]
fn meaning_is_kept_or_said() {
    let made = import_text(
        "services:\n  dns:\n    image: coredns/coredns:1.11\n    restart: always\n    volumes: [zones:/zones]\n    ports: [\"53:53/udp\", \"53:53/tcp\"]\n  db:\n    image: postgres:16\n    restart: always\n    expose: [\"5432\"]\n    environment:\n      POSTGRES_PASSWORD_FILE: /run/secrets/pw\n    volumes: [pg:/var/lib/postgresql/data]\n  etcd1:\n    image: bitnami/etcd:3.5\n    restart: always\n    environment:\n      ETCD_NAME: etcd1\n      ETCD_INITIAL_CLUSTER_TOKEN: cluster-1\n      ETCD_INITIAL_CLUSTER: etcd1=http://etcd1:2380,etcd2=http://etcd2:2380\n    ports: [\"2379\"]\n    volumes: [shared:/bitnami/etcd]\n  etcd2:\n    image: bitnami/etcd:3.5\n    restart: always\n    environment:\n      ETCD_NAME: etcd2\n      ETCD_INITIAL_CLUSTER_TOKEN: cluster-1\n      ETCD_INITIAL_CLUSTER: etcd1=http://etcd1:2380,etcd2=http://etcd2:2380\n    ports: [\"2379\"]\n    volumes: [shared:/bitnami/etcd]\nvolumes: {zones: , pg: , shared: }\n",
        &[],
    )
    .unwrap();
    let dns = spec(&made, "dns");
    let ports: Vec<(&str, &str)> = dns["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let protocol = p.get("protocol").and_then(|p| p.as_str());
            (p["name"].as_str().unwrap(), protocol.unwrap_or("tcp"))
        })
        .collect();
    assert_eq!(ports, [("dns", "udp"), ("dns-tcp", "tcp")]);
    let db = spec(&made, "db");
    assert_eq!(db["backends"]["compose"]["publish"].as_bool(), Some(false));
    assert_eq!(
        text(db, &["container", "env", "POSTGRES_PASSWORD_FILE"]),
        "/run/secrets/pw"
    );
    let etcd = spec(&made, "etcd");
    assert_eq!(
        text(etcd, &["container", "env", "ETCD_INITIAL_CLUSTER_TOKEN"]),
        "cluster-1"
    );
    assert_eq!(
        text(etcd, &["container", "env", "ETCD_INITIAL_CLUSTER"]),
        "{{peers.[0].host}}=http://{{peers.[0].host}}:2380,{{peers.[1].host}}=http://{{peers.[1].host}}:2380"
    );
    assert!(etcd["backends"]["compose"].get("publish").is_none());
    let notes = comments(&made, "etcd");
    for note in [
        "# - `ports: 2379`: compose publishes it on a random host port",
        "# - volume `shared` at `/bitnami/etcd`: every member mounts this one Compose volume",
    ] {
        assert!(notes.contains(note), "no {note}:\n{notes}");
    }
}

/// Item 11: the mistakes real files have are named at their line: anonymous access, a floating
/// tag (once for a line every member shares), a dependency that does not wait for a health
/// check, and a secret in a committed `.env`, whose value the report never shows.
#[test]
fn the_mistakes_real_files_have_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let compose = "x-etcd: &etcd\n  image: bitnami/etcd:latest\n  restart: always\n  environment:\n    ALLOW_NONE_AUTHENTICATION: \"yes\"\n    ETCD_INITIAL_CLUSTER: etcd1=http://etcd1:2380,etcd2=http://etcd2:2380,etcd3=http://etcd3:2380\n  healthcheck:\n    test: [CMD, etcdctl, endpoint, health]\nservices:\n  etcd1:\n    <<: *etcd\n    volumes: [e1:/bitnami/etcd]\n  etcd2:\n    <<: *etcd\n    volumes: [e2:/bitnami/etcd]\n  etcd3:\n    <<: *etcd\n    volumes: [e3:/bitnami/etcd]\n  app:\n    image: ghcr.io/example/app:1.2\n    depends_on: [etcd1]\nvolumes: {e1: , e2: , e3: }\n";
    std::fs::write(dir.path().join("compose.yaml"), compose).unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "# settings\nAPP_ADMIN_PASSWORD=hunter22\nLEVEL=debug\n",
    )
    .unwrap();
    let made = import(&dir.path().join("compose.yaml"), &[])
        .unwrap_or_else(|(e, _)| panic!("{}", e.message));
    let count = |code: &str| made.findings.iter().filter(|d| d.code == code).count();
    assert_eq!(count("import/anonymous-access"), 1);
    assert_eq!(count("import/floating-tag"), 1);
    assert_eq!(count("import/not-waiting-for-health"), 1);
    assert_eq!(count("import/secret-in-dotenv"), 1);
    let rendered = berth_diagnostic::render(&made.findings, &made.sources, false);
    assert!(
        rendered.contains("APP_ADMIN_PASSWORD=********"),
        "{rendered}"
    );
    assert!(!rendered.contains("hunter22"), "{rendered}");
    // Kept out of the repository, `.env` is not a finding.
    std::fs::write(dir.path().join(".gitignore"), "target/\n.env\n").unwrap();
    let made = import(&dir.path().join("compose.yaml"), &[])
        .unwrap_or_else(|(e, _)| panic!("{}", e.message));
    assert!(
        !made
            .findings
            .iter()
            .any(|d| d.code == "import/secret-in-dotenv")
    );
}

/// Issue 32, item 9: members that wait for each other's health import as members that start
/// together, as the report (`import/members-gated-on-health`) says berth starts them; members
/// that only wait for each other to start keep their order.
#[test]
fn members_gated_on_health_start_together() {
    let cluster = |depends: &str| {
        let member = |n: u32| {
            let after = if n == 1 {
                String::new()
            } else {
                format!(
                    "\n    depends_on:{}",
                    depends.replace("PREV", &format!("etcd{}", n - 1))
                )
            };
            format!(
                "  etcd{n}:\n    image: quay.io/coreos/etcd:v3.5.15\n    restart: always\n    volumes: [etcd{n}:/etcd-data]{after}\n"
            )
        };
        format!(
            "services:\n{}{}{}volumes: {{etcd1: , etcd2: , etcd3: }}\n",
            member(1),
            member(2),
            member(3)
        )
    };
    let start = |compose: &str| {
        let made = import_text(compose, &[]).unwrap();
        let replication = spec(&made, "etcd")["replication"]
            .as_table()
            .unwrap()
            .clone();
        replication
            .get("start")
            .and_then(|s| s.as_str())
            .map(str::to_string)
    };
    let healthy = cluster("\n      PREV:\n        condition: service_healthy");
    assert_eq!(start(&healthy), None, "{healthy}");
    let started = cluster(" [PREV]");
    assert_eq!(start(&started).as_deref(), Some("ordered"), "{started}");
}

/// Issue 32, item 9: a secret's key that is not the Compose file's own name says it is a guess.
#[test]
fn renamed_secret_keys_are_marked_guessed() {
    let made = import_text(
        "services:\n  db:\n    image: postgres:16.4\n    restart: always\n    environment:\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n    secrets: [_db_pass, tls-key]\n    volumes: [data:/var/lib/postgresql/data]\nvolumes:\n  data:\nsecrets:\n  _db_pass:\n    external: true\n  tls-key:\n    external: true\n",
        &[],
    )
    .unwrap();
    let text = comments(&made, "db");
    let comment_of = |line_start: &str| {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .unwrap_or_else(|| panic!("no `{line_start}` in\n{text}"))
            .to_string()
    };
    assert!(
        comment_of("POSTGRES_PASSWORD").contains("guessed from `POSTGRES_PASSWORD`"),
        "{text}"
    );
    assert!(
        comment_of("key = \"db-pass\"").contains("guessed: the Compose file's secret `_db_pass`"),
        "{text}"
    );
    assert!(
        !comment_of("key = \"tls-key\"").contains("guessed"),
        "{text}"
    );
}

/// Issue 29, item 4: each member's volume is the Compose file's, named as compose names it
/// (`<project>_<key>`, or the volume's own `name`), so the outputs find the data already there.
#[test]
fn volumes_name_the_compose_files_docker_volumes() {
    let member = |n: u32| {
        format!(
            "  etcd{n}:\n    image: quay.io/coreos/etcd:v3.5.15\n    restart: always\n    volumes: [etcd{n}:/etcd-data]\n"
        )
    };
    let compose = |third: &str| {
        format!(
            "name: shop\nservices:\n{}{}{}volumes:\n  etcd1:\n  etcd2:\n  etcd3:{third}\n",
            member(1),
            member(2),
            member(3)
        )
    };
    let made = import_text(&compose(""), &[]).unwrap();
    let volumes = spec(&made, "etcd")["volumes"].as_array().unwrap();
    assert_eq!(
        volumes[0]["external"].as_str(),
        Some("shop_etcd{{add self.ordinal 1}}")
    );
    let made = import_text(&compose("\n    name: kept-3"), &[]).unwrap();
    let volumes = spec(&made, "etcd")["volumes"].as_array().unwrap();
    assert_eq!(
        volumes[0]["external"].as_str(),
        Some(
            "{{#if (eq self.ordinal \"0\")}}shop_etcd1{{else if (eq self.ordinal \"1\")}}shop_etcd2{{else}}kept-3{{/if}}"
        )
    );
}

/// A volume name Docker would refuse, or a project name compose would, gives no `external`: the
/// spec must compile.
#[test]
fn names_docker_refuses_name_no_external_volume() {
    let compose = |project: &str, name: &str| {
        format!(
            "name: \"{project}\"\nservices:\n  cache:\n    image: redis:7.4\n    restart: always\n    volumes: [data:/data]\nvolumes:\n  data:{name}\n"
        )
    };
    for (project, name) in [("$(id)", ""), ("shop", "\n    name: \"a b\"")] {
        let made = import_text(&compose(project, name), &[]).unwrap();
        let volumes = spec(&made, "cache")["volumes"].as_array().unwrap();
        let external = volumes[0].get("external").and_then(|e| e.as_str());
        assert!(
            external.is_none_or(berth_language::names::docker_volume),
            "{external:?}"
        );
    }
}
