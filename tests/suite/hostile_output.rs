//! A hostile output directory: `--out` lives in a repository others change, so whatever stands in
//! it may be a trap. A planted manifest, a link below `--out`, `/proc/self/environ`, `/dev/zero`, a
//! FIFO, `--out /`, a signal mid-write and the staging directory of a killed run: each through the
//! real binary, each asserting what must stay untouched.

use crate::common::*;
use std::os::unix::fs::{FileTypeExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The spec every test compiles.
fn spec() -> String {
    root()
        .join("examples/cockroachdb.toml")
        .to_str()
        .unwrap()
        .to_string()
}

/// `berth ARGS...` in `dir`, with its output going to files (a full pipe would stall it).
fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command.args(args).current_dir(dir);
    command
}

/// Runs `command` and fails the test if it has not finished within 60 seconds (a read that
/// blocks on a FIFO, or one that never ends on `/dev/zero`).
#[track_caller]
fn run_within(mut command: Command) -> Output {
    let logs = tempfile::tempdir().unwrap();
    let (out, err) = (logs.path().join("stdout"), logs.path().join("stderr"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("berth still ran after 60 s: a read blocked or never ended");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: std::fs::read(out).unwrap(),
        stderr: std::fs::read(err).unwrap(),
    }
}

/// Everything below `dir` without following links: each entry's path, kind and bytes, sorted.
fn state(dir: &Path) -> Vec<(String, String, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = path.symlink_metadata().unwrap();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            let (kind, bytes) = if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                (
                    "link".to_string(),
                    target.into_os_string().into_encoded_bytes(),
                )
            } else if meta.is_dir() {
                stack.push(path);
                ("dir".to_string(), Vec::new())
            } else if meta.is_file() {
                ("file".to_string(), std::fs::read(&path).unwrap())
            } else {
                (format!("{:?}", meta.file_type()), Vec::new())
            };
            found.push((name, kind, bytes));
        }
    }
    found.sort();
    found
}

/// A FIFO at `path`.
fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
}

#[track_caller]
fn assert_lacks(text: &str, needle: &str) {
    assert!(!text.contains(needle), "`{needle}` in:\n{text}");
}

/// The reproducer: a planted manifest lists a file behind a link to a directory outside `--out`
/// and a file berth never wrote. Neither is deleted; each is reported as kept.
#[test]
fn a_planted_manifest_deletes_nothing_outside_out_nor_a_file_berth_never_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let (victim, deploy) = (dir.path().join("victim"), dir.path().join("deploy"));
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::create_dir_all(&deploy).unwrap();
    write(&victim, "precious.txt", "precious");
    write(&deploy, "README.md", "the user's");
    symlink("../victim", deploy.join("x")).unwrap();
    write(
        &deploy,
        ".berth-manifest.json",
        r#"{"files": ["x/precious.txt", "README.md", "../victim/precious.txt"]}"#,
    );
    let output = berth(&["compile", &spec(), "--out", "deploy"], dir.path());
    let err = assert_exit(&output, 0, &["0 stale removed", "warning[output/kept]"]);
    assert_contains(&err, "its path leaves `--out`");
    assert_eq!(
        std::fs::read_to_string(victim.join("precious.txt")).unwrap(),
        "precious"
    );
    assert_eq!(
        std::fs::read_to_string(deploy.join("README.md")).unwrap(),
        "the user's"
    );
    assert_contains(&err, "kept `deploy/x/precious.txt`");
    assert_contains(&err, "`deploy/x` is a symbolic link");
    assert_contains(&err, "kept `deploy/README.md`");

    // A manifest in today's shape, with a hash that is not the file's, fares no better.
    let deploy = dir.path().join("deploy2");
    std::fs::create_dir_all(&deploy).unwrap();
    write(&deploy, "README.md", "the user's");
    write(
        &deploy,
        ".berth-manifest.json",
        &format!(
            r#"{{"files": ["README.md"], "sha256": {{"README.md": "{}"}}}}"#,
            "0".repeat(64)
        ),
    );
    let output = berth(&["compile", &spec(), "--out", "deploy2"], dir.path());
    assert_exit(
        &output,
        0,
        &[
            "kept `deploy2/README.md`",
            "it changed since berth wrote it",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(deploy.join("README.md")).unwrap(),
        "the user's"
    );
}

/// A file berth wrote and the user then changed is not berth's any more: a compile that no
/// longer makes it keeps it (and says so), and one that makes it refuses to overwrite it.
/// Unchanged files berth no longer makes are removed as before.
#[test]
fn a_file_changed_since_berth_wrote_it_is_neither_removed_nor_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    compile_ok(dir.path(), &spec(), &[]);
    let out = dir.path().join("out");
    write(&out.join("docker"), "run.sh", "#!/bin/sh\necho edited\n");
    let output = compile_in(dir.path(), &spec(), &[]);
    assert_exit(
        &output,
        2,
        &["output/foreign-file", "it changed since berth wrote it"],
    );
    let output = compile_in(dir.path(), &spec(), &["--backend", "kubernetes"]);
    assert_exit(
        &output,
        0,
        &[
            "kept `out/docker/run.sh`",
            "it changed since berth wrote it",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(out.join("docker/run.sh")).unwrap(),
        "#!/bin/sh\necho edited\n"
    );
    assert!(!out.join("docker/down.sh").exists(), "berth's file stayed");
    assert!(
        !out.join("compose/compose.yaml").exists(),
        "berth's file stayed"
    );
}

/// `deploy/docker` is a link to a directory outside `--out`: the compile is refused before
/// anything is written, with or without `--force`, and nothing lands behind the link.
#[test]
fn a_linked_directory_below_out_is_refused_and_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let (elsewhere, deploy) = (dir.path().join("elsewhere"), dir.path().join("deploy"));
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(&deploy).unwrap();
    symlink("../elsewhere", deploy.join("docker")).unwrap();
    let before = state(dir.path());
    for extra in [&[][..], &["--force"][..]] {
        let mut args = vec!["compile", spec_str(), "--out", "deploy"];
        args.extend(extra);
        let output = berth(&args, dir.path());
        let err = assert_exit(
            &output,
            2,
            &["error[output/symlink]", "`deploy/docker`", "symbolic link"],
        );
        assert!(err.contains("= help: replace"), "{err}");
        assert_eq!(
            state(dir.path()),
            before,
            "{extra:?}: something was written"
        );
    }
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

fn spec_str() -> &'static str {
    static SPEC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SPEC.get_or_init(spec)
}

/// A link standing where berth writes a file is a file berth did not write: refused; with
/// `--force` the link itself is replaced and what it points to is untouched.
#[test]
fn a_link_where_berth_writes_a_file_is_foreign_and_force_replaces_only_the_link() {
    let dir = tempfile::tempdir().unwrap();
    compile_ok(dir.path(), &spec(), &[]);
    let out = dir.path().join("out");
    let target = write(dir.path(), "target.txt", "not berth's");
    std::fs::remove_file(out.join("docker/run.sh")).unwrap();
    symlink(&target, out.join("docker/run.sh")).unwrap();
    let output = compile_in(dir.path(), &spec(), &[]);
    assert_exit(
        &output,
        2,
        &[
            "error[output/foreign-file]",
            "out/docker/run.sh",
            "symbolic link",
        ],
    );
    compile_ok(dir.path(), &spec(), &["--force"]);
    let meta = out.join("docker/run.sh").symlink_metadata().unwrap();
    assert!(meta.is_file(), "the link was not replaced");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "not berth's");
}

/// `/proc/self` planted below `--out`, through the manifest and where berth reads a file:
/// neither `compile --check` nor `diff --against` nor a compile prints berth's environment.
#[test]
fn the_environment_never_leaks_through_a_planted_link() {
    const CANARY: &str = "s3cret-canary-4f1d";
    let dir = tempfile::tempdir().unwrap();
    let deploy = dir.path().join("deploy");
    std::fs::create_dir_all(&deploy).unwrap();
    symlink("/proc/self", deploy.join("p")).unwrap();
    write(
        &deploy,
        ".berth-manifest.json",
        r#"{"files": ["p/environ"], "sha256": {"p/environ": "00"}}"#,
    );
    let runs: [&[&str]; 3] = [
        &["compile", spec_str(), "--out", "deploy", "--check"],
        &["diff", spec_str(), "--against", "deploy"],
        &[
            "diff",
            spec_str(),
            "--against",
            "deploy",
            "--backend",
            "docker",
        ],
    ];
    let leaks = |args: &[&str]| {
        let mut command = command(dir.path(), args);
        command.env("BERTH_TEST_CANARY", CANARY);
        let output = run_within(command);
        let all = format!("{}{}", stdout(&output), stderr(&output));
        assert_lacks(&all, CANARY);
        output
    };
    for args in runs {
        leaks(args);
    }
    // Where berth reads a file of its own output: refused, by name.
    std::fs::create_dir_all(deploy.join("docker")).unwrap();
    symlink("/proc/self/environ", deploy.join("docker/run.sh")).unwrap();
    for args in runs {
        let output = leaks(args);
        assert_exit(&output, 2, &["output/symlink", "docker/run.sh"]);
    }
    let output = leaks(&["compile", spec_str(), "--out", "deploy"]);
    assert_exit(&output, 2, &["output/foreign-file", "docker/run.sh"]);
    assert!(deploy.join("p").symlink_metadata().unwrap().is_symlink());
}

/// `/dev/zero` behind a link and a FIFO, listed in the manifest or standing where berth reads:
/// berth finishes promptly, skipping them or refusing by name, and leaves them in place.
#[test]
fn dev_zero_a_fifo_and_a_giant_are_neither_read_nor_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let deploy = dir.path().join("deploy");
    std::fs::create_dir_all(&deploy).unwrap();
    symlink("/dev/zero", deploy.join("zero")).unwrap();
    mkfifo(&deploy.join("fifo"));
    write(
        &deploy,
        ".berth-manifest.json",
        r#"{"files": ["zero", "fifo"]}"#,
    );
    let output = run_within(command(
        dir.path(),
        &["compile", spec_str(), "--out", "deploy", "--check"],
    ));
    assert_exit(&output, 3, &[]);
    assert_lacks(&stdout(&output), "a/zero");
    assert_lacks(&stdout(&output), "a/fifo");
    let output = run_within(command(
        dir.path(),
        &["diff", spec_str(), "--against", "deploy"],
    ));
    assert_exit(&output, 0, &[]);
    let output = run_within(command(
        dir.path(),
        &["compile", spec_str(), "--out", "deploy"],
    ));
    assert_exit(
        &output,
        0,
        &["kept `deploy/zero`", "kept `deploy/fifo`", "it is a FIFO"],
    );
    assert!(deploy.join("zero").symlink_metadata().unwrap().is_symlink());
    assert!(
        deploy
            .join("fifo")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_fifo()
    );

    // The manifest itself a link to `/dev/zero`: refused by name, not read.
    std::fs::remove_file(deploy.join(".berth-manifest.json")).unwrap();
    symlink("/dev/zero", deploy.join(".berth-manifest.json")).unwrap();
    let output = run_within(command(
        dir.path(),
        &["compile", spec_str(), "--out", "deploy"],
    ));
    assert_exit(&output, 2, &["output/symlink", ".berth-manifest.json"]);
    let output = run_within(command(
        dir.path(),
        &["compile", spec_str(), "--out", "deploy", "--check"],
    ));
    assert_exit(&output, 0, &["is up to date"]);
    std::fs::remove_file(deploy.join(".berth-manifest.json")).unwrap();
    // A manifest again (every file is foreign without one): `--against` names only a
    // directory berth wrote.
    let output = run_within(command(
        dir.path(),
        &["compile", spec_str(), "--out", "deploy", "--force"],
    ));
    assert_exit(&output, 0, &[]);

    // Where berth reads a file of its own: a FIFO, a link to `/dev/zero`, a giant.
    let giant = std::fs::File::create(deploy.join("berth-report.json")).unwrap();
    giant.set_len(65 << 20).unwrap();
    drop(giant);
    for (path, says) in [
        ("docker/run.sh", "FIFO"),
        ("compose/compose.yaml", "symbolic link"),
        ("berth-report.json", "larger than 64 MiB"),
    ] {
        let place = deploy.join(path);
        if path != "berth-report.json" {
            std::fs::remove_file(&place).unwrap();
        }
        match says {
            "FIFO" => mkfifo(&place),
            "symbolic link" => symlink("/dev/zero", &place).unwrap(),
            _ => {}
        }
        let output = run_within(command(
            dir.path(),
            &["compile", spec_str(), "--out", "deploy", "--check"],
        ));
        assert_exit(&output, 2, &[path, says]);
        let output = run_within(command(
            dir.path(),
            &["diff", spec_str(), "--against", "deploy"],
        ));
        assert_exit(&output, 2, &[path, says]);
        std::fs::remove_file(&place).unwrap();
    }
}

/// `--out /`, and `--out` paths that resolve to `/` (through `..` or a link), are refused
/// before anything is read or written.
#[test]
fn out_at_the_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    symlink("/", dir.path().join("root-link")).unwrap();
    let report = Path::new("/berth-report.json");
    let was_there = report.exists();
    let depth = dir.path().components().count() - 1;
    let up = vec![".."; depth].join("/");
    let missing_then_up = format!("no-such-dir/../{up}");
    for out in [
        "/",
        "/tmp/..",
        "root-link",
        "root-link/.",
        &up,
        &missing_then_up,
    ] {
        for check in [false, true] {
            let mut args = vec!["compile", spec_str(), "--out", out];
            if check {
                args.push("--check");
            }
            let output = berth(&args, dir.path());
            assert_exit(
                &output,
                2,
                &["error[output/path]", "it is the root directory"],
            );
        }
    }
    assert!(!dir.path().join("no-such-dir").exists());
    assert_eq!(report.exists(), was_there, "berth wrote into /");
    assert!(
        std::fs::read_dir("/").unwrap().flatten().all(|e| !e
            .file_name()
            .to_string_lossy()
            .starts_with(".berth-staging-")),
        "a staging directory in /"
    );
}

/// A berth started with `BERTH_TEST_PAUSE_AT=at` in `dir`, and its pid once it paused there.
fn paused(dir: &Path, at: &str, args: &[&str]) -> (std::process::Child, i32) {
    let marker = dir.join(format!("paused-{at}"));
    let _ = std::fs::remove_file(&marker);
    let mut child = command(dir, args)
        .env("BERTH_TEST_PAUSE_AT", at)
        .env("BERTH_TEST_PAUSE_FILE", &marker)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !marker.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("berth ended ({status}) before it paused at `{at}`");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "berth never paused at `{at}`"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = child.id() as i32;
    (child, pid)
}

fn signal(pid: i32, signal: i32) {
    // SAFETY: `kill` on the pid of a child this test spawned and has not reaped.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

fn staging(out: &Path, pid: i32) -> PathBuf {
    out.join(format!(".berth-staging-{pid}"))
}

/// SIGTERM (and SIGINT) once every file is staged: exit 143 (130), and `--out` is as it was,
/// down to the directories this run made for it.
#[test]
fn a_signal_after_staging_leaves_out_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (child, pid) = paused(
        dir.path(),
        "staged",
        &["compile", spec_str(), "--out", "new/deeper/out"],
    );
    let out = dir.path().join("new/deeper/out");
    assert!(staging(&out, pid).is_dir(), "nothing was staged yet");
    signal(pid, libc::SIGTERM);
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 143, &["interrupted by `SIGTERM`"]);
    assert!(
        !dir.path().join("new").exists(),
        "the directories made for `--out` remain"
    );

    compile_ok(dir.path(), spec_str(), &[]);
    let out = dir.path().join("out");
    let before = state(&out);
    let (child, pid) = paused(
        dir.path(),
        "staged",
        &["compile", spec_str(), "--out", "out", "--set", "replicas=5"],
    );
    assert!(staging(&out, pid).is_dir(), "nothing was staged yet");
    signal(pid, libc::SIGINT);
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 130, &["interrupted by `SIGINT`"]);
    assert_eq!(state(&out), before, "`--out` changed");
}

/// What takes the place of a file between the check when it was staged and the commit (the specs
/// compile in between) is not berth's: the commit stops, undoes its steps, and leaves it, where
/// moving it aside would have deleted it with the staging directory.
#[test]
fn what_takes_a_files_place_during_the_compile_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    compile_ok(dir.path(), spec_str(), &[]);
    let out = dir.path().join("out");
    type Replace = fn(&Path);
    let cases: [(&str, Replace); 4] = [
        // Berth's own file, checked, then a directory or a user's file in its place.
        ("berth-report.json", |report| {
            std::fs::remove_file(report).unwrap();
            std::fs::create_dir(report).unwrap();
            std::fs::write(report.join("keep"), "the user's").unwrap();
        }),
        ("docker/run.sh", |script| {
            std::fs::remove_file(script).unwrap();
            std::fs::write(script, "the user's").unwrap();
        }),
        // Nothing there when checked (a fifth member's file), a user's file since.
        ("swarm/members/cockroachdb-4.yaml", |member| {
            std::fs::write(member, "the user's").unwrap();
        }),
        // The manifest's place, taken by a directory.
        (".berth-manifest.json", |manifest| {
            std::fs::remove_file(manifest).unwrap();
            std::fs::create_dir(manifest).unwrap();
        }),
    ];
    for (file, replace) in cases {
        let (child, _) = paused(
            dir.path(),
            "staged",
            &["compile", spec_str(), "--out", "out", "--set", "replicas=5"],
        );
        replace(&out.join(file));
        let outside_staging = || -> Vec<_> {
            let all = state(&out);
            all.into_iter()
                .filter(|(name, _, _)| !name.starts_with(".berth-staging-"))
                .collect()
        };
        let before = outside_staging();
        std::fs::remove_file(dir.path().join("paused-staged")).unwrap();
        let output = child.wait_with_output().unwrap();
        assert_exit(&output, 2, &[file, "changed while berth compiled"]);
        assert_eq!(
            outside_staging(),
            before,
            "`--out` changed after `{file}` was replaced"
        );
        let left = out.join(file);
        if left.is_dir() {
            std::fs::remove_dir_all(&left).unwrap();
        } else {
            std::fs::remove_file(&left).unwrap();
        }
        // Without the manifest every file counts as the user's.
        compile_ok(dir.path(), spec_str(), &["--force"]);
    }
}

/// SIGTERM while a spec compiles for long (nothing looks for the signal then): berth ends at
/// once with 143, and leaves nothing in `--out`.
#[test]
fn a_signal_during_a_long_compile_ends_it_at_once() {
    let dir = tempfile::tempdir().unwrap();
    compile_ok(dir.path(), spec_str(), &[]);
    let out = dir.path().join("out");
    let before = state(&out);
    let marker = dir.path().join("stalled");
    let child = command(
        dir.path(),
        &["compile", spec_str(), "--out", "out", "--set", "replicas=5"],
    )
    .env("BERTH_TEST_STALL", "1")
    .env("BERTH_TEST_PAUSE_FILE", &marker)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let start = Instant::now();
    while !marker.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "berth never stalled"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(child.id() as i32, libc::SIGTERM);
    let output = child.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "berth waited for the compile"
    );
    assert_exit(&output, 143, &["interrupted by `SIGTERM`"]);
    assert_eq!(state(&out), before, "`--out` changed");
}

/// SIGTERM after the commit's first rename: the commit is undone, so no mix of old and new.
#[test]
fn a_signal_during_the_commit_undoes_it() {
    let dir = tempfile::tempdir().unwrap();
    compile_ok(dir.path(), spec_str(), &[]);
    let out = dir.path().join("out");
    let before = state(&out);
    let (child, pid) = paused(
        dir.path(),
        "commit",
        &["compile", spec_str(), "--out", "out", "--set", "replicas=5"],
    );
    let midway: Vec<_> = state(&out)
        .into_iter()
        .filter(|(name, _, _)| !name.starts_with(".berth-staging-"))
        .collect();
    assert_ne!(midway, before, "the commit had not started");
    signal(pid, libc::SIGTERM);
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 143, &["interrupted by `SIGTERM`"]);
    assert_eq!(state(&out), before, "`--out` mixes old and new files");
    // And the same compile without a signal goes through.
    compile_ok(dir.path(), spec_str(), &["--set", "replicas=5"]);
}

/// A berth killed mid-write (SIGKILL cannot be caught) leaves its staging directory; the next
/// write removes it and says so. Staging directories of live processes, and anything of that
/// name that is not a directory, stay.
#[test]
fn a_killed_runs_staging_directory_is_removed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    compile_ok(dir.path(), spec_str(), &[]);
    let out = dir.path().join("out");
    let (mut child, pid) = paused(
        dir.path(),
        "staged",
        &["compile", spec_str(), "--out", "out", "--set", "replicas=5"],
    );
    signal(pid, libc::SIGKILL);
    child.wait().unwrap();
    let left = staging(&out, pid);
    assert!(left.is_dir(), "the killed run left nothing to clean");
    let alive = staging(&out, std::process::id() as i32);
    std::fs::create_dir(&alive).unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    write(&elsewhere, "keep.txt", "keep");
    // A link named like the staging directory of a process that is gone.
    let link = staging(&out, dead_pid());
    symlink(&elsewhere, &link).unwrap();

    let output = compile_ok(dir.path(), spec_str(), &[]);
    let err = stderr(&output);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(".berth-staging-"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert_contains(lines[0], &format!("`out/.berth-staging-{pid}`"));
    assert_contains(lines[0], "gone");
    assert!(!left.exists(), "the killed run's staging directory remains");
    assert!(
        alive.is_dir(),
        "a live process's staging directory was removed"
    );
    assert!(link.symlink_metadata().is_ok());
    assert_eq!(
        std::fs::read_to_string(elsewhere.join("keep.txt")).unwrap(),
        "keep"
    );
}

/// `--out` itself is the user's to name: a link to a directory is followed there, and only there.
#[test]
fn out_itself_may_be_a_link() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("real")).unwrap();
    symlink("real", dir.path().join("out")).unwrap();
    compile_ok(dir.path(), spec_str(), &[]);
    assert!(dir.path().join("real/docker/run.sh").is_file());
    let output = compile_in(dir.path(), spec_str(), &["--check"]);
    assert_exit(&output, 0, &[]);
}

/// The pid of a process that has ended.
fn dead_pid() -> i32 {
    let mut child = Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    child.id() as i32
}

/// A planted manifest that knows the right hash of a user's file (`NOTES.md`, `.git/HEAD`) still
/// removes nothing but what berth writes: the hashes come from `--out` too.
#[test]
fn a_planted_hash_does_not_make_a_file_berths() {
    let dir = tempfile::tempdir().unwrap();
    let deploy = dir.path().join("deploy");
    std::fs::create_dir_all(deploy.join(".git")).unwrap();
    write(&deploy, "NOTES.md", "# my deploy notes\n");
    write(&deploy.join(".git"), "HEAD", "ref: refs/heads/main\n");
    let sha = |text: &str| berth::output::inside::Sha256::of(text.as_bytes());
    write(
        &deploy,
        ".berth-manifest.json",
        &format!(
            r#"{{"files": ["NOTES.md", ".git/HEAD"], "sha256": {{"NOTES.md": "{}", ".git/HEAD": "{}"}}}}"#,
            sha("# my deploy notes\n"),
            sha("ref: refs/heads/main\n")
        ),
    );
    let output = berth(&["compile", &spec(), "--out", "deploy"], dir.path());
    let err = assert_exit(&output, 0, &["0 stale removed", "warning[output/kept]"]);
    assert_contains(&err, "berth never writes there");
    assert!(deploy.join("NOTES.md").exists() && deploy.join(".git/HEAD").exists());
}
