//! Every example's output checked by tools nobody on this team wrote: `kubernetes-validate
//! --strict` at the oldest and newest Kubernetes the output is typed for (1.35, 1.37), kustomize,
//! checkov, and PyYAML (a YAML 1.1 reader) for type round trips.

use crate::common::*;
use std::path::Path;
use std::process::Command;

fn yaml_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = tree(dir)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.ends_with(".yaml"))
        .map(|p| dir.join(p).to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

#[test]
fn kubernetes_output_passes_kubernetes_validate_strict() {
    let Some(validator) = tool("kubernetes-validate") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    compile_all_specs(dir.path(), &["kubernetes"]);
    let files = yaml_files(dir.path());
    assert!(
        files.len() >= 25,
        "expected every example's manifests, found {files:?}"
    );
    assert_kubernetes_validate(&validator, &files);

    // The validator must be able to fail: a misspelt field in a copy of a real manifest is refused.
    let sts = files.iter().find(|f| f.contains("statefulset")).unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        std::fs::read_to_string(sts)
            .unwrap()
            .replace("serviceName:", "serviceNam:"),
    )
    .unwrap();
    let output = Command::new(&validator)
        .args(["--strict", "-k", "1.35.0"])
        .arg(&broken)
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "kubernetes-validate accepted a misspelt field"
    );
}

#[test]
fn kustomization_builds_with_kubectl_kustomize() {
    let Some(kubectl) = tool("kubectl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    compile_all_specs(dir.path(), &["kubernetes"]);
    for (name, _) in all_specs() {
        let k = dir.path().join(&name).join("kubernetes");
        let output = Command::new(&kubectl)
            .arg("kustomize")
            .arg(&k)
            .output()
            .unwrap();
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        let built = stdout(&output);
        assert_eq!(
            built.matches("\nkind: ").count() + usize::from(built.starts_with("kind: ")),
            yaml_files(&k).len(),
            "{name}: kustomize emits every object"
        );
    }
}

/// Strings that YAML 1.1 readers (PyYAML, kubectl's) would read as bool, int, float, null or date
/// come back as the same strings.
#[test]
fn yaml_1_1_readers_get_the_same_strings_back() {
    let Some(python) = tool("python3") else {
        return;
    };
    let tricky = [
        "yes",
        "no",
        "on",
        "off",
        "y",
        "N",
        "true",
        "0755",
        "0o17",
        "1_000",
        "2024-01-01",
        "2001-12-14t21:59:43.10-05:00",
        "~",
        "null",
        "1e3",
        ".5",
        "12:30:00",
        "0x1F",
        "+1",
        ".NaN",
        "- a",
        "a: b",
        "#c",
        "'q'",
        "\"dq\"",
        "multi\nline",
        "trailing ",
        " leading",
        "@at",
        "`tick`",
        "{x}",
        "[y]",
        "*star",
        "&amp",
        "!bang",
        "%pct",
        "|pipe",
        ">gt",
        "---",
        "...",
        "ünïcödé",
        "tab\there",
    ];
    let mut spec = String::from("name = \"db\"\n[container]\nimage = \"x:1\"\nargs = [");
    spec.push_str(
        &tricky
            .iter()
            .map(|s| toml::Value::String(s.to_string()).to_string())
            .collect::<Vec<_>>()
            .join(", "),
    );
    spec.push_str("]\n[[volumes]]\nname = \"d\"\npath = \"/d\"\nsize = \"1Gi\"\nclass = \"yes\"\n");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "spec.toml", &spec);
    let output = compile_in(dir.path(), "spec.toml", &["--backend", "kubernetes"]);
    assert_exit(&output, 0, &[]);
    let script = "import json, sys, yaml\nd = yaml.safe_load(open(sys.argv[1]))\nspec = d['spec']\nprint(json.dumps({'args': spec['template']['spec']['containers'][0]['args'], 'class': spec['volumeClaimTemplates'][0]['spec']['storageClassName']}))\n";
    let output = Command::new(&python)
        .args(["-c", script])
        .arg(dir.path().join("out/kubernetes/40-statefulset-db.yaml"))
        .output()
        .unwrap();
    assert!(output.status.success(), "PyYAML: {}", stderr(&output));
    let read: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    // Kubernetes reduces `$$` to `$`; none of these hold `$`, so they must come back unchanged.
    let args: Vec<&str> = read["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().expect("read back as a string"))
        .collect();
    assert_eq!(args, tricky);
    assert_eq!(read["class"], "yes");
}

/// checkov on every spec's Kubernetes output: each finding is justified in the backend README's
/// checkov table, and each row there is still needed.
#[test]
fn checkov_findings_are_fixed_or_justified() {
    let Some(checkov) = tool("checkov") else {
        return;
    };
    let readme = std::fs::read_to_string(root().join("backends/kubernetes/README.md")).unwrap();
    let table = &readme[readme.find("## checkov").unwrap()..];
    let table = &table[..table[3..].find("\n## ").map_or(table.len(), |end| end + 3)];
    let justified: std::collections::BTreeSet<String> = table
        .lines()
        .filter(|line| line.starts_with("| `CKV"))
        .flat_map(|line| {
            let first_cell = line.split(" | ").next().unwrap().to_string();
            first_cell
                .split('`')
                .filter(|word| word.starts_with("CKV"))
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    // One run over every spec's files (checkov takes seconds to start), file by file: it skips
    // hidden directories such as the temporary one.
    let mut command = Command::new(&checkov);
    command
        .args([
            "--framework",
            "kubernetes",
            "--quiet",
            "--compact",
            "--skip-download",
        ])
        .args(["--output", "json"]);
    for name in compile_all_specs(dir.path(), &["kubernetes"]) {
        for file in yaml_files(&dir.path().join(&name).join("kubernetes")) {
            command.arg("--file").arg(file);
        }
    }
    let output = command.output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("checkov printed no JSON ({e}): {}", stderr(&output)));
    assert!(
        report["summary"]["passed"].as_u64() > Some(100)
            && report["summary"]["parsing_errors"] == 0,
        "checkov checked nothing or could not parse the output: {}",
        report["summary"]
    );
    let mut found = std::collections::BTreeSet::new();
    for failed in report["results"]["failed_checks"].as_array().unwrap() {
        let id = failed["check_id"].as_str().unwrap().to_string();
        assert!(
            justified.contains(&id),
            "checkov finding {id} ({}) on {} in {} is neither fixed nor justified in backends/kubernetes/README.md",
            failed["check_name"],
            failed["resource"],
            failed["file_path"]
        );
        found.insert(id);
    }
    let stale: Vec<&String> = justified.difference(&found).collect();
    assert!(
        stale.is_empty(),
        "justified but no longer found, remove the rows: {stale:?}"
    );
}
