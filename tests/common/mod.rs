//! Helpers shared by the integration tests: running the binary, compiling in a scratch directory,
//! and finding the external validators that `scripts/test` installs.

#![allow(dead_code)]

pub mod engine;
pub mod nodes;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn berth(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("berth runs")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The example specs, sorted by name.
pub fn examples() -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(root().join("examples"))
        .expect("examples/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    found.sort();
    found
}

/// Every regular file below `dir`, as (relative path, bytes), sorted.
/// Fails if a staging directory of berth's remains in `out`.
pub fn assert_no_staging_left(out: &Path) {
    for entry in std::fs::read_dir(out).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(
            !name.to_string_lossy().starts_with(".berth-staging-"),
            "{name:?} left in {}",
            out.display()
        );
    }
}

pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// An external validator: from `$BERTH_TOOLS` (the venv `scripts/test` makes) or PATH.
/// Missing is a failure when `CI=true`, and a loud skip otherwise.
pub fn tool(name: &str) -> Option<PathBuf> {
    let from_env = std::env::var_os("BERTH_TOOLS")
        .map(|d| PathBuf::from(d).join(name))
        .filter(|p| p.exists());
    let found = from_env.or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.exists())
        })
    });
    if found.is_none() {
        engine::skip(&format!(
            "validator `{name}` is missing; run ./scripts/test to install it"
        ));
    }
    found
}

/// `berth compile SPEC --out out EXTRA...`, run in `dir`.
pub fn compile_in(dir: &Path, spec: &str, extra: &[&str]) -> Output {
    let mut args = vec!["compile", spec, "--out", "out"];
    args.extend(extra);
    berth(&args, dir)
}

/// `berth compile SPEC --out out EXTRA...`, run in `dir`, which must succeed.
#[track_caller]
pub fn compile_ok(dir: &Path, spec: &str, extra: &[&str]) -> Output {
    let output = compile_in(dir, spec, extra);
    assert_exit(&output, 0, &[]);
    output
}

/// The text of `examples/<name>.toml`, for a test to make a variant of.
pub fn example_text(name: &str) -> String {
    std::fs::read_to_string(root().join(format!("examples/{name}.toml"))).unwrap()
}

/// Compiles `examples/<name>.toml` into `out` of a new directory; returns the directory and `out`.
#[track_caller]
pub fn compile_example(name: &str, extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join(format!("examples/{name}.toml"));
    compile_ok(dir.path(), spec.to_str().unwrap(), extra);
    let out = dir.path().join("out");
    (dir, out)
}

/// Where and how the snapshots are kept: one file per example and backend under `snapshots/`.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings
}

/// `berth diff SPEC --backend kubernetes --against out --set SET`, run in `dir`: a change to an
/// earlier compile into `out`.
pub fn diff_kubernetes_with(dir: &Path, spec: &str, set: &str) -> Output {
    let args = [
        "diff",
        spec,
        "--backend",
        "kubernetes",
        "--against",
        "out",
        "--set",
        set,
    ];
    berth(&args, dir)
}

/// `kubernetes-validate --strict` accepts each of `files` at the oldest and the newest Kubernetes
/// release berth targets (1.35, 1.37).
pub fn assert_kubernetes_validate<F: AsRef<std::ffi::OsStr>>(validator: &Path, files: &[F]) {
    for release in ["1.35.0", "1.37.0"] {
        let output = Command::new(validator)
            .args(["--strict", "-k", release])
            .args(files)
            .output()
            .unwrap();
        let report = format!("{}{}", stdout(&output), stderr(&output));
        assert!(
            output.status.success(),
            "kubernetes-validate {release} refused the output:\n{report}"
        );
        assert_eq!(
            report.matches(" passed for resource ").count(),
            files.len(),
            "every file validated against {release}:\n{report}"
        );
    }
}

/// A deterministic generator of test inputs, so that a failure is seen again as it was.
pub struct Draw(pub u64);

impl Draw {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Secrets the examples reference, as the caller's environment would hold them.
pub const SECRET_ENV: [(&str, &str); 6] = [
    ("POSTGRES_PASSWORD", "pw"),
    ("PASSWORD", "pw"),
    ("ELASTIC_PASSWORD", "pw"),
    ("ADMIN_TOKEN", "tok"),
    ("MONGO_INITDB_ROOT_PASSWORD", "pw"),
    ("ZOO_SUPER_PASSWORD", "pw"),
];

/// A `docker` on PATH that records each call's argv and hands it to the real docker CLI with
/// `DOCKER_HOST` at a missing socket: the CLI parses every flag before it dials, so "Cannot connect
/// to the Docker daemon" means the flags parsed. It then answers like an empty engine (nothing
/// exists but the volumes named in `FAKE_DOCKER_PRESENT`, the user's TLS volume for instance), or,
/// with `FAKE_DOCKER_EXISTS`, like one where everything exists and init succeeded.
pub struct FakeDocker {
    dir: tempfile::TempDir,
    real: PathBuf,
}

const FAKE: &str = r#"#!/bin/sh
{ printf '%s\0' "$@"; printf '\036\0'; } >> "$FAKE_DOCKER_DIR/calls"
out=$(DOCKER_HOST=unix:///nonexistent/berth-test.sock "$REAL_DOCKER" "$@" 2>&1 </dev/null)
case "$out" in
  *"Cannot connect to the Docker daemon"*) ;;
  *) printf 'REFUSED: %s\n%s\n' "$*" "$out" >> "$FAKE_DOCKER_DIR/refused" ;;
esac
# The names of the containers and volumes that exist, one per line: what the calls make and remove.
present="$FAKE_DOCKER_DIR/present"
for last in "$@"; do :; done
case "$1 $2" in
  "network inspect"|"volume inspect"|"container inspect")
    for name in "$@"; do
      if grep -qxF -e "$name" "$present"; then
        case "$*" in *State.Health*) echo healthy ;; esac
        exit 0
      fi
    done
    if [ -n "${FAKE_DOCKER_EXISTS:-}" ]; then
      case "$*" in *State.ExitCode*) echo "exited 0" ;; esac
      exit 0
    fi
    exit 1 ;;
  "node inspect")
    # The labels of a node, each present as the line `label NODE KEY`, listed as ` KEY=true`.
    case "$*" in *.Spec.Labels*)
      sed -n "s/^label $last / /p" "$present" | tr -d '\n' | sed 's/\( [^ ]*\)/\1=true/g' ;;
    esac ;;
  "volume create") echo "$last" >> "$present" ;;
  "volume rm"|"rm --volumes")
    grep -vxF -e "$last" "$present" > "$present.left" || true
    mv "$present.left" "$present" ;;
esac
case "$1" in
  run|exec) printf '%s' "${FAKE_DOCKER_STDOUT:-}" ;;
esac
if [ "$1 $2" = "run --detach" ]; then
  previous=
  for arg in "$@"; do
    [ "$previous" = --name ] && echo "$arg" >> "$present"
    previous=$arg
  done
fi
exit 0
"#;

impl FakeDocker {
    pub fn new() -> Option<Self> {
        let real = tool("docker")?;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("docker"), FAKE).unwrap();
        std::fs::set_permissions(bin.join("docker"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        Some(FakeDocker { dir, real })
    }

    /// Runs `script` with the fake on PATH; returns each docker call's argv.
    pub fn run(&self, script: &Path, exists: bool) -> Vec<Vec<String>> {
        self.run_with(script, &[], exists)
            .unwrap_or_else(|e| panic!("{} failed: {e}", script.display()))
    }

    /// Runs `script ARGS...`; returns each docker call's argv, or the script's stderr if it failed.
    pub fn run_with(
        &self,
        script: &Path,
        args: &[&str],
        exists: bool,
    ) -> Result<Vec<Vec<String>>, String> {
        self.run_among(script, args, exists, &[], "")
    }

    /// As [`FakeDocker::run_with`], where the containers and volumes `present` exist too (a
    /// container present is healthy), and each `docker run` and `docker exec` prints `stdout`.
    pub fn run_among(
        &self,
        script: &Path,
        args: &[&str],
        exists: bool,
        present: &[String],
        stdout: &str,
    ) -> Result<Vec<Vec<String>>, String> {
        let _ = std::fs::remove_file(self.dir.path().join("calls"));
        let existing = [
            "db-tls",
            "elasticsearch-certs",
            "legacy_first",
            "legacy_db2",
            "legacy_db3",
            "legacy_db4",
            "legacy_db5",
        ];
        let names: Vec<&str> = existing
            .into_iter()
            .chain(present.iter().map(String::as_str))
            .collect();
        std::fs::write(self.dir.path().join("present"), names.join("\n") + "\n").unwrap();
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new("sh");
        command
            .arg(script)
            .args(args)
            .env("PATH", path)
            .env("FAKE_DOCKER_DIR", self.dir.path())
            .env("REAL_DOCKER", &self.real)
            .env("FAKE_DOCKER_STDOUT", stdout)
            .envs(SECRET_ENV);
        if exists {
            command.env("FAKE_DOCKER_EXISTS", "1");
        }
        let output = command.output().unwrap();
        if !output.status.success() {
            return Err(stderr(&output));
        }
        let refused = std::fs::read_to_string(self.dir.path().join("refused")).unwrap_or_default();
        assert!(
            refused.is_empty(),
            "the docker CLI refused calls of {}:\n{refused}",
            script.display()
        );
        Ok(recorded_calls(&self.dir.path().join("calls")))
    }
}

/// The calls a fake CLI logged: each argument ends in NUL, and a lone 0x1E ends a call.
pub fn recorded_calls(log: &Path) -> Vec<Vec<String>> {
    let log = std::fs::read(log).unwrap_or_default();
    let mut calls = Vec::new();
    let mut current = Vec::new();
    for token in log.split(|b| *b == 0) {
        if token == [0x1e] {
            calls.push(std::mem::take(&mut current));
        } else {
            current.push(String::from_utf8(token.to_vec()).unwrap());
        }
    }
    calls
}

/// The examples and tests/specs/everything.toml (which uses every key), as (name, path).
pub fn all_specs() -> Vec<(String, PathBuf)> {
    let mut specs = examples();
    specs.push((
        "everything".into(),
        root().join("tests/specs/everything.toml"),
    ));
    specs
}

/// The spec's `targets` (written on one line), or none when it targets every backend.
pub fn targets(spec: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(spec).unwrap();
    let line = text.lines().find(|l| l.starts_with("targets = "))?;
    Some(
        line.split('"')
            .skip(1)
            .step_by(2)
            .map(String::from)
            .collect(),
    )
}

/// Compiles every spec of [`all_specs`] that targets one of the given backends into
/// `out/<name>/`, with those of them it targets (every backend it targets when `backends` is
/// empty); returns the names of the specs compiled.
pub fn compile_all_specs(out: &Path, backends: &[&str]) -> Vec<String> {
    let mut compiled = Vec::new();
    for (name, spec) in all_specs() {
        let targets = targets(&spec);
        let chosen: Vec<&str> = backends
            .iter()
            .copied()
            .filter(|b| targets.as_ref().is_none_or(|t| t.iter().any(|t| t == b)))
            .collect();
        if chosen.is_empty() && !backends.is_empty() {
            continue;
        }
        let destination = out.join(&name);
        let mut args = vec![
            "compile",
            spec.to_str().unwrap(),
            "--out",
            destination.to_str().unwrap(),
        ];
        for backend in chosen {
            args.extend(["--backend", backend]);
        }
        let output = berth(&args, &root());
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
        provide_secret_files(&destination);
        compiled.push(name);
    }
    compiled
}

/// Puts the secret files that run.sh checks for (`secrets/<secret>/<key>`) beside run.sh and
/// compose.yaml, as a user would.
pub fn provide_secret_files(out: &Path) {
    let Ok(script) = std::fs::read_to_string(out.join("docker/run.sh")) else {
        return;
    };
    for (at, _) in script.match_indices("[ -f \"$here\"/") {
        let rest = &script[at + "[ -f \"$here\"/".len()..];
        let relative = &rest[..rest.find(' ').unwrap()];
        for backend in ["docker", "compose"] {
            let file = out.join(backend).join(relative);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, "a secret the user provides").unwrap();
        }
    }
}

/// One of the founders' schemas and `check-jsonschema` to apply it; either missing is a loud skip
/// (a failure under `CI=true`).
pub fn schema_checker(name: &str) -> Option<(PathBuf, PathBuf)> {
    let schema = schemas().join(name);
    if !schema.exists() {
        engine::skip(&format!("the schema {} is missing", schema.display()));
        return None;
    }
    Some((schema, tool("check-jsonschema")?))
}

/// `check-jsonschema --schemafile SCHEMA FILES...`.
pub fn check_schema(check: &Path, schema: &Path, files: &[PathBuf]) -> Output {
    Command::new(check)
        .arg("--schemafile")
        .arg(schema)
        .args(files)
        .output()
        .unwrap()
}

/// Checks `files` against `schema`, then proves the check can fail: the first file with `from`
/// replaced by `to` must be refused.
#[track_caller]
pub fn assert_schema_holds(check: &Path, schema: &Path, files: &[PathBuf], from: &str, to: &str) {
    let output = check_schema(check, schema, files);
    assert!(
        output.status.success(),
        "{}:\n{}{}",
        schema.display(),
        stdout(&output),
        stderr(&output)
    );
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.contains(from),
        "{} has no `{from}`",
        files[0].display()
    );
    let broken = files[0].with_file_name(format!(
        "broken.{}",
        files[0].extension().unwrap().to_str().unwrap()
    ));
    std::fs::write(&broken, text.replacen(from, to, 1)).unwrap();
    let output = check_schema(check, schema, std::slice::from_ref(&broken));
    assert!(
        !output.status.success(),
        "{} accepted `{to}` for `{from}`",
        schema.display()
    );
}

/// Runs berth, which must succeed; a failure shows what it said.
#[track_caller]
pub fn berth_ok(args: &[&str], cwd: &Path) -> Output {
    let output = berth(args, cwd);
    assert_exit(&output, 0, &[]);
    output
}

/// Asserts that a command (berth, mostly) exited with `code` and that its standard error says
/// each of `says`;
/// returns that standard error.
#[track_caller]
pub fn assert_exit(output: &Output, code: i32, says: &[&str]) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{}{err}", stdout(output));
    for said in says {
        assert!(err.contains(said), "standard error lacks `{said}`:\n{err}");
    }
    err
}

/// Asserts that `text` (a command's output) contains `needle`, showing the text when not.
#[track_caller]
pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "no `{needle}` in:\n{text}");
}

/// Runs a command that must succeed, and returns its output; a failure shows both streams.
#[track_caller]
pub fn run_ok(command: &mut Command, what: &str) -> Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{what}:\n{}{}",
        stdout(&output),
        stderr(&output)
    );
    output
}

/// The founders' schemas: `$BERTH_SCHEMAS`, or `../shared/schemas` beside the checkout.
pub fn schemas() -> PathBuf {
    std::env::var_os("BERTH_SCHEMAS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/schemas"))
}
