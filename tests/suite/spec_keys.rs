//! Every key of the spec language, traced to where it lands in the Kubernetes output
//! (tests/specs/everything.toml uses them all), plus the defaults when keys are left out.

use crate::common::*;
use serde_json::{Value, json};
use std::path::Path;

fn load(dir: &Path, file: &str) -> Value {
    let text = std::fs::read_to_string(dir.join("out/kubernetes").join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_saphyr::from_str(&text).unwrap()
}

/// Compiles for Kubernetes, where every key of the spec has a place.
fn compile_spec(dir: &Path, spec: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--backend", "kubernetes"];
    args.extend(extra);
    stderr(&compile_ok(dir, spec.to_str().unwrap(), &args))
}

#[test]
fn every_key_lands_where_it_should() {
    let dir = tempfile::tempdir().unwrap();
    let summary = compile_spec(dir.path(), &root().join("tests/specs/everything.toml"), &[]);
    let ns = "everything-ns";
    let host = |i: u32| format!("everything-{i}.everything.{ns}.svc.cluster.example");

    let sts = load(dir.path(), "40-statefulset-everything.yaml");
    assert_eq!(
        sts["metadata"]["namespace"], ns,
        "backends.kubernetes.namespace (a template)"
    );
    assert_eq!(
        sts["metadata"]["annotations"]["berth.dev/description"],
        "uses every key of the spec language"
    );
    let spec = &sts["spec"];
    assert_eq!(
        spec["replicas"], 5,
        "replication.replicas from params.replicas"
    );
    assert_eq!(spec["podManagementPolicy"], "Parallel", "replication.start");
    assert_eq!(spec["serviceName"], "everything");
    let pod = &spec["template"]["spec"];
    assert_eq!(
        pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"],
        100,
        "replication.spread = preferred"
    );
    assert_eq!(
        pod["terminationGracePeriodSeconds"], 90,
        "lifecycle.stop_grace"
    );
    assert_eq!(pod["securityContext"]["runAsUser"], 1001, "container.user");
    assert_eq!(pod["securityContext"]["fsGroup"], 1001);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(
        c["image"], "example/db:ssd",
        "container.image with a string param"
    );
    assert_eq!(
        c["command"].as_array().unwrap().last(),
        Some(&json!("/bin/db")),
        "container.command, after the start script that places the keyfile"
    );
    let peers: Vec<String> = (0..5).map(host).collect();
    assert_eq!(
        c["args"],
        json!([
            "--me=$(BERTH_POD_NAME)",
            "--ordinal=$(BERTH_POD_ORDINAL)",
            format!("--host=$(BERTH_POD_NAME).everything.{ns}.svc.cluster.example"),
            format!("--peers={}", peers.join(",")),
            "--first=everything-0",
            "--port=7000",
            "--service=everything",
            "--cost=$$5 $$(HOME)",
        ]),
        "container.args: self, peers, peer_hosts, join, port, name, and `$` kept literal"
    );
    let env = c["env"].as_array().unwrap();
    let names: Vec<&str> = env.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "BERTH_POD_NAME",
            "BERTH_POD_ORDINAL",
            "ADVERTISE",
            "PASSWORD",
            "PLAIN"
        ],
        "identity variables come first"
    );
    assert_eq!(
        env[0]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    assert_eq!(
        env[1]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.labels['apps.kubernetes.io/pod-index']"
    );
    assert_eq!(
        env[3]["valueFrom"]["secretKeyRef"],
        json!({"name": "db-secret", "key": "password", "optional": false}),
        "a secret is a reference"
    );
    assert_eq!(env[4]["value"], "value");
    assert_eq!(
        c["ports"],
        json!([
            {"name": "client", "containerPort": 7000, "protocol": "TCP"},
            {"name": "gossip", "containerPort": 7001, "protocol": "UDP"},
            {"name": "peer", "containerPort": 5002, "protocol": "TCP"},
        ]),
        "ports: name, port (also from a template), protocol"
    );
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": {"path": "/live", "port": "client", "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 4, "initialDelaySeconds": 5})
    );
    assert_eq!(
        c["readinessProbe"],
        json!({"tcpSocket": {"port": "client"}, "periodSeconds": 10, "timeoutSeconds": 5}),
        "berth's defaults, the same on every backend"
    );
    assert_eq!(
        c["startupProbe"],
        json!({"exec": {"command": ["/bin/db", "ping"]}, "periodSeconds": 5, "timeoutSeconds": 5, "failureThreshold": 60})
    );
    assert_eq!(
        c["resources"],
        json!({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}})
    );
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(
        c["volumeMounts"],
        json!([
            {"name": "data", "mountPath": "/var/lib/db"},
            {"name": "imported", "mountPath": "/var/lib/imported"},
            {"name": "scratch", "mountPath": "/tmp/scratch"},
            {"name": "berth-tls", "mountPath": "/certs", "readOnly": true},
            {"name": "berth-files", "mountPath": "/etc/db/member.conf", "readOnly": true, "subPathExpr": "$(BERTH_POD_NAME).0-member.conf"},
            {"name": "berth-files", "mountPath": "/etc/db/shared.conf", "readOnly": true, "subPath": "1-shared.conf"},
            {"name": "berth-secret-2", "mountPath": "/run/berth/files/2-keyfile", "readOnly": true, "subPath": "replication"},
        ])
    );
    assert_eq!(
        pod["volumes"][0],
        json!({"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}),
        "persistent = false is scratch space"
    );
    assert_eq!(
        pod["volumes"][1]["secret"]["secretName"], "db-tls",
        "tls.secret"
    );
    let claims = spec["volumeClaimTemplates"].as_array().unwrap();
    assert_eq!(claims.len(), 2, "only the persistent volumes get a claim");
    assert_eq!(
        claims[0]["spec"]["storageClassName"], "ssd-class",
        "volumes.class"
    );
    assert_eq!(
        claims[0]["spec"]["resources"]["requests"]["storage"], "10Gi",
        "volumes.size"
    );
    assert_eq!(claims[0]["spec"]["accessModes"], json!(["ReadWriteOnce"]));

    let headless = load(dir.path(), "20-service-everything.yaml");
    assert_eq!(headless["spec"]["clusterIP"], "None");
    assert_eq!(headless["spec"]["publishNotReadyAddresses"], true);
    assert_eq!(
        headless["spec"]["ports"].as_array().unwrap().len(),
        3,
        "peers reach every port"
    );
    let client = load(dir.path(), "21-service-everything-public.yaml");
    assert_eq!(
        client["spec"]["ports"],
        json!([{"name": "client", "port": 7000, "targetPort": "client", "protocol": "TCP"}]),
        "expose = peers stays out of the client service"
    );
    let pdb = load(dir.path(), "30-poddisruptionbudget-everything.yaml");
    assert_eq!(
        pdb["spec"]["maxUnavailable"], 2,
        "5 replicas keep a majority of 3"
    );
    let job = load(dir.path(), "50-job-everything-init.yaml");
    let init = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(init["image"], "example/db-tools:1", "init.image");
    assert_eq!(
        init["command"],
        json!([
            "/bin/sh",
            "-c",
            format!(
                "/bin/db-admin init --host={}:7000 --password=\"$$PASSWORD\"",
                host(0)
            )
        ]),
        "init.command with peers, `$` escaped from Kubernetes' own expansion"
    );
    let secret =
        |key: &str| json!({"secretKeyRef": {"name": "db-secret", "key": key, "optional": false}});
    assert_eq!(
        init["env"],
        json!([
            {"name": "ADMIN_TOKEN", "valueFrom": secret("admin-token")},
            {"name": "FIRST", "value": host(0)},
            {"name": "PASSWORD", "valueFrom": secret("password")},
        ]),
        "init.env: literals rendered for the step, secrets from the Secret"
    );
    let quota = json!({"cpu": "250m", "memory": "512Mi"});
    assert_eq!(
        init["resources"],
        json!({"requests": quota, "limits": quota}),
        "init.resources"
    );
    assert_eq!(
        job["spec"]["template"]["spec"]["restartPolicy"],
        "OnFailure"
    );
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"], "init",
        "the job's pod is not selected as a member"
    );
    let class = load(dir.path(), "10-storageclass-ssd-class.yaml");
    assert_eq!(class["reclaimPolicy"], "Retain");
    assert_eq!(class["volumeBindingMode"], "WaitForFirstConsumer");
    assert_eq!(class["parameters"]["type"], "pd-ssd");
    let namespace = load(dir.path(), "00-namespace-everything-ns.yaml");
    assert_eq!(namespace["metadata"]["name"], ns, "create_namespace");
    let kustomization: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(dir.path().join("out/kubernetes/Kustomization")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        kustomization["resources"].as_array().unwrap().len(),
        16,
        "with the files ConfigMap, the two NetworkPolicies and six alias Services"
    );
    // network.aliases: one Service for the alias every member shares, one per member's own.
    let shared = load(dir.path(), "22-service-store.yaml");
    assert_eq!(shared["spec"]["clusterIP"], "None");
    assert_eq!(
        shared["spec"]["selector"]["statefulset.kubernetes.io/pod-name"],
        Value::Null
    );
    let own = load(dir.path(), "22-service-store-a3.yaml");
    assert_eq!(
        own["spec"]["selector"]["statefulset.kubernetes.io/pod-name"],
        "everything-3"
    );

    assert!(
        summary.contains(&format!("{}, ", host(4))) && summary.contains("db.example.com"),
        "tls names reported: {summary}"
    );
    assert!(summary.contains("everything-public.everything-ns.svc.cluster.example"));
}

#[test]
fn defaults_when_keys_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        dir.path(),
        "spec.toml",
        "name = \"solo\"\n[container]\nimage = \"x:1\"\n[[volumes]]\nname = \"d\"\npath = \"/d\"\nsize = \"1Gi\"\nclass = \"fast\"\n",
    );
    compile_spec(dir.path(), &spec, &[]);
    let sts = load(dir.path(), "40-statefulset-solo.yaml");
    assert_eq!(sts["metadata"]["namespace"], "default");
    assert_eq!(sts["spec"]["replicas"], 1);
    assert_eq!(sts["spec"]["podManagementPolicy"], "Parallel");
    assert_eq!(
        sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], 60,
        "stop_grace defaults to 60s"
    );
    assert!(
        sts["spec"]["template"]["spec"]["affinity"].is_null(),
        "one replica needs no anti-affinity"
    );
    assert!(
        sts["spec"]["template"]["spec"]["securityContext"]["runAsUser"].is_null(),
        "no user, no assumption about the image"
    );
    assert!(
        !dir.path()
            .join("out/kubernetes/30-poddisruptionbudget-solo.yaml")
            .exists(),
        "no budget that would block a drain at 1 replica"
    );
    assert!(
        !dir.path()
            .join("out/kubernetes/21-service-solo-public.yaml")
            .exists(),
        "no public ports, no client service"
    );
}

#[test]
fn spread_required_and_even_quorum_budgets() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        dir.path(),
        "spec.toml",
        "name = \"pair\"\n[container]\nimage = \"x:1\"\n[[volumes]]\nname = \"d\"\npath = \"/d\"\nsize = \"1Gi\"\nclass = \"fast\"\n[replication]\nreplicas = 2\nquorum = \"majority\"\n",
    );
    compile_spec(dir.path(), &spec, &[]);
    let sts = load(dir.path(), "40-statefulset-pair.yaml");
    assert!(sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"].is_array(), "spread defaults to required above 1 replica");
    let pdb = load(dir.path(), "30-poddisruptionbudget-pair.yaml");
    assert_eq!(
        pdb["spec"]["maxUnavailable"], 1,
        "a majority of 2 is 2, but the budget never blocks a drain"
    );
}

/// `[[files]]` on every backend: per-member content, a `source` beside the spec, and a secret
/// with an owner, each where the backend puts files, with its mode.
#[test]
fn files_land_where_each_backend_puts_them() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("tests/specs/everything.toml");
    compile_ok(dir.path(), spec.to_str().unwrap(), &[]);
    let out = dir.path().join("out");
    let read = |path: &str| {
        std::fs::read_to_string(out.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let yaml = |path: &str| serde_saphyr::from_str::<Value>(&read(path)).unwrap();
    let member_conf = |i: usize| format!("me = everything-{i}\n");
    let shared = "# shared by every member of everything\ntier = ssd\n";

    // Kubernetes: one ConfigMap key per member for the file that names the member, one key for
    // the shared file; the Secret's key projected with mode 0400 and copied into place for its owner.
    let config_map = yaml("kubernetes/15-configmap-everything-files.yaml");
    assert!(
        config_map["data"]["everything-3.0-member.conf"]
            .as_str()
            .unwrap()
            .starts_with(&member_conf(3))
    );
    assert_eq!(config_map["data"]["1-shared.conf"], shared);
    let sts = yaml("kubernetes/40-statefulset-everything.yaml");
    let pod = &sts["spec"]["template"];
    assert!(
        pod["metadata"]["annotations"]["berth.dev/files"].is_string(),
        "a changed file rolls the pods"
    );
    let mounts = pod["spec"]["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap();
    let mount = |path: &str| {
        mounts
            .iter()
            .find(|m| m["mountPath"] == path)
            .unwrap_or_else(|| panic!("{path} is not mounted: {mounts:?}"))
    };
    assert_eq!(
        mount("/etc/db/member.conf")["subPathExpr"],
        "$(BERTH_POD_NAME).0-member.conf"
    );
    assert_eq!(mount("/etc/db/shared.conf")["subPath"], "1-shared.conf");
    assert_eq!(
        mount("/run/berth/files/2-keyfile")["subPath"],
        "replication"
    );
    let volumes = pod["spec"]["volumes"].as_array().unwrap();
    let secret = volumes
        .iter()
        .find(|v| v["secret"]["secretName"] == "db-keys")
        .unwrap();
    assert_eq!(secret["secret"]["items"][0]["mode"], 0o400);
    let files = volumes.iter().find(|v| v["name"] == "berth-files").unwrap();
    assert!(
        files["configMap"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["key"] == "1-shared.conf" && i["mode"] == 0o640)
    );
    let command = pod["spec"]["containers"][0]["command"].as_array().unwrap();
    assert_eq!(command[0], "/bin/sh");
    assert!(command[2].as_str().unwrap().contains("cp /run/berth/files/2-keyfile /etc/db/keyfile && chown 1001 /etc/db/keyfile && chmod 0400 /etc/db/keyfile && exec \"$$0\" \"$$@\""), "{command:?}");
    assert_eq!(command[3], "/bin/db", "then the spec's command");

    // docker run and compose: each member's files beside the script, with their modes.
    for backend in ["docker", "compose"] {
        for i in 0..5 {
            assert!(
                read(&format!("{backend}/files/everything-{i}/0-member.conf"))
                    .starts_with(&member_conf(i))
            );
        }
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::metadata(out.join(format!("{backend}/files/everything-0/1-shared.conf")))
                .unwrap()
                .permissions()
                .mode();
        assert_eq!(mode & 0o777, 0o640);
    }
    let compose = yaml("compose/compose.yaml");
    let binds = compose["services"]["everything-2"]["volumes"]
        .as_array()
        .unwrap();
    assert!(binds.iter().any(|v| v["type"] == "bind"
        && v["source"] == "./files/everything-2/0-member.conf"
        && v["target"] == "/etc/db/member.conf"
        && v["read_only"] == true));
    assert!(
        binds
            .iter()
            .any(|v| v["source"] == "./secrets/db-keys/replication"
                && v["target"] == "/run/berth/files/2-keyfile")
    );
    assert!(compose["services"]["everything-2"]["labels"]["berth.files"].is_string());
    // volumes.external: each member's existing volume, rendered for it.
    assert_eq!(
        compose["volumes"]["everything-0-imported"],
        json!({"name": "legacy_first", "external": true})
    );
    assert_eq!(
        compose["volumes"]["everything-2-imported"],
        json!({"name": "legacy_db3", "external": true})
    );
    // network: the shared network by its name, each member with its aliases.
    assert_eq!(compose["networks"]["shop"], json!({"name": "shop"}));
    assert_eq!(
        compose["services"]["everything-1"]["networks"],
        json!({"shop": {"aliases": ["store", "store-a1"]}})
    );
    let run = read("docker/run.sh");
    assert!(run.contains("\nnetwork=shop\n"), "{run}");
    assert!(
        run.contains("--network-alias store \\\n  --network-alias store-a1 \\"),
        "{run}"
    );
    assert!(
        run.contains("existing_volume legacy_db3 everything-2\n"),
        "{run}"
    );
    assert!(
        run.contains("--volume \"$here\"/files/everything-1/0-member.conf:/etc/db/member.conf:ro"),
        "{run}"
    );
    assert!(
        run.contains("[ -f \"$here\"/secrets/db-keys/replication ]"),
        "run.sh checks the secret file"
    );

    // Swarm: configs named by content, secrets external, both with owner and mode.
    let stack = yaml("swarm/members/everything-4.yaml");
    let service = &stack["services"]["everything-4"];
    assert_eq!(
        stack["networks"]["shop"],
        json!({"name": "shop", "external": true})
    );
    assert_eq!(
        service["networks"]["shop"]["aliases"],
        json!(["store", "store-a4"])
    );
    assert!(read("swarm/deploy.sh").contains("\nshared_network=shop\n"));
    let config = service["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["target"] == "/etc/db/shared.conf")
        .unwrap();
    assert_eq!(config["mode"], 0o640);
    let decl = &stack["configs"][config["source"].as_str().unwrap()];
    assert_eq!(decl["file"], "../files/everything-4/1-shared.conf");
    assert!(
        decl["name"]
            .as_str()
            .unwrap()
            .starts_with("everything-4-1-")
    );
    let keyfile = service["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["target"] == "/etc/db/keyfile")
        .unwrap();
    assert_eq!(
        (
            keyfile["source"].as_str(),
            keyfile["uid"].as_str(),
            keyfile["mode"].as_u64()
        ),
        (Some("db-keys.replication"), Some("1001"), Some(0o400))
    );
    assert_eq!(stack["secrets"]["db-keys.replication"]["external"], true);

    // Marathon and Cloud Foundry: a start script writes the files.
    let marathon: Value = serde_json::from_str(&read("marathon/everything-1.json")).unwrap();
    let script = marathon["args"][1].as_str().unwrap();
    assert!(
        script.contains("printf '%s' 'me = everything-1\n"),
        "{script}"
    );
    assert!(
        script.contains("printf '%s' \"$BERTH_FILE_2\" > /etc/db/keyfile"),
        "{script}"
    );
    assert_eq!(marathon["env"]["BERTH_FILE_2"]["secret"], "file-2");
    let cf = yaml("cloudfoundry/manifest.yml");
    let command = cf["applications"][0]["command"].as_str().unwrap();
    assert!(
        command.contains("printf '%s' 'me = everything-'\"$CF_INSTANCE_INDEX\"'"),
        "{command}"
    );
    assert_eq!(
        cf["applications"][0]["env"]["BERTH_FILE_2"],
        "((db-keys-replication))"
    );
}

/// `[backends.kubernetes] version` and `zone_spread`, and what an expert expects around the
/// members: a budget that keeps unready members, a zone spread, a NetworkPolicy that admits
/// peers-only ports from members only, and an init Job a ResourceQuota admits.
#[test]
fn kubernetes_version_zone_spread_and_network_policy() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("examples/etcd.toml");
    compile_spec(dir.path(), &spec, &[]);
    let budget = load(dir.path(), "30-poddisruptionbudget-etcd.yaml");
    assert_eq!(
        budget["spec"]["unhealthyPodEvictionPolicy"], "IfHealthyBudget",
        "GA since 1.31, so in the default target"
    );
    let pod = &load(dir.path(), "40-statefulset-etcd.yaml")["spec"]["template"]["spec"];
    let zones = &pod["topologySpreadConstraints"][0];
    assert_eq!(zones["topologyKey"], "topology.kubernetes.io/zone");
    assert_eq!(
        zones["whenUnsatisfiable"], "ScheduleAnyway",
        "preferred by default"
    );
    assert_eq!(zones["maxSkew"], 1);
    let policy = load(dir.path(), "35-networkpolicy-etcd.yaml");
    let rules = policy["spec"]["ingress"].as_array().unwrap();
    let port_rule = |port: u64| {
        rules
            .iter()
            .find(|r| {
                r["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["port"] == port)
            })
            .unwrap_or_else(|| panic!("no rule admits {port}"))
    };
    assert!(
        port_rule(2379)["from"].is_null(),
        "the client port admits anyone"
    );
    assert_eq!(
        port_rule(2380)["from"][0]["podSelector"]["matchLabels"],
        policy["spec"]["podSelector"]["matchLabels"],
        "the peer port admits members only"
    );

    let older = write(
        dir.path(),
        "older.toml",
        &std::fs::read_to_string(&spec).unwrap().replace(
            "[backends.kubernetes]\n",
            "[backends.kubernetes]\nversion = \"1.30\"\nzone_spread = \"required\"\n",
        ),
    );
    // Older than the output is typed for and validated against: refused.
    let refused = berth(
        &[
            "compile",
            older.to_str().unwrap(),
            "--out",
            "older",
            "--backend",
            "kubernetes",
        ],
        dir.path(),
    );
    assert_exit(
        &refused,
        2,
        &[
            "`backends.kubernetes.version` `1.30`",
            "\"1.35\"",
            "\"1.37\"",
        ],
    );
    let newest = write(
        dir.path(),
        "newest.toml",
        &std::fs::read_to_string(&older)
            .unwrap()
            .replace("\"1.30\"", "\"1.37\""),
    );
    compile_spec(dir.path(), &newest, &[]);
    let pod = &load(dir.path(), "40-statefulset-etcd.yaml")["spec"]["template"]["spec"];
    assert_eq!(
        pod["topologySpreadConstraints"][0]["whenUnsatisfiable"],
        "DoNotSchedule"
    );

    compile_spec(dir.path(), &root().join("examples/cockroachdb.toml"), &[]);
    let members = load(dir.path(), "40-statefulset-cockroachdb.yaml");
    assert!(
        members["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .contains(&json!("--logtostderr")),
        "CockroachDB logs where `kubectl logs` reads, as Cockroach Labs' manifest has it"
    );
    let job = load(dir.path(), "50-job-cockroachdb-init.yaml");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert!(container["resources"]["requests"]["cpu"].is_string());
    assert_eq!(
        container["resources"]["limits"],
        container["resources"]["requests"]
    );
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"][0],
        "ALL"
    );
    assert_eq!(
        job["spec"]["ttlSecondsAfterFinished"], 3600,
        "done_output makes a re-created Job safe"
    );
    let init_policy = load(dir.path(), "51-networkpolicy-cockroachdb-init.yaml");
    assert_eq!(
        init_policy["spec"]["ingress"],
        json!([]),
        "the init pod admits nothing"
    );

    // `[tls] group` without `container.user`: the keys are readable by the image's group, and
    // the image still chooses its user.
    let keys = write(
        dir.path(),
        "keys.toml",
        "name = \"pg\"\n[container]\nimage = \"postgres:16.4\"\n[[volumes]]\nname = \"data\"\npath = \"/var/lib/postgresql/data\"\nsize = \"1Gi\"\nclass = \"x\"\n[tls]\nsecret = \"pg-tls\"\npath = \"/certs\"\ngroup = 999\n",
    );
    let summary = compile_spec(dir.path(), &keys, &[]);
    assert!(!summary.contains("tls-keys-root-only"), "{summary}");
    let pod = load(dir.path(), "40-statefulset-pg.yaml");
    let security = &pod["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(security["fsGroup"], 999);
    assert!(security["runAsUser"].is_null());
}

/// One probe default everywhere: a check without `interval` or `timeout` gets 10 s and 5 s on
/// every backend that runs checks by time.
#[test]
fn checks_without_timings_get_the_same_defaults_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        dir.path(),
        "spec.toml",
        "name = \"db\"\n[container]\nimage = \"postgres:16.4\"\n[[ports]]\nname = \"pg\"\nport = 5432\n[[volumes]]\nname = \"data\"\npath = \"/var/lib/postgresql/data\"\nsize = \"1Gi\"\nclass = \"x\"\n[health.liveness]\ntcp = \"pg\"\n[backends.cloudfoundry]\nvolume_services = { data = \"db-nfs\" }\n",
    );
    compile_ok(dir.path(), spec.to_str().unwrap(), &[]);
    let read = |file: &str| std::fs::read_to_string(dir.path().join("out").join(file)).unwrap();
    let yaml = |file: &str| -> Value { serde_saphyr::from_str(&read(file)).unwrap() };
    let probe = &yaml("kubernetes/40-statefulset-db.yaml")["spec"]["template"]["spec"]["containers"]
        [0]["livenessProbe"];
    assert_eq!(
        (&probe["periodSeconds"], &probe["timeoutSeconds"]),
        (&json!(10), &json!(5))
    );
    let compose = &yaml("compose/compose.yaml")["services"]["db-0"]["healthcheck"];
    assert_eq!(
        (&compose["interval"], &compose["timeout"]),
        (&json!("10s"), &json!("5s"))
    );
    let swarm = &yaml("swarm/stack.yaml")["services"]["db-0"]["healthcheck"];
    assert_eq!(
        (&swarm["interval"], &swarm["timeout"]),
        (&json!("10s"), &json!("5s"))
    );
    assert!(read("docker/run.sh").contains("--health-interval 10s \\\n  --health-timeout 5s"));
    let marathon: Value = serde_json::from_str(&read("marathon/db-0.json")).unwrap();
    let check = &marathon["healthChecks"][0];
    assert_eq!(
        (&check["intervalSeconds"], &check["timeoutSeconds"]),
        (&json!(10), &json!(5))
    );
    let app = &yaml("cloudfoundry/manifest.yml")["applications"][0];
    assert_eq!(app["health-check-invocation-timeout"], 5);
    assert_eq!(app["health-check-interval"], 10);
}
