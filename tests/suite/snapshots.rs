//! One insta snapshot per example and backend, holding every file the backend writes, under
//! `snapshots/`, for the backends each example targets. A snapshot without a matching example and
//! backend fails the suite.

use crate::common::*;
use berth::compile::{Request, compile};

fn snapshot_name(example: &str, backend: &str) -> String {
    format!("{example}@{backend}")
}

/// The backends a spec compiles for: its `targets`, or every backend.
fn backends_of(spec: &std::path::Path) -> Vec<String> {
    targets(spec).unwrap_or_else(|| {
        berth::compile::registry::names()
            .into_iter()
            .map(String::from)
            .collect()
    })
}

#[test]
fn every_example_and_backend_matches_its_snapshot() {
    snapshot_settings().bind(|| {
        for (example, path) in examples() {
            for backend in backends_of(&path) {
                let outcome = compile(&Request {
                    spec: path.clone(),
                    set: vec![],
                    values: None,
                    backends: vec![backend.to_string()],
                    allow_read: vec![],
                    deployed: None,
                });
                assert_eq!(
                    outcome.exit_code(),
                    0,
                    "{example} does not compile for {backend}"
                );
                let mut all = String::new();
                for file in &outcome.outputs[0].files {
                    all.push_str(&format!(
                        "=== {backend}/{} ===\n{}",
                        file.path, file.contents
                    ));
                }
                insta::assert_snapshot!(snapshot_name(&example, &backend), all);
            }
        }
    });
}

#[test]
fn no_snapshot_is_an_orphan() {
    let expected: Vec<String> = examples()
        .iter()
        .flat_map(|(example, path)| {
            let backends = backends_of(path)
                .into_iter()
                .map(move |b| format!("{}.snap", snapshot_name(example, &b)));
            // tests/suite/diff.rs keeps the concern table of each example in each format.
            let tables = ["text", "json", "markdown"].map(|f| format!("{example}@diff-{f}.snap"));
            backends.chain(tables)
        })
        .collect();
    for entry in std::fs::read_dir(root().join("snapshots")).expect("snapshots/ exists") {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            expected.contains(&name),
            "orphan snapshot `snapshots/{name}`: no example and backend makes it; delete it"
        );
    }
}
