//! The compile phases measured apart: parse, resolve, rules (a spec every backend refuses, so
//! lowering is skipped), rules and lowering (every backend), and the write; for one spec and
//! for 100 distinct specs. And `berth import` of clusters of growing size. `cargo bench --bench
//! phases`; results in docs/performance.md.

use berth::compile::{Request, compile_many, compile_text};
use berth::diagnostic::source::Sources;
use std::path::PathBuf;

// The allocator of the `berth` binary, so the phases cost what they cost there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

fn cockroachdb() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/cockroachdb.toml"
    ))
    .unwrap()
}

/// The example without its volume: every backend's no-persistent-volume rule refuses it.
fn refused() -> String {
    cockroachdb().replace("[[volumes]]\nname = \"datadir\"\npath = \"/cockroach/cockroach-data\"\nsize = \"{{params.storage_size}}\"\nclass = \"{{params.storage_class}}\"\n", "")
}

fn request() -> Request<'static> {
    Request {
        spec: PathBuf::from("cockroachdb.toml"),
        set: vec![],
        values: None,
        backends: vec![],
        allow_read: vec![],
        deployed: None,
    }
}

#[divan::bench]
fn parse() {
    let text = cockroachdb();
    let mut sources = Sources::default();
    let file = sources.add("cockroachdb.toml", text.clone());
    divan::black_box(berth::language::spec::parse(&text, file).unwrap());
}

#[divan::bench]
fn parse_and_resolve() {
    let text = cockroachdb();
    let mut sources = Sources::default();
    let file = sources.add("cockroachdb.toml", text.clone());
    let spec = berth::language::spec::parse(&text, file).unwrap().spec;
    let rules: Vec<&str> = berth::compile::registry::rules().map(|r| r.id).collect();
    let context = berth::resolve::Context {
        backends: &berth::compile::registry::names(),
        rules: &rules,
        spec_dir: std::path::Path::new("."),
        allow_read: &[],
    };
    divan::black_box(
        berth::resolve::resolve(spec, file, &text, &[], &context)
            .unwrap()
            .0,
    );
}

#[divan::bench]
fn parse_resolve_and_rules() {
    let outcome = compile_text(&request(), refused());
    assert!(outcome.outputs.iter().all(|o| o.files.is_empty()));
    divan::black_box(outcome);
}

#[divan::bench]
fn compile_one_spec_all_backends() {
    divan::black_box(compile_text(&request(), cockroachdb()));
}

#[divan::bench(sample_count = 20)]
fn compile_100_specs_all_backends(bencher: divan::Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let requests: Vec<Request> = (0..100)
        .map(|i| {
            let path = dir.path().join(format!("crdb{i}.toml"));
            std::fs::write(
                &path,
                cockroachdb().replace("name = \"cockroachdb\"", &format!("name = \"crdb{i}\"")),
            )
            .unwrap();
            Request {
                spec: path,
                set: vec![],
                values: None,
                backends: vec![],
                allow_read: vec![],
                deployed: None,
            }
        })
        .collect();
    bencher.bench(|| divan::black_box(compile_many(&requests)));
}

#[divan::bench(sample_count = 20)]
fn write_one_spec_all_backends(bencher: divan::Bencher) {
    let outcome = compile_text(&request(), cockroachdb());
    let files: Vec<berth::output::Planned> = outcome
        .outputs
        .iter()
        .flat_map(|o| {
            o.files.iter().map(move |f| berth::output::Planned {
                path: format!("{}/{}", o.backend, f.path),
                contents: f.contents.clone(),
                mode: f.mode,
            })
        })
        .collect();
    bencher.with_inputs(|| files.clone()).bench_values(|files| {
        let dir = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap();
        divan::black_box(berth::output::write(dir.path(), files, false).unwrap());
    });
}

/// `berth import` of an etcd cluster of `members` services, each listing every peer: the Compose
/// file grows with the square of the count, and so should the time, not faster.
#[divan::bench(args = [50, 100, 200], sample_count = 5)]
fn import_members(bencher: divan::Bencher, members: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compose.yaml");
    std::fs::write(&path, etcd_compose(members)).unwrap();
    bencher.bench(|| {
        let import = berth::import::import_reading(&path, &[], &[], Some("bench"));
        divan::black_box(import.ok())
    });
}

/// A Compose file of `members` etcd services, numbered from 1, each with its own volume.
fn etcd_compose(members: usize) -> String {
    let cluster: Vec<String> = (1..=members)
        .map(|i| format!("etcd{i}=http://etcd{i}:2380"))
        .collect();
    let mut text = String::from("services:\n");
    for i in 1..=members {
        text += &format!(
            "  etcd{i}:\n    image: quay.io/coreos/etcd:v3.5.17\n    restart: always\n    command: [etcd, --name, etcd{i}, --initial-advertise-peer-urls, \"http://etcd{i}:2380\", --initial-cluster, \"{}\"]\n    volumes: [\"etcd{i}:/etcd-data\"]\n",
            cluster.join(",")
        );
    }
    text += "volumes:\n";
    for i in 1..=members {
        text += &format!("  etcd{i}: {{}}\n");
    }
    text
}
