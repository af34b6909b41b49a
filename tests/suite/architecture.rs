//! The stages depend downward only. The compiler refuses an import from a crate that is not a
//! dependency, and cargo refuses a cycle; what neither refuses is a new dependency on a sibling
//! or an upper stage that closes no cycle (one backend on another, `output` on `import`). The
//! workspace's `members` list the stages bottom-up (backends, one level, from `backends/*`):
//! each crate may depend only on crates listed before it, and no backend on another backend.

use std::collections::BTreeMap;
use std::path::Path;

/// The workspace's crates as `(name, level, berth dependencies)`, by level as listed.
fn crates() -> Vec<Crate> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest: toml::Table = read(&root.join("Cargo.toml"));
    let members = manifest["workspace"]["members"].as_array().unwrap();
    let mut crates = Vec::new();
    for (level, member) in members.iter().enumerate() {
        let pattern = root.join(member.as_str().unwrap()).join("Cargo.toml");
        for path in glob::glob(pattern.to_str().unwrap()).unwrap() {
            let manifest = read(&path.unwrap());
            let name = manifest["package"]["name"].as_str().unwrap().to_string();
            let dependencies = manifest
                .get("dependencies")
                .and_then(toml::Value::as_table)
                .map(|d| {
                    d.keys()
                        .filter(|k| k.starts_with("berth"))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            crates.push((name, level, dependencies));
        }
    }
    crates
}

fn read(path: &Path) -> toml::Table {
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

fn is_backend(name: &str) -> bool {
    name.starts_with("berth-backend-")
}

type Crate = (String, usize, Vec<String>);

/// Each dependency that is not on a stage below, or that joins two backends.
fn violations(crates: &[Crate]) -> Vec<String> {
    let level: BTreeMap<&str, usize> = crates.iter().map(|(n, l, _)| (n.as_str(), *l)).collect();
    let mut wrong = Vec::new();
    for (name, own, dependencies) in crates {
        for dependency in dependencies {
            let Some(&theirs) = level.get(dependency.as_str()) else {
                wrong.push(format!(
                    "{name} depends on {dependency}, which is not a member"
                ));
                continue;
            };
            let sideways = is_backend(name) && is_backend(dependency);
            let shared_below = dependency == "berth-backends-shared" && is_backend(name);
            if sideways || (theirs >= *own && !shared_below) {
                wrong.push(format!("{name} depends on {dependency}, not below it"));
            }
        }
    }
    wrong
}

#[test]
fn every_crate_depends_only_on_the_stages_below_it() {
    let crates = crates();
    // Every stage is a member, and every backend of the registry is a crate.
    assert!(crates.len() >= 17, "{crates:?}");
    let mut backends: Vec<&str> = crates
        .iter()
        .filter_map(|(n, _, _)| n.strip_prefix("berth-backend-"))
        .collect();
    backends.sort();
    let mut registered = berth_compile::registry::names();
    registered.sort();
    assert_eq!(backends, registered);
    let wrong = violations(&crates);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// What the check catches, on the real graph with one dependency added.
#[test]
fn a_dependency_sideways_or_up_is_caught() {
    let add = |from: &str, to: &str| {
        let mut crates = crates();
        let entry = crates.iter_mut().find(|(n, _, _)| n == from).unwrap();
        entry.2.push(to.to_string());
        violations(&crates)
    };
    assert_eq!(
        add("berth-backend-compose", "berth-backend-docker"),
        ["berth-backend-compose depends on berth-backend-docker, not below it"]
    );
    assert_eq!(
        add("berth-output", "berth-import"),
        ["berth-output depends on berth-import, not below it"]
    );
    assert_eq!(
        add("berth-backends-shared", "berth-backend-docker"),
        ["berth-backends-shared depends on berth-backend-docker, not below it"]
    );
}
