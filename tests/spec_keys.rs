//! Every key of the spec language, traced to where it lands in the Kubernetes output
//! (tests/specs/everything.toml uses them all), plus the defaults when keys are left out.

mod common;
use common::*;
use serde_json::{Value, json};
use std::path::Path;

fn load(dir: &Path, file: &str) -> Value {
    let text = std::fs::read_to_string(dir.join("out/kubernetes").join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_saphyr::from_str(&text).unwrap()
}

/// Compiles for Kubernetes, where every key of the spec has a place.
fn compile_spec(dir: &Path, spec: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "compile",
        spec.to_str().unwrap(),
        "--out",
        "out",
        "--backend",
        "kubernetes",
    ];
    args.extend(extra);
    let output = berth(&args, dir);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stderr(&output)
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
    assert_eq!(c["command"], json!(["/bin/db"]));
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
        json!({"tcpSocket": {"port": "client"}})
    );
    assert_eq!(
        c["startupProbe"],
        json!({"exec": {"command": ["/bin/db", "ping"]}, "periodSeconds": 5, "failureThreshold": 60})
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
            {"name": "scratch", "mountPath": "/tmp/scratch"},
            {"name": "berth-tls", "mountPath": "/certs", "readOnly": true},
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
    assert_eq!(claims.len(), 1, "only the persistent volume gets a claim");
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
        json!(["/bin/db-admin", "init", format!("--host={}:7000", host(0))]),
        "init.command with peers"
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
    assert_eq!(kustomization["resources"].as_array().unwrap().len(), 7);

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
